// Small HTTP helpers for the suite: requests with identity headers, polling, and a capturing logger.
import { Agent, request } from 'node:http';
import { signIdentity, type SignedRequest } from '../identity-headers';
import type { TollgateLogger } from '../logger';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
  init: RequestInit = {},
): Promise<Reply> {
  const res = await fetch(url, { headers, ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/**
 * GET with the request target written as given (`http://host/api/x`, `/%61pi/x`, `//api/x`): fetch would
 * normalise it. Node sends `target` as it is in the request line.
 */
export function getTarget(
  baseUrl: string,
  target: string,
  headers: Record<string, string> = {},
  agent?: Agent,
): Promise<Reply> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * `n` concurrent GETs of `target` over at most `sockets` keep-alive connections, as a busy client sends them: several
 * requests of one connection arrive in one event-loop turn (fetch's pool spreads them out more).
 */
export async function burst(
  baseUrl: string,
  target: string,
  n: number,
  headers: Record<string, string>,
  sockets = 100,
): Promise<Reply[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  try {
    return await Promise.all(Array.from({ length: n }, () => getTarget(baseUrl, target, headers, agent)));
  } finally {
    agent.destroy();
  }
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return get(
    url,
    { ...headers, 'content-type': 'application/json' },
    { method: 'POST', body: JSON.stringify(body) },
  );
}

/** Gateway identity headers. */
export function identity(tenantId: string, userId = 'u1', tier = 'free'): Record<string, string> {
  return { 'x-tenant-id': tenantId, 'x-user-id': userId, 'x-user-tier': tier };
}

/** Gateway identity headers with an `X-Tollgate-Signature` made with `secret` at `timestamp` for `request`. */
export function signedIdentity(
  secret: string,
  tenantId: string,
  userId = 'u1',
  tier = 'free',
  timestamp = Math.floor(Date.now() / 1000),
  request: SignedRequest = { method: 'GET', path: '/api/hello' },
): Record<string, string> {
  return {
    ...identity(tenantId, userId, tier),
    'x-tollgate-signature': signIdentity(secret, { tenantId, userId, tier }, request, timestamp),
  };
}

let seq = 0;
/** A tenant id no other test uses. */
export function uniqueTenant(): string {
  seq += 1;
  return `t${process.pid}x${Date.now().toString(36)}x${seq}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `check` until it stops throwing (settlement happens after the response reached the client). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(25);
  }
}

export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps what it was told. */
export function captureLogger(): TollgateLogger & {
  entries: LogEntry[];
  codes(level?: LogEntry['level']): unknown[];
} {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return {
    entries,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    codes: (level) => entries.filter((e) => !level || e.level === level).map((e) => e.obj.code),
  };
}

/**
 * How long a test starting at `now` waits so that it does not run across a UTC midnight, where day quotas reset and
 * a limit admits a second day's worth: 0 when midnight is more than `withinMs` away, else until a second past it.
 */
export function midnightWait(now: number, withinMs: number): number {
  const left = msToMidnight(now);
  return left > withinMs ? 0 : left + 1000;
}

/** Milliseconds from `now` to the next UTC midnight. */
function msToMidnight(now: number): number {
  const DAY = 86_400_000;
  return DAY - (now % DAY);
}

/**
 * Resolves once a test that takes up to `withinMs` can run without crossing a UTC midnight. `wait` is the timer to
 * wait on: pass one taken before a test file could install fake timers.
 */
export async function clearOfMidnight(
  withinMs: number,
  wait: (ms: number) => Promise<unknown> = sleep,
): Promise<void> {
  const ms = midnightWait(Date.now(), withinMs);
  if (ms > 0) await wait(ms);
}

/** Seconds from now to the next UTC midnight, rounded up. */
export function secondsToMidnight(now = Date.now()): number {
  return Math.ceil(msToMidnight(now) / 1000);
}

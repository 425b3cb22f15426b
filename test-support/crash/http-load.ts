// Traffic for the crash tests: concurrent clients over two hot tenants and many cold ones, each call tallied as
// received in full (status 200 and the whole body), cut off (the connection broke after it was sent), or refused
// (no process listened: it cannot have been counted).
import http from 'node:http';

export interface Call {
  tenant: string;
  method?: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Tokens the call records when it runs, or read from its answer. */
  tokens: number | ((body: string) => number);
  /** At most what a call cut off may have recorded (defaults to `tokens` when that is a number). */
  cutTokens?: number;
  /** True when `body` is the whole answer (a JSON body that parses, an event stream that reached `[DONE]`). */
  complete(body: string): boolean;
}

export interface Tallies {
  /** Per tenant: calls received in full, and their tokens. */
  received: Map<string, { requests: number; tokens: number }>;
  /** Per tenant: calls sent whose answer broke off (they may be counted or not). */
  cut: Map<string, { requests: number; tokens: number }>;
  refused: number;
  /** Answers with another status, or a body that was not whole though the response ended: must stay 0. */
  wrong: string[];
}

function add(map: Map<string, { requests: number; tokens: number }>, tenant: string, tokens: number): void {
  const cur = map.get(tenant) ?? { requests: 0, tokens: 0 };
  cur.requests += 1;
  cur.tokens += tokens;
  map.set(tenant, cur);
}

export interface LoadHandle {
  tallies: Tallies;
  /** Calls received in full so far. */
  received(): number;
  stop(): Promise<void>;
}

/** Runs `concurrency` loops of calls from `next()` against 127.0.0.1:`port` until stopped. */
export function startHttpLoad(port: number, concurrency: number, next: () => Call): LoadHandle {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const tallies: Tallies = { received: new Map(), cut: new Map(), refused: 0, wrong: [] };
  let running = true;
  let received = 0;
  const once = (call: Call): Promise<void> =>
    new Promise((done) => {
      let sent = false;
      let over = false;
      // One outcome per call: a connection that breaks mid-body reports on the response and the request.
      const resolve = (): void => {
        over = true;
        done();
      };
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: call.method ?? 'GET',
          path: call.path,
          headers: call.headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (over) return;
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200 && call.complete(body)) {
              add(
                tallies.received,
                call.tenant,
                typeof call.tokens === 'number' ? call.tokens : call.tokens(body),
              );
              received += 1;
            } else {
              tallies.wrong.push(`${res.statusCode} ${call.path}: ${body.slice(0, 200)}`);
            }
            resolve();
          });
          res.on('error', () => undefined);
          res.on('aborted', () => undefined);
          res.on('close', () => {
            if (!over && !res.complete) {
              add(tallies.cut, call.tenant, cutTokens(call));
              resolve();
            }
          });
        },
      );
      req.on('socket', (s) => {
        if (!s.connecting) sent = true;
        else s.once('connect', () => (sent = true));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (over) return;
        if (err.code === 'ECONNREFUSED' || !sent) {
          tallies.refused += 1;
          // Nothing listens (a restart): try again shortly.
          over = true;
          setTimeout(done, 20);
          return;
        }
        add(tallies.cut, call.tenant, cutTokens(call));
        resolve();
      });
      req.end(call.body);
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await once(next());
  });
  return {
    tallies,
    received: () => received,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** The crash tests' mix: 70 % of calls from two hot tenants, the rest from `cold` others; GETs, JSON and streamed LLM calls. */
export function mixedCalls(
  prefix: string,
  cold: number,
  identify: (tenant: string) => Record<string, string>,
  paths: { get: string; llm: (a: number, b: number) => string; stream: (a: number, b: number) => string },
): () => Call {
  const hot = [`${prefix}hot0`, `${prefix}hot1`];
  const others = Array.from({ length: cold }, (_, i) => `${prefix}cold${i}`);
  return () => {
    const tenant =
      Math.random() < 0.7 ? hot[Math.floor(Math.random() * 2)]! : others[Math.floor(Math.random() * cold)]!;
    const headers = identify(tenant);
    const r = Math.random();
    if (r < 0.5) {
      return { tenant, path: paths.get, headers, tokens: 0, complete: (b) => isJson(b) };
    }
    const a = 1 + Math.floor(Math.random() * 400);
    const b = Math.floor(Math.random() * 300);
    if (r < 0.75)
      return { tenant, path: paths.llm(a, b), headers, tokens: a + b, complete: (body) => isJson(body) };
    return {
      tenant,
      path: paths.stream(a, b),
      headers,
      tokens: a + b,
      complete: (body) => body.endsWith('data: [DONE]\n\n'),
    };
  };
}

function cutTokens(call: Call): number {
  return call.cutTokens ?? (typeof call.tokens === 'number' ? call.tokens : 0);
}

export function isJson(body: string): boolean {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

// A bare TCP upstream answering per `x-case` header with exact bytes (what no HTTP server library would send), a gateway
// process (the dist build) in front of it, and probes that tell whether that process is still alive.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { startGatewayProcess, type GatewayProcess } from './gateway-process';
import { SECRET, token } from './kit';

/** Answers one request on `socket` (the request's head is given); the socket is the upstream's to write. */
export type RawCase = (socket: net.Socket, head: string) => void;

export interface RawUpstream {
  url: string;
  close(): Promise<void>;
}

/** A bare TCP upstream: reads one request (head + Content-Length body), then runs the case its x-case names. */
export async function rawUpstream(cases: Record<string, RawCase>): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      const name = /x-case:\s*([^\r\n]*)/i.exec(head)?.[1]?.trim() ?? '';
      const c = cases[name];
      if (!c) socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      else c(socket, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface GatewayProcessBefore {
  gw: GatewayProcess;
  /** Resolves with the exit code and signal once the process is gone (never, while it lives). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** A gateway process on Redis and a fresh Postgres database, in front of `upstreamUrl`. */
export async function gatewayProcessBefore(
  name: string,
  upstreamUrl: string,
  env: Record<string, string> = {},
): Promise<GatewayProcessBefore> {
  const db = await createTestDatabase(name);
  const gw = await startGatewayProcess({
    UPSTREAM_URL: upstreamUrl,
    REDIS_URL,
    REDIS_PREFIX: uniquePrefix(name),
    DATABASE_URL: db.url,
    FLUSHER: 'off',
    JWT_SECRET: SECRET,
    ...env,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (gw.child.exitCode !== null) resolve({ code: gw.child.exitCode, signal: null });
    gw.child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    gw,
    exited,
    stop: async () => {
      await gw.stop();
      await db.drop();
    },
  };
}

/** 'up' when /readyz answers within `ms`, else why not. */
export async function probe(url: string, ms = 2000): Promise<string> {
  try {
    const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(ms) });
    return r.status === 200 ? 'up' : `readyz ${r.status}`;
  } catch (err) {
    return `down (${(err as Error).name}: ${(err as Error).message})`;
  }
}

/** An OpenAI chat call through the gateway, naming the upstream case; resolves with what the client saw. */
export async function chat(
  url: string,
  which: string,
  o: { stream?: boolean; timeoutMs?: number; path?: string; sub?: string } = {},
): Promise<string> {
  try {
    const r = await fetch(`${url}${o.path ?? '/api/v1/chat/completions'}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub: o.sub ?? 'u-raw-upstream' })}`,
        'content-type': 'application/json',
        'accept-encoding': 'identity',
        'x-case': which,
      },
      body: JSON.stringify({
        model: 'gpt-4o',
        stream: o.stream === true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
      signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
    });
    const body = await r.text();
    return `${r.status} ${body.slice(0, 80)}`;
  } catch (err) {
    return `failed (${(err as Error).name}: ${(err as Error).message})`;
  }
}

export { SECRET, token };

// Found by a review helper. DURABILITY=delivered holds an event stream's "last" write (the chunk with `data: [DONE]`) until the response's
// usage is committed: for STORE_TIMEOUT_MS, then the end hooks (up to STORE_TIMEOUT_MS more) and the store's answer.
// Every write after the held one is queued too (ticket.hold: `output.push(send)`) and reported to the proxy as
// accepted (`true`), so the proxy never pauses the upstream: whatever the upstream sends after `[DONE]` in that
// window is held in memory whatever the client reads, then handed to the socket at once.
import type net from 'node:net';
import { MemoryStore } from '@tollgate/core';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import {
  gatewayProcessBefore,
  rawUpstream,
  token,
  type GatewayProcessBefore,
  type RawUpstream,
} from '../support/raw-upstream';
import { METERED_CONFIG, startGateway, type RunningGateway } from '../support/kit';
import { createTestDatabase } from '../../../../test-support/services';

const FLOOD_MS = 1500;
const line = Buffer.from(`: ${'x'.repeat(64 * 1024 - 5)}\n\n`);
let sent = 0;

const flood = (s: net.Socket) => {
  s.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n');
  s.write('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n');
  const until = Date.now() + FLOOD_MS;
  // Write as fast as the gateway takes it (respecting the socket's backpressure), for FLOOD_MS.
  const pump = () => {
    while (Date.now() < until) {
      sent += line.length;
      if (!s.write(line)) return void s.once('drain', pump);
    }
    s.end();
  };
  setTimeout(pump, 20);
};

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('an event stream that goes on after its last event, to a client that does not read', () => {
  let up: RawUpstream;
  let g: GatewayProcessBefore;

  beforeAll(async () => {
    up = await rawUpstream({ flood });
  }, 60_000);
  afterAll(async () => {
    await up?.close();
  });
  afterEach(async () => {
    await g?.stop();
  });

  it.each([
    ['DURABILITY=delivered, STORE_TIMEOUT_MS=2000', { STORE_TIMEOUT_MS: '2000' }],
    ['DURABILITY=delivered, STORE_TIMEOUT_MS default (100)', {}],
    ['DURABILITY=batched (control: nothing held)', { DURABILITY: 'batched', STORE_TIMEOUT_MS: '2000' }],
  ])(
    "%s: keeps the gateway's memory bounded",
    async (_name, env: Record<string, string>) => {
      sent = 0;
      g = await gatewayProcessBefore('held_stream', up.url, env);
      const pid = g.gw.child.pid!;
      const before = rssMiB(pid);
      // A client that sends the call and then reads nothing (its socket's receive window fills).
      const req = http.request(`${g.gw.url}/api/v1/chat/completions`, {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${token({ sub: 'u-held' })}`,
          'content-type': 'application/json',
          'x-case': 'flood',
        },
      });
      req.on('response', (res) => res.pause());
      req.on('error', () => undefined);
      req.end(JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
      let peak = before;
      const until = Date.now() + FLOOD_MS + 3000;
      while (Date.now() < until) {
        peak = Math.max(peak, rssMiB(pid));
        await new Promise((r) => setTimeout(r, 50));
      }
      req.destroy();
      console.log(
        `${_name}: upstream sent ${(sent / 1048576).toFixed(0)} MiB; gateway RSS ${before.toFixed(0)} MiB -> ${peak.toFixed(0)} MiB while a client read nothing`,
      );
      // What the upstream could push past a client that reads nothing: socket and stream buffers (the batched
      // control takes ~8 MiB), not all it sends while the last write is held.
      expect(sent / 1048576).toBeLessThan(24);
    },
    30_000,
  );
});

// Writes after the held one are held with it up to 1 MiB, then the response is cut (nothing pauses the upstream for
// holding: see held-write-upstream-close.test.ts): a client that reads gets a stream with a little after its last
// event whole, its end included, and one with more is cut.
describe('an event stream that goes on after its last event, to a client that reads it', () => {
  const head =
    'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n' +
    'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n';
  const tailOf = (n: number) => Buffer.from(`: ${'y'.repeat(64 * 1024 - 5)}\n\n`.repeat(n));
  const small = tailOf(8);
  const large = tailOf(64);
  let up: RawUpstream;
  let gw: RunningGateway;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await createTestDatabase('gw_held_reads');
    const after = (tail: Buffer) => (s: net.Socket) => {
      s.write(head);
      setTimeout(() => s.end(tail), 10);
    };
    up = await rawUpstream({ small: after(small), large: after(large) });
    // Usage writes take 200 ms: what comes after the last event arrives while it is held.
    const store = new MemoryStore();
    const apply = store.apply.bind(store);
    store.apply = async (op) => {
      if (op.mode === 'record') await new Promise((r) => setTimeout(r, 200));
      return apply(op);
    };
    gw = await startGateway(
      { UPSTREAM_URL: up.url, STRIP_PREFIX: '/api', DATABASE_URL: db.url, FLUSHER: 'inline' },
      { config: METERED_CONFIG, store },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await db?.drop();
  });

  const call = (which: string) =>
    fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token({ sub: 'u-reads' })}`,
        'content-type': 'application/json',
        'x-case': which,
      },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: AbortSignal.timeout(10_000),
    });

  it('512 KiB after the last event: every byte and the end', async () => {
    const r = await call('small');
    const body = Buffer.from(await r.arrayBuffer());
    expect(r.status).toBe(200);
    expect(body.equals(Buffer.concat([Buffer.from(head.slice(head.indexOf('data:'))), small]))).toBe(true);
  }, 20_000);

  it('4 MiB after the last event: the response is cut', async () => {
    const r = await call('large');
    expect(r.status).toBe(200);
    await expect(r.arrayBuffer()).rejects.toThrow();
  }, 20_000);
});

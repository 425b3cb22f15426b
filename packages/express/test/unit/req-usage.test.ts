// What a handler can rely on from `req.usage`: it finds its own request's usage on either side of a mounted app,
// after the response has closed (late records count), when the application replaced or shared `res.locals`,
// on a plain `http` server, and over a `usage` the application set itself; a request rejected before its
// handler has none. Kept as a guard for any change to where `req.usage` lives (bench/HISTORY.md, runs F-K: a
// version kept in `res.locals` failed several of these before it was fixed, then was dropped).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import { MemoryStore } from '@tollgate/core';
import type { RequestUsage } from '@tollgate/http';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { SUITE_CONFIG, identity } from '@tollgate/http/testing';

type Handler = (req: http.IncomingMessage & { usage?: RequestUsage }, res: http.ServerResponse) => void;

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Tokens of `tenant` counted so far (written within the middleware's usageBatchMs). */
async function tokensUsed(mw: TrackUsageMiddleware, tenant: string, expected: number): Promise<number> {
  let used = -1;
  for (let i = 0; i < 100 && used !== expected; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const status = await mw.tollgate.status({ tenantId: tenant, userId: 'u1', plan: 'budget' });
    used = status.quotas.tokens?.day?.used ?? 0;
  }
  return used;
}

/** A handler that answers, then records `tokens` 5 ms after the response closed; `late()` waits for the record. */
function recordingAfterClose(tokens: number): {
  handler: (req: express.Request, res: express.Response) => void;
  late: () => Promise<void>;
} {
  let recorded: Promise<void> | null = null;
  return {
    handler: (req, res) => {
      res.on('close', () => {
        recorded = new Promise((resolve) =>
          setTimeout(() => {
            req.usage.record('tokens', tokens);
            resolve();
          }, 5),
        );
      });
      res.json({});
    },
    late: async () => {
      for (let i = 0; i < 100 && recorded === null; i++) await new Promise((r) => setTimeout(r, 5));
      await recorded;
    },
  };
}

describe.each([
  ['Express 5', express as unknown as typeof express],
  ['Express 4', express4 as unknown as typeof express],
])('req.usage on %s', (_name, expressModule) => {
  let mw: TrackUsageMiddleware;
  let app: ReturnType<typeof express>;
  let server: { url: string; close: () => Promise<void> } | null = null;

  beforeEach(() => {
    mw = trackUsage({ store: new MemoryStore(), config: SUITE_CONFIG, leaseMs: 0 });
    app = expressModule();
  });

  afterEach(async () => {
    await server?.close();
    server = null;
    await mw.close();
  });

  async function run(path: string, tenant: string): Promise<number> {
    server = await listen(app);
    const res = await fetch(`${server.url}${path}`, { headers: identity(tenant, 'u1', 'budget') });
    await res.text();
    return res.status;
  }

  it('is still there after the response closed', async () => {
    const late = recordingAfterClose(7);
    app.use(mw);
    app.get('/api/late', late.handler);
    expect(await run('/api/late', 'slot-late')).toBe(200);
    await late.late();
    expect(await tokensUsed(mw, 'slot-late', 7)).toBe(7);
  });

  it('is found when the application replaced res.locals after trackUsage', async () => {
    app.use(mw);
    app.use((_req, res, next) => {
      res.locals = { title: 'replaced' };
      next();
    });
    app.get('/api/replaced', (req, res) => {
      req.usage.record('tokens', 11);
      res.json({ metered: req.usage.metered });
    });
    expect(await run('/api/replaced', 'slot-replaced')).toBe(200);
    expect(await tokensUsed(mw, 'slot-replaced', 11)).toBe(11);
  });

  it('counts a late record after the application replaced res.locals', async () => {
    const late = recordingAfterClose(13);
    app.use(mw);
    app.use((_req, res, next) => {
      res.locals = { title: 'replaced' };
      next();
    });
    app.get('/api/replaced-late', late.handler);
    expect(await run('/api/replaced-late', 'slot-replaced-late')).toBe(200);
    await late.late();
    expect(await tokensUsed(mw, 'slot-replaced-late', 13)).toBe(13);
  });

  it('bills each request its own usage when the application shares one res.locals between responses', async () => {
    const shared = Object.create(null) as Record<string, unknown>;
    app.use((_req, res, next) => {
      res.locals = shared;
      next();
    });
    app.use(mw);
    app.get('/api/shared', (req, res) => {
      // Both requests are in their handlers at once; each records after the other was admitted.
      setTimeout(() => {
        req.usage.record('tokens', 100);
        res.on('close', () => setTimeout(() => req.usage.record('tokens', 1), 5));
        res.json({ tenant: req.usage.tenantId });
      }, 30);
    });
    server = await listen(app);
    const url = server.url;
    const [a, b] = await Promise.all(
      ['slot-shared-a', 'slot-shared-b'].map(async (tenant) => {
        const res = await fetch(`${url}/api/shared`, { headers: identity(tenant, 'u1', 'budget') });
        return (await res.json()) as { tenant: string };
      }),
    );
    expect([a!.tenant, b!.tenant]).toEqual(['slot-shared-a', 'slot-shared-b']);
    await new Promise((r) => setTimeout(r, 20));
    expect(await tokensUsed(mw, 'slot-shared-a', 101)).toBe(101);
    expect(await tokensUsed(mw, 'slot-shared-b', 101)).toBe(101);
  });

  it('is the unmetered usage when the application replaced res.locals', async () => {
    let metered: boolean | null = null;
    app.use(mw);
    app.use((_req, res, next) => {
      res.locals = {};
      next();
    });
    app.get('/health', (req, res) => {
      metered = req.usage.metered;
      res.send('ok');
    });
    expect(await run('/health', 'slot-unmetered-replaced')).toBe(200);
    expect(metered).toBe(false);
  });

  it('is not set on a request that was rejected before its handler', async () => {
    const seen: Array<RequestUsage | undefined> = [];
    app.use((req, res, next) => {
      res.on('finish', () => seen.push(req.usage));
      next();
    });
    app.use(mw);
    app.get('/api/tight', (_req, res) => {
      res.json({});
    });
    server = await listen(app);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/api/tight`, { headers: identity('slot-tight', 'u1', 'four') });
      await res.text();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    expect(seen.map((u) => u?.metered)).toEqual([true, true, true, true, undefined]);
  });

  it('replaces a usage the application set before trackUsage, as an own property would', async () => {
    let metered: boolean | null = null;
    app.use((req, _res, next) => {
      req.usage = { metered: false } as RequestUsage;
      next();
    });
    app.use(mw);
    app.get('/api/own', (req, res) => {
      metered = req.usage.metered;
      req.usage.record('tokens', 3);
      res.json({});
    });
    expect(await run('/api/own', 'slot-own')).toBe(200);
    expect(metered).toBe(true);
    expect(await tokensUsed(mw, 'slot-own', 3)).toBe(3);
  });

  it('is seen by the parent app after a mounted app that metered the request', async () => {
    const sub = expressModule();
    sub.use(mw);
    app.use(sub);
    app.get('/api/parent', (req, res) => {
      req.usage.record('tokens', 5);
      res.json({});
    });
    expect(await run('/api/parent', 'slot-parent')).toBe(200);
    expect(await tokensUsed(mw, 'slot-parent', 5)).toBe(5);
  });

  it('is the unmetered usage outside the metered paths', async () => {
    let seen: RequestUsage | null = null;
    app.use(mw);
    app.get('/health', (req, res) => {
      seen = req.usage;
      res.send('ok');
    });
    expect(await run('/health', 'slot-health')).toBe(200);
    expect(seen).not.toBeNull();
    expect(seen!.metered).toBe(false);
  });
});

describe('req.usage on a plain http server (no Express)', () => {
  it('is set, and records', async () => {
    const mw = trackUsage({ store: new MemoryStore(), config: SUITE_CONFIG, leaseMs: 0 });
    const handler: Handler = (req, res) => {
      req.usage!.record('tokens', 4);
      res.end('ok');
    };
    const server = await listen((req, res) =>
      mw(req as express.Request, res as express.Response, (err?: unknown) => {
        if (err) throw err;
        handler(req, res);
      }),
    );
    const res = await fetch(`${server.url}/api/raw`, { headers: identity('slot-raw', 'u1', 'budget') });
    expect(res.status).toBe(200);
    await res.text();
    expect(await tokensUsed(mw, 'slot-raw', 4)).toBe(4);
    await server.close();
    await mw.close();
  });
});

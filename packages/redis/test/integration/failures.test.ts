import { createHash } from 'node:crypto';
import net from 'node:net';
import { ErrorCode, QuotaEngine, StoreUnavailableError } from '@tollgate/core';
import Redis from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { APPLY_LUA, APPLY_MANY_LUA } from '@tollgate/redis/internal';
import { freePort, OwnedRedis } from '../../../../test-support/services';
import { config, ready } from './helpers';

// A Redis this file owns: it is flushed, its scripts dropped, and it is stopped and restarted.
let owned: OwnedRedis;
let admin: Redis;

const CLIENT = {
  enableAutoPipelining: true,
  commandTimeout: 500,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: () => 50,
} as const;

beforeAll(async () => {
  owned = await OwnedRedis.start();
  admin = await ready(new Redis(owned.url, { retryStrategy: () => 50 }));
});
afterAll(async () => {
  admin.disconnect();
  await owned.destroy();
});

const APPLY_SHA = createHash('sha1').update(APPLY_LUA).digest('hex');
// Two ops of one event-loop turn go out as one apply-many call.
const APPLY_MANY_SHA = createHash('sha1').update(APPLY_MANY_LUA).digest('hex');
const cfg = config({ plans: { free: { limits: { requests: { day: 50 } } } } });

async function until(check: () => Promise<unknown>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('RedisStore when Redis misbehaves', () => {
  it('answers the next call after SCRIPT FLUSH (ioredis falls back from EVALSHA to EVAL)', async () => {
    const client = await ready(new Redis(owned.url, CLIENT));
    try {
      const engine = new QuotaEngine({ store: new RedisStore({ client, prefix: 'flush:' }), config: cfg });
      const who = { tenantId: 'acme' };
      expect((await engine.consume(who, { requests: 1 })).admitted).toBe(true);
      await admin.script('FLUSH');
      expect(await admin.script('EXISTS', APPLY_SHA)).toEqual([0]);
      const again = await Promise.all([
        engine.consume(who, { requests: 1 }),
        engine.consume(who, { requests: 1 }),
      ]);
      expect(again.every((r) => r.admitted)).toBe(true);
      expect(await admin.script('EXISTS', APPLY_MANY_SHA)).toEqual([1]);
      await admin.script('FLUSH');
      expect((await engine.status(who)).quotas.requests?.day?.used).toBe(3);
    } finally {
      client.disconnect();
    }
  });

  it('fails with StoreUnavailableError while Redis is down, and answers again once it is back', async () => {
    const client = await ready(new Redis(owned.url, CLIENT));
    client.on('error', () => undefined);
    try {
      const store = new RedisStore({ client, prefix: 'down:' });
      const engine = new QuotaEngine({ store, config: cfg });
      const who = { tenantId: 'acme' };
      expect((await engine.consume(who, { requests: 1 })).admitted).toBe(true);
      await owned.stop();
      const failure = await engine.consume(who, { requests: 1 }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect(failure).toMatchObject({ code: ErrorCode.StoreUnavailable });
      expect((failure as Error).cause).toBeInstanceOf(Error);
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 1000 })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await owned.start();
      await until(() => store.ping());
      // The restarted Redis has no persistence: without a baseline source the shard starts again from zero.
      expect((await engine.consume(who, { requests: 1 })).admitted).toBe(true);
      expect((await engine.status(who)).quotas.requests?.day?.used).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  it('rebuilds quota state from the baseline after FLUSHALL: a subject at its limit stays at its limit', async () => {
    const client = await ready(new Redis(owned.url, CLIENT));
    try {
      let ledger = 0;
      const asked: string[] = [];
      const engine = new QuotaEngine({
        store: new RedisStore({ client, prefix: 'flushall:' }),
        config: cfg,
        baseline: async (q) => {
          asked.push(`${q.scope}:${q.id}:${q.meter}:${q.period}`);
          return q.meter === 'requests' && q.period === 'day' ? ledger : 0;
        },
      });
      const who = { tenantId: 'acme' };
      expect((await engine.consume(who, { requests: 1 })).admitted).toBe(true);
      expect(asked).toEqual(['tenant:acme:requests:day']);
      ledger = 50; // what the ledger holds for today
      await admin.flushall();
      const next = await engine.consume(who, { requests: 1 });
      expect(next).toMatchObject({
        admitted: false,
        violation: { meter: 'requests', period: 'day', limit: 50, used: 50 },
      });
      expect(asked).toEqual(['tenant:acme:requests:day', 'tenant:acme:requests:day']);
      expect((await engine.status(who)).quotas.requests?.day?.used).toBe(50);
    } finally {
      client.disconnect();
    }
  });

  it('counts once an admission whose reply was lost and that ioredis resent after reconnecting', async () => {
    // A proxy that can drop the next reply from Redis and cut the connection, as a network fault would.
    let dropNextReply = false;
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((downstream) => {
      const upstream = net.connect(owned.port, '127.0.0.1');
      sockets.add(downstream).add(upstream);
      downstream.pipe(upstream);
      upstream.on('data', (chunk) => {
        if (dropNextReply) {
          dropNextReply = false;
          downstream.destroy();
          upstream.destroy();
          return;
        }
        downstream.write(chunk);
      });
      const close = () => {
        downstream.destroy();
        upstream.destroy();
      };
      downstream.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    // The defaults that matter here: autoResendUnfulfilledCommands true, maxRetriesPerRequest >= 1.
    const client = await ready(new Redis(port, '127.0.0.1', { ...CLIENT, commandTimeout: 5000 }));
    client.on('error', () => undefined);
    try {
      const engine = new QuotaEngine({ store: new RedisStore({ client, prefix: 'resend:' }), config: cfg });
      const who = { tenantId: 'acme' };
      expect((await engine.consume(who, { requests: 1 })).admitted).toBe(true);
      dropNextReply = true;
      const resent = await engine.consume(who, { requests: 1 }, { opId: 'lost-reply' });
      // Redis applied it before the reply was lost; the resend found the op id and changed nothing.
      expect(resent).toMatchObject({ admitted: true, duplicate: true });
      expect((await engine.status(who)).quotas.requests?.day?.used).toBe(2);
    } finally {
      client.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

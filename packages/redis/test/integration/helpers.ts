// Test helpers for RedisStore: recommended client options, key cleanup, a plain config.
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { parseConfig, type ApplyOp, type QuotaEngine, type TollgateConfigInput } from '@tollgate/core';
import { OwnedRedis } from '../../../../test-support/services';

/** The client options the README recommends (bounded waits, no offline queue), with auto-pipelining. */
export const CLIENT_OPTIONS: RedisOptions = {
  enableAutoPipelining: true,
  commandTimeout: 2000,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
};

export function redisClient(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { ...CLIENT_OPTIONS, ...extra });
}

/** A cluster client; the offline queue stays on only until the slot map is first loaded. */
export async function clusterClient(startupNodes: Array<{ host: string; port: number }>): Promise<Cluster> {
  const c = new Cluster(startupNodes, {
    enableAutoPipelining: true,
    redisOptions: { commandTimeout: 2000, maxRetriesPerRequest: 1 },
  });
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Every key matching `pattern`, by SCAN (never KEYS on the shared Redis). */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** Deletes every key under `prefix` (the shared Redis is never flushed). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await scanKeys(client, `${prefix}*`);
  for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
}

export function config(input: Partial<TollgateConfigInput> & Pick<TollgateConfigInput, 'plans'>) {
  return parseConfig({
    subject: 'tenant',
    timezone: 'UTC',
    defaultPlan: Object.keys(input.plans)[0],
    ...input,
  });
}

/** Resolves once the client is connected (with the offline queue off, earlier commands would fail). */
export async function ready(client: Redis): Promise<Redis> {
  if (client.status === 'ready') return client;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/**
 * An enforcing op of `who` now, under `opId`, adding `amounts` (nothing kept for the ledger unless `extra` says so),
 * seeding its shard on the way; `extra` replaces any other part.
 */
export function opOf(
  engine: QuotaEngine,
  who: Parameters<QuotaEngine['resolve']>[0],
  opId: string,
  amounts: ApplyOp['amounts'],
  extra: Partial<ApplyOp> = {},
): ApplyOp {
  const subject = engine.resolve(who);
  const now = Date.now();
  return {
    opId,
    tag: subject.tag,
    now,
    mode: 'enforce',
    scopes: subject.scopes,
    windows: engine.windowsAt(now),
    limits: subject.limits,
    amounts,
    usage: [],
    warnAt: [],
    seed: 'auto',
    ...extra,
  };
}

/** An enforcing op that consumes one request of `tenantId` now, under `opId`, seeding its shard on the way. */
export function requestOp(engine: QuotaEngine, tenantId: string, opId: string): ApplyOp {
  return opOf(engine, { tenantId }, opId, [{ meter: 'requests', amount: 1 }]);
}

/** A request op that also keeps its usage for the ledger (what the flusher claims). */
export function usageOp(engine: QuotaEngine, tenantId: string, opId: string): ApplyOp {
  const op = requestOp(engine, tenantId, opId);
  const hour = Math.floor(op.now / 3_600_000) * 3_600_000;
  return {
    ...op,
    usage: [
      { tenantId, userId: null, meter: 'requests', model: null, bucketStart: hour, amount: 1, costPico: '0' },
    ],
  };
}

/**
 * A Redis of the calling test file's own, started before its tests and destroyed after them, so that counts of its
 * script calls see no other file's calls. `client()` is its connected client (inside the tests).
 */
export function ownRedis(): { client: () => Redis } {
  let owned: OwnedRedis | null = null;
  let client: Redis | null = null;
  beforeAll(async () => {
    owned = await OwnedRedis.start();
    client = await ready(redisClient(owned.url));
  });
  afterAll(async () => {
    await client?.quit();
    await owned?.destroy();
  });
  return {
    client: () => {
      if (client === null) throw new Error('ownRedis: the client is only there inside the tests');
      return client;
    },
  };
}

/** Script calls (EVAL and EVALSHA) the server has run so far; an INFO call is none. */
export async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

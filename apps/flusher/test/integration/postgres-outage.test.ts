// Postgres unreachable for a while mid-run (connections cut through a proxy, inside a transaction):
// the flusher retries with backoff, Redis keeps the usage, and the ledger ends exact.
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { Flusher, PgSqlClient, migrate } from '@tollgate/ledger';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { startLoad } from '../support/load';
import { compareWithTally, drain } from '../support/ledger-check';
import { TcpProxy } from '../support/tcp-proxy';

/** SPEC: 30 s. CI runs a 10 s outage to keep the suite short; TOLLGATE_OUTAGE_MS overrides both. */
const OUTAGE_MS = Number(process.env.TOLLGATE_OUTAGE_MS ?? (process.env.CI ? '10000' : '30000'));

jest.setTimeout(OUTAGE_MS + 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Postgres unavailable mid-run', () => {
  let db: { url: string; drop: () => Promise<void> };
  let direct: PgSqlClient;
  let redis: Redis;
  let proxy: TcpProxy;
  const prefix = uniquePrefix('outage');
  const ids = `outage${Date.now().toString(36)}`;

  beforeAll(async () => {
    db = await createTestDatabase('flusher_outage');
    direct = new PgSqlClient({ pool: { connectionString: db.url, max: 2 } });
    await migrate(direct);
    redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
    proxy = await TcpProxy.start(Number(new URL(db.url).port || 5432));
  });

  afterAll(async () => {
    await proxy.cut();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await direct.close();
    await db.drop();
  });

  it(`loses nothing and doubles nothing across a ${OUTAGE_MS / 1000} s outage that starts inside a transaction`, async () => {
    const store = new RedisStore({ client: redis, prefix });
    const viaProxy = new PgSqlClient({
      pool: { connectionString: proxy.url(db.url), max: 2, connectionTimeoutMillis: 2000 },
    });
    const load = startLoad(store, { workers: 2, pauseMs: 2, idPrefix: ids });
    const errors: string[] = [];
    let cutAt = 0;
    let flushesBeforeCut = 0;
    const flusher = new Flusher({
      store,
      sql: viaProxy,
      intervalMs: 50,
      staleAfterMs: 5_000,
      maxBackoffMs: 1000,
      onError: (err) => errors.push((err as Error).message),
      hooks: {
        beforeCommit: async (batches) => {
          // The outage begins while this transaction is open: its connection dies before COMMIT.
          if (cutAt === 0 && batches.length > 0 && ++flushesBeforeCut >= 5) {
            cutAt = Date.now();
            await proxy.cut();
          }
        },
      },
    });
    flusher.start();
    while (cutAt === 0) await sleep(20);
    const opsAtCut = load.ops();
    await sleep(OUTAGE_MS);
    const opsDuringOutage = load.ops() - opsAtCut;
    const failures = errors.length;
    expect(flusher.lastSuccessAt === null || flusher.lastSuccessAt < cutAt).toBe(true);
    await proxy.restore();
    const restoredAt = Date.now();
    // The flusher comes back by itself (backoff is at most 1 s here).
    while ((flusher.lastSuccessAt ?? 0) < restoredAt) await sleep(50);
    await load.stop();
    await flusher.close();
    await viaProxy.close();

    await drain(store, direct);
    const { ledger, expected } = await compareWithTally(direct, load.store.tally, `${ids}%`);
    expect(opsDuringOutage).toBeGreaterThan(100);
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(ledger.amounts).toEqual(expected.amounts);
    expect(ledger.costs).toEqual(expected.costs);
    expect(ledger.events).toBe(expected.events);
  });
});

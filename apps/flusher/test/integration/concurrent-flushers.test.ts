// Several flushers on one Redis and one ledger at once: every unit lands exactly once.
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { Flusher, PgSqlClient, migrate } from '@tollgate/ledger';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { startLoad } from '../support/load';
import { compareWithTally, drain } from '../support/ledger-check';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('concurrent flushers', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: PgSqlClient;
  const clients: Redis[] = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('flusher_concurrent');
    sql = new PgSqlClient({ pool: { connectionString: db.url, max: 8 } });
    await migrate(sql);
  });

  afterAll(async () => {
    const admin = new Redis(REDIS_URL);
    for (const p of prefixes) {
      const keys = await admin.keys(`${p}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
    admin.disconnect();
    for (const c of clients) c.disconnect();
    await sql.close();
    await db.drop();
  });

  async function run(count: number, staleAfterMs: number, name: string) {
    const prefix = uniquePrefix(name);
    prefixes.push(prefix);
    const ids = `${name}${Date.now().toString(36)}`;
    const storeFor = () => {
      const client = new Redis(REDIS_URL, { enableAutoPipelining: true });
      clients.push(client);
      return new RedisStore({ client, prefix });
    };
    const load = startLoad(storeFor(), { workers: 3, pauseMs: 1, idPrefix: ids });
    let written = 0;
    let skipped = 0;
    const flushers = Array.from(
      { length: count },
      () =>
        new Flusher({
          store: storeFor(),
          sql,
          intervalMs: 50,
          staleAfterMs,
          maxTags: 3,
          onFlush: (r) => {
            written += r.batches;
            skipped += r.skipped;
          },
        }),
    );
    for (const f of flushers) f.start();
    await sleep(3000);
    await load.stop();
    await Promise.all(flushers.map((f) => f.close()));
    await drain(storeFor(), sql);
    const result = await compareWithTally(sql, load.store.tally, `${ids}%`);
    return { ...result, written, skipped };
  }

  it('two flushers end with exact totals per subject and meter', async () => {
    const { ledger, expected, written } = await run(2, 30_000, 'two');
    expect(written).toBeGreaterThan(10);
    expect(ledger.amounts).toEqual(expected.amounts);
    expect(ledger.costs).toEqual(expected.costs);
  });

  it('three flushers that keep re-claiming each other’s batches (stale after 0 ms) still count each batch once', async () => {
    const { ledger, expected, written, skipped } = await run(3, 0, 'three');
    expect(written).toBeGreaterThan(10);
    // The same batch ids really were handed to several flushers at once.
    expect(skipped).toBeGreaterThan(0);
    expect(ledger.amounts).toEqual(expected.amounts);
    expect(ledger.costs).toEqual(expected.costs);
  });
});

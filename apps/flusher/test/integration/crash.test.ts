// Exactly once under crashes: child flusher processes SIGKILLed at random moments, many of them right
// before COMMIT or right after it (before the Redis acknowledgement), while usage keeps arriving.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { PgSqlClient, migrate } from '@tollgate/ledger';
import { createTestDatabase, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { buildChildTree, childEnv } from '../support/build-child';
import { startLoad } from '../support/load';
import { compareWithTally, drain } from '../support/ledger-check';

/** Kills per lane; two lanes run at once (two flushers, both being killed). Override with CRASH_KILLS_PER_LANE. */
const KILLS_PER_LANE = Number(process.env.CRASH_KILLS_PER_LANE ?? '100');
/** Wall-time budget of the kill phase: on a very busy machine the lanes stop early (at least 100 kills are still required). */
const BUDGET_MS = Number(process.env.CRASH_BUDGET_MS ?? '120000');
/** How long a child holds still at each commit edge, so the kill lands inside that window. */
const PAUSE_MS = 40;

type Mode = 'before-commit' | 'after-commit' | 'random';

jest.setTimeout(BUDGET_MS + 60_000);

describe('flusher processes killed at random moments', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: PgSqlClient;
  let redis: Redis;
  let store: RedisStore;
  const prefix = uniquePrefix('crash');
  const ids = `crash${Date.now().toString(36)}`;

  beforeAll(async () => {
    db = await createTestDatabase('flusher_crash');
    sql = new PgSqlClient({ pool: { connectionString: db.url, max: 4 } });
    await migrate(sql);
    redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
    store = new RedisStore({ client: redis, prefix });
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await sql.close();
    await db.drop();
  });

  it('ends with ledger sums equal to the recorded usage, per subject and meter, after hundreds of kills', async () => {
    const dir = buildChildTree();
    const script = path.join(dir, 'apps', 'flusher', 'test', 'support', 'crash-child.js');
    const env = childEnv({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      DATABASE_URL: db.url,
      FLUSH_INTERVAL_MS: '50',
      FLUSH_STALE_AFTER_MS: '1000',
      METRICS_PORT: '0',
      CRASH_PAUSE_MS: String(PAUSE_MS),
    });
    const load = startLoad(store, { workers: 3, pauseMs: 2, idPrefix: ids });
    const killed: Record<Mode | 'no-edge', number> = {
      'before-commit': 0,
      'after-commit': 0,
      random: 0,
      'no-edge': 0,
    };
    const unexpected: string[] = [];

    const cycle = async (): Promise<void> => {
      const r = Math.random();
      const mode: Mode = r < 0.4 ? 'before-commit' : r < 0.8 ? 'after-commit' : 'random';
      const child: ChildProcess = fork(script, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.once('exit', (code, signal) => resolve(signal ?? code)),
      );
      let landed: Mode | 'no-edge' = 'no-edge';
      await new Promise<void>((resolve) => {
        const kill = (why: Mode | 'no-edge') => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          landed = why;
          child.kill('SIGKILL');
          resolve();
        };
        // A child that never reaches the wanted edge (nothing to write yet) is killed anyway.
        const giveUp = setTimeout(() => kill('no-edge'), 4000);
        child.on('message', (m: { at: string }) => {
          if (m.at === 'ready' && mode === 'random') {
            setTimeout(() => kill('random'), Math.random() * 250);
          } else if (m.at === mode) {
            kill(mode);
          }
        });
        void exited.then(() => {
          clearTimeout(giveUp);
          resolve();
        });
      });
      const how = await exited;
      if (how !== 'SIGKILL') unexpected.push(`child exited by itself (${String(how)}): ${stderr.trim()}`);
      else killed[landed] += 1;
    };

    const deadline = Date.now() + BUDGET_MS;
    await Promise.all(
      [0, 1].map(async () => {
        for (let i = 0; i < KILLS_PER_LANE && Date.now() < deadline; i++) await cycle();
      }),
    );
    await load.stop();
    expect(unexpected).toEqual([]);

    const final = await drain(store, sql);
    const { ledger, expected } = await compareWithTally(sql, load.store.tally, `${ids}%`);
    console.log(
      `crash test: ${load.ops()} operations, kills ${JSON.stringify(killed)}, clean flush wrote ${final.batches} batches and skipped ${final.skipped}`,
    );
    const total = killed['before-commit'] + killed['after-commit'] + killed.random + killed['no-edge'];
    expect(total).toBeGreaterThanOrEqual(Math.min(100, 2 * KILLS_PER_LANE));
    expect(killed['before-commit']).toBeGreaterThan(total / 5);
    expect(killed['after-commit']).toBeGreaterThan(total / 5);
    expect(Object.keys(expected.amounts).length).toBeGreaterThan(20);
    expect(ledger.amounts).toEqual(expected.amounts);
    expect(ledger.costs).toEqual(expected.costs);
    expect(ledger.events).toBe(expected.events);
  });
});

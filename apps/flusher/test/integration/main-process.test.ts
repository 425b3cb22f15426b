// The flusher as its own process: one-line start-up errors, metrics, SIGTERM (finish, flush once more, exit 0), migrate.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { PgSqlClient } from '@tollgate/ledger';
import { createTestDatabase, freePort, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { buildChildTree, childEnv } from '../support/build-child';
import { startLoad } from '../support/load';
import { compareWithTally } from '../support/ledger-check';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(script: string, env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [path.join(buildChildTree(), 'apps', 'flusher', 'src', script)], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('flusher process', () => {
  let db: { url: string; drop: () => Promise<void> };
  const prefix = uniquePrefix('main');

  beforeAll(async () => {
    db = await createTestDatabase('flusher_main');
    buildChildTree();
  });

  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
  });

  it.each([
    [{ DATABASE_URL: 'postgres://h/d' }, 'REDIS_URL: is required'],
    [{ REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL: must be a URL starting with redis:// or rediss://'],
    [{ REDIS_URL, DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL: must be a URL starting with postgres://'],
    [{ REDIS_URL }, 'DATABASE_URL: is required'],
    [
      { REDIS_URL, DATABASE_URL: 'postgres://h/d', FLUSH_INTERVAL_MS: '10' },
      'FLUSH_INTERVAL_MS: must be an integer >= 50',
    ],
    [
      { REDIS_URL, DATABASE_URL: 'postgres://h/d', LEDGER_RETENTION_MONTHS: '0' },
      'LEDGER_RETENTION_MONTHS: must be an integer from 1',
    ],
    [
      { REDIS_URL, DATABASE_URL: 'postgres://h/d', METRICS_PORT: 'abc' },
      'METRICS_PORT: must be an integer from 0 to 65535',
    ],
    [{ REDIS_URL, DATABASE_URL: 'postgres://h/d', LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be one of'],
  ])('refuses to start with %j, in one line naming the setting', async (env, message) => {
    const run = await runScript('main.js', env as Record<string, string>);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`tollgate-flusher: invalid setting ${message}`);
  });

  it('stops with one clear line when Postgres cannot be reached at start', async () => {
    const closed = await freePort();
    const run = await runScript('main.js', {
      REDIS_URL,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/nowhere`,
      METRICS_PORT: '0',
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^tollgate-flusher: cannot start: .*ECONNREFUSED/),
    ]);
  });

  it('runs migrations twice in parallel without an error', async () => {
    const fresh = await createTestDatabase('flusher_migrate');
    try {
      const runs = await Promise.all([
        runScript('migrate.js', { DATABASE_URL: fresh.url }),
        runScript('migrate.js', { DATABASE_URL: fresh.url }),
      ]);
      expect(runs.map((r) => r.code)).toEqual([0, 0]);
      const outputs = runs.map((r) => r.stdout.trim()).sort();
      expect(outputs[0]).toMatch(/^applied 001_ledger\.sql/);
      expect(outputs[1]).toBe('schema is up to date');
      expect(runs.map((r) => r.stderr)).toEqual(['', '']);
    } finally {
      await fresh.drop();
    }
  });

  it('serves its metrics, and on SIGTERM finishes, flushes once more and exits 0 with the ledger complete', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [path.join(buildChildTree(), 'apps', 'flusher', 'src', 'main.js')],
      {
        env: childEnv({
          REDIS_URL,
          REDIS_PREFIX: prefix,
          DATABASE_URL: db.url,
          FLUSH_INTERVAL_MS: '50',
          METRICS_PORT: String(port),
          METRICS_HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let logs = '';
    child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
    const sql = new PgSqlClient({ pool: { connectionString: db.url, max: 2 } });
    try {
      while (!logs.includes('flusher started')) {
        if (child.exitCode !== null) throw new Error(`flusher exited: ${logs}`);
        await sleep(20);
      }
      const ids = `main${Date.now().toString(36)}`;
      const load = startLoad(new RedisStore({ client: redis, prefix }), {
        workers: 2,
        pauseMs: 1,
        idPrefix: ids,
      });
      await sleep(1500);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const name of [
        'tollgate_flush_rows_total',
        'tollgate_flush_batches_total',
        'tollgate_flush_lag_seconds',
        'tollgate_flush_errors_total',
      ]) {
        expect(metrics).toContain(`# TYPE ${name}`);
      }
      const rows = /^tollgate_flush_rows_total (\d+)/m.exec(metrics);
      expect(Number(rows?.[1])).toBeGreaterThan(0);
      // Usage stops, then SIGTERM at once: whatever the last flushes did not take, the final flush does.
      await load.stop();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(logs).toContain('final flush done');
      const { ledger, expected } = await compareWithTally(sql, load.store.tally, `${ids}%`);
      expect(ledger.amounts).toEqual(expected.amounts);
      expect(ledger.costs).toEqual(expected.costs);
      expect(ledger.events).toBe(expected.events);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      redis.disconnect();
      await sql.close();
    }
  });
});

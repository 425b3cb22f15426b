// Flusher settings: defaults, parsing, and errors that name the setting.
import { parseSettings, SettingError } from '../../src/env';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://postgres@127.0.0.1/db' };

function error(env: Record<string, string>, needStore = true): string {
  try {
    parseSettings(env, { needStore });
  } catch (err) {
    if (err instanceof SettingError) return err.message;
    throw err;
  }
  throw new Error('expected a SettingError');
}

describe('flusher settings', () => {
  it('applies the documented defaults', () => {
    expect(parseSettings(base, { needStore: true })).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisClusterNodes: null,
      redisPrefix: 'tollgate:',
      databaseUrl: 'postgres://postgres@127.0.0.1/db',
      dataDir: './.tollgate',
      flushIntervalMs: 5000,
      staleAfterMs: 30000,
      maxTags: 500,
      retentionMonths: null,
      metricsPort: 9464,
      metricsHost: '0.0.0.0',
      logLevel: 'info',
    });
  });

  it('reads a cluster node list, the minimum interval and a retention', () => {
    const s = parseSettings(
      {
        REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001',
        DATABASE_URL: base.DATABASE_URL,
        FLUSH_INTERVAL_MS: '50',
        LEDGER_RETENTION_MONTHS: '13',
        METRICS_PORT: '0',
      },
      { needStore: true },
    );
    expect(s.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
    ]);
    expect(s).toMatchObject({ flushIntervalMs: 50, retentionMonths: 13, metricsPort: 0, redisUrl: null });
  });

  it('treats empty variables as unset', () => {
    expect(
      parseSettings({ ...base, LEDGER_RETENTION_MONTHS: '', FLUSH_INTERVAL_MS: ' ' }, { needStore: true }),
    ).toMatchObject({
      retentionMonths: null,
      flushIntervalMs: 5000,
    });
  });

  it('names the bad setting', () => {
    expect(error({ ...base, FLUSH_INTERVAL_MS: '49' })).toBe('FLUSH_INTERVAL_MS: must be an integer >= 50');
    expect(error({ ...base, FLUSH_INTERVAL_MS: '1.5' })).toMatch(/^FLUSH_INTERVAL_MS: /);
    expect(error({ ...base, REDIS_CLUSTER_NODES: 'a:1,b' })).toBe(
      'REDIS_CLUSTER_NODES: must be host:port,host:port,...',
    );
    expect(error({ ...base, REDIS_CLUSTER_NODES: 'a:1' })).toMatch(/^REDIS_CLUSTER_NODES: set either/);
    expect(error({ ...base, REDIS_PREFIX: 'a{b}' })).toMatch(/^REDIS_PREFIX: /);
    expect(error({ DATABASE_URL: base.DATABASE_URL })).toMatch(/^REDIS_URL: is required/);
    expect(error({ REDIS_URL: base.REDIS_URL })).toMatch(/^DATABASE_URL: is required/);
  });

  it('lets migrate run without Redis, on the embedded database by default', () => {
    expect(parseSettings({ TOLLGATE_DATA_DIR: '/var/lib/tollgate' }, { needStore: false })).toMatchObject({
      databaseUrl: null,
      dataDir: '/var/lib/tollgate',
    });
  });
});

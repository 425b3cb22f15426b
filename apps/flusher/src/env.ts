// Flusher settings from environment variables: zod-validated, one clear error naming the bad setting.
import { z } from 'zod';
import {
  LOG_LEVELS,
  SettingError,
  clusterNodesSetting,
  intSetting,
  redisPrefixSetting,
  urlSetting,
} from '@tollgate/settings';

export { LOG_LEVELS, SettingError };

export interface FlusherSettings {
  redisUrl: string | null;
  redisClusterNodes: Array<{ host: string; port: number }> | null;
  /** Key prefix of the RedisStore; must match the gateway's. */
  redisPrefix: string;
  /** Null: embedded PGlite under `dataDir` (migrate only; the flusher process needs Postgres). */
  databaseUrl: string | null;
  dataDir: string;
  flushIntervalMs: number;
  staleAfterMs: number;
  maxTags: number;
  retentionMonths: number | null;
  /** 0: no metrics server. */
  metricsPort: number;
  metricsHost: string;
  logLevel: (typeof LOG_LEVELS)[number];
}

const int = intSetting;
const url = urlSetting;

const schema = z.object({
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_CLUSTER_NODES: clusterNodesSetting.optional(),
  REDIS_PREFIX: redisPrefixSetting,
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  TOLLGATE_DATA_DIR: z.string().trim().min(1).default('./.tollgate'),
  FLUSH_INTERVAL_MS: int(50).default('5000'),
  FLUSH_STALE_AFTER_MS: int(1000).default('30000'),
  FLUSH_MAX_TAGS: int(1, 100_000).default('500'),
  LEDGER_RETENTION_MONTHS: int(1, 1200).optional(),
  METRICS_PORT: int(0, 65535).default('9464'),
  METRICS_HOST: z.string().trim().min(1).default('0.0.0.0'),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(', ')}` }) })
    .default('info'),
});

export interface ParseOptions {
  /** The flusher process needs Redis and Postgres; `migrate` needs only the database. */
  needStore: boolean;
}

/** Reads the settings, or throws a SettingError naming the first bad variable. */
export function parseSettings(env: NodeJS.ProcessEnv, options: ParseOptions): FlusherSettings {
  // Empty variables count as unset (docker-compose and shells often pass `VAR=`).
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SettingError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  if (options.needStore) {
    if (!e.REDIS_URL && !e.REDIS_CLUSTER_NODES) {
      throw new SettingError(
        'REDIS_URL',
        'is required (or REDIS_CLUSTER_NODES): the flusher drains the shared Redis; embedded mode runs it inside the gateway',
      );
    }
    if (e.REDIS_URL && e.REDIS_CLUSTER_NODES) {
      throw new SettingError('REDIS_CLUSTER_NODES', 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
    }
    if (!e.DATABASE_URL) {
      throw new SettingError(
        'DATABASE_URL',
        'is required: a separate flusher process cannot share the gateway’s embedded PGlite',
      );
    }
  }
  return {
    redisUrl: e.REDIS_URL ?? null,
    redisClusterNodes: e.REDIS_CLUSTER_NODES ?? null,
    redisPrefix: e.REDIS_PREFIX,
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: e.TOLLGATE_DATA_DIR,
    flushIntervalMs: e.FLUSH_INTERVAL_MS,
    staleAfterMs: e.FLUSH_STALE_AFTER_MS,
    maxTags: e.FLUSH_MAX_TAGS,
    retentionMonths: e.LEDGER_RETENTION_MONTHS ?? null,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    logLevel: e.LOG_LEVEL,
  };
}

// Gateway settings from environment variables (SPEC §2): zod-validated, one clear error naming the setting. The
// JWT_* fields and their derivation are jwt-settings.ts; the shared field types env-fields.ts.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig, parseConfig, type TollgateConfig } from '@tollgate/core';
import { LOG_LEVELS, SettingError, clusterNodesSetting, redisPrefixSetting } from '@tollgate/settings';
import { DEMO_CONFIG } from './demo-config';
import { headerValue, int, trustProxySetting, url } from './env-fields';
import { jwtClaimFields, jwtKeyFields, jwtSettings, type JwtSettings } from './jwt-settings';
import type { ProxyRange } from './trust-proxy';

export { SettingError };
export {
  EC_ALGORITHMS,
  EDDSA_ALGORITHMS,
  HMAC_ALGORITHMS,
  RSA_ALGORITHMS,
  type ClaimNames,
  type JwtAlgorithm,
  type JwtSettings,
} from './jwt-settings';

/** Values never echoed in an error message. */
const SECRET_SETTINGS = new Set([
  'JWT_SECRET',
  'GATEWAY_SIGNING_SECRET',
  'UPSTREAM_AUTHORIZATION',
  'DATABASE_URL',
  'REDIS_URL',
]);

export interface GatewaySettings {
  port: number;
  host: string | null;
  /** Null: run the built-in demo upstream in process. */
  upstreamUrl: URL | null;
  redisUrl: string | null;
  redisClusterNodes: Array<{ host: string; port: number }> | null;
  redisKeyPrefix: string;
  databaseUrl: string | null;
  dataDir: string;
  configPath: string | null;
  config: TollgateConfig;
  jwt: JwtSettings;
  flushIntervalMs: number;
  flusher: 'inline' | 'off';
  failMode: 'open' | 'closed';
  signingSecret: string | null;
  storeTimeoutMs: number;
  failOpenBuffer: number;
  /** `delivered`: a response ends only once its usage is in the counter store; `batched`: usage follows it. */
  durability: 'delivered' | 'batched';
  stripPrefix: string | null;
  /** Proxies in front (TRUST_PROXY) whose forwarding headers are kept; empty: none. */
  trustProxy: ProxyRange[];
  upstreamAuthorization: string | null;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  /** Most decoded bytes of a JSON response read for its usage (past it: settled as estimated). */
  maxResponseJsonBytes: number;
  /** Most time a client may take to send the request headers (then 408 and the connection closed). */
  headersTimeoutMs: number;
  /** Most time a client may take to send the whole request, body included (then 408, connection closed). */
  requestTimeoutMs: number;
  reserveOutputTokens: number;
  shutdownTimeoutMs: number;
  retentionMonths: number | null;
  logLevel: (typeof LOG_LEVELS)[number];
  /** API_KEYS=on: Tollgate API keys are accepted beside JWTs (SPEC §11). */
  apiKeys: boolean;
  /** True when started with `--demo` (or TOLLGATE_DEMO=1): a JWT secret is made up if none is given. */
  demo: boolean;
}

const schema = z.object({
  PORT: int(0, 65535).default('8080'),
  HOST: z.string().trim().min(1).optional(),
  UPSTREAM_URL: url(['http:', 'https:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_CLUSTER_NODES: clusterNodesSetting.optional(),
  REDIS_PREFIX: redisPrefixSetting,
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  TOLLGATE_DATA_DIR: z.string().trim().min(1).default('./.tollgate'),
  TOLLGATE_CONFIG: z.string().trim().min(1).optional(),
  ...jwtKeyFields,
  API_KEYS: z.enum(['on', 'off'], { errorMap: () => ({ message: 'must be on or off' }) }).default('on'),
  ...jwtClaimFields,
  FLUSH_INTERVAL_MS: int(50).default('5000'),
  FLUSHER: z.enum(['inline', 'off'], { errorMap: () => ({ message: 'must be inline or off' }) }).optional(),
  FAIL_MODE: z
    .enum(['open', 'closed'], { errorMap: () => ({ message: 'must be open or closed' }) })
    .default('open'),
  GATEWAY_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  STORE_TIMEOUT_MS: int(1, 60_000).default('100'),
  FAIL_OPEN_BUFFER: int(0).default('100000'),
  DURABILITY: z
    .enum(['delivered', 'batched'], { errorMap: () => ({ message: 'must be delivered or batched' }) })
    .default('delivered'),
  STRIP_PREFIX: z
    .string()
    .trim()
    .regex(/^\/[^?#\s]*[^/?#\s]$/, 'must be a path prefix such as /api (leading slash, no trailing slash)')
    .optional(),
  TRUST_PROXY: trustProxySetting.optional(),
  UPSTREAM_AUTHORIZATION: headerValue.pipe(z.string().min(1)).optional(),
  UPSTREAM_TIMEOUT_MS: int(1).default('60000'),
  MAX_BODY_BYTES: int(1024, 1024 * 1024 * 1024).default(String(4 * 1024 * 1024)),
  // Answers are often far bigger than requests (embeddings): their own bound, 20 MiB as before MAX_BODY_BYTES fell.
  MAX_RESPONSE_JSON_BYTES: int(1024, 1024 * 1024 * 1024).default(String(20 * 1024 * 1024)),
  HEADERS_TIMEOUT_MS: int(100, 3_600_000).default('10000'),
  REQUEST_TIMEOUT_MS: int(100, 86_400_000).default('30000'),
  RESERVE_OUTPUT_TOKENS: int(0).default('1024'),
  SHUTDOWN_TIMEOUT_MS: int(0).default('10000'),
  LEDGER_RETENTION_MONTHS: int(1, 1200).optional(),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(', ')}` }) })
    .default('info'),
  TOLLGATE_DEMO: z.enum(['0', '1', 'true', 'false']).optional(),
});

function tollgateConfig(configPath: string | undefined): TollgateConfig {
  try {
    return configPath ? loadConfig(configPath) : parseConfig(DEMO_CONFIG, 'the built-in demo config');
  } catch (err) {
    if (err instanceof ConfigError) throw new SettingError('TOLLGATE_CONFIG', err.message);
    throw err;
  }
}

export interface ParseEnvOptions {
  /** `--demo` on the command line. Defaults to false (TOLLGATE_DEMO=1 also turns it on). */
  demo?: boolean;
  /** Makes up (or reads back) the demo JWT secret. Defaults to a random one per call. */
  demoSecret?: (dataDir: string) => string;
}

/** Reads and validates every setting; throws one SettingError naming the first bad one. */
export function parseEnv(env: NodeJS.ProcessEnv, options: ParseEnvOptions = {}): GatewaySettings {
  // An empty variable counts as unset, like most twelve-factor apps read them.
  const present = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in schema.shape && v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = String(issue.path[0] ?? 'environment');
    const got = SECRET_SETTINGS.has(setting) ? '' : ` (got ${JSON.stringify(present[setting] ?? '')})`;
    throw new SettingError(setting, `${issue.message}${got}`);
  }
  const e = parsed.data;
  if (e.REDIS_URL && e.REDIS_CLUSTER_NODES) {
    throw new SettingError('REDIS_CLUSTER_NODES', 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  }
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) {
    throw new SettingError(
      'HEADERS_TIMEOUT_MS',
      `must not be more than REQUEST_TIMEOUT_MS (${e.REQUEST_TIMEOUT_MS}): the headers are part of the request (got ${e.HEADERS_TIMEOUT_MS})`,
    );
  }
  const demo = options.demo === true || e.TOLLGATE_DEMO === '1' || e.TOLLGATE_DEMO === 'true';
  const embedded = !(e.REDIS_URL || e.REDIS_CLUSTER_NODES) || !e.DATABASE_URL;
  const dataDir = path.resolve(e.TOLLGATE_DATA_DIR);
  const demoSecret = () => options.demoSecret?.(dataDir) ?? randomBytes(32).toString('base64url');
  return {
    port: e.PORT,
    host: e.HOST ?? null,
    upstreamUrl: e.UPSTREAM_URL ? new URL(e.UPSTREAM_URL) : null,
    redisUrl: e.REDIS_URL ?? null,
    redisClusterNodes: e.REDIS_CLUSTER_NODES ?? null,
    redisKeyPrefix: e.REDIS_PREFIX,
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir,
    configPath: e.TOLLGATE_CONFIG ?? null,
    config: tollgateConfig(e.TOLLGATE_CONFIG),
    jwt: jwtSettings(e, demo, demoSecret),
    flushIntervalMs: e.FLUSH_INTERVAL_MS,
    flusher: e.FLUSHER ?? (embedded ? 'inline' : 'off'),
    failMode: e.FAIL_MODE,
    signingSecret: e.GATEWAY_SIGNING_SECRET ?? null,
    storeTimeoutMs: e.STORE_TIMEOUT_MS,
    failOpenBuffer: e.FAIL_OPEN_BUFFER,
    durability: e.DURABILITY,
    stripPrefix: e.STRIP_PREFIX ?? null,
    trustProxy: e.TRUST_PROXY ?? [],
    upstreamAuthorization: e.UPSTREAM_AUTHORIZATION ?? null,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxResponseJsonBytes: e.MAX_RESPONSE_JSON_BYTES,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    reserveOutputTokens: e.RESERVE_OUTPUT_TOKENS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    retentionMonths: e.LEDGER_RETENTION_MONTHS ?? null,
    logLevel: e.LOG_LEVEL,
    apiKeys: e.API_KEYS === 'on',
    demo,
  };
}

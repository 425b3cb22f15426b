// Gateway settings from environment variables (SPEC §2): zod-validated, one clear error naming the setting.
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig, parseConfig, type TollgateConfig } from '@tollgate/core';
import { DEMO_CONFIG } from './demo-config';
import {
  LOG_LEVELS,
  SettingError,
  clusterNodesSetting,
  intSetting,
  redisPrefixSetting,
  urlSetting,
} from '@tollgate/settings';
import { parseTrustProxy, type ProxyRange } from './trust-proxy';

export { SettingError };

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
export const EC_ALGORITHMS = ['ES256', 'ES384', 'ES512'] as const;
/** Verified only against keys from JWT_JWKS_URL (jsonwebtoken cannot; jose does). */
export const EDDSA_ALGORITHMS = ['EdDSA'] as const;
export type JwtAlgorithm =
  | (typeof HMAC_ALGORITHMS)[number]
  | (typeof RSA_ALGORITHMS)[number]
  | (typeof EC_ALGORITHMS)[number]
  | (typeof EDDSA_ALGORITHMS)[number];
const ALL_ALGORITHMS: readonly string[] = [
  ...HMAC_ALGORITHMS,
  ...RSA_ALGORITHMS,
  ...EC_ALGORITHMS,
  ...EDDSA_ALGORITHMS,
];
const ASYMMETRIC_ALGORITHMS: JwtAlgorithm[] = [...RSA_ALGORITHMS, ...EC_ALGORITHMS, ...EDDSA_ALGORITHMS];
// Node names the curves by their OpenSSL names.
const EC_CURVE_ALG: Record<string, JwtAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};
/** Values never echoed in an error message. */
const SECRET_SETTINGS = new Set([
  'JWT_SECRET',
  'GATEWAY_SIGNING_SECRET',
  'UPSTREAM_AUTHORIZATION',
  'DATABASE_URL',
  'REDIS_URL',
]);

/** Claim names read from the token. */
export interface ClaimNames {
  userId: string;
  tenantId: string;
  tier: string;
  email: string;
  role: string;
}

export interface JwtSettings {
  /** HS* secret, when given. */
  secret: string | null;
  /** RS256/PS256/ES256 (and wider) public key, when given. */
  publicKey: KeyObject | null;
  /** JWT_JWKS_URL: the identity providers' key sets; asymmetric tokens are verified against them only. */
  jwksUrls: URL[];
  algorithms: JwtAlgorithm[];
  issuer: string | null;
  audience: string[] | null;
  clockToleranceSec: number;
  maxTokenLength: number;
  /** Refuse tokens without `exp` (JWT_REQUIRE_EXP). */
  requireExp: boolean;
  claims: ClaimNames;
}

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

const int = intSetting;
const url = urlSetting;

// Sent as a header on every upstream request: anything but printable ASCII would fail each one (ERR_INVALID_CHAR).
const headerValue = z
  .string()
  .refine(
    (s) => /^[\t\x20-\x7e]*$/.test(s),
    'must be printable ASCII (no line breaks or other control characters)',
  );

const booleanSetting = z
  .enum(['true', 'false', '1', '0'], { errorMap: () => ({ message: 'must be true or false' }) })
  .transform((v) => v === 'true' || v === '1');

const trustProxySetting = z.string().transform((value, ctx) => {
  const ranges = parseTrustProxy(value);
  if (typeof ranges !== 'string') return ranges;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: ranges });
  return z.NEVER;
});

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
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters (32+ recommended)').optional(),
  JWT_PUBLIC_KEY: z.string().trim().min(1).optional(),
  JWT_JWKS_URL: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.length > 0, 'must name at least one URL')
    .refine(
      (l) => l.every((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol)),
      'must be a comma-separated list of http(s) URLs',
    )
    .optional(),
  JWT_ALGORITHMS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.length > 0, 'must name at least one algorithm')
    .refine((l) => !l.some((a) => a.toLowerCase() === 'none'), '"none" is never allowed')
    .refine(
      (l) => l.every((a) => ALL_ALGORITHMS.includes(a)),
      `must be a comma-separated list of ${ALL_ALGORITHMS.join(', ')}`,
    )
    .optional(),
  JWT_ISSUER: z.string().trim().min(1).optional(),
  JWT_AUDIENCE: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.length > 0, 'must name at least one audience')
    .optional(),
  JWT_CLOCK_TOLERANCE_SECONDS: int(0, 300).default('5'),
  JWT_MAX_LENGTH: int(256, 65536).default('8192'),
  JWT_REQUIRE_EXP: booleanSetting.default('true'),
  API_KEYS: z.enum(['on', 'off'], { errorMap: () => ({ message: 'must be on or off' }) }).default('on'),
  JWT_CLAIM_USER_ID: z.string().trim().min(1).default('sub'),
  JWT_CLAIM_TENANT_ID: z.string().trim().min(1).default('tenant_id'),
  JWT_CLAIM_TIER: z.string().trim().min(1).default('tier'),
  JWT_CLAIM_EMAIL: z.string().trim().min(1).default('email'),
  JWT_CLAIM_ROLE: z.string().trim().min(1).default('role'),
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

/** A PEM from the variable itself (`\n` escapes allowed) or from the file it names. */
function readPem(value: string): string {
  const text = value.includes('-----BEGIN') ? value : existsSync(value) ? readFileSync(value, 'utf8') : value;
  return text.replace(/\\n/g, '\n');
}

function publicKeyAlgorithms(key: KeyObject): JwtAlgorithm[] {
  if (key.asymmetricKeyType === 'rsa') return ['RS256'];
  if (key.asymmetricKeyType === 'rsa-pss') return ['PS256'];
  if (key.asymmetricKeyType === 'ec') {
    const alg = EC_CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (alg) return [alg];
  }
  throw new SettingError(
    'JWT_PUBLIC_KEY',
    `unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use an RSA or P-256/384/521 EC public key)`,
  );
}

function jwtSettings(e: z.infer<typeof schema>, demo: boolean, demoSecret: () => string): JwtSettings {
  let publicKey: KeyObject | null = null;
  if (e.JWT_PUBLIC_KEY) {
    try {
      publicKey = createPublicKey(readPem(e.JWT_PUBLIC_KEY));
    } catch (err) {
      throw new SettingError(
        'JWT_PUBLIC_KEY',
        `is not a PEM public key (or a file holding one): ${(err as Error).message}`,
      );
    }
    if (publicKey.type !== 'public') throw new SettingError('JWT_PUBLIC_KEY', 'must be a public key');
  }
  const jwksUrls = (e.JWT_JWKS_URL ?? []).map((u) => new URL(u));
  if (publicKey && jwksUrls.length > 0) {
    throw new SettingError(
      'JWT_PUBLIC_KEY',
      'set either JWT_PUBLIC_KEY or JWT_JWKS_URL, not both (asymmetric tokens are verified against one of them)',
    );
  }
  let secret = e.JWT_SECRET ?? null;
  if (!secret && !publicKey && jwksUrls.length === 0) {
    if (!demo)
      throw new SettingError(
        'JWT_SECRET',
        'is required (or JWT_PUBLIC_KEY for RS256/ES256, or JWT_JWKS_URL) outside demo mode',
      );
    secret = demoSecret();
  }
  const defaults: JwtAlgorithm[] = [
    ...(secret ? (['HS256'] as JwtAlgorithm[]) : []),
    ...(publicKey ? publicKeyAlgorithms(publicKey) : []),
    // Each JWKS key is further pinned to the one algorithm its set declares for it.
    ...(jwksUrls.length > 0 ? ASYMMETRIC_ALGORITHMS : []),
  ];
  const algorithms = (e.JWT_ALGORITHMS as JwtAlgorithm[] | undefined) ?? defaults;
  for (const alg of algorithms) {
    if (jwksUrls.length > 0 && ASYMMETRIC_ALGORITHMS.includes(alg)) continue;
    if ((EDDSA_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs JWT_JWKS_URL`);
    }
    if ((HMAC_ALGORITHMS as readonly string[]).includes(alg) && !secret) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs JWT_SECRET`);
    }
    if (
      (RSA_ALGORITHMS as readonly string[]).includes(alg) &&
      !(publicKey && publicKey.asymmetricKeyType?.startsWith('rsa'))
    ) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs an RSA JWT_PUBLIC_KEY`);
    }
    if (
      (EC_ALGORITHMS as readonly string[]).includes(alg) &&
      !(publicKey && publicKeyAlgorithms(publicKey).includes(alg))
    ) {
      throw new SettingError('JWT_ALGORITHMS', `${alg} needs an EC JWT_PUBLIC_KEY on the matching curve`);
    }
  }
  return {
    secret,
    publicKey,
    jwksUrls,
    algorithms,
    issuer: e.JWT_ISSUER ?? null,
    audience: e.JWT_AUDIENCE ?? null,
    clockToleranceSec: e.JWT_CLOCK_TOLERANCE_SECONDS,
    maxTokenLength: e.JWT_MAX_LENGTH,
    requireExp: e.JWT_REQUIRE_EXP,
    claims: {
      userId: e.JWT_CLAIM_USER_ID,
      tenantId: e.JWT_CLAIM_TENANT_ID,
      tier: e.JWT_CLAIM_TIER,
      email: e.JWT_CLAIM_EMAIL,
      role: e.JWT_CLAIM_ROLE,
    },
  };
}

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

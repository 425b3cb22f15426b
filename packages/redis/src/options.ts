// RedisStore options: documented defaults, validated when the store is built.
import { ConfigError } from '@tollgate/core';
import type { Cluster, Redis } from 'ioredis';

export interface RedisStoreOptions {
  /**
   * The caller's ioredis client: a `Redis` (one node, or a primary through Sentinel) or a `Cluster`.
   * The store never closes it. Recommended options are in the package README
   * (`enableAutoPipelining: true`, `commandTimeout`, `enableOfflineQueue: false`).
   */
  client: Redis | Cluster;
  /** Prefix of every key the store writes; must not contain `{` or `}`. Defaults to `'tollgate:'`. */
  prefix?: string;
  /**
   * How long an operation id is remembered, so a retry or fail-open replay of the same id changes nothing.
   * Ids are kept in one hash per shard per window-sized time bucket: each is remembered at least this long
   * and at most twice as long. Defaults to 600000 (10 minutes).
   */
  dedupWindowMs?: number;
}

export interface ResolvedRedisStoreOptions {
  client: Redis | Cluster;
  prefix: string;
  dedupWindowMs: number;
  cluster: boolean;
  /** The client's ioredis `keyPrefix` ('' without one): ioredis adds it to a script's declared keys only. */
  keyPrefix: string;
}

export const REDIS_STORE_DEFAULTS = { prefix: 'tollgate:', dedupWindowMs: 600_000 } as const;

const BRACES = /[{}]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function resolveOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  const issues: Array<{ path: string; message: string }> = [];
  const client = options?.client as (Redis | Cluster | undefined) | null;
  if (!client || typeof client.defineCommand !== 'function' || typeof client.evalsha !== 'function') {
    issues.push({ path: 'client', message: 'must be an ioredis Redis or Cluster instance' });
  }
  const defined = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...REDIS_STORE_DEFAULTS, ...defined } as Required<RedisStoreOptions>;
  if (typeof merged.prefix !== 'string' || BRACES.test(merged.prefix) || CONTROL.test(merged.prefix)) {
    issues.push({ path: 'prefix', message: 'must be a string without braces or control characters' });
  }
  if (
    !Number.isFinite(merged.dedupWindowMs) ||
    !Number.isInteger(merged.dedupWindowMs) ||
    merged.dedupWindowMs < 1000
  ) {
    issues.push({ path: 'dedupWindowMs', message: 'must be an integer >= 1000' });
  }
  const keyPrefix = (client?.options as { keyPrefix?: unknown } | undefined)?.keyPrefix;
  if (keyPrefix !== undefined && typeof keyPrefix !== 'string') {
    // The store adds it to the keys a many-call carries in its argument, as ioredis adds it to the declared key.
    issues.push({
      path: 'client.options.keyPrefix',
      message: 'must be a string (a Buffer prefix is not supported)',
    });
  } else if (typeof keyPrefix === 'string' && BRACES.test(keyPrefix)) {
    issues.push({
      path: 'client.options.keyPrefix',
      message: 'must not contain braces (it would pick the hash slot)',
    });
  }
  if (issues.length > 0) throw new ConfigError(issues, { source: 'RedisStore options' });
  return {
    client: client!,
    prefix: merged.prefix,
    dedupWindowMs: merged.dedupWindowMs,
    cluster: (client as { isCluster?: boolean }).isCluster === true,
    keyPrefix: typeof keyPrefix === 'string' ? keyPrefix : '',
  };
}

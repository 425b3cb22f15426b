// Setting parsers shared by the gateway and flusher processes (they must agree on Redis, Postgres and prefix rules).
// Apps read the environment; these only validate the strings they are handed.
import { z } from 'zod';

/** A setting that cannot work: the process stops at start with this one-line message naming it. */
export class SettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'SettingError';
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** An integer setting given as a string, within [min, max]. */
export function intSetting(min: number, max = Number.MAX_SAFE_INTEGER) {
  const message =
    max === Number.MAX_SAFE_INTEGER
      ? `must be an integer >= ${min}`
      : `must be an integer from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, message)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, message);
}

/** A URL setting whose protocol is one of `protocols` (e.g. `['redis:', 'rediss:']`). */
export function urlSetting(protocols: string[]) {
  return z
    .string()
    .trim()
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );
}

/** `host:port,host:port,...` (REDIS_CLUSTER_NODES) as a list of nodes. */
export const clusterNodesSetting = z
  .string()
  .trim()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .refine(
    (list) =>
      list.length > 0 && list.every((n) => /^[^\s:]+:\d{1,5}$/.test(n) && Number(n.split(':')[1]) <= 65535),
    'must be host:port,host:port,...',
  )
  .transform((list) =>
    list.map((n) => {
      const i = n.lastIndexOf(':');
      return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
    }),
  );

/** The RedisStore key prefix; gateway and flusher must use the same one. Defaults to `tollgate:`. */
export const redisPrefixSetting = z
  .string()
  .regex(/^[^{}\s]{1,64}$/, 'must be 1-64 characters without braces or spaces')
  .default('tollgate:');

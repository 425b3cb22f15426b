// Options of createTollgate() and trackUsage(), each declared once in a table (schema, default, doc) from which
// their types, their defaults and their validation are derived; and their resolution.
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import {
  parseConfig,
  type TollgateConfig,
  type TollgateConfigInput,
  type BaselineQuery,
  type BaselineSource,
  ConfigError,
  assertCounterStore,
  type CounterStore,
  type Identity,
} from '@tollgate/core';
import { isConfiguredMeter, isParsedConfig, BUILTIN_METERS } from '@tollgate/core/internal';
import { SIGNATURE_MAX_AGE_SECONDS } from './identity-headers';
import type { RejectedEvent, ThresholdEvent } from './events';
import { consoleLogger, type TollgateLogger } from './logger';
import {
  callback,
  checkingFor,
  defaultsOf,
  definedOnly,
  validateOptions,
  type OptionDefaults,
  type OptionsInput,
  type ResolvedOptions,
} from './option-table';

/** What the `config` option takes (a named union, so the .d.ts does not spell the plain config's shape out). */
type ConfigOption = TollgateConfig | TollgateConfigInput;

const ms = (min: number, max: number) => z.number().finite().int().min(min).max(max);
const amounts = z.record(z.string(), z.number().finite().int().nonnegative());

/** The options of createTollgate(), shared by the Express middleware and the Fastify plugin. */
export const tollgateOptionTable = {
  // Checked by assertCounterStore() after the schema, with its own TypeError.
  /** Where counters live: a `MemoryStore`, a `RedisStore`, or any `CounterStore`. Required. */
  store: z.custom<CounterStore>(),
  // Checked (and parsed when plain) by toConfig() after the schema.
  /** The parsed config (`loadConfig(...)`) or a plain config object (validated here). Required. */
  config: z.custom<ConfigOption>(),
  /** Rebuilds counters a store lost (the ledger). Defaults to none: a fresh shard starts at zero. */
  baseline: checkingFor<BaselineSource | ((q: BaselineQuery) => Promise<number>)>(
    z.union([callback(), z.object({ used: callback() }).passthrough()]),
  ).optional(),
  /** `enforce` rejects over-quota requests; `shadow` only reports them (for rolling out limits). Defaults to `'enforce'`. */
  mode: z.enum(['enforce', 'shadow']).default('enforce'),
  /** When the store is unreachable: `open` admits and buffers usage, `closed` answers 503. Defaults to `'open'`. */
  failMode: z.enum(['open', 'closed']).default('open'),
  /** Bound on every store call on the request path, in ms. Defaults to `100`. */
  storeTimeoutMs: ms(1, 60_000).default(100),
  /** Operations kept in process while the store is unreachable; beyond it usage is dropped (counted, logged). Defaults to `100000`. */
  failOpenBuffer: z.number().finite().int().min(0).default(100_000),
  /** How often buffered operations are retried while the store is unreachable, in ms. Defaults to `1000`. */
  replayIntervalMs: ms(10, 3_600_000).default(1000),
  /** How long a reservation (`reserve`, `usage.reserve`) holds if never settled, in ms. Defaults to `300000` (5 minutes). */
  reservationTtlMs: ms(1000, 86_400_000).default(300_000),
  /**
   * Post-response usage (latency, bytes, errors, recorded tokens) is summed per subject for this long, then
   * written in one store op, which also settles the reservations of the requests that finished (each undone
   * once); 0 writes after every event-loop turn. Admission is never delayed by it. Defaults to `10`.
   */
  usageBatchMs: ms(0, 60_000).default(10),
  /**
   * `delivered`: a response's end (its last bytes) is held until every unit of its usage is acknowledged by the
   * store, so a process killed at any instant loses nothing a client received in full; ends that meet a write in
   * flight for their subject join the next one (group commit), and none waits more than `storeTimeoutMs` (then it
   * completes degraded, its usage buffered). `batched`: usage waits in process up to `usageBatchMs` after the
   * response (lower latency; a crash loses that window). The programmatic API's calls resolve after the store's
   * answer either way. Defaults to `'delivered'`.
   */
  durability: z.enum(['delivered', 'batched']).default('delivered'),
  /** Called once per subject, meter, period and `warnAt` threshold crossed. Defaults to none. */
  onThreshold: callback<(event: ThresholdEvent) => void>().optional(),
  /** Called for every rejected request (and every would-be rejection in shadow mode). Defaults to none. */
  onRejected: callback<(event: RejectedEvent) => void>().optional(),
  /** A pino-compatible logger (`warn`, `error`, optional `info`, `debug`). Defaults to the console (warnings and errors only). */
  logger: checkingFor<TollgateLogger>(
    z
      .object({
        warn: callback(),
        error: callback(),
        info: callback().optional(),
        debug: callback().optional(),
      })
      .passthrough(),
  ).default(consoleLogger),
};

/** The options of trackUsage() and the Fastify plugin: createTollgate()'s, and how requests are picked and identified. */
export function trackUsageOptionTable<Req>() {
  return {
    ...tollgateOptionTable,
    /** Path prefixes (segment-wise, case-insensitive) or regular expressions of metered requests. Defaults to `['/api']`. */
    paths: z
      .array(
        z.union([
          z.string().startsWith('/', 'must start with "/"'),
          z.instanceof(RegExp, { message: 'must be a string or a RegExp' }),
        ]),
      )
      .min(1, 'needs at least one path (use ["/"] to meter everything)')
      .default(() => ['/api']),
    /** Returns the caller's identity (or null: not metered). Replaces the gateway headers. Defaults to none. */
    identify:
      callback<(req: Req) => Identity | null | undefined | Promise<Identity | null | undefined>>().optional(),
    /** Read identity from the gateway's `X-User-Id`, `X-Tenant-Id`, `X-User-Tier` headers. Defaults to `true`. */
    trustGatewayHeaders: z.boolean().default(true),
    /**
     * The gateway's `GATEWAY_SIGNING_SECRET`: identity headers count only with a valid, fresh `X-Tollgate-Signature`
     * made for this request's method and path (as received: `req.originalUrl` under Express, `request.url` under
     * Fastify). Defaults to none (headers trusted as sent).
     */
    signingSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    /** How far a signature's timestamp may be from now, either way, in seconds (bounds replay). Defaults to `60`. */
    signatureMaxAgeSeconds: z.number().finite().int().min(1).max(86_400).default(SIGNATURE_MAX_AGE_SECONDS),
    /** Answer 401 to a metered-path request with no identity (instead of letting it through unmetered). Defaults to `false`. */
    requireIdentity: z.boolean().default(false),
    /** Returns true for requests that must not be metered (health checks, internal calls). Defaults to none. */
    skip: callback<(req: Req) => boolean>().optional(),
    /** Amounts (e.g. `{ tokens: 4000 }`) reserved at admission beside the request, settled by what the handler records. Defaults to none. */
    reserve: z.union([amounts, callback<(req: Req) => Record<string, number> | undefined>()]).optional(),
    /** Send `RateLimit-Policy` / `RateLimit` headers on metered responses. Defaults to `true`. */
    rateLimitHeaders: z.boolean().default(true),
    /**
     * Admission leases, in ms: a busy subject (hundreds of requests per second) gets a block of `requests`
     * reserved in the store, about 1.5 times what it sends in this long and at most 1/16 of the room left before
     * its next `warnAt` threshold or limit; its requests are admitted from that block without a store round trip
     * for this long, then what was used is counted and the rest released in one op. Never admits more than a
     * limit (every admission holds a unit the store reserved atomically). 0 checks every request (in groups)
     * against the store. Defaults to `50`.
     */
    // Each lease op costs the client about 100 µs of CPU (ioredis): at 10 ms, a subject at 10,000 req/s paid
    // 100 of them a second, 1-8 µs per request (bench/HISTORY.md, runs AA-AB); 50 ms pays a fifth of that.
    leaseMs: ms(0, 1000).default(50),
  };
}

type TollgateOptionTable = typeof tollgateOptionTable;
type TrackUsageOptionTable<Req> = ReturnType<typeof trackUsageOptionTable<Req>>;

/** Options of the programmatic API (`createTollgate`), shared by the Express middleware and the Fastify plugin. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- an interface names the options in hovers and errors
export interface TollgateOptions extends OptionsInput<TollgateOptionTable> {}

/** Options of the HTTP middleware/plugin: everything above plus how requests are picked and identified. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- as above
export interface TrackUsageOptions<Req = IncomingMessage> extends OptionsInput<TrackUsageOptionTable<Req>> {}

/** createTollgate() options once validated: every default filled in, the config parsed. */
export interface ResolvedTollgateOptions extends ResolvedOptions<TollgateOptionTable> {
  config: TollgateConfig;
}

/** trackUsage()/plugin options once validated: every default filled in, the config parsed. */
export interface ResolvedTrackUsageOptions<Req> extends ResolvedOptions<TrackUsageOptionTable<Req>> {
  config: TollgateConfig;
}

/** The default of every createTollgate() option that has one. */
export const TOLLGATE_DEFAULTS: Readonly<OptionDefaults<TollgateOptionTable>> =
  defaultsOf(tollgateOptionTable);

/** The default of every trackUsage()/plugin option that has one. */
export const TRACK_USAGE_DEFAULTS: Readonly<OptionDefaults<TrackUsageOptionTable<unknown>>> =
  defaultsOf(trackUsageOptionTable());

const tollgateSchema = z.object(tollgateOptionTable).strict();
const trackUsageSchema = z.object(trackUsageOptionTable()).strict();

/**
 * A copy of a parsed config (`{ ...loadConfig(file), warnAt: [50] }`) is not parsed again: validation rejects the
 * built-in meters a parsed config lists. It is recognised by every built-in meter being listed with its kind; a
 * plain object that declares only some of them (a mistake) is validated, and told so.
 */
function isCopyOfParsedConfig(input: object): input is TollgateConfig {
  const meters = (input as { meters?: unknown }).meters;
  if (meters === null || typeof meters !== 'object') return false;
  return BUILTIN_METERS.every((m) => {
    const def = (meters as Record<string, unknown>)[m];
    return typeof def === 'object' && def !== null && (def as { kind?: unknown }).kind === 'counter';
  });
}

function toConfig(input: unknown, source: string): TollgateConfig {
  if (input === null || typeof input !== 'object') {
    throw new ConfigError([{ path: 'config', message: 'is required (loadConfig(...) or a config object)' }], {
      source,
    });
  }
  if (isParsedConfig(input) || isCopyOfParsedConfig(input)) return input;
  return parseConfig(input, source);
}

/** Validates createTollgate() options and fills in defaults. Throws ConfigError naming the option. */
export function resolveTollgateOptions(
  options: TollgateOptions,
  source = 'createTollgate() options',
): ResolvedTollgateOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError([{ path: '', message: 'options must be an object with store and config' }], {
      source,
    });
  }
  const merged = { ...TOLLGATE_DEFAULTS, ...definedOnly(options) };
  // The merged object is kept, not zod's copy of it: a copy would lose a logger's or a baseline's prototype.
  validateOptions(tollgateSchema, merged, source);
  assertCounterStore(merged.store);
  return { ...merged, config: toConfig(merged.config, source) } as ResolvedTollgateOptions;
}

/** Validates trackUsage()/plugin options and fills in defaults. Throws ConfigError naming the option. */
export function resolveTrackUsageOptions<Req>(
  options: TrackUsageOptions<Req>,
  source = 'trackUsage() options',
): ResolvedTrackUsageOptions<Req> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError([{ path: '', message: 'options must be an object with store and config' }], {
      source,
    });
  }
  const merged = { ...TRACK_USAGE_DEFAULTS, ...definedOnly(options) };
  validateOptions(trackUsageSchema, merged, source);
  assertCounterStore(merged.store);
  const config = toConfig(merged.config, source);
  if (merged.reserve && typeof merged.reserve === 'object') {
    const issues = Object.keys(merged.reserve)
      .filter((meter) => !isConfiguredMeter(config, meter))
      .map((meter) => ({ path: `reserve.${meter}`, message: `unknown meter "${meter}"` }));
    if (issues.length > 0) throw new ConfigError(issues, { source });
  }
  return { ...merged, paths: [...merged.paths], config } as ResolvedTrackUsageOptions<Req>;
}

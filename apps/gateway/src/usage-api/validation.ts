// zod schemas for every usage-API input; a failure is a 400 naming each field, and nothing is recorded.
import { z } from 'zod';
import { PERIODS, isUsdAmount, type TollgateConfig } from '@tollgate/core';
import { isConfiguredMeter } from '@tollgate/core/internal';
import { fieldErrors, invalid } from '../problem';

const DAYS = 'must be an integer from 1 to 366';
// Plain decimal digits only: Number() would also take "0x10", "1e1", " 5" and "5.0".
const days = z
  .string({ invalid_type_error: DAYS })
  .regex(/^[0-9]{1,3}$/, DAYS)
  .transform(Number)
  .pipe(z.number().int(DAYS).min(1, DAYS).max(366, DAYS));

const id = z.string().min(1).max(256);

const TOO_LARGE = 'is too large';
const LIMIT = 'must be an integer >= -1 (-1 = unlimited)';

/**
 * A numeric limit: past 2^53 no store holds a count one by one (JSON's 1e400 arrives as Infinity). Whole numbers
 * are the route's check: a `cost` limit given as a number is dollars and may have decimals.
 */
const numericLimit = z.number().superRefine((n, ctx) => {
  if (n > Number.MAX_SAFE_INTEGER) ctx.addIssue({ code: 'custom', message: TOO_LARGE });
  else if (Number.isNaN(n) || n < -1) ctx.addIssue({ code: 'custom', message: LIMIT });
});

/** Subject selection shared by stats, timeseries, events and export. */
const subjectQuery = {
  scope: z.enum(['user', 'tenant']).optional(),
  tenantId: id.optional(),
  userId: id.optional(),
  /** One API key's usage (SPEC §11); a non-admin only its own keys'. */
  keyId: id.optional(),
};

export function schemas(config: TollgateConfig) {
  // Own meters only: `constructor`, `toString` and `__proto__` are in every object, never meters.
  const meter = z.string().refine((m) => isConfiguredMeter(config, m), { message: 'unknown meter' });
  return {
    stats: z.object({ days: days.default('30'), ...subjectQuery }).strict(),
    timeseries: z
      .object({ days: days.default('30'), interval: z.enum(['day', 'hour']).default('day'), ...subjectQuery })
      .strict()
      .refine((q) => q.interval === 'day' || q.days <= 7, {
        message: 'interval=hour allows days <= 7',
        path: ['days'],
      }),
    events: z.object({ days: days.default('30'), ...subjectQuery }).strict(),
    exportCsv: z
      .object({
        from: z.coerce.date({ invalid_type_error: 'must be an ISO 8601 date' }).optional(),
        to: z.coerce.date({ invalid_type_error: 'must be an ISO 8601 date' }).optional(),
        ...subjectQuery,
      })
      .strict()
      .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'must not be after to', path: ['from'] }),
    quota: z.object({ tenantId: id.optional(), userId: id.optional(), plan: z.string().optional() }).strict(),
    // `cost` is a USD decimal string, as everywhere in the API; other meters are counts.
    checkQuota: z
      .object({
        meter,
        amount: z.custom<number | string>(
          (v) => typeof v === 'number' || typeof v === 'string',
          'must be an integer >= 0 (for cost, a USD decimal string)',
        ),
      })
      .strict()
      .superRefine((b, ctx) => {
        if (b.meter === 'cost') {
          if (typeof b.amount !== 'string' || !isUsdAmount(b.amount)) {
            ctx.addIssue({
              code: 'custom',
              path: ['amount'],
              message: 'must be a USD decimal string with at most 12 decimals (e.g. "0.01")',
            });
          }
        } else if (typeof b.amount === 'number' && b.amount > Number.MAX_SAFE_INTEGER) {
          ctx.addIssue({ code: 'custom', path: ['amount'], message: TOO_LARGE });
        } else if (typeof b.amount !== 'number' || !Number.isSafeInteger(b.amount) || b.amount < 0) {
          ctx.addIssue({ code: 'custom', path: ['amount'], message: 'must be an integer >= 0' });
        }
      }),
    top: z
      .object({
        meter: meter.default('tokens'),
        period: z.enum(['hour', 'day', 'month']).default('day'),
        limit: z.coerce.number().int().min(1).max(1000).default(10),
      })
      .strict(),
    overrideParams: z.object({ scope: z.enum(['tenant', 'user', 'key']), id }),
    override: z
      .object({
        meter,
        period: z.enum(PERIODS),
        limit: z.union([numericLimit, z.string(), z.null()]),
        tenantId: id.optional(),
      })
      .strict(),
    timeseriesMeter: meter,
  };
}

export type UsageSchemas = ReturnType<typeof schemas>;

/** Parses `input` or throws a 400 problem naming each bad field. */
export function parse<T extends z.ZodTypeAny>(schema: T, input: unknown, prefix = ''): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalid(fieldErrors(result.error, prefix));
  return result.data;
}

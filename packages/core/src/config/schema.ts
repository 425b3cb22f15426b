// The config file's shape as a zod schema, with every default; semantic checks come after it (parse.ts).
import { z } from 'zod';
import { perTokenPico } from '../pricing';

const decimalPrice = z
  .string({ invalid_type_error: 'must be a decimal string such as "2.50"' })
  .refine((s) => {
    try {
      perTokenPico(s);
      return true;
    } catch {
      return false;
    }
  }, 'must be a non-negative decimal string with at most 6 decimals (USD per 1M tokens)');

const priceSchema = z
  .object({
    input: decimalPrice,
    output: decimalPrice,
    cacheRead: decimalPrice.optional(),
    cacheWrite: decimalPrice.optional(),
  })
  .strict();

const periodLimits = z.record(z.string(), z.union([z.number(), z.string()]));
const limitTable = z.record(z.string(), periodLimits);

export const rawSchema = z
  .object({
    subject: z.enum(['tenant', 'user']).default('tenant'),
    timezone: z.string().default('UTC'),
    defaultPlan: z.string().default('free'),
    warnAt: z
      .array(z.number().int().min(1).max(100, 'must be a percentage from 1 to 100'))
      .default([80, 90, 100]),
    meters: z
      .record(z.string(), z.object({ kind: z.enum(['counter', 'gauge']).default('counter') }).strict())
      .default({}),
    plans: z.record(z.string(), z.object({ limits: limitTable.default({}) }).strict()),
    userLimits: z.record(z.string(), limitTable).default({}),
    keyLimits: z.record(z.string(), limitTable).default({}),
    pricing: z.record(z.string(), priceSchema).default({}),
    unpricedModel: z.enum(['allow', 'flag', 'block']).default('flag'),
    webhooks: z
      .array(
        z
          .object({
            url: z.string().url(),
            events: z
              .array(z.enum(['threshold', 'quota_exceeded', 'override_set']))
              .default(['threshold', 'quota_exceeded']),
            secret: z.string().min(16, 'must be at least 16 characters'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type TollgateConfigInput = z.input<typeof rawSchema>;

// zod fields the gateway's settings share (ports, URLs, header values, booleans, TRUST_PROXY ranges).
import { z } from 'zod';
import { intSetting, urlSetting } from '@tollgate/settings';
import { parseTrustProxy } from './trust-proxy';

export const int = intSetting;
export const url = urlSetting;

// Sent as a header on every upstream request: anything but printable ASCII would fail each one (ERR_INVALID_CHAR).
export const headerValue = z
  .string()
  .refine(
    (s) => /^[\t\x20-\x7e]*$/.test(s),
    'must be printable ASCII (no line breaks or other control characters)',
  );

export const booleanSetting = z
  .enum(['true', 'false', '1', '0'], { errorMap: () => ({ message: 'must be true or false' }) })
  .transform((v) => v === 'true' || v === '1');

export const trustProxySetting = z.string().transform((value, ctx) => {
  const ranges = parseTrustProxy(value);
  if (typeof ranges !== 'string') return ranges;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: ranges });
  return z.NEVER;
});

// Bounds on the fields of an LLM request the gateway meters by: a model name it can store, output caps it can reserve.
import { asObject } from './fields';
import type { LlmRequestInfo } from './request';

/** Longest model name accepted (characters); longer names are no model any provider serves. */
export const MAX_MODEL_LENGTH = 256;
/** Most output tokens one request may ask for (cap x choices): far above any model, far below 2^53. */
export const MAX_REQUESTED_OUTPUT_TOKENS = 1_000_000_000;

/** A request field the gateway refuses, and why. */
export interface RequestFieldProblem {
  /** The field as the client wrote it (`max_tokens`, `generationConfig.maxOutputTokens`, `model`). */
  field: string;
  detail: string;
}

// Control, format, surrogate and line/paragraph separator characters: nothing a name needs, each one a way to hide it.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

function modelProblem(field: string, model: unknown): RequestFieldProblem | null {
  if (typeof model !== 'string' || model.length === 0)
    return { field, detail: `${field} must be a non-empty string` };
  if (model.length > MAX_MODEL_LENGTH)
    return { field, detail: `${field} is longer than ${MAX_MODEL_LENGTH} characters` };
  if (UNPRINTABLE.test(model)) return { field, detail: `${field} must not contain control characters` };
  return null;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The first field of `body` the gateway cannot meter by, or null: a `model` that is not a short
 * printable string (the Gemini path's model included), an output cap or choice count that is not
 * a non-negative integer, or a cap times `n` over MAX_REQUESTED_OUTPUT_TOKENS (so the reservation
 * stays an exact integer), or a `stream` that is not a boolean (lenient upstreams read `"true"` or `1` as a
 * stream, which the gateway would neither ask usage for nor read as one), or a Responses call with `background`
 * (generated after the call, so never read for usage). Absent and null fields are fine:
 * the upstream's default applies.
 */
export function requestFieldProblem(body: unknown, info: LlmRequestInfo): RequestFieldProblem | null {
  const obj = asObject(body) ?? {};
  if (obj.model !== undefined) {
    const p = modelProblem('model', obj.model);
    if (p) return p;
  }
  // Gemini's model is its path's, whatever the body says: that is the name metered and stored.
  if (info.model !== null && info.model !== obj.model) {
    const p = modelProblem('model', info.model);
    if (p) return p;
  }
  if (obj.stream !== undefined && obj.stream !== null && typeof obj.stream !== 'boolean')
    return { field: 'stream', detail: 'stream must be true or false' };
  // A background response answers at once (queued, no usage) and is generated later, fetched by GET /responses/<id>:
  // its tokens never pass through a call the gateway reads.
  if (
    info.style === 'openai-responses' &&
    obj.background !== undefined &&
    obj.background !== null &&
    obj.background !== false
  )
    return { field: 'background', detail: 'background responses cannot be metered; send background: false' };
  const gen = asObject(obj.generationConfig) ?? {};
  const caps: Array<[string, unknown]> = [
    ['max_completion_tokens', obj.max_completion_tokens],
    ['max_tokens', obj.max_tokens],
    ['max_output_tokens', obj.max_output_tokens],
    ['generationConfig.maxOutputTokens', gen.maxOutputTokens],
  ];
  const counts: Array<[string, unknown]> = [
    ['n', obj.n],
    ['generationConfig.candidateCount', gen.candidateCount],
  ];
  for (const [field, v] of [...caps, ...counts]) {
    if (v === undefined || v === null || isCount(v)) continue;
    return { field, detail: `${field} must be a non-negative integer` };
  }
  // The same precedence as inspectLlmRequest: the first cap given, times the first count given.
  const cap = caps.find(([, v]) => isCount(v));
  const n = counts.find(([, v]) => isCount(v));
  if (cap) {
    const total = (cap[1] as number) * Math.max(1, n ? (n[1] as number) : 1);
    if (total > MAX_REQUESTED_OUTPUT_TOKENS) {
      const field = n ? `${cap[0]} x ${n[0]}` : cap[0];
      return {
        field: cap[0],
        detail: `${field} asks for more than ${MAX_REQUESTED_OUTPUT_TOKENS} output tokens`,
      };
    }
  }
  return null;
}

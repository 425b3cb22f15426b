// Final token usage of a response (reported where the provider said, estimated elsewhere) and its usage records.
import type { UsageRecord } from '@tollgate/core';
import { estimateTokens } from './estimate';
import type { LlmProvider, ReportedUsage, TokenUsage } from './types';

export interface UsageFacts {
  /** What the provider reported (JSON body or stream), if anything. */
  reported: ReportedUsage | null;
  /** False when a stream ended before its final usage (client abort, upstream cut): the output is then at least what streamed. */
  complete: boolean;
  /** Prompt characters of the request (estimate of the input when nothing was reported). */
  promptChars: number;
  /** Characters of generated text seen in the response. */
  outputChars: number;
  /** Format from the request path, used when the response did not reveal one. */
  provider: LlmProvider | null;
  /** Model from the request, used when the response did not name one. */
  model: string | null;
}

/**
 * Combines reported and estimated numbers: reported fields are used as they are; a missing input
 * side is estimated from the prompt; an incomplete stream's output is the larger of what was
 * reported and what the streamed text estimates (so an abort still counts what was sent).
 */
export function finalUsage(f: UsageFacts): TokenUsage {
  const r = f.reported;
  const provider = r?.provider ?? f.provider;
  const model = r?.model ?? f.model;
  const inputReported = r !== null && r.inputTokens !== null;
  const estOut = estimateTokens(f.outputChars);
  let outputTokens: number;
  let outputEstimated: boolean;
  if (r !== null && r.outputTokens !== null && (f.complete || r.outputTokens >= estOut)) {
    outputTokens = r.outputTokens;
    outputEstimated = false;
  } else {
    outputTokens = estOut;
    outputEstimated = true;
  }
  return {
    provider,
    model,
    inputTokens: inputReported ? r.inputTokens! : estimateTokens(f.promptChars),
    cacheReadTokens: r?.cacheReadTokens ?? 0,
    cacheWriteTokens: r?.cacheWriteTokens ?? 0,
    outputTokens,
    inputEstimated: !inputReported,
    outputEstimated,
  };
}

/** The records to settle with: one per non-zero token kind, carrying model, provider and the estimated flag. */
export function tokenUsageRecords(u: TokenUsage): UsageRecord[] {
  const out: UsageRecord[] = [];
  const add = (meter: string, amount: number, estimated: boolean) => {
    if (amount <= 0) return;
    const rec: UsageRecord = { meter, amount };
    if (u.model) rec.model = u.model;
    if (u.provider) rec.provider = u.provider;
    if (estimated) rec.estimated = true;
    out.push(rec);
  };
  add('input_tokens', u.inputTokens, u.inputEstimated);
  add('cache_read_tokens', u.cacheReadTokens, u.inputEstimated);
  add('cache_write_tokens', u.cacheWriteTokens, u.inputEstimated);
  add('output_tokens', u.outputTokens, u.outputEstimated);
  return out;
}

/** Total tokens of a usage (the `tokens` meter). */
export function totalTokens(u: TokenUsage): number {
  return u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens + u.outputTokens;
}

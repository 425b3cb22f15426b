// Step 6, token settlement: once the upstream answered, an LLM call's tokens (reported, else estimated) are recorded
// through `req.usage`, replacing the reservation step 4 made; an upstream cut off mid-response counts as an error.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import { finalUsage, tokenUsageRecords, type TokenUsage } from '@tollgate/llm';
import { totalTokens } from '@tollgate/llm/internal';
import type { RequestContext } from '../context';
import type { Logger } from '../logger';
import type { GatewayMetrics } from '../metrics';
import type { ResponseUsage } from '../response-reader';
import type { StoreTracker } from '../store-tracker';

/** The tokens one response used, or null when there is nothing to settle but the reservation's release. */
export function usageOf(ctx: RequestContext, read: ResponseUsage): TokenUsage | null {
  const llm = ctx.llm;
  const status = ctx.upstreamStatus ?? 0;
  // An upstream error uses nothing: the reservation is released. Any 2xx answer was served, read or not.
  if (!llm || status < 200 || status >= 300) return null;
  const facts = {
    reported: read.reported,
    complete: read.complete,
    promptChars: llm.info.promptChars,
    outputChars: read.outputChars,
    provider: read.provider ?? llm.info.provider,
    model: read.model ?? llm.info.model,
  };
  let u = finalUsage(facts);
  // The readers take only sane counts; should a sum still be no safe integer, the store would refuse
  // it and the call would count nothing: it is estimated instead.
  if (!Number.isSafeInteger(totalTokens(u))) u = finalUsage({ ...facts, reported: null });
  return totalTokens(u) > 0 ? u : null;
}

/**
 * Counts an upstream that failed after its response began (cut mid-body, or stalled past the timeout) in `errors`:
 * the request's own count only sees responses that finished with a 5xx, and this one was cut off (whatever status
 * had gone out). A `req.usage.onClose` hook: it runs before the engine counts the request, so it joins the
 * request's settlement.
 */
export function countLateUpstreamFailure(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
): void {
  const usage = (req as Request).usage;
  if (!usage?.metered) return;
  usage.onClose(() => {
    // A finished response is counted by its status (a 5xx); a broken-off one by nothing else.
    if (res.writableFinished) return;
    if (ctx.outcome !== 'bad_gateway' && ctx.outcome !== 'gateway_timeout') return;
    usage.record('errors', 1);
  });
}

/** The chunk that carries a stream's last event: OpenAI's `data: [DONE]`, Anthropic's `message_stop`. */
function isLastEvent(chunk: string | Uint8Array): boolean {
  if (typeof chunk === 'string')
    return chunk.includes('data: [DONE]') || chunk.includes('event: message_stop');
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return bytes.includes('data: [DONE]') || bytes.includes('event: message_stop');
}

/**
 * Settles an LLM call's tokens through `req.usage`. With DURABILITY=delivered they are recorded when the proxy
 * ends the response (the upstream body has been read by then; a compressed one is waited for, within the store
 * timeout), so the settlement that replaces the reservation is in the store before the client sees the end.
 * Otherwise usage known when the response closes (the common case: an uncompressed body has been read by then)
 * goes into the request's own settlement op, replacing its reservation atomically; a compressed body still
 * decoding, or a JSON body read on after a client abort, is recorded in its own op a moment later (counted just
 * the same).
 */
export function settleTokens(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  metrics: GatewayMetrics,
  log: Logger,
  tracker: StoreTracker,
): void {
  const reader = ctx.reader;
  if (!reader) return;
  const usage = (req as Request).usage;
  if (!usage?.metered) return;
  let done = false;
  const apply = (read: ResponseUsage) => {
    if (done) return;
    done = true;
    const u = usageOf(ctx, read);
    if (!u) return;
    ctx.tokens = totalTokens(u);
    try {
      for (const r of tokenUsageRecords(u)) {
        usage.record(r.meter, r.amount, { model: r.model, provider: r.provider, estimated: r.estimated });
        metrics.countTokens(r.meter, r.estimated === true, r.amount);
      }
    } catch (err) {
      log.error({ reqId: ctx.requestId, err: (err as Error).message }, 'could not record token usage');
    }
  };
  // An event stream's last event is held with the end: a client (an SDK) that stops reading at it is counted too.
  if (reader.streaming) usage.holdLastWrite(isLastEvent);
  // Delivered durability: at the end, before the response's usage is written (not called with batched).
  usage.beforeEnd(() => {
    const read = reader.peek();
    if (read) apply(read);
    else return reader.result.then(apply);
  });
  // Run before the engine counts the request at close, so usage known by now joins the settlement op.
  usage.onClose(() => {
    // A stream cut short (client gone, upstream stalled) counts what arrived so far, now.
    if (!res.writableFinished && reader.streaming) reader.end();
    const read = reader.peek();
    if (read) apply(read);
  });
  void tracker.track(reader.result.then(apply));
}

/** What the proxy calls once the upstream answered (before any byte goes to the client). */
export interface SettlementOptions {
  metrics: GatewayMetrics;
  log: Logger;
  tracker: StoreTracker;
}

/** Step 6 as the proxy's `onResponse`: the tokens, then the late-failure count, each hooked on the request's close. */
export function settleResponse(o: SettlementOptions) {
  return (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void => {
    settleTokens(req, res, ctx, o.metrics, o.log, o.tracker);
    countLateUpstreamFailure(req, res, ctx);
  };
}

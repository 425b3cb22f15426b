// Step 3, the LLM request: its JSON body read (bounded) to work out the token reservation and, for OpenAI streams,
// to ask for usage.
import type { NextFunction, Request, Response } from 'express';
import { PriceBook, type UnpricedPolicy } from '@tollgate/core';
import { picoAmount, tokenCostPico } from '@tollgate/core/internal';
import {
  inspectLlmRequest,
  llmApiStyle,
  reservationEstimate,
  withIncludeUsage,
  type LlmRequestInfo,
} from '@tollgate/llm';
import { requestFieldProblem } from '@tollgate/llm/internal';
import { contextOf } from '../context';
import { readJsonBody } from '../llm-body';
import type { Outcome } from '../metrics';
import { sendProblem } from '../problem';

export interface LlmRequestOptions {
  maxBodyBytes: number;
  /** How long a request may take to arrive, headers and body (the body read ends with 408 past it). */
  requestTimeoutMs: number;
  /** Output tokens reserved when the request sets no max_tokens. */
  reserveOutputTokens: number;
  prices: PriceBook;
  unpricedModel: UnpricedPolicy;
}

const REFUSALS: Record<400 | 408 | 413 | 415, { title: string; outcome: Outcome }> = {
  400: { title: 'Bad Request', outcome: 'bad_request' },
  408: { title: 'Request Timeout', outcome: 'request_timeout' },
  413: { title: 'Payload Too Large', outcome: 'payload_too_large' },
  415: { title: 'Unsupported Media Type', outcome: 'unsupported_media_type' },
};

/** Pico-dollars the estimate would cost at the request model's price (0 when it has none). */
function reservedCost(prices: PriceBook, info: LlmRequestInfo, input: number, output: number): number {
  if (!info.model) return 0;
  const match = prices.lookup(info.model, info.provider);
  if (!match) return 0;
  const pico =
    tokenCostPico(match.price, 'input_tokens', input) + tokenCostPico(match.price, 'output_tokens', output);
  return picoAmount(pico);
}

/**
 * Google's system parameters that reshape an answer (`alt=proto` binary protobuf, `callback` JSONP, `fields` and the
 * X-Goog-FieldMask header dropping usageMetadata): an answer the gateway could not read for usage, so a Gemini (or
 * any Google-fronted) call with one is refused. `alt=json` and `alt=sse` are what the gateway reads.
 */
function reshapingParameter(target: string, headers: Request['headers']): string | null {
  if (headers['x-goog-fieldmask'] !== undefined) return 'X-Goog-FieldMask';
  const q = target.indexOf('?');
  if (q === -1) return null;
  for (const [name, value] of new URLSearchParams(target.slice(q + 1))) {
    const key = name.startsWith('$') ? name.slice(1) : name;
    if (key === 'alt' && !['json', 'sse'].includes(value.toLowerCase())) return name;
    if (key === 'callback' || key === 'fields') return name;
  }
  return null;
}

/** True when the request carries a body: chunked (kept by the header step), or a non-zero Content-Length. */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

type RequestContext = ReturnType<typeof contextOf>;

/**
 * Refuses, before any byte of the body is read, a call the gateway could not meter: one with a parameter that
 * reshapes the answer (400), or a body sent with another method than POST (405). True when it answered.
 */
function refusedUnread(req: Request, res: Response, ctx: RequestContext, target: string): boolean {
  const reshaping = reshapingParameter(target, req.headers);
  if (reshaping !== null) {
    ctx.outcome = 'bad_request';
    sendProblem(
      res,
      {
        status: 400,
        title: 'Bad Request',
        detail: `${reshaping} changes the answer into one the gateway cannot read for usage`,
        extra: { field: reshaping },
      },
      { Connection: 'close' },
    );
    return true;
  }
  // A body the gateway does not read, which a lenient upstream (or a method override) may take for a call.
  if (req.method === 'POST' || !hasBody(req)) return false;
  ctx.outcome = 'method_not_allowed';
  sendProblem(
    res,
    {
      status: 405,
      title: 'Method Not Allowed',
      detail: `${req.method} with a body is refused on an LLM route`,
    },
    { Allow: 'POST', Connection: 'close' },
  );
  return true;
}

/**
 * Refuses a read body the gateway cannot meter by: a model name or output cap it cannot use (400 naming the
 * field), or a model without a price under `unpricedModel: block` (403). True when it answered.
 */
function refusedBody(
  o: LlmRequestOptions,
  res: Response,
  ctx: RequestContext,
  body: Record<string, unknown>,
  info: LlmRequestInfo,
): boolean {
  const problem = requestFieldProblem(body, info);
  if (problem) {
    ctx.outcome = 'bad_request';
    sendProblem(res, {
      status: 400,
      title: 'Bad Request',
      detail: problem.detail,
      extra: { field: problem.field },
    });
    return true;
  }
  // A call naming no model runs the upstream's default (vLLM, an Azure deployment): no price the gateway knows.
  if (o.unpricedModel === 'block' && (!info.model || !o.prices.lookup(info.model, info.provider))) {
    ctx.outcome = 'blocked_model';
    sendProblem(res, {
      status: 403,
      title: 'Model not priced',
      detail: info.model
        ? `model "${info.model}" has no price and this gateway blocks unpriced models`
        : 'the request names no model, so it has no price, and this gateway blocks unpriced models',
      extra: { model: info.model },
    });
    return true;
  }
  return false;
}

/** The tokens (prompt characters / 4 + max_tokens) and pico-dollars held at admission. */
function reservationOf(o: LlmRequestOptions, info: LlmRequestInfo): Record<string, number> {
  const est = reservationEstimate(info, o.reserveOutputTokens);
  const cost = reservedCost(o.prices, info, est.inputTokens, est.outputTokens);
  const reserve: Record<string, number> = {
    input_tokens: est.inputTokens,
    output_tokens: est.outputTokens,
    tokens: est.inputTokens + est.outputTokens,
  };
  if (cost > 0) reserve.cost = cost;
  return reserve;
}

/**
 * For POSTs to an LLM endpoint (by path): reads the JSON body (llm-body.ts: any encoding and
 * charset the upstream could read, refused with 400/408/413/415 otherwise, never forwarded
 * unread), refuses a model name or output cap it cannot meter by (400 naming the field), works
 * out the reservation (prompt characters / 4 + max_tokens, and its cost), blocks a model with no
 * price under `unpricedModel: block`, and adds `stream_options.include_usage` to an OpenAI chat
 * stream that did not ask for it. Other requests pass untouched and unread.
 */
export function readLlmRequest(o: LlmRequestOptions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const target = req.originalUrl ?? req.url;
    const path = target.split('?')[0]!;
    const style = llmApiStyle(path);
    if (!style) return next();
    const ctx = contextOf(req);
    if (refusedUnread(req, res, ctx, target)) return;
    if (req.method !== 'POST') return next();
    const read = await readJsonBody(req, {
      maxBytes: o.maxBodyBytes,
      deadline: ctx.startedAt + o.requestTimeoutMs,
    });
    if (read === null) {
      // (Unless the server's own request timeout cut it: then that is the outcome.)
      ctx.outcome ??= 'client_aborted';
      return;
    }
    if (!read.ok) {
      const { title, outcome } = REFUSALS[read.status];
      ctx.outcome = outcome;
      // The rest of the body is never read: the connection cannot carry another request.
      sendProblem(res, { status: read.status, title, detail: read.detail }, { Connection: 'close' });
      return;
    }
    const body = read.body;
    const info = inspectLlmRequest(style, path, body);
    if (refusedBody(o, res, ctx, body, info)) return;
    ctx.llm = {
      info,
      raw: read.bytes,
      contentType: read.contentType,
      rewritten: withIncludeUsage(body, info),
      reserve: reservationOf(o, info),
    };
    next();
  };
}

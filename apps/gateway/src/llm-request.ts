// Express step that reads an LLM request's JSON body (bounded) to reserve tokens and, for OpenAI streams, ask for usage.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import {
  PriceBook,
  inspectLlmRequest,
  llmApiStyle,
  reservationEstimate,
  tokenCostPico,
  withIncludeUsage,
  type LlmRequestInfo,
  type UnpricedPolicy,
} from '@tollgate/core';
import { contextOf } from './context';
import { sendProblem } from './problem';

export interface LlmRequestOptions {
  maxBodyBytes: number;
  /** Output tokens reserved when the request sets no max_tokens. */
  reserveOutputTokens: number;
  prices: PriceBook;
  unpricedModel: UnpricedPolicy;
}

class TooLarge extends Error {}

/** Reads the whole body, refusing more than `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError as () => void);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError as () => void);
  });
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  return t === 'application/json' || t.endsWith('+json');
}

/** Pico-dollars the estimate would cost at the request model's price (0 when it has none). */
function reservedCost(prices: PriceBook, info: LlmRequestInfo, input: number, output: number): number {
  if (!info.model) return 0;
  const match = prices.lookup(info.model, info.provider);
  if (!match) return 0;
  const pico =
    tokenCostPico(match.price, 'input_tokens', input) + tokenCostPico(match.price, 'output_tokens', output);
  return pico > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(pico);
}

/**
 * For POSTs to an LLM endpoint (by path): reads a JSON body up to `maxBodyBytes` (413 beyond),
 * works out the reservation (prompt characters / 4 + max_tokens, and its cost), blocks a model
 * with no price under `unpricedModel: block`, and adds `stream_options.include_usage` to an
 * OpenAI chat stream that did not ask for it. Other requests pass untouched and unread.
 */
export function readLlmRequest(o: LlmRequestOptions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const path = (req.originalUrl ?? req.url).split('?')[0]!;
    const style = req.method === 'POST' ? llmApiStyle(path) : null;
    if (!style) return next();
    const ctx = contextOf(req);
    const encoding = req.headers['content-encoding'];
    const readable = isJson(req.headers['content-type']) && (!encoding || encoding === 'identity');
    let raw: Buffer | null = null;
    let body: unknown = null;
    const tooLarge = (): void => {
      ctx.outcome = 'payload_too_large';
      sendProblem(
        res,
        {
          status: 413,
          title: 'Payload Too Large',
          detail: `request bodies are limited to ${o.maxBodyBytes} bytes`,
        },
        { Connection: 'close' },
      );
    };
    if (readable) {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > o.maxBodyBytes) {
        tooLarge();
        return;
      }
      try {
        raw = await readBody(req, o.maxBodyBytes);
      } catch (err) {
        if (err instanceof TooLarge) {
          tooLarge();
          return;
        }
        ctx.outcome = 'client_aborted';
        return;
      }
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        // Forwarded as it is: the upstream answers the malformed JSON itself.
        body = null;
      }
    }
    const info = inspectLlmRequest(style, path, body);
    if (o.unpricedModel === 'block' && info.model && !o.prices.lookup(info.model, info.provider)) {
      ctx.outcome = 'blocked_model';
      sendProblem(res, {
        status: 403,
        title: 'Model not priced',
        detail: `model "${info.model}" has no price and this gateway blocks unpriced models`,
        extra: { model: info.model },
      });
      return;
    }
    const est = reservationEstimate(info, o.reserveOutputTokens);
    const cost = reservedCost(o.prices, info, est.inputTokens, est.outputTokens);
    const reserve: Record<string, number> = {
      input_tokens: est.inputTokens,
      output_tokens: est.outputTokens,
      tokens: est.inputTokens + est.outputTokens,
    };
    if (cost > 0) reserve.cost = cost;
    ctx.llm = { info, raw, rewritten: withIncludeUsage(body, info), reserve };
    next();
  };
}

// Step 5, the proxy: an owned streaming pipe over undici's Pool (keep-alive, its own parser), timeouts, 502/504;
// once the upstream answered it hands the response to step 6 (`onResponse`).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import type { RequestHandler } from 'express';
import { Pool, type Dispatcher } from 'undici';
import { SIGNATURE_HEADER } from '@tollgate/http';
import { decodableAcceptEncoding } from '../accept-encoding';
import { contextOf, type RequestContext } from '../context';
import { canonicalPrefix, stripPrefix, upstreamTarget } from '../forwarded-path';
import { clientResponseHeaders, dropHeader, forwardedSignature } from '../headers';
import type { Logger } from '../logger';
import { sendProblem } from '../problem';
import { ResponseReader } from '../response-reader';
import { SseUsageFilter } from '@tollgate/llm';
import { SseUsageRewriter } from '@tollgate/llm/internal';
import { nodeResponseHeaders } from '../upstream-response-headers';

export interface ProxyOptions {
  target: URL;
  /** Removed from the canonical path before forwarding (segment-wise, any case). */
  stripPrefix: string | null;
  /** GATEWAY_SIGNING_SECRET: signs the forwarded identity for the upstream request's method and final path. */
  signingSecret: string | null;
  /** Upstream silence (no response, or no bytes mid-response) longer than this ends the request: 504 or a cut stream. */
  timeoutMs: number;
  /** Most bytes of a JSON response copied to read its usage. */
  maxJsonBytes: number;
  log: Logger;
  /** Called once the upstream answered, before any byte goes to the client; `reader` is set for LLM calls. */
  onResponse(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void;
}

export interface Proxy {
  middleware: RequestHandler;
  /** The upstream connection pool. */
  pool: Pool;
  /** Closes the pool's upstream connections. */
  close(): Promise<void>;
}

/** Why the gateway itself ended an upstream request (the client left). */
class ClientGone extends Error {
  override name = 'ClientGone';
}

/** undici's codes for an upstream that stayed silent past the timeout (connecting, before or during the response). */
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** A decoder for the client's copy, or null for an encoding the gateway cannot decode (the body then passes as it is). */
function decoderFor(encoding: string): (Readable & NodeJS.WritableStream) | null {
  if (encoding === 'br') return createBrotliDecompress();
  if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') return createUnzip();
  return null;
}

/**
 * A reason phrase Node sends as it is (its writeHead refuses anything else): tab, printable ASCII, and what undici
 * decoded to Latin-1 code points. llhttp passes any byte but CR and LF, and undici decodes it as UTF-8, so an upstream
 * can send one that would throw where the headers go out; it then gets the status code's standard phrase.
 */
const SENDABLE_REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Sends a response's headers unless something (its first bytes, or its end) has sent them already. */
function flushIfQuiet(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  try {
    res.flushHeaders();
  } catch {
    // From a timer: a throw here would end the process. Headers Node refuses cut this response only.
    res.destroy();
  }
}

/** True when the client's request carries a body to stream (a length above zero, or chunked framing). */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

/**
 * The upstream request's headers and body. The LLM body goes as the gateway read it, as the UTF-8
 * JSON it metered: the bytes as received, or re-serialized when it was rewritten (`include_usage`);
 * its framing and type are the gateway's then: Content-Length, no Content-Encoding, a JSON
 * Content-Type. Any other body streams from the client with backpressure, chunked when its length
 * is unknown (undici frames it; a Transfer-Encoding header is never passed on).
 */
function upstreamBody(
  req: IncomingMessage,
  headers: IncomingHttpHeaders,
  ctx: RequestContext,
): Buffer | Readable | null {
  const llm = ctx.llm;
  if (llm) {
    const bytes = llm.rewritten ? Buffer.from(JSON.stringify(llm.rewritten), 'utf8') : llm.raw;
    dropHeader(headers, 'transfer-encoding');
    dropHeader(headers, 'content-encoding');
    headers['content-type'] = llm.contentType;
    headers['content-length'] = String(bytes.length);
    return bytes;
  }
  const body = hasBody(headers) ? req : null;
  dropHeader(headers, 'transfer-encoding');
  return body;
}

interface Exchange {
  o: ProxyOptions;
  req: IncomingMessage;
  res: ServerResponse;
  ctx: RequestContext;
}

/**
 * One upstream request and its response, as an undici dispatch handler: the response is written to
 * the client as it arrives (through the SSE usage filter, and its decoder, when the usage chunk must
 * be hidden), with backpressure both ways, and fed to the usage reader.
 */
class UpstreamExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  /** The final (non-1xx) response began: errors after it cut the client's response, not answer it. */
  private started = false;
  /** The upstream body arrived whole. */
  private complete = false;
  /**
   * Nothing more goes to the client: it left while a JSON body is still read to its end for its usage, or its copy was
   * cut (the stream filter failed).
   */
  private discarding = false;
  /** The body's way through its decoder and the filter, for an encoded stream; else bytes go to `res` from here. */
  private source: Readable | null = null;
  /** Hides the usage chunk of an unencoded stream, called here chunk by chunk (no stream objects per response). */
  private rewriter: SseUsageRewriter | null = null;
  private readonly o: ProxyOptions;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly ctx: RequestContext;

  constructor(x: Exchange) {
    this.o = x.o;
    this.req = x.req;
    this.res = x.res;
    this.ctx = x.ctx;
    this.res.once('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.res.destroyed) controller.abort(new ClientGone('the client left'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    parsed: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    // 1xx: informational, not forwarded (the gateway answers 100-continue itself).
    if (status < 200 || this.started) return;
    this.started = true;
    const { o, req, res, ctx } = this;
    ctx.upstreamStatus = status;
    const headers = nodeResponseHeaders(parsed);
    const contentType = headers['content-type'];
    const encoding = (headers['content-encoding'] ?? 'identity').toLowerCase();
    const sse = (contentType ?? '').toLowerCase().startsWith('text/event-stream');
    // One warning per response, whichever reader hit a cap first.
    let warned = false;
    const warnOnce = (reason: string) => {
      if (warned) return;
      warned = true;
      o.log.warn({ reqId: ctx.requestId, reason }, 'upstream response not fully read for usage');
    };
    const filterable = ctx.llm?.rewritten && sse && status < 300;
    // The usage chunk can be hidden only from a body the gateway can decode; another passes unfiltered.
    const decoder = filterable && encoding !== 'identity' ? decoderFor(encoding) : null;
    const filterOptions = {
      maxEventBytes: o.maxJsonBytes,
      onOversize: () => warnOnce(`an event over ${o.maxJsonBytes} bytes passed unfiltered`),
    };
    const filtered = filterable && (encoding === 'identity' || decoder !== null);
    const decodeForClient = filtered && decoder !== null;
    res.statusCode = status;
    if (statusMessage && SENDABLE_REASON.test(statusMessage)) res.statusMessage = statusMessage;
    for (const [name, value] of clientResponseHeaders(headers)) {
      if (filtered && name === 'content-length') continue;
      if (decodeForClient && name === 'content-encoding') continue;
      res.setHeader(name, value);
    }
    if (ctx.llm) {
      ctx.reader = new ResponseReader({
        contentType,
        contentEncoding: encoding,
        maxJsonBytes: o.maxJsonBytes,
        onLimit: warnOnce,
      });
    }
    o.onResponse(req, res, ctx);
    if (res.destroyed) {
      // The client left before the answer: a JSON body is read to its end for its usage, a stream is not.
      const r = ctx.reader;
      if (r && !r.streaming) this.discarding = true;
      else controller.abort(new ClientGone('the client left'));
      return;
    }
    if (decodeForClient) {
      // pipe() carries backpressure: the decoder inflates only as fast as the client reads.
      const body = new Readable({ read: () => controller.resume() });
      this.source = body;
      decoder.on('error', () => res.destroy());
      // The filter holds at most one capped event; should it ever fail, the client's copy ends, not the process.
      const filter = new SseUsageFilter(filterOptions);
      filter.on('error', () => res.destroy());
      body.pipe(decoder).pipe(filter).pipe(res);
    } else if (filtered) this.rewriter = new SseUsageRewriter(filterOptions);
    // A stream's headers go out at once: with its first bytes when they came with them (one write, not two),
    // else on their own on the next turn of the loop, however long the first event takes; not when the whole body
    // is here already (it goes out with them once its usage is committed, in one write).
    if (sse) setImmediate(this.flushUnlessComplete);
  }

  private readonly flushUnlessComplete = (): void => {
    if (!this.complete) flushIfQuiet(this.res);
  };

  /** Writes `bytes` to the client, pausing the upstream while the client's socket is full. */
  private send(controller: Dispatcher.DispatchController, bytes: Buffer): void {
    if (!this.res.write(bytes)) {
      controller.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  /** The rewriter's output for `chunk` (or, at the end, what it holds); a failure ends the client's copy only. */
  private rewrite(rewriter: SseUsageRewriter, chunk: Buffer | null): Buffer | null {
    try {
      return chunk === null ? rewriter.finish() : rewriter.feed(chunk);
    } catch (err) {
      this.o.log.warn({ reqId: this.ctx.requestId, err: String(err) }, 'stream filter failed');
      this.discarding = true;
      this.res.destroy();
      return null;
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.ctx.reader?.write(chunk);
    if (this.discarding) return;
    if (this.source) {
      if (!this.source.push(chunk)) controller.pause();
      return;
    }
    const out = this.rewriter === null ? chunk : this.rewrite(this.rewriter, chunk);
    if (out !== null) this.send(controller, out);
  }

  onResponseEnd(): void {
    this.complete = true;
    this.ctx.reader?.end();
    if (this.discarding) return;
    if (this.source) {
      this.source.push(null);
      return;
    }
    const rest = this.rewriter === null ? null : this.rewrite(this.rewriter, null);
    if (this.discarding) return;
    // No pause for backpressure here: the body is whole, and a resume after it would reach the pooled connection's
    // next request. What is left is at most one held event.
    if (rest !== null) this.res.write(rest);
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const { o, res, ctx } = this;
    this.ctx.reader?.end();
    if (err instanceof ClientGone) return;
    const timedOut = TIMEOUT_CODES.has((err as NodeJS.ErrnoException).code ?? '');
    if (timedOut) ctx.timedOut = true;
    if (this.started) {
      // An upstream that stops mid-body must not look like a complete response to the client, and is the
      // upstream's failure, not the client leaving (a client that left has closed `res` already).
      if (res.destroyed || res.writableFinished) return;
      ctx.outcome ??= timedOut ? 'gateway_timeout' : 'bad_gateway';
      res.destroy();
      return;
    }
    if (res.destroyed) return;
    if (timedOut) {
      ctx.outcome = 'gateway_timeout';
      sendProblem(res, {
        status: 504,
        title: 'Gateway Timeout',
        detail: `the upstream did not answer within ${o.timeoutMs} ms`,
      });
      return;
    }
    ctx.outcome = 'bad_gateway';
    o.log.warn(
      { reqId: ctx.requestId, err: err.message, code: (err as NodeJS.ErrnoException).code },
      'upstream request failed',
    );
    sendProblem(res, {
      status: 502,
      title: 'Bad Gateway',
      detail: 'the upstream could not be reached or broke the connection',
    });
  }

  private readonly onDrain = (): void => {
    this.controller?.resume();
  };

  private readonly onClientClose = (): void => {
    const { res, ctx } = this;
    if (!this.started) {
      // The client hung up before the upstream answered: nothing to send, the upstream request is dropped.
      if (res.writableFinished) return;
      ctx.outcome ??= 'client_aborted';
      // An LLM call the upstream has whole is answered still: its completion is generated, and paid for
      // (see onResponseStart); anything else is dropped.
      if (!ctx.llm || !this.req.complete) this.controller?.abort(new ClientGone('the client left'));
      return;
    }
    if (res.writableFinished || this.complete) return;
    // The client left mid-response: a stream stops at once (what streamed is counted); a JSON body is
    // read to its end, without the client, so its reported usage still counts (unless the reader is
    // done with it already: past its cap, the rest would be read for nothing).
    const r = ctx.reader;
    if (r && !r.streaming && !ctx.timedOut && r.peek() === null && !this.source) {
      this.discarding = true;
      this.controller?.resume();
    } else {
      this.controller?.abort(new ClientGone('the client left'));
    }
  };
}

export function createProxy(o: ProxyOptions): Proxy {
  // The 4 s idle timeout stays under common upstream keep-alive timeouts (and follows a shorter Keep-Alive hint).
  const pool = new Pool(o.target.origin, {
    keepAliveTimeout: 4000,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connectTimeout: o.timeoutMs,
  });
  const prefix = canonicalPrefix(o.stripPrefix);
  const host = o.target.host;
  // The upstream URL's own path, read once (upstreamTarget of the empty target).
  const basePath = upstreamTarget(o.target, '');

  const middleware = ((req: IncomingMessage, res: ServerResponse) => {
    const ctx = contextOf(req);
    const method = req.method ?? 'GET';
    const forwarded = req.url ?? '/';
    // The canonical target as it is, under the upstream URL's path: what goes on the wire, and what is signed.
    const path = basePath + (prefix === null ? forwarded : stripPrefix(forwarded, prefix));
    const headers = req.headers;
    headers.host = host;
    headers['accept-encoding'] = decodableAcceptEncoding(headers['accept-encoding']);
    const body = upstreamBody(req, headers, ctx);
    if (o.signingSecret && ctx.identity)
      headers[SIGNATURE_HEADER] = forwardedSignature(o.signingSecret, ctx.identity, { method, path });
    pool.dispatch({ method, path, headers, body }, new UpstreamExchange({ o, req, res, ctx }));
  }) as unknown as RequestHandler;

  return { middleware, pool, close: () => pool.destroy() };
}

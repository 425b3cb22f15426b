// The reverse proxy (http-proxy-middleware): keep-alive agent, timeouts, streaming both ways, 502/504.
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import type { RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { decodableAcceptEncoding } from './accept-encoding';
import { contextOf, type RequestContext } from './context';
import { canonicalPrefix, stripPrefix, upstreamTarget } from './forwarded-path';
import { clientResponseHeaders, signForwardedRequest } from './headers';
import type { Logger } from './logger';
import { sendProblem } from './problem';
import { ResponseReader } from './response-reader';
import { SseUsageFilter } from './sse-usage-filter';

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
  agent: http.Agent;
  /** Closes the agent's idle upstream sockets. */
  close(): void;
}

class UpstreamTimeout extends Error {
  override name = 'UpstreamTimeout';
}

/**
 * Writes the body the gateway read, as the UTF-8 JSON it metered: the bytes as received, or
 * re-serialized when it was rewritten (`include_usage`). Its framing and type are the gateway's
 * now: Content-Length, no Content-Encoding, a JSON Content-Type (whatever the client's headers
 * said, or a Connection header removed).
 */
function writeReadBody(proxyReq: ClientRequest, ctx: RequestContext): void {
  const llm = ctx.llm;
  if (!llm) return;
  const bytes = llm.rewritten ? Buffer.from(JSON.stringify(llm.rewritten), 'utf8') : llm.raw;
  proxyReq.removeHeader('transfer-encoding');
  proxyReq.removeHeader('content-encoding');
  proxyReq.setHeader('content-type', llm.contentType);
  proxyReq.setHeader('content-length', bytes.length);
  proxyReq.write(bytes);
}

/** A decoder for the client's copy, or null for an encoding the gateway cannot decode (the body then passes as it is). */
function decoderFor(encoding: string): (Readable & NodeJS.WritableStream) | null {
  if (encoding === 'br') return createBrotliDecompress();
  if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') return createUnzip();
  return null;
}

export function createProxy(o: ProxyOptions): Proxy {
  const secure = o.target.protocol === 'https:';
  // LIFO reuse keeps few warm sockets; the 4 s idle timeout stays under common upstream keep-alive timeouts.
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxFreeSockets: 256,
    timeout: 4000,
    scheduling: 'lifo' as const,
  };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);

  const prefix = canonicalPrefix(o.stripPrefix);

  const onProxyReq = (proxyReq: ClientRequest, req: IncomingMessage) => {
    const ctx = contextOf(req);
    ctx.proxyReq = proxyReq;
    // http-proxy rebuilt the path with url.parse (which escapes some characters); the upstream gets the canonical one.
    proxyReq.path = upstreamTarget(o.target, req.url ?? '/');
    proxyReq.setTimeout(o.timeoutMs, () => {
      ctx.timedOut = true;
      proxyReq.destroy(new UpstreamTimeout(`upstream sent nothing for ${o.timeoutMs} ms`));
    });
    proxyReq.setHeader('accept-encoding', decodableAcceptEncoding(req.headers['accept-encoding']));
    // Before the body's first byte flushes the headers; proxyReq.path is what goes on the wire.
    if (o.signingSecret && ctx.identity) signForwardedRequest(proxyReq, o.signingSecret, ctx.identity);
    writeReadBody(proxyReq, ctx);
  };

  const onProxyRes = (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
    const ctx = contextOf(req);
    const status = proxyRes.statusCode ?? 502;
    ctx.upstreamStatus = status;
    const headers = proxyRes.headers;
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
    const filterable = ctx.llm?.rewritten && sse && status >= 200 && status < 300;
    // The usage chunk can be hidden only from a body the gateway can decode; another passes unfiltered.
    const decoder = filterable && encoding !== 'identity' ? decoderFor(encoding) : null;
    const filter =
      filterable && (encoding === 'identity' || decoder)
        ? new SseUsageFilter({
            maxEventBytes: o.maxJsonBytes,
            onOversize: () => warnOnce(`an event over ${o.maxJsonBytes} bytes passed unfiltered`),
          })
        : null;
    const decodeForClient = filter !== null && decoder !== null;
    res.statusCode = status;
    if (proxyRes.statusMessage) res.statusMessage = proxyRes.statusMessage;
    for (const [name, value] of clientResponseHeaders(headers)) {
      if (filter && name === 'content-length') continue;
      if (decodeForClient && name === 'content-encoding') continue;
      res.setHeader(name, value);
    }
    if (ctx.llm) {
      const reader = new ResponseReader({
        contentType,
        contentEncoding: encoding,
        maxJsonBytes: o.maxJsonBytes,
        onLimit: warnOnce,
      });
      ctx.reader = reader;
      proxyRes.on('data', (chunk: Buffer) => reader.write(chunk));
      proxyRes.on('end', () => reader.end());
      proxyRes.on('close', () => reader.end());
    }
    o.onResponse(req, res, ctx);
    let body: Readable = proxyRes;
    // pipe() carries backpressure: the decoder inflates only as fast as the client reads.
    if (decodeForClient) {
      decoder.on('error', () => res.destroy());
      body = body.pipe(decoder);
    }
    if (filter) {
      // The filter holds at most one capped event; should it ever fail, the client's copy ends, not the process.
      filter.on('error', () => res.destroy());
      body = body.pipe(filter);
    }
    // An upstream that stops mid-body must not look like a complete response to the client, and is the upstream's
    // failure, not the client leaving (a client that left has closed `res` already; its own handler below then
    // drops the upstream body).
    const upstreamBroke = () => {
      if (res.destroyed || res.writableFinished) return;
      ctx.outcome ??= ctx.timedOut ? 'gateway_timeout' : 'bad_gateway';
      res.destroy();
    };
    proxyRes.on('error', upstreamBroke);
    proxyRes.on('aborted', upstreamBroke);
    res.on('close', () => {
      if (res.writableFinished || proxyRes.complete) return;
      // The client left mid-response: a stream stops at once (what streamed is counted); a JSON
      // body is read to its end, without the client, so its reported usage still counts (unless
      // the reader is done with it already: past its cap, the rest would be read for nothing).
      // (After pipe's own close handler has unpiped, and so paused, the upstream body.)
      const r = ctx.reader;
      if (r && !r.streaming && !ctx.timedOut && r.peek() === null) setImmediate(() => proxyRes.resume());
      else proxyRes.destroy();
    });
    if (sse) res.flushHeaders();
    body.pipe(res);
  };

  const onError = (err: Error, req: IncomingMessage, res: ServerResponse | Socket) => {
    const ctx = contextOf(req);
    if (!('setHeader' in res)) return;
    if (ctx.timedOut || err instanceof UpstreamTimeout) {
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
  };

  const middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: o.target.toString(),
    changeOrigin: true,
    // X-Forwarded-* are set by prepareUpstreamHeaders (http-proxy's own append to whatever the client sent).
    xfwd: false,
    agent,
    secure: true,
    selfHandleResponse: true,
    // Our own handlers replace the default plugins (their logger and error page are not wanted here).
    ejectPlugins: true,
    pathRewrite: prefix === null ? undefined : (path: string) => stripPrefix(path, prefix),
    plugins: [
      (server) => {
        server.on('proxyReq', onProxyReq);
        server.on('proxyRes', onProxyRes);
        server.on('error', onError);
        // The client hung up before the upstream answered: nothing to send, the upstream request is dropped.
        server.on('econnreset', (_err: Error, req: IncomingMessage) => {
          const ctx = contextOf(req);
          ctx.outcome ??= 'client_aborted';
          ctx.proxyReq?.destroy();
        });
      },
    ],
  }) as unknown as RequestHandler;

  return { middleware, agent, close: () => agent.destroy() };
}

// Express step that rewrites the request's own headers before proxying, so http-proxy copies only clean ones.
import type { NextFunction, Request, Response } from 'express';
import { contextOf } from './context';
import { droppedHeaders, setForwardedIdentity } from './headers';

export interface UpstreamHeaderOptions {
  signingSecret: string | null;
  upstreamAuthorization: string | null;
}

/**
 * Drops hop-by-hop and Connection-listed headers, `Expect` (the gateway answers 100-continue
 * itself), every client-sent identity header and signature, and the client's JWT; then sets the
 * verified identity, its signature, the upstream credentials and `X-Request-Id`. Done on
 * `req.headers` (which http-proxy copies) so no later step, and no event http-proxy skips,
 * can let a client's header through.
 */
export function prepareUpstreamHeaders(o: UpstreamHeaderOptions) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const ctx = contextOf(req);
    const h = req.headers;
    const chunked = h['transfer-encoding'] !== undefined && h['content-length'] === undefined;
    for (const name of droppedHeaders(h)) delete h[name];
    delete h.expect;
    setForwardedIdentity(h, ctx.identity!, o.signingSecret, o.upstreamAuthorization, ctx.requestId);
    // Re-framed by Node (not forwarded): a streamed body of unknown length stays chunked upstream.
    if (chunked) h['transfer-encoding'] = 'chunked';
    next();
  };
}

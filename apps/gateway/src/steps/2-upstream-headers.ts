// Step 2, upstream headers: the request's own headers rewritten before proxying, so only clean ones go upstream.
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, Response } from 'express';
import { contextOf } from '../context';
import { setForwardingHeaders } from '../forwarding-headers';
import { droppedHeaders, dropHeader, setForwardedIdentity } from '../headers';
import { normalisePeer } from '../trust-proxy';

export interface UpstreamHeaderOptions {
  upstreamAuthorization: string | null;
  /** True for a TCP peer in TRUST_PROXY. */
  trustedPeer: (address: string | null) => boolean;
}

/**
 * Drops hop-by-hop and Connection-listed headers, `Expect` (the gateway answers 100-continue
 * itself), every client-sent identity header (and look-alike spelling) and signature, the client's
 * JWT, and its forwarding headers unless it is a trusted proxy; then sets the verified identity,
 * the upstream credentials, `X-Request-Id` and `X-Forwarded-For/-Host/-Proto`. Done on
 * `req.headers` (which the proxy step sends) so no later step
 * can let a client's header through. The signature is set by the proxy, on the final path.
 */
export function prepareUpstreamHeaders(o: UpstreamHeaderOptions) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const ctx = contextOf(req);
    const h = req.headers;
    const chunked = h['transfer-encoding'] !== undefined && h['content-length'] === undefined;
    for (const name of droppedHeaders(h)) dropHeader(h, name);
    dropHeader(h, 'expect');
    setForwardedIdentity(h, ctx.identity!, o.upstreamAuthorization, ctx.requestId);
    const address = normalisePeer(req.socket.remoteAddress);
    setForwardingHeaders(h, {
      address,
      trusted: o.trustedPeer(address),
      encrypted: (req.socket as Partial<TLSSocket>).encrypted === true,
    });
    // Re-framed by Node (not forwarded): a streamed body of unknown length stays chunked upstream.
    if (chunked) h['transfer-encoding'] = 'chunked';
    next();
  };
}

// Express step that verifies the bearer JWT (401 problem+json otherwise) and records the identity.
import type { NextFunction, Request, Response } from 'express';
import { contextOf } from './context';
import { bearerToken, JwtVerifier, TokenError, type GatewayIdentity } from './jwt';
import { sendProblem, sendUnauthorized } from './problem';

/**
 * Verifies `Authorization: Bearer <JWT>` or throws TokenError: the shared check of proxy and usage API. A promise
 * only when the credential was never seen before and needs a fetch (a JWKS key).
 */
export function identityOf(
  verifier: JwtVerifier,
  authorization: string | undefined,
): GatewayIdentity | Promise<GatewayIdentity> {
  const token = bearerToken(authorization);
  if (token === null)
    throw new TokenError(authorization ? 'Authorization must be "Bearer <token>"' : 'missing bearer token');
  return verifier.verify(token);
}

/** A token whose tier is no configured plan is metered on `defaultPlan`; trackUsage warns once per such tier. */
export function authenticate(verifier: JwtVerifier) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const ctx = contextOf(req);
    const refuse = (err: unknown): void => {
      ctx.outcome = 'unauthorized';
      if (err instanceof TokenError) {
        if (req.headers.authorization === undefined) {
          sendProblem(
            res,
            { status: 401, title: 'Unauthorized', detail: err.message },
            { 'WWW-Authenticate': 'Bearer realm="tollgate"' },
          );
        } else sendUnauthorized(res, err.message);
        return;
      }
      next(err);
    };
    let identity: GatewayIdentity | Promise<GatewayIdentity>;
    try {
      identity = identityOf(verifier, req.headers.authorization);
    } catch (err) {
      refuse(err);
      return;
    }
    // The cached case stays synchronous: no extra tick on the hot path.
    if (!(identity instanceof Promise)) {
      ctx.identity = identity;
      next();
      return;
    }
    identity.then((id) => {
      ctx.identity = id;
      next();
    }, refuse);
  };
}

// Step 1, authentication: the caller's bearer JWT or API key verified to an identity (401 problem+json otherwise),
// kept on the request's context for the steps after it.
import type { NextFunction, Request, Response } from 'express';
import { contextOf } from '../context';
import { identityOf, type Credentials } from '../credentials';
import { TokenError, type GatewayIdentity } from '../jwt';
import { sendProblem, unauthorized } from '../problem';

/** A token whose tier is no configured plan is metered on `defaultPlan`; trackUsage warns once per such tier. */
export function authenticate(credentials: Credentials) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const ctx = contextOf(req);
    const refuse = (err: unknown): void => {
      ctx.outcome = 'unauthorized';
      if (err instanceof TokenError) {
        sendProblem(res, unauthorized(err.message, req.headers.authorization !== undefined));
        return;
      }
      next(err);
    };
    let identity: GatewayIdentity | Promise<GatewayIdentity>;
    try {
      identity = identityOf(credentials, req.headers);
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

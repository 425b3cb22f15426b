// Express step that verifies the caller's credential (a bearer JWT or a Tollgate API key; 401 problem+json
// otherwise) and records the identity.
import type { IncomingHttpHeaders } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { looksLikeApiKey } from '@tollgate/ledger';
import type { ApiKeyAuthenticator } from './api-keys';
import { contextOf } from './context';
import { bearerToken, JwtVerifier, TokenError, type GatewayIdentity } from './jwt';
import { sendProblem, unauthorized } from './problem';

/** What verifies credentials: JWTs always, API keys unless API_KEYS=off (null). */
export interface Credentials {
  jwt: JwtVerifier;
  keys: ApiKeyAuthenticator | null;
}

/**
 * Verifies `Authorization: Bearer <JWT | tg_ key>` or `X-API-Key: tg_...` (when there is no Authorization), or
 * throws TokenError: the shared check of proxy and usage API. A promise only when the credential was never seen
 * before and needs a fetch (a JWKS key, an API key's row).
 */
export function identityOf(
  credentials: Credentials,
  headers: IncomingHttpHeaders,
): GatewayIdentity | Promise<GatewayIdentity> {
  const authorization = headers.authorization;
  const apiKey = headers['x-api-key'];
  if (authorization === undefined && apiKey !== undefined && credentials.keys !== null) {
    // Node joins a repeated X-API-Key with ", ": never one well-formed key.
    return credentials.keys.verify(Array.isArray(apiKey) ? apiKey.join(', ') : apiKey);
  }
  const token = bearerToken(authorization);
  if (token === null)
    throw new TokenError(authorization ? 'Authorization must be "Bearer <token>"' : 'missing bearer token');
  if (looksLikeApiKey(token)) {
    if (credentials.keys === null) throw new TokenError('API keys are not accepted here (API_KEYS=off)');
    return credentials.keys.verify(token);
  }
  return credentials.jwt.verify(token);
}

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

// The caller's credential (a bearer JWT or a Tollgate API key) checked to an identity: shared by the proxy's
// authenticate step and the usage API.
import type { IncomingHttpHeaders } from 'node:http';
import { looksLikeApiKey } from '@tollgate/ledger/internal';
import type { ApiKeyAuthenticator } from './api-keys';
import { bearerToken, JwtVerifier, TokenError, type GatewayIdentity } from './jwt';

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

// What verifies callers: the JWT verifier (HS/RS/ES keys, JWKS) and, with API_KEYS=on, the API-key authenticator.
import { ApiKeyAuthenticator } from '../api-keys';
import type { Credentials } from '../credentials';
import type { GatewaySettings } from '../env';
import { JwtVerifier, type JwtVerifierOptions } from '../jwt';
import type { Logger } from '../logger';
import type { SqlClient } from '@tollgate/ledger';
import type { Cleanups } from './cleanups';

export function openCredentials(
  settings: GatewaySettings,
  sql: SqlClient,
  log: Logger,
  jwks: JwtVerifierOptions['jwks'],
  cleanups: Cleanups,
): Credentials {
  const jwt = new JwtVerifier(settings.jwt, { jwks });
  cleanups.add(() => jwt.close());
  const keys = settings.apiKeys ? new ApiKeyAuthenticator({ sql, log }) : null;
  if (keys) cleanups.add(() => keys.close());
  return { jwt, keys };
}

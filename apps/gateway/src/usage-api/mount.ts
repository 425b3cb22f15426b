// The usage API, API-key endpoints and dashboard as the gateway mounts them, with the gateway's credential check.
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { TollgateConfig } from '@tollgate/core';
import type { Tollgate } from '@tollgate/http';
import type { SqlClient } from '@tollgate/ledger';
import type { ApiKeyAuthenticator } from '../api-keys';
import type { GatewayIdentity } from '../jwt';
import { usageErrorHandler } from './errors';
import { callerAuthenticator } from './identity';
import { keyRoutes } from './keys';
import { createUsageApi } from './router';

export interface UsageApiParts {
  tollgate: Tollgate;
  config: TollgateConfig;
  sql: SqlClient;
  /** API-key authentication (API_KEYS=on): the key endpoints are mounted only with it. */
  apiKeys: ApiKeyAuthenticator | null;
  authenticate(req: Request): GatewayIdentity | Promise<GatewayIdentity>;
}

/** The handlers to mount, in order. */
export function usageApiHandlers(p: UsageApiParts): Array<RequestHandler | ErrorRequestHandler> {
  const authenticate = callerAuthenticator(p.authenticate);
  const handlers: Array<RequestHandler | ErrorRequestHandler> = [];
  const apiKeys = p.apiKeys;
  if (apiKeys)
    handlers.push(
      keyRoutes({
        sql: p.sql,
        config: p.config,
        authenticate,
        onChange: (id) => apiKeys.forget(id),
      }),
    );
  handlers.push(createUsageApi({ engine: p.tollgate.engine, sql: p.sql, authenticate }));
  handlers.push(usageErrorHandler);
  return handlers;
}

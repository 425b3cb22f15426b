// API key endpoints (SPEC §11): create, list, revoke and rotate; an admin for anyone (routes/admin-keys.ts), a user
// for itself only (routes/own-keys.ts).
import express, { type Request, type Router } from 'express';
import type { TollgateConfig } from '@tollgate/core';
import { findApiKey, type SqlClient } from '@tollgate/ledger';
import { notFound } from '../problem';
import type { Caller } from './identity';
import type { KeyRouteContext } from './key-context';
import { jsonBody, oncePerRequest } from './json-body';
import { adminKeyRoutes } from './routes/admin-keys';
import { ownKeyRoutes } from './routes/own-keys';
import { keySchemas } from './rules/api-keys';

export interface KeyRoutesOptions {
  sql: SqlClient;
  config: TollgateConfig;
  authenticate: (req: Request) => Promise<Caller>;
  /** Called after a key was revoked or rotated here, so this instance forgets it at once. */
  onChange: (id: string) => void;
  bodyLimit?: string;
}

export function keyRoutes(o: KeyRoutesOptions): Router {
  const caller = oncePerRequest(o.authenticate);
  const ctx: KeyRouteContext = {
    sql: o.sql,
    schemas: keySchemas(o.config),
    json: jsonBody(caller, o.bodyLimit ?? '1mb'),
    caller,
    existing: async (id) => {
      const r = await findApiKey(o.sql, id);
      if (r === null) throw notFound(`no API key ${id}`);
      return r;
    },
    onChange: o.onChange,
  };
  const router = express.Router();
  adminKeyRoutes(router, ctx);
  ownKeyRoutes(router, ctx);
  return router;
}

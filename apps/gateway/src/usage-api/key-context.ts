// What the API-key route modules are given.
import type { Request, RequestHandler, Router } from 'express';
import type { ApiKeyRecord, SqlClient } from '@tollgate/ledger';
import type { Caller } from './identity';
import type { KeySchemas } from './rules/api-keys';

export interface KeyRouteContext {
  sql: SqlClient;
  schemas: KeySchemas;
  json: RequestHandler;
  caller(req: Request): Promise<Caller>;
  /** The key's row, or a 404. */
  existing(id: string): Promise<ApiKeyRecord>;
  /** After a key was revoked or rotated here, so this instance forgets it at once. */
  onChange(id: string): void;
}

export type KeyRoutes = (router: Router, ctx: KeyRouteContext) => void;

// What createGateway() takes and returns: the gateway as a library (tests, embedding) sees these types only.
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, Request, RequestHandler } from 'express';
import type { CounterStore, QuotaEngine } from '@tollgate/core';
import type { Tollgate } from '@tollgate/http';
import type { TrackUsageMiddleware } from '@tollgate/express';
import type { Flusher, SqlClient } from '@tollgate/ledger';
import type { ApiKeyAuthenticator } from './api-keys';
import type { DemoUpstreamOptions } from './demo-upstream';
import type { GatewaySettings } from './env';
import type { GatewayIdentity, JwtVerifierOptions } from './jwt';
import type { Logger } from './logger';
import type { GatewayMetrics } from './metrics';

/** What extra routes (`CreateGatewayOptions.routers`) get to work with. */
export interface GatewayRouteContext {
  settings: GatewaySettings;
  engine: QuotaEngine;
  tollgate: Tollgate;
  sql: SqlClient;
  log: Logger;
  /** Verifies the request's JWT or API key; throws (or rejects with) TokenError (answer 401) when missing or bad. */
  authenticate(req: Request): GatewayIdentity | Promise<GatewayIdentity>;
}

/** Builds a router mounted before the proxy (outside `/api`), e.g. the usage API. */
export type GatewayRouteFactory = (ctx: GatewayRouteContext) => RequestHandler;

export interface CreateGatewayOptions {
  /** From `parseEnv(process.env)`. Required. */
  settings: GatewaySettings;
  /** A counter store to use instead of the one the settings describe (the caller closes it). Defaults to the settings'. */
  store?: CounterStore;
  /** A ledger client to use instead of the settings' (the caller closes it). Defaults to the settings'. */
  sql?: SqlClient;
  /** Defaults to a pino logger at `settings.logLevel`. */
  logger?: Logger;
  /** Extra routes, mounted after the built-in ones and before the proxy. Defaults to none. */
  routers?: GatewayRouteFactory[];
  /** Mount the usage API and dashboard (SPEC §8). Defaults to true. */
  usageApi?: boolean;
  /** Options of the built-in demo upstream (used when `settings.upstreamUrl` is null). Defaults to its defaults. */
  demoUpstream?: DemoUpstreamOptions;
  /** Timing of the JWT_JWKS_URL key sets (refetch interval, clock; tests). Defaults to JwksKeySet's. */
  jwks?: JwtVerifierOptions['jwks'];
}

export interface Gateway {
  readonly app: Express;
  readonly settings: GatewaySettings;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly store: CounterStore;
  readonly sql: SqlClient;
  readonly meter: TrackUsageMiddleware;
  readonly engine: QuotaEngine;
  /** API key authentication (API_KEYS=on), else null. */
  readonly apiKeys: ApiKeyAuthenticator | null;
  /** The inline flusher (`FLUSHER=inline`), else null. */
  readonly flusher: Flusher | null;
  /** Where `/api` is proxied. */
  readonly upstreamUrl: URL;
  /** The server's request handler: `/api` on the fast path, everything else through `app`. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Set once `listen()` resolved. */
  server: http.Server | null;
  /** Listens on `settings.port`/`settings.host` (port 0: any free port); resolves with the base URL. */
  listen(): Promise<URL>;
  /** Resolves when every response so far is settled in the store (token records included). */
  idle(): Promise<void>;
  /** Graceful stop: no new connections, in-flight requests finish, usage settles, the ledger is flushed. */
  close(): Promise<void>;
}

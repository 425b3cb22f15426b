// createGateway(): wires store, ledger, metering, JWT, proxy, usage API and operations endpoints into one Express app.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import {
  PriceBook,
  canonicalTarget,
  type CounterStore,
  type QuotaEngine,
  type Tollgate,
} from '@tollgate/core';
import type { TrackUsageMiddleware } from '@tollgate/express';
import { Flusher, LedgerBaseline, migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { ApiKeyAuthenticator } from './api-keys';
import { authenticate, identityOf, type Credentials } from './auth';
import { createContext, contextOf } from './context';
import { startDemoUpstream, type DemoUpstreamOptions, type RunningUpstream } from './demo-upstream';
import type { GatewaySettings } from './env';
import { JwtVerifier, TokenError, type GatewayIdentity, type JwtVerifierOptions } from './jwt';
import { readLlmRequest } from './llm-request';
import { createLogger, requestId, type Logger } from './logger';
import { USAGE_BATCH_MS, countLateUpstreamFailure, createMeter, settleTokens } from './metering';
import { GatewayMetrics, instrumentStore, type Outcome } from './metrics';
import { rawProblemResponse, sendProblem, unauthorized } from './problem';
import { createProxy } from './proxy';
import { operationsRouter } from './operations';
import { openStore } from './store-factory';
import { prepareUpstreamHeaders } from './upstream-headers';
import { keyRoutes } from './usage-api/keys';
import { createUsageApi, usageErrorHandler } from './usage-api/routes';
import { WebhookDispatcher } from './usage-api/webhooks';
import { StoreTracker } from './store-tracker';
import { trustedPeer } from './trust-proxy';

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

/** `/api` as routing matches it (any case, whole segment), on a canonical target (see `canonicalTarget`). */
const API_PATH = /^\/api(?:[/?]|$)/i;

/** The outcome of a request the server's timeout cut while it was being served (its body still coming). */
function markRequestTimeout(req: IncomingMessage): void {
  try {
    contextOf(req).outcome = 'request_timeout';
  } catch {
    // A request outside the gateway's handler (no context): nothing to count.
  }
}

/**
 * What Node does with a request it could not read, with the timeouts answered 408 problem+json
 * (Node's own answer is a bare 408): then the connection is closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node does: answer only when no response of this connection has started.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      if (inFlight) markRequestTimeout(inFlight.req);
      const timeout = {
        status: 408,
        title: 'Request Timeout',
        detail: "the request did not arrive within the gateway's time limit",
      };
      socket.write(rawProblemResponse(timeout, 'Request Timeout'));
    } else {
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    }
  }
  socket.destroy(err);
}

function outcomeOf(ctx: ReturnType<typeof contextOf>, res: ServerResponse): Outcome {
  if (ctx.outcome) return ctx.outcome;
  if (!res.writableFinished) return 'client_aborted';
  const status = ctx.upstreamStatus;
  if (status === null) {
    if (res.statusCode === 429 || res.statusCode === 403) return 'rejected';
    if (res.statusCode === 503) return 'store_unavailable';
    if (res.statusCode === 401) return 'unauthorized';
    return 'not_found';
  }
  return status >= 500 ? 'upstream_5xx' : status >= 400 ? 'upstream_4xx' : 'ok';
}

/** Runs `steps` in order like a router would (next(err) skips to the error handler), without route matching. */
function chain(steps: RequestHandler[]): RequestHandler {
  return (req, res, done) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null && err !== 'route') return done(err);
      const step = steps[i++];
      if (step === undefined) return done();
      try {
        const r = step(req, res, next) as unknown;
        if (r instanceof Promise) r.catch(next);
      } catch (e) {
        next(e);
      }
    };
    next();
  };
}

export async function createGateway(options: CreateGatewayOptions): Promise<Gateway> {
  const settings = options.settings;
  const log = options.logger ?? createLogger(settings.logLevel);
  const metrics = new GatewayMetrics();
  const config = settings.config;
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse())
      await Promise.resolve(fn()).catch((err: unknown) =>
        log.error({ err: String(err) }, 'shutdown step failed'),
      );
  };

  try {
    // Ledger first: migrations run at start (under an advisory lock) before anything is served.
    let sql = options.sql;
    if (!sql) {
      const opened = await openSqlClient({
        databaseUrl: settings.databaseUrl ?? undefined,
        dataDir: settings.dataDir,
        onError: (err) => log.warn({ err: err.message }, 'ledger connection error'),
      });
      cleanups.push(() => opened.close());
      sql = opened;
    }
    await migrate(sql);

    let rawStore = options.store;
    let storeKind = 'injected';
    if (!rawStore) {
      const opened = await openStore(settings, log);
      cleanups.push(() => opened.close());
      rawStore = opened.store;
      storeKind = opened.kind;
    }
    const tracker = new StoreTracker(instrumentStore(rawStore, metrics.storeLatency));
    const store = tracker.store;

    let upstreamUrl = settings.upstreamUrl;
    let demo: RunningUpstream | null = null;
    if (!upstreamUrl) {
      demo = await startDemoUpstream(options.demoUpstream);
      cleanups.push(() => demo!.close());
      upstreamUrl = demo.url;
    }

    const meter = createMeter({
      store,
      config,
      baseline: new LedgerBaseline(sql),
      failMode: settings.failMode,
      storeTimeoutMs: settings.storeTimeoutMs,
      failOpenBuffer: settings.failOpenBuffer,
      durability: settings.durability,
      log,
      metrics,
    });
    const tollgate = meter.tollgate;

    let flusher: Flusher | null = null;
    if (settings.flusher === 'inline') {
      flusher = new Flusher({
        store,
        sql,
        intervalMs: settings.flushIntervalMs,
        retentionMonths: settings.retentionMonths,
        onFlush: () => metrics.flushes.inc({ result: 'ok' }),
        onError: (err, info) => {
          metrics.flushes.inc({ result: 'error' });
          log.warn(
            { err: String(err), phase: info.phase, retryInMs: info.retryInMs },
            'inline flush failed; retrying',
          );
        },
      }).start();
      const f = flusher;
      const startedAt = Date.now();
      metrics.setFlushLagSource(() => (Date.now() - (f.lastSuccessAt ?? startedAt)) / 1000);
    } else if (storeKind === 'memory') {
      log.warn('FLUSHER=off with the in-process store: usage never reaches the ledger');
    }

    let webhooks: WebhookDispatcher | null = null;
    if (config.webhooks.length > 0) {
      // The dispatcher types its query more loosely than SqlClient (`T` without `extends object`); same method.
      webhooks = new WebhookDispatcher({
        sql,
        webhooks: config.webhooks,
        logger: log,
      });
      webhooks.start();
    }

    const verifier = new JwtVerifier(settings.jwt, { jwks: options.jwks });
    cleanups.push(() => verifier.close());
    const apiKeys = settings.apiKeys ? new ApiKeyAuthenticator({ sql, log }) : null;
    if (apiKeys) cleanups.push(() => apiKeys.close());
    const credentials: Credentials = { jwt: verifier, keys: apiKeys };
    const proxy = createProxy({
      target: upstreamUrl,
      stripPrefix: settings.stripPrefix,
      signingSecret: settings.signingSecret,
      timeoutMs: settings.upstreamTimeoutMs,
      maxJsonBytes: settings.maxResponseJsonBytes,
      log,
      onResponse: (req, res, ctx) => {
        settleTokens(req, res, ctx, metrics, log, tracker);
        countLateUpstreamFailure(req, res, ctx);
      },
    });
    cleanups.push(() => proxy.close());

    /** Waits out trackUsage's batching window, then for the store calls it issued (and any late token records). */
    const settled = async (timeoutMs: number) => {
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, USAGE_BATCH_MS + 5));
        // Request statistics alone wait 10 x the batching window, leases' counts their lease: written now.
        await meter.flushUsage();
        await tracker.idle(timeoutMs);
      }
    };

    let inFlight = 0;
    let shuttingDown = false;
    const drained: Array<() => void> = [];
    const requestsBy = new Map<Outcome, { inc(): void }>();
    const countOutcome = (outcome: Outcome) => {
      // One labelled child per outcome: no label hashing per request.
      let child = requestsBy.get(outcome);
      if (!child) requestsBy.set(outcome, (child = metrics.requests.labels(outcome)));
      child.inc();
    };

    /** Every request: an id, a context, and when it closes an outcome (for /api) and an access-log line. */
    const begin = (req: IncomingMessage, res: ServerResponse, api: boolean): void => {
      const ctx = createContext(req, requestId(req.headers['x-request-id']));
      res.setHeader('X-Request-Id', ctx.requestId);
      if (shuttingDown) res.setHeader('Connection', 'close');
      inFlight++;
      const path = req.url ?? '/';
      res.once('close', () => {
        inFlight--;
        const outcome = api ? outcomeOf(ctx, res) : null;
        if (outcome) countOutcome(outcome);
        if ((req as Partial<Request>).usage?.degraded) metrics.degraded.inc();
        if ((api || res.statusCode >= 500) && log.isLevelEnabled('info')) {
          log.info(
            {
              reqId: ctx.requestId,
              method: req.method,
              path: path.split('?')[0],
              status: res.statusCode,
              upstreamStatus: ctx.upstreamStatus,
              outcome,
              ms: Math.round(performance.now() - ctx.startedAt),
              userId: ctx.identity?.userId,
              tenantId: ctx.identity?.tenantId,
              apiKeyId: ctx.identity?.apiKeyId ?? undefined,
              tokens: ctx.tokens ?? undefined,
            },
            'request',
          );
        }
        if (inFlight === 0) drained.splice(0).forEach((fn) => fn());
      });
    };

    const api = chain([
      authenticate(credentials),
      prepareUpstreamHeaders({
        upstreamAuthorization: settings.upstreamAuthorization,
        trustedPeer: trustedPeer(settings.trustProxy),
      }),
      readLlmRequest({
        maxBodyBytes: settings.maxBodyBytes,
        requestTimeoutMs: settings.requestTimeoutMs,
        reserveOutputTokens: settings.reserveOutputTokens,
        prices: new PriceBook(config.pricing),
        unpricedModel: config.unpricedModel,
      }),
      meter,
      proxy.middleware,
    ]);

    /** An error nothing handled: logged with the request id, answered 500 problem+json. */
    const internalError = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
      log.error(
        { reqId: contextOf(req).requestId, err: err instanceof Error ? err.stack : String(err) },
        'unhandled error',
      );
      sendProblem(res, {
        status: 500,
        title: 'Internal Server Error',
        detail: 'the gateway failed to handle this request',
      });
    };

    /** What ends the proxied chain: an error (500 problem+json), or (never expected) no answer at all (404). */
    const apiDone = (req: IncomingMessage, res: ServerResponse) => (err?: unknown) => {
      if (err !== undefined && err !== null) {
        internalError(req, res, err);
        return;
      }
      sendProblem(res, { status: 404, title: 'Not Found', detail: `no route for ${req.method} ${req.url}` });
    };

    /**
     * The proxied path, as plain Node request/response: its steps (JWT, headers, LLM body,
     * trackUsage, proxy) use nothing of Express, so the server runs them without Express's
     * per-request routing and request/response decoration (~60 us of CPU per request on Node 20).
     */
    const serveApi = (req: IncomingMessage, res: ServerResponse): void => {
      begin(req, res, true);
      api(req as Request, res as Response, apiDone(req, res));
    };

    /**
     * The first step of every request (SPEC §4 "One canonical request"): the target is read once; an
     * unreadable one is a 400, and `/api` (decided on the canonical form, so `/API/x`, `//api/x`, `/%61pi/x`
     * and `/x/../api/y` are all `/api`) runs with `req.url` set to it, so JWT, headers, the LLM body,
     * trackUsage and the proxy all see the path the upstream receives. Returns false when `app` should
     * route the request as it came.
     */
    const servedAsApi = (req: IncomingMessage, res: ServerResponse): boolean => {
      const target = canonicalTarget(req.url ?? '/');
      if (typeof target !== 'string') {
        begin(req, res, true);
        contextOf(req).outcome = 'bad_request';
        sendProblem(res, { status: 400, title: 'Bad Request', detail: target.detail });
        return true;
      }
      if (!API_PATH.test(target)) return false;
      const raw = req.url ?? '/';
      if (target !== raw) {
        req.url = target;
        // Under Express, originalUrl is the mount path (if mounted in a bigger app) plus the raw target.
        const express = req as Partial<Request>;
        const original = express.originalUrl;
        if (original !== undefined)
          express.originalUrl = original.endsWith(raw)
            ? original.slice(0, original.length - raw.length) + target
            : target;
      }
      serveApi(req, res);
      return true;
    };

    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    // The same chain when the Express app itself receives /api (e.g. mounted in a bigger app or under supertest).
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (servedAsApi(req, res)) return;
      begin(req, res, false);
      next();
    });

    app.use(operationsRouter({ store, sql, tollgate, metrics, shuttingDown: () => shuttingDown }));

    const routeContext: GatewayRouteContext = {
      settings,
      engine: tollgate.engine,
      tollgate,
      sql,
      log,
      authenticate: (req) => identityOf(credentials, req.headers),
    };
    if (options.usageApi !== false) {
      const authenticateCaller = async (req: Request) => {
        try {
          return await routeContext.authenticate(req);
        } catch (err) {
          if (err instanceof TokenError)
            throw unauthorized(err.message, req.headers.authorization !== undefined);
          throw err;
        }
      };
      if (apiKeys)
        app.use(
          keyRoutes({
            sql,
            config,
            authenticate: authenticateCaller,
            onChange: (id) => apiKeys.forget(id),
          }),
        );
      app.use(createUsageApi({ engine: tollgate.engine, sql, authenticate: authenticateCaller }));
      app.use(usageErrorHandler);
    }
    for (const factory of options.routers ?? []) app.use(factory(routeContext));

    app.use((req: Request, res: Response) => {
      sendProblem(res, { status: 404, title: 'Not Found', detail: `no route for ${req.method} ${req.path}` });
    });
    app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
      void _next;
      const status = (err as { status?: number }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        sendProblem(res, {
          status,
          title: http.STATUS_CODES[status] ?? 'Bad Request',
          detail: (err as Error).message,
        });
        return;
      }
      internalError(req, res, err);
    });

    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (!servedAsApi(req, res)) app(req, res);
    };

    const gateway: Gateway = {
      app,
      settings,
      log,
      metrics,
      store,
      sql,
      meter,
      engine: tollgate.engine,
      apiKeys,
      flusher,
      upstreamUrl,
      server: null,
      handler,
      listen() {
        const server = http.createServer(
          {
            headersTimeout: settings.headersTimeoutMs,
            requestTimeout: settings.requestTimeoutMs,
            // Node checks both every interval (30 s by default): often enough that the bounds hold within ~1 s.
            connectionsCheckingInterval: Math.max(
              50,
              Math.min(1000, Math.floor(settings.headersTimeoutMs / 4)),
            ),
          },
          handler,
        );
        server.on('clientError', answerClientError);
        return new Promise((resolve, reject) => {
          server.once('error', reject);
          const onListening = () => {
            gateway.server = server;
            const { port } = server.address() as AddressInfo;
            const host =
              settings.host && settings.host !== '0.0.0.0' && settings.host !== '::'
                ? settings.host
                : 'localhost';
            resolve(new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}`));
          };
          if (settings.host) server.listen(settings.port, settings.host, onListening);
          else server.listen(settings.port, onListening);
        });
      },
      idle: () => settled(10_000),
      async close() {
        if (shuttingDown) return;
        shuttingDown = true;
        const server = gateway.server;
        if (server) {
          const closed = new Promise<void>((r) => server.close(() => r()));
          server.closeIdleConnections();
          if (inFlight > 0) {
            await Promise.race([
              new Promise<void>((r) => drained.push(r)),
              new Promise<void>((r) => setTimeout(r, settings.shutdownTimeoutMs).unref()),
            ]);
          }
          server.closeAllConnections();
          await closed;
        }
        await settled(settings.shutdownTimeoutMs);
        await meter.close();
        await tracker.idle(settings.shutdownTimeoutMs);
        if (flusher)
          await flusher
            .close()
            .catch((err: unknown) => log.error({ err: String(err) }, 'final flush failed'));
        if (webhooks) await webhooks.close();
        await cleanup();
      },
    };
    return gateway;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

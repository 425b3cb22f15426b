// createGateway(), the composition root: opens the parts (parts/), builds the proxied path (steps/, in chain order)
// and the Express app for the rest (server/, usage-api/), and hands back listen/idle/close. No logic of its own.
import type { CreateGatewayOptions, Gateway, GatewayRouteContext } from './gateway-api';
import { identityOf } from './credentials';
import { createLogger } from './logger';
import { GatewayMetrics } from './metrics';
import { operationsRouter } from './operations';
import * as parts from './parts';
import * as server from './server';
import { proxyPath } from './steps';
import { gatewayMeter } from './steps/4-admit-and-meter';
import { usageApiHandlers } from './usage-api/mount';
import { startWebhooks } from './webhooks/start';

export type { CreateGatewayOptions, Gateway, GatewayRouteContext, GatewayRouteFactory } from './gateway-api';

export async function createGateway(options: CreateGatewayOptions): Promise<Gateway> {
  const { settings } = options;
  const { config } = settings;
  const log = options.logger ?? createLogger(settings.logLevel);
  const metrics = new GatewayMetrics();
  const cleanups = new parts.Cleanups(log);
  try {
    const sql = await parts.openLedger(settings, options.sql, log, cleanups);
    const { store, tracker, kind } = await parts.openCounterStore(
      settings,
      options.store,
      metrics,
      log,
      cleanups,
    );
    const upstreamUrl = await parts.resolveUpstream(settings, options.demoUpstream, cleanups);
    const meter = gatewayMeter(settings, { store, sql, log, metrics });
    const tollgate = meter.tollgate;
    const flusher = parts.startInlineFlusher({ settings, store, storeKind: kind, sql, metrics, log });
    const webhooks = startWebhooks(config, sql, log);
    const credentials = parts.openCredentials(settings, sql, log, options.jwks, cleanups);
    const api = proxyPath({ settings, credentials, meter, upstreamUrl, metrics, tracker, log });
    cleanups.add(() => api.close());

    const lifecycle = new server.RequestLifecycle(metrics, log);
    const internalError = server.internalErrorHandler(log);
    const entry = server.canonicalEntry(lifecycle, api.handler, internalError);
    const authenticate: GatewayRouteContext['authenticate'] = (req) => identityOf(credentials, req.headers);
    const routeContext = { settings, engine: tollgate.engine, tollgate, sql, log, authenticate };
    const apiKeys = credentials.keys;
    const usageApi = options.usageApi === false ? [] : usageApiHandlers({ ...routeContext, config, apiKeys });
    const { app, handler } = server.expressApp({
      entry,
      lifecycle,
      internalError,
      routers: [
        operationsRouter({ store, sql, tollgate, metrics, shuttingDown: () => lifecycle.shuttingDown }),
        ...usageApi,
        ...(options.routers ?? []).map((factory) => factory(routeContext)),
      ],
    });
    const settled = server.usageSettled(meter, tracker);
    const stopping = { lifecycle, settled, meter, tracker, flusher, webhooks, cleanups, log };

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
      flusher: flusher?.flusher ?? null,
      upstreamUrl,
      handler,
      server: null,
      async listen() {
        const listening = await server.listen(settings, handler);
        gateway.server = listening.server;
        return listening.url;
      },
      idle: () => settled(10_000),
      close: () =>
        server.shutdown({ ...stopping, server: gateway.server, timeoutMs: settings.shutdownTimeoutMs }),
    };
    return gateway;
  } catch (err) {
    await cleanups.run();
    throw err;
  }
}

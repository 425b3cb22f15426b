// The proxied path (`/api/*`), one file per step, in the order a request takes them:
//   1-authenticate      the caller's JWT or API key verified to an identity (401 otherwise)
//   2-upstream-headers  the client's headers cleaned; the identity and forwarding headers set
//   3-llm-request       an LLM call's body read: the tokens (and cost) to reserve
//   4-admit-and-meter   admitted against the quotas by the core engine (trackUsage), its units counted; the engine
//                       writes them to the counter store (../parts/counter-store.ts)
//   5-proxy             forwarded upstream, the answer streamed back
//   6-settle-tokens     the tokens the answer reports (or an estimate) replace step 4's reservation
// From the counter store, the flusher moves usage into the Postgres ledger (../parts/flush-to-ledger.ts).
import { PriceBook } from '@tollgate/core';
import type { TrackUsageMiddleware } from '@tollgate/express';
import type { RequestHandler } from 'express';
import type { Credentials } from '../credentials';
import type { GatewaySettings } from '../env';
import type { Logger } from '../logger';
import type { GatewayMetrics } from '../metrics';
import type { StoreTracker } from '../store-tracker';
import { trustedPeer } from '../trust-proxy';
import { authenticate } from './1-authenticate';
import { prepareUpstreamHeaders } from './2-upstream-headers';
import { readLlmRequest } from './3-llm-request';
import { createProxy } from './5-proxy';
import { settleResponse } from './6-settle-tokens';
import { chain } from './chain';

export interface ProxyPathParts {
  settings: GatewaySettings;
  credentials: Credentials;
  /** Step 4, built by the composition root (the engine behind it serves the usage API too). */
  meter: TrackUsageMiddleware;
  upstreamUrl: URL;
  metrics: GatewayMetrics;
  tracker: StoreTracker;
  log: Logger;
}

export interface ProxyPath {
  handler: RequestHandler;
  /** Closes the upstream connection pool. */
  close(): Promise<void>;
}

export function proxyPath(p: ProxyPathParts): ProxyPath {
  const { settings, log } = p;
  const proxy = createProxy({
    target: p.upstreamUrl,
    stripPrefix: settings.stripPrefix,
    signingSecret: settings.signingSecret,
    timeoutMs: settings.upstreamTimeoutMs,
    maxJsonBytes: settings.maxResponseJsonBytes,
    log,
    onResponse: settleResponse({ metrics: p.metrics, log, tracker: p.tracker }),
  });
  const handler = chain([
    authenticate(p.credentials),
    prepareUpstreamHeaders({
      upstreamAuthorization: settings.upstreamAuthorization,
      trustedPeer: trustedPeer(settings.trustProxy),
    }),
    readLlmRequest({
      maxBodyBytes: settings.maxBodyBytes,
      requestTimeoutMs: settings.requestTimeoutMs,
      reserveOutputTokens: settings.reserveOutputTokens,
      prices: new PriceBook(settings.config.pricing),
      unpricedModel: settings.config.unpricedModel,
    }),
    p.meter,
    proxy.middleware,
  ]);
  return { handler, close: () => proxy.close() };
}

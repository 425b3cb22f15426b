// Every request's life in the gateway: an id and a context at the start; at the close its outcome counted (for
// /api), the access-log line, and the in-flight count graceful shutdown waits on.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import { createContext, type RequestContext } from '../context';
import { requestId, type Logger } from '../logger';
import type { GatewayMetrics, Outcome } from '../metrics';
import { outcomeOf } from './outcome';

export class RequestLifecycle {
  private inFlight = 0;
  private stopping = false;
  private readonly drainWaiters: Array<() => void> = [];
  /** One labelled child per outcome: no label hashing per request. */
  private readonly requestsBy = new Map<Outcome, { inc(): void }>();

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** True once shutdown began: new responses say `Connection: close`, /readyz answers 503. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  beginShutdown(): void {
    this.stopping = true;
  }

  /** Resolves when no request is in flight, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return;
    await Promise.race([
      new Promise<void>((r) => this.drainWaiters.push(r)),
      new Promise<void>((r) => setTimeout(r, timeoutMs).unref()),
    ]);
  }

  /** The first thing done for every request (`api`: on the proxied path). */
  begin(req: IncomingMessage, res: ServerResponse, api: boolean): RequestContext {
    const ctx = createContext(req, requestId(req.headers['x-request-id']));
    res.setHeader('X-Request-Id', ctx.requestId);
    if (this.stopping) res.setHeader('Connection', 'close');
    this.inFlight++;
    const path = req.url ?? '/';
    res.once('close', () => {
      this.inFlight--;
      const outcome = api ? outcomeOf(ctx, res) : null;
      if (outcome) this.count(outcome);
      if ((req as Partial<Request>).usage?.degraded) this.metrics.degraded.inc();
      // After the engine's close listener (registered later) and its onClose hooks: the tokens they settled show.
      if ((api || res.statusCode >= 500) && this.log.isLevelEnabled('info'))
        queueMicrotask(() => this.accessLog(req, res, ctx, path, outcome));
      if (this.inFlight === 0) this.drainWaiters.splice(0).forEach((fn) => fn());
    });
    return ctx;
  }

  private count(outcome: Outcome): void {
    let child = this.requestsBy.get(outcome);
    if (!child) this.requestsBy.set(outcome, (child = this.metrics.requests.labels(outcome)));
    child.inc();
  }

  private accessLog(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    path: string,
    outcome: Outcome | null,
  ): void {
    this.log.info(
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
}

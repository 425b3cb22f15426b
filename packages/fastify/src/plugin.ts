// The Fastify 5 plugin: glue over the core request engine; every rule lives in @tollgate/core.
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  callbackFailure,
  countBodyBytes,
  RequestMeter,
  type HttpBinding,
  type MeterOutcome,
  type RequestUsage,
  type Tollgate,
  type TrackUsageOptions,
} from '@tollgate/http';

declare module 'fastify' {
  interface FastifyRequest {
    /** Records usage for this request (`request.usage.record('input_tokens', 1200, { model })`). */
    usage: RequestUsage;
  }
  interface FastifyInstance {
    /** The programmatic API (`consume`, `enforceQuota`, `record`, `check`, `status`, `health`). */
    tollgate: Tollgate;
    /** Writes everything counted so far now (open leases, pending usage sums); resolves once written (see the README). */
    tollgateFlushUsage: () => Promise<void>;
  }
}

/** Plugin options: see the README for every option and its default. */
export type TollgateFastifyOptions = TrackUsageOptions<FastifyRequest>;

// Fastify lower-cases every header name it is given (a new string each time for a name like `RateLimit-Policy`):
// names already in lower case skip that, on every metered response. The names are the engine's own constants.
const lowerCaseNames = new Map<string, string>();
function lowerCaseName(name: string): string {
  let lower = lowerCaseNames.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (lowerCaseNames.size < 64) lowerCaseNames.set(name, lower);
  }
  return lower;
}

const binding: HttpBinding<FastifyReply> = {
  setHeader: (reply, name, value) => {
    reply.header(lowerCaseName(name), value);
  },
};

// Keys Fastify itself understands on register(); they are not Tollgate options.
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers']);

const plugin: FastifyPluginCallback<TollgateFastifyOptions> = (app, options, done) => {
  let meter: RequestMeter<FastifyRequest, FastifyReply>;
  try {
    const own = Object.fromEntries(Object.entries(options).filter(([k]) => !REGISTER_KEYS.has(k)));
    meter = new RequestMeter(own as TollgateFastifyOptions, binding, '@tollgate/fastify options');
  } catch (err) {
    done(err as Error);
    return;
  }
  const unmetered = meter.unmetered;
  if (!app.hasDecorator('tollgate')) app.decorate('tollgate', meter.tollgate);
  if (!app.hasDecorator('tollgateFlushUsage')) app.decorate('tollgateFlushUsage', () => meter.flushUsage());
  // null until onRequest sets it (Fastify 5 wants no reference types as decorator defaults).
  if (!app.hasRequestDecorator('usage')) app.decorateRequest('usage', null as unknown as RequestUsage);
  const proceed = (
    outcome: MeterOutcome,
    request: FastifyRequest,
    reply: FastifyReply,
    next: (err?: Error) => void,
  ): void => {
    switch (outcome.kind) {
      case 'proceed':
        request.usage = outcome.usage;
        next();
        return;
      case 'respond':
        reply.code(outcome.status).send(outcome.body);
        return;
      case 'pass':
        if ((request.usage as RequestUsage | null) === null) request.usage = unmetered;
        next();
        return;
    }
  };

  // Body bytes are counted where Express's are: on the response prototype, patched once (a mark shared by
  // every copy of Tollgate in the process), so a gateway or an Express app in the same process never
  // counts a Fastify response a second time.
  let counted: object | null = null;

  app.addHook('onRequest', (request, reply, next) => {
    const proto = Object.getPrototypeOf(reply.raw) as object;
    if (proto !== counted) {
      countBodyBytes(proto);
      counted = proto;
    }
    let metered: boolean;
    try {
      metered = meter.begin(request, reply, request.raw, reply.raw, request.url, (err, outcome) => {
        if (err !== null || outcome === undefined) next(err as Error);
        else proceed(outcome, request, reply, next);
      });
    } catch (err) {
      next(callbackFailure(err, 'identify(), skip() or reserve()') as Error);
      return;
    }
    if (metered) return;
    if ((request.usage as RequestUsage | null) === null) request.usage = unmetered;
    next();
  });
  app.addHook('onClose', (_app, closed) => {
    meter.close().then(() => closed(), closed);
  });
  done();
};

/** `app.register(tollgate, { store, config })`: meters every `/api` request (by default) and enforces quotas. */
export const tollgate = fp(plugin, { fastify: '5.x', name: '@tollgate/fastify' });

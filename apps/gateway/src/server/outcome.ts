// The outcome a finished request is counted under (tollgate_gateway_requests_total{outcome}).
import type { ServerResponse } from 'node:http';
import type { RequestContext } from '../context';
import type { Outcome } from '../metrics';

/** What a step decided (`ctx.outcome`), else what the response and the upstream's status tell. */
export function outcomeOf(ctx: RequestContext, res: ServerResponse): Outcome {
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

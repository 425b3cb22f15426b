// Per-request state the gateway's steps share (identity, LLM call, response reader), keyed by the request.
import type { IncomingMessage } from 'node:http';
import type { LlmRequestInfo } from '@tollgate/llm';
import type { GatewayIdentity } from './jwt';
import type { Outcome } from './metrics';
import type { ResponseReader } from './response-reader';

/** An LLM request the gateway read before forwarding. */
export interface LlmCall {
  info: LlmRequestInfo;
  /** The body as UTF-8 JSON: the bytes received when they were that already (forwarded unless `rewritten`). */
  raw: Buffer;
  /** The Content-Type sent upstream with the body (the client's when its bytes go as received). */
  contentType: string;
  /** The body to forward when it had to change (`include_usage` added). */
  rewritten: Record<string, unknown> | null;
  /** Tokens and pico-dollars reserved at admission. */
  reserve: Record<string, number>;
}

export interface RequestContext {
  requestId: string;
  startedAt: number;
  identity: GatewayIdentity | null;
  llm: LlmCall | null;
  reader: ResponseReader | null;
  upstreamStatus: number | null;
  timedOut: boolean;
  outcome: Outcome | null;
  /** Tokens settled for this request (for the access log). */
  tokens: number | null;
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();

export function createContext(req: IncomingMessage, requestId: string): RequestContext {
  const ctx: RequestContext = {
    requestId,
    startedAt: performance.now(),
    identity: null,
    llm: null,
    reader: null,
    upstreamStatus: null,
    timedOut: false,
    outcome: null,
    tokens: null,
  };
  contexts.set(req, ctx);
  return ctx;
}

/** The request's context; every gateway route creates one first, so a missing one is a wiring bug. */
export function contextOf(req: IncomingMessage): RequestContext {
  const ctx = contexts.get(req);
  if (!ctx)
    throw new Error('tollgate gateway: request has no context (requestContext middleware not mounted first)');
  return ctx;
}

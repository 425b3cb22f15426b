// Where every request enters (SPEC §4 "One canonical request"): its target read once, and `/api` sent down the
// proxied path on that canonical form.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { canonicalTarget } from '@tollgate/core/internal';
import { contextOf } from '../context';
import { sendProblem } from '../problem';
import type { InternalError } from './internal-error';
import { proxyPathDone } from './internal-error';
import type { RequestLifecycle } from './request-lifecycle';

/** `/api` as routing matches it (any case, whole segment), on a canonical target (see `canonicalTarget`). */
const API_PATH = /^\/api(?:[/?]|$)/i;

/** True when the request was taken (answered 400, or sent down the proxied path); false: route it as it came. */
export type Entry = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Under Express, originalUrl is the mount path (if mounted in a bigger app) plus the raw target. */
function rewriteTarget(req: IncomingMessage, raw: string, target: string): void {
  req.url = target;
  const express = req as Partial<Request>;
  const original = express.originalUrl;
  if (original !== undefined)
    express.originalUrl = original.endsWith(raw)
      ? original.slice(0, original.length - raw.length) + target
      : target;
}

/**
 * An unreadable target is a 400, and `/api` (decided on the canonical form, so `/API/x`, `//api/x`, `/%61pi/x`
 * and `/x/../api/y` are all `/api`) runs with `req.url` set to it, so every step sees the path the upstream
 * receives. The proxied path runs as plain Node request/response: its steps use nothing of Express, so the server
 * runs them without Express's per-request routing and decoration (~60 us of CPU per request on Node 20).
 */
export function canonicalEntry(
  lifecycle: RequestLifecycle,
  proxyPath: RequestHandler,
  internalError: InternalError,
): Entry {
  const done = proxyPathDone(internalError);
  return (req, res) => {
    const raw = req.url ?? '/';
    const target = canonicalTarget(raw);
    if (typeof target !== 'string') {
      lifecycle.begin(req, res, true);
      contextOf(req).outcome = 'bad_request';
      sendProblem(res, { status: 400, title: 'Bad Request', detail: target.detail });
      return true;
    }
    if (!API_PATH.test(target)) return false;
    if (target !== raw) rewriteTarget(req, raw, target);
    lifecycle.begin(req, res, true);
    proxyPath(req as Request, res as Response, done(req, res));
    return true;
  };
}

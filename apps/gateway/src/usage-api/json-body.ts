// The usage API's JSON bodies: the caller is verified before a byte of the body is parsed, and a body that would
// cost JSON.parse far more than its size (json-structure.ts) is refused unparsed. Before, any client could have
// 1 MiB of objects with fresh key names parsed (~0.2 s of blocked event loop) and only then be told 401.
import express, { type Request, type RequestHandler } from 'express';
import { structureProblem } from '../json-structure';
import { HttpProblem, invalid } from '../problem';
import type { Caller } from './identity';

/** `authenticate`, run once per request however often a route asks (the body parser asks first). */
export function oncePerRequest(authenticate: (req: Request) => Caller | Promise<Caller>) {
  const seen = new WeakMap<Request, Promise<Caller>>();
  return (req: Request): Promise<Caller> => {
    let caller = seen.get(req);
    if (caller === undefined) {
      caller = Promise.resolve().then(() => authenticate(req));
      seen.set(req, caller);
    }
    return caller;
  };
}

/** A JSON body parser of at most `limit` that first awaits `caller` (a 401 leaves the body unread). */
export function jsonBody(caller: (req: Request) => Promise<Caller>, limit: string): RequestHandler {
  const parse = express.json({
    limit,
    verify: (_req, _res, buf, encoding) => {
      // The bounds are read off the UTF-8 text: in UTF-16, bytes of other characters read as quotes and braces.
      if (encoding.toLowerCase() !== 'utf-8')
        throw new HttpProblem(
          415,
          'Unsupported media type',
          `charset "${encoding}" is not supported (use utf-8)`,
        );
      const problem = structureProblem(buf.toString('utf8'));
      if (problem?.status === 413) throw new HttpProblem(413, 'Payload too large', problem.detail);
      if (problem) throw invalid([{ field: 'body', message: problem.detail }]);
    },
  });
  return (req, res, next) => {
    caller(req).then(() => parse(req, res, next), next);
  };
}

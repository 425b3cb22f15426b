// Error middleware of the usage API: problem+json for known problems, body-parser errors and bad JSON.
import type { NextFunction, Request, Response } from 'express';
import { HttpProblem, invalid, sendProblem } from '../problem';

export function usageErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  if (err instanceof HttpProblem) return sendProblem(res, err);
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large')
    return sendProblem(res, new HttpProblem(413, 'Payload too large', 'the request body is over the limit'));
  if (e.type === 'entity.parse.failed')
    return sendProblem(res, invalid([{ field: 'body', message: 'malformed JSON' }]));
  if (e.type === 'encoding.unsupported' || e.status === 415)
    return sendProblem(res, new HttpProblem(415, 'Unsupported media type', e.message ?? ''));
  next(err);
}

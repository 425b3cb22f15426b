// The answers of last resort: an error nothing handled (500, logged with the request id), and a proxied request
// no step answered (404).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextOf } from '../context';
import type { Logger } from '../logger';
import { sendProblem } from '../problem';

export type InternalError = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

export function internalErrorHandler(log: Logger): InternalError {
  return (req, res, err) => {
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
}

/** What ends the proxied chain: an error (500 problem+json), or (never expected) no answer at all (404). */
export function proxyPathDone(internalError: InternalError) {
  return (req: IncomingMessage, res: ServerResponse) =>
    (err?: unknown): void => {
      if (err !== undefined && err !== null) {
        internalError(req, res, err);
        return;
      }
      sendProblem(res, { status: 404, title: 'Not Found', detail: `no route for ${req.method} ${req.url}` });
    };
}

// The Express app for everything outside `/api`: operations endpoints, the usage API and dashboard, extra routers,
// then 404 and the error handler, all answering problem+json.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import express, {
  type ErrorRequestHandler,
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { sendProblem } from '../problem';
import type { Entry } from './canonical-entry';
import type { InternalError } from './internal-error';
import type { RequestLifecycle } from './request-lifecycle';

export interface ExpressAppParts {
  entry: Entry;
  lifecycle: RequestLifecycle;
  internalError: InternalError;
  /** Mounted in order after the entry: operations, usage API, the caller's routers. */
  routers: Array<RequestHandler | ErrorRequestHandler>;
}

/** An error with a 4xx `status` (body-parser's, a router's) is answered with it; anything else is a 500. */
function errorHandler(internalError: InternalError) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    void _next;
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendProblem(res, {
        status,
        title: http.STATUS_CODES[status] ?? 'Bad Request',
        detail: (err as Error).message,
      });
      return;
    }
    internalError(req, res, err);
  };
}

/** The app, and the server's handler: the entry first (`/api` never goes through Express), the app for the rest. */
export function expressApp(parts: ExpressAppParts): {
  app: Express;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
} {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // The same entry when the Express app itself receives /api (e.g. mounted in a bigger app or under supertest).
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (parts.entry(req, res)) return;
    parts.lifecycle.begin(req, res, false);
    next();
  });
  for (const router of parts.routers) app.use(router);
  app.use((req: Request, res: Response) => {
    sendProblem(res, { status: 404, title: 'Not Found', detail: `no route for ${req.method} ${req.path}` });
  });
  app.use(errorHandler(parts.internalError));
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!parts.entry(req, res)) app(req, res);
  };
  return { app, handler };
}

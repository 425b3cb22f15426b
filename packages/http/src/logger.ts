// The injectable logger (a pino-compatible subset) and a once-per-key warning helper.
import { ErrorCode, errorDocsUrl } from '@tollgate/core';

/** The logger methods Tollgate calls, pino style: `logger.warn({ code, ... }, 'message')`. A pino or bunyan logger fits. */
export interface TollgateLogger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** Warnings and errors go to the console; info and debug are silent unless a logger is given. */
export const consoleLogger: TollgateLogger = {
  error: (obj, msg) => console.error(msg ?? 'Tollgate', obj),
  warn: (obj, msg) => console.warn(msg ?? 'Tollgate', obj),
};

const CODES: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

/** A logged `{ code }` carries `docs`, the link to its section of the error-codes page. */
function withDocs(obj: object): object {
  const code = (obj as { code?: unknown }).code;
  return CODES.has(code) ? { ...obj, docs: errorDocsUrl(code as ErrorCode) } : obj;
}

/** Calls a logger method without ever letting a throwing logger break a request. */
export function safeLog(
  logger: TollgateLogger,
  level: 'error' | 'warn' | 'info' | 'debug',
  obj: object,
  msg: string,
): void {
  try {
    logger[level]?.(withDocs(obj), msg);
  } catch {
    // A broken logger must not turn into a failed request.
  }
}

/** Remembers which keys already warned, so a misconfiguration is reported once, not per request. */
export class WarnOnce {
  private readonly seen = new Set<string>();
  constructor(
    private readonly logger: TollgateLogger,
    private readonly max = 1000,
  ) {}

  warn(key: string, obj: object, msg: string): void {
    if (this.seen.has(key)) return;
    // Bounded: keys may come from request data (unknown plan names).
    if (this.seen.size >= this.max) return;
    this.seen.add(key);
    safeLog(this.logger, 'warn', obj, msg);
  }
}

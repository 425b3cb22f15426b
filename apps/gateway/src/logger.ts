// The gateway's pino logger and request ids.
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'tollgate-gateway' },
    // Tokens and upstream credentials never reach the logs.
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
  });
}

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestId(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  return v && CLIENT_ID.test(v) ? v : randomUUID();
}

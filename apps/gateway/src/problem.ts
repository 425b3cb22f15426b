// problem+json (RFC 9457): every error body the gateway sends (proxy path, authentication, usage API, the server's
// own 408), with one `type` rule, one set of headers and one 401 challenge.
import type { ServerResponse } from 'node:http';
import type { ZodError } from 'zod';

export const PROBLEM_BASE = 'https://tollgate.dev/problems/';

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** Extra top-level members. */
  extra?: Record<string, unknown>;
}

/** A problem thrown by a route and answered by the error middleware (usage API). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    /** Response headers that go with it (the 401 challenge). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** A problem's `type`: its title in lower case, other characters as `-`, under PROBLEM_BASE. */
export function problemType(title: string): string {
  return (
    PROBLEM_BASE +
    title
      .toLowerCase()
      .replace(/[^a-z]+/g, '-')
      .replace(/^-|-$/g, '')
  );
}

function bodyOf(p: Problem): string {
  return JSON.stringify({
    type: problemType(p.title),
    title: p.title,
    status: p.status,
    detail: p.detail,
    ...p.extra,
  });
}

/** Writes a problem response unless headers already went out (then the connection is cut instead). */
export function sendProblem(
  res: ServerResponse,
  problem: Problem | HttpProblem,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const p: Problem =
    problem instanceof HttpProblem
      ? {
          status: problem.status,
          title: problem.title,
          detail: problem.message,
          extra: problem.errors ? { errors: problem.errors } : undefined,
        }
      : problem;
  const body = bodyOf(p);
  res.statusCode = p.status;
  const extraHeaders = problem instanceof HttpProblem ? { ...problem.headers, ...headers } : headers;
  for (const [k, v] of Object.entries(extraHeaders)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

/**
 * The RFC 6750 challenge of a 401: a bare one when no credential came (`presented` false), else `invalid_token`
 * with `detail` (which says why without echoing the token).
 */
export function bearerChallenge(detail: string, presented: boolean): string {
  if (!presented) return 'Bearer realm="tollgate"';
  return `Bearer realm="tollgate", error="invalid_token", error_description="${detail.replace(/["\\]/g, '')}"`;
}

/** A 401 with its challenge; `presented` tells whether the request carried an Authorization header. */
export function unauthorized(detail: string, presented = true): HttpProblem {
  return new HttpProblem(401, 'Unauthorized', detail, undefined, {
    'WWW-Authenticate': bearerChallenge(detail, presented),
  });
}

export const forbidden = (detail: string) => new HttpProblem(403, 'Forbidden', detail);
export const notFound = (detail: string) => new HttpProblem(404, 'Not Found', detail);
export const conflict = (detail: string) => new HttpProblem(409, 'Conflict', detail);

/** zod issues as `errors: [{ field, message }]`, unknown keys each named. */
export function fieldErrors(error: ZodError, prefix = ''): FieldError[] {
  return error.issues.flatMap((i) => {
    const at = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ field: at ? `${at}.${k}` : k, message: 'is not a known parameter' }));
    }
    const field = prefix && at ? `${prefix}.${at}` : prefix || at || 'body';
    return [{ field, message: i.message }];
  });
}

/** A 400 naming each bad field. */
export function invalid(errors: FieldError[]): HttpProblem {
  return new HttpProblem(
    400,
    'Invalid request',
    errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  );
}

/**
 * A whole HTTP/1.1 problem response for a socket no ServerResponse owns (Node's clientError): the connection is
 * closed after it.
 */
export function rawProblemResponse(p: Problem, reason: string): string {
  const body = bodyOf(p);
  return (
    `HTTP/1.1 ${p.status} ${reason}\r\nContent-Type: application/problem+json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`
  );
}

// problem+json (RFC 9457) responses the gateway itself sends: 401, 403, 413, 502, 504.
import type { ServerResponse } from 'node:http';

export const PROBLEM_BASE = 'https://tollgate.dev/problems/';

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** Extra top-level members. */
  extra?: Record<string, unknown>;
}

function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** Writes a problem response unless headers already went out (then the connection is cut instead). */
export function sendProblem(res: ServerResponse, p: Problem, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    type: PROBLEM_BASE + slug(p.title),
    title: p.title,
    status: p.status,
    detail: p.detail,
    ...p.extra,
  });
  res.statusCode = p.status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

/** 401 with the RFC 6750 challenge; `detail` says why without echoing the token. */
export function sendUnauthorized(res: ServerResponse, detail: string): void {
  sendProblem(
    res,
    { status: 401, title: 'Unauthorized', detail },
    {
      'WWW-Authenticate': `Bearer realm="tollgate", error="invalid_token", error_description="${detail.replace(/["\\]/g, '')}"`,
    },
  );
}

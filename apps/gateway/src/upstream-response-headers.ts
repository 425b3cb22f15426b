// An upstream response's headers as Node's own parser presents them, so the client sees what it saw before undici.
import type { IncomingHttpHeaders } from 'node:http';

/** Headers Node keeps the first of when repeated (RFC 9110: single-valued); others are joined with ", ". */
const FIRST_WINS: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * undici's parsed headers (lower-case names, an array for a repeated one) with repeats merged as
 * Node's IncomingMessage merges them: Set-Cookie stays a list, a single-valued header keeps its
 * first value, any other is joined. Changes `headers` in place (repeats are rare) and returns it.
 */
export function nodeResponseHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> & {
  'set-cookie'?: string[];
} {
  for (const name in headers) {
    const value = headers[name];
    if (!Array.isArray(value) || name === 'set-cookie') continue;
    headers[name] = FIRST_WINS.has(name) ? value[0] : value.join(', ');
  }
  const cookie = headers['set-cookie'];
  if (typeof cookie === 'string') headers['set-cookie'] = [cookie];
  return headers as Record<string, string | undefined> & { 'set-cookie'?: string[] };
}

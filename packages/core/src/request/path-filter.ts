// Which requests are metered: path prefixes matched segment-wise and case-insensitively, or regular expressions.

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const SLASH = 47;

/** The first index at or after `from` of any character of `stops`, or the length of `url`. */
function firstOf(url: string, from: number, stops: string): number {
  for (let i = from; i < url.length; i++) if (stops.includes(url[i]!)) return i;
  return url.length;
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    // Malformed escapes: routers answer 400 for these, so no handler runs; the raw text is matched.
    return path;
  }
}

/**
 * The request target as a router sees it, for the meter's path test: an absolute-form target
 * (`GET http://host/api/x`, which HTTP/1.1 servers must accept) loses its scheme and authority,
 * percent-escapes in the path are decoded (Fastify routes `/%61pi/x` to `/api/x`), and repeated slashes
 * collapse (`//api/x`, routed by Fastify's `ignoreDuplicateSlashes`). None of them may slip past the meter;
 * a target no router serves is metered at worst, like any unknown path under a metered prefix.
 */
export function routedTarget(url: string): string {
  // Nearly every request: an origin-form path with nothing to undo (no new string).
  if (
    url.charCodeAt(0) === SLASH &&
    url.charCodeAt(1) !== SLASH &&
    url.indexOf('%') === -1 &&
    url.indexOf('//') === -1
  ) {
    return url;
  }
  let start = 0;
  if (url.charCodeAt(0) !== SLASH) {
    const scheme = url.indexOf('://');
    // `*` (OPTIONS) and other forms have no path to meter.
    if (scheme === -1) return url;
    // The authority ends at the path, query or fragment.
    start = firstOf(url, scheme + 3, '/?#');
  }
  const end = firstOf(url, start, '?#');
  let path = url.slice(start, end);
  if (path.indexOf('%') !== -1) path = decodedPath(path);
  if (path.indexOf('//') !== -1) path = path.replace(/\/{2,}/g, '/');
  if (path === '' || path.charCodeAt(0) !== SLASH) path = `/${path}`;
  return path + url.slice(end);
}

/**
 * Builds a matcher over the request URL (path plus query), as a router sees it (see `routedTarget`).
 * Prefixes match whole segments (`/api` matches `/api`, `/api/x`, `/api?q`, not `/apix`) and ignore
 * case, because Express routes ignore case by default: `/API/x` must not slip past the meter.
 */
export function pathMatcher(paths: ReadonlyArray<string | RegExp>): (url: string) => boolean {
  const prefixes: string[] = [];
  const patterns: RegExp[] = [];
  for (const p of paths) {
    if (typeof p !== 'string') patterns.push(p);
    else if (p === '/' || p === '') return () => true;
    else prefixes.push(escapeRegExp(p.replace(/\/+$/, '')));
  }
  const prefix = prefixes.length > 0 ? new RegExp(`^(?:${prefixes.join('|')})(?:[/?#]|$)`, 'i') : null;
  if (patterns.length === 0) return prefix ? (url) => prefix.test(routedTarget(url)) : () => false;
  return (target) => {
    const url = routedTarget(target);
    if (prefix?.test(url)) return true;
    const path = pathOf(url);
    for (const re of patterns) {
      re.lastIndex = 0;
      if (re.test(path)) return true;
    }
    return false;
  };
}

/** The path part of a request URL, for logs and events. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

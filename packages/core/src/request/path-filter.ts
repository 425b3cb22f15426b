// Which requests are metered: path prefixes matched segment-wise and case-insensitively, or regular expressions.

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds a matcher over the raw request URL (path plus query). Prefixes match whole segments
 * (`/api` matches `/api`, `/api/x`, `/api?q`, not `/apix`) and ignore case, because Express routes
 * ignore case by default: `/API/x` must not slip past the meter.
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
  if (patterns.length === 0) return prefix ? (url) => prefix.test(url) : () => false;
  return (url) => {
    if (prefix?.test(url)) return true;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
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

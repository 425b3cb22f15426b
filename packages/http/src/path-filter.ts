// Which requests are metered: path prefixes matched segment-wise and case-insensitively, or regular expressions.
import { canonicalTarget, type CanonicalTargetOptions } from '@tollgate/core/internal';

const LENIENT: CanonicalTargetOptions = { lenient: true };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The request target as the most lenient router reads it, for the meter's path test (see `canonicalTarget`,
 * lenient): absolute form, escapes (`/%61pi/x`), `\` for `/`, repeated slashes, dot segments (`/a/../api/x`)
 * and escaped separators (`/api%2Fx`) cannot slip past the meter. A target no router serves (control
 * characters, no path) is matched as sent.
 */
function routedTarget(url: string): string {
  const canonical = canonicalTarget(url, LENIENT);
  return typeof canonical === 'string' ? canonical : url;
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

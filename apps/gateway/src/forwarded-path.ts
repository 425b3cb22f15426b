// The path the upstream receives: the canonical target with STRIP_PREFIX removed, under the upstream URL's own path.
import { canonicalTarget } from '@tollgate/core/internal';

/**
 * Removes `prefix` from a canonical target when it is its first segments, ignoring case as routing
 * does (`/API/x` loses `/api` like `/api/x`); otherwise returns the target unchanged.
 */
export function stripPrefix(target: string, prefix: string | null): string {
  if (prefix === null) return target;
  const n = prefix.length;
  if (target.length < n || target.slice(0, n).toLowerCase() !== prefix) return target;
  const next = target.charCodeAt(n);
  // `/api` is stripped from `/api`, `/api/x` and `/api?q`, never from `/apix`.
  if (target.length === n) return '/';
  if (next === 0x2f) return target.slice(n);
  if (next === 0x3f) return `/${target.slice(n)}`;
  return target;
}

/** STRIP_PREFIX in the form it is compared in: canonical, lower-cased, without a trailing slash. */
export function canonicalPrefix(prefix: string | null): string | null {
  if (prefix === null) return null;
  const canonical = canonicalTarget(prefix);
  const p = (typeof canonical === 'string' ? canonical : prefix).replace(/\/+$/, '').toLowerCase();
  return p === '' ? null : p;
}

/** The request line's target for the upstream: the upstream URL's path (if any) joined to the forwarded target. */
export function upstreamTarget(base: URL, forwarded: string): string {
  const basePath = base.pathname.replace(/\/+$/, '');
  return basePath + forwarded;
}

// The request target read once, as the most lenient server behind us would read it: one form to classify, meter and forward.

/** Why a request target cannot be read. */
export type UnreadableReason =
  | 'not-origin-form'
  | 'malformed-escape'
  | 'invalid-utf8'
  | 'control-character'
  | 'encoded-separator'
  | 'above-root';

/** A request target with no single reading: the gateway answers 400, the middleware meters it as routers would. */
export class UnreadableTarget {
  constructor(
    readonly reason: UnreadableReason,
    readonly detail: string,
  ) {
    Object.freeze(this);
  }
}

export interface CanonicalTargetOptions {
  /**
   * Read what strict mode refuses the way the most lenient router would, for a decision that must not
   * under-count (the middleware's path filter): `%2F`/`%5C` are separators, `..` stops at the root,
   * malformed escapes and invalid UTF-8 stay as sent. Control characters are still refused. Defaults to false.
   */
  lenient?: boolean;
}

// One instance per reason: refusing allocates nothing either.
const UNREADABLE: Record<UnreadableReason, UnreadableTarget> = {
  'not-origin-form': new UnreadableTarget(
    'not-origin-form',
    'the request target is neither a path (/...), an absolute URL nor *',
  ),
  'malformed-escape': new UnreadableTarget(
    'malformed-escape',
    'the request path has a % not followed by two hex digits',
  ),
  'invalid-utf8': new UnreadableTarget('invalid-utf8', 'the request path is not valid UTF-8 once unescaped'),
  'control-character': new UnreadableTarget(
    'control-character',
    'the request target has a control character (raw or escaped)',
  ),
  'encoded-separator': new UnreadableTarget(
    'encoded-separator',
    'the request path has an escaped / or \\ (%2F, %5C), which servers disagree on',
  ),
  'above-root': new UnreadableTarget('above-root', 'the request path climbs above the root with ..'),
};

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;
const DOT = 0x2e;
const HEX = '0123456789ABCDEF';

/** ALPHA DIGIT - . _ ~ (RFC 3986 unreserved): their escapes mean the character itself. */
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === DOT ||
    c === 0x5f ||
    c === 0x7e
  );
}

/** C0 controls, space and DEL: no request line carries them, so a target holding one was not read from the wire. */
function isControl(c: number): boolean {
  return c <= 0x20 || c === 0x7f;
}

/** Printable ASCII the WHATWG path percent-encode set escapes (space and controls are refused before). */
function escapedInPath(c: number): boolean {
  return c === 0x22 || c === 0x3c || c === 0x3e || c === 0x60 || c === 0x7b || c === 0x7d;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * True when `target` is already canonical: origin form, no escape, backslash, fragment, repeated slash,
 * dot segment or character WHATWG would escape. Reads the string once and allocates nothing.
 */
function isCanonical(target: string): boolean {
  if (target.charCodeAt(0) !== SLASH) return false;
  const n = target.length;
  let i = 1;
  let prev = SLASH;
  for (; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) break;
    if (c > 0x7e || isControl(c) || c === PERCENT || c === BACKSLASH || c === HASH || escapedInPath(c))
      return false;
    if (prev === SLASH && (c === SLASH || c === DOT)) return false;
    prev = c;
  }
  for (; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === HASH || isControl(c)) return false;
  }
  return true;
}

/** Where the path of an absolute-form target starts (`http://host/x` -> 4), or -1 when it is no absolute URL. */
function pathStartOfAbsolute(target: string): number {
  const c0 = target.charCodeAt(0) | 0x20;
  if (!(c0 >= 0x61 && c0 <= 0x7a)) return -1;
  let i = 1;
  for (; i < target.length; i++) {
    const c = target.charCodeAt(i);
    const lower = c | 0x20;
    if ((lower >= 0x61 && lower <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === DOT)
      continue;
    break;
  }
  if (!target.startsWith('://', i)) return -1;
  // The authority ends at the path, the query or the fragment; WHATWG reads `\` as `/` here too.
  for (i += 3; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === SLASH || c === BACKSLASH || c === QUESTION || c === HASH) break;
  }
  return i;
}

/** Checks that the path's bytes (raw above 0x7F, or escaped) form UTF-8 without overlong forms or surrogates. */
class Utf8Check {
  private need = 0;
  private lo = 0x80;
  private hi = 0xbf;
  valid = true;

  byte(b: number): void {
    if (this.need > 0) {
      if (b < this.lo || b > this.hi) this.valid = false;
      this.need--;
      this.lo = 0x80;
      this.hi = 0xbf;
      return;
    }
    if (b < 0x80) return;
    if (b >= 0xc2 && b <= 0xdf) this.need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      this.need = 2;
      if (b === 0xe0) this.lo = 0xa0;
      if (b === 0xed) this.hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.need = 3;
      if (b === 0xf0) this.lo = 0x90;
      if (b === 0xf4) this.hi = 0x8f;
    } else this.valid = false;
  }

  /** An ASCII character or the end of the path: any sequence must be complete by now. */
  boundary(): void {
    if (this.need > 0) this.valid = false;
    this.need = 0;
  }
}

function escape(b: number): string {
  return `%${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** The bytes of a character of `req.url`: Node decodes the request line as latin1, so up to 0xFF it is one byte. */
function bytesOf(c: number, ch: string): Uint8Array | null {
  if (c <= 0xff) return null;
  return new TextEncoder().encode(ch);
}

/**
 * Reads a request target (`req.url`) once, by WHATWG URL rules, and returns its canonical path plus
 * query: an absolute-form target loses scheme and authority, the fragment is dropped, `\` reads as `/`,
 * escapes of unreserved characters (`%61` -> `a`, `%2e` -> `.`) are decoded and the others upper-cased,
 * raw bytes WHATWG escapes are escaped, repeated slashes merge, `.` and `..` segments are resolved
 * (a trailing one leaves a trailing slash); the query is kept as sent. `*` stays `*`.
 *
 * Strict mode (the default, the gateway's) refuses what servers read differently: a target without a
 * path, a malformed escape, invalid UTF-8, a control character, an escaped `/` or `\`, and `..` above
 * the root. An already-canonical target (nearly every request) comes back as the same string, with no
 * allocation.
 */
export function canonicalTarget(target: string, options?: CanonicalTargetOptions): string | UnreadableTarget {
  if (isCanonical(target)) return target;
  if (target === '*') return target;
  const lenient = options?.lenient === true;
  let start = 0;
  if (target.charCodeAt(0) !== SLASH && target.charCodeAt(0) !== BACKSLASH) {
    start = pathStartOfAbsolute(target);
    if (start === -1) return UNREADABLE['not-origin-form'];
  }
  const hash = target.indexOf('#', start);
  const end = hash === -1 ? target.length : hash;
  for (let i = start; i < end; i++)
    if (isControl(target.charCodeAt(i))) return UNREADABLE['control-character'];
  let queryAt = target.indexOf('?', start);
  if (queryAt === -1 || queryAt > end) queryAt = end;
  const query = target.slice(queryAt, end);

  const segments: string[] = [];
  const utf8 = new Utf8Check();
  let segment = '';
  /** The segment ended: `.` goes, `..` removes the one before, an empty one (repeated slash) merges. */
  const close = (): UnreadableTarget | null => {
    utf8.boundary();
    if (segment === '..') {
      if (segments.length === 0 && !lenient) return UNREADABLE['above-root'];
      segments.pop();
    } else if (segment !== '.' && segment !== '') segments.push(segment);
    segment = '';
    return null;
  };
  let trailingSlash = false;
  for (let i = start; i < queryAt; i++) {
    const c = target.charCodeAt(i);
    if (c === SLASH || c === BACKSLASH) {
      const err = close();
      if (err) return err;
      trailingSlash = true;
      continue;
    }
    trailingSlash = false;
    if (c === PERCENT) {
      const h = hexValue(target.charCodeAt(i + 1));
      const l = hexValue(target.charCodeAt(i + 2));
      if (i + 2 >= queryAt || h === -1 || l === -1) {
        if (!lenient) return UNREADABLE['malformed-escape'];
        utf8.boundary();
        segment += '%';
        continue;
      }
      const b = h * 16 + l;
      i += 2;
      if (isControl(b) && b !== 0x20) return UNREADABLE['control-character'];
      if (b === SLASH || b === BACKSLASH) {
        if (!lenient) return UNREADABLE['encoded-separator'];
        const err = close();
        if (err) return err;
        trailingSlash = true;
        continue;
      }
      if (isUnreserved(b)) {
        utf8.boundary();
        segment += String.fromCharCode(b);
      } else {
        if (b < 0x80) utf8.boundary();
        else utf8.byte(b);
        segment += escape(b);
      }
      continue;
    }
    if (c > 0x7e) {
      const bytes = bytesOf(c, target[i]!);
      if (bytes === null) {
        utf8.byte(c);
        segment += escape(c);
      } else {
        // Outside latin1: set by code, not read from the wire; a lone surrogate encodes as U+FFFD.
        utf8.boundary();
        for (const b of bytes) segment += escape(b);
      }
      continue;
    }
    utf8.boundary();
    segment += escapedInPath(c) ? escape(c) : target[i]!;
  }
  // The last segment: `/a/..` and `/a/.` keep the slash WHATWG leaves, `/a` keeps none.
  const lastIsDots = segment === '.' || segment === '..';
  const err = close();
  if (err) return err;
  if (lastIsDots) trailingSlash = true;
  if (!utf8.valid && !lenient) return UNREADABLE['invalid-utf8'];
  let path = `/${segments.join('/')}`;
  if (trailingSlash && segments.length > 0) path += '/';
  return path + query;
}

/** True when `canonicalTarget` refused the target. */
export function isUnreadable(result: string | UnreadableTarget): result is UnreadableTarget {
  return typeof result !== 'string';
}

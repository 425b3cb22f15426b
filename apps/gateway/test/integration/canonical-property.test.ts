// Property: any spelling of a target is a 400, or forwarded in canonical form and metered like that form (SPEC §4).
import fc from 'fast-check';
import { REDIS_URL, createTestDatabase, uniquePrefix } from '../../../../test-support/services';
import { METERED_CONFIG, dayCounters, startGateway, token, type RunningGateway } from '../support/kit';
import { LenientUpstream } from '../support/lenient-upstream';
import { rawRequest } from '../support/raw-socket';

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** RFC 3986 §5.2.4 on a path of segments. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (last) out.push('');
      return;
    }
    out.push(seg);
  });
  return `/${out.join('/')}`;
}

/**
 * The canonical form SPEC §4 describes: the fragment removed, `\` read as `/`, escapes of unreserved characters
 * decoded, repeated slashes merged, dot segments resolved. Escapes of anything else (and malformed ones) stay.
 */
function canonicalTarget(target: string): string {
  const noFragment = target.split('#')[0]!;
  const q = noFragment.indexOf('?');
  const query = q === -1 ? '' : noFragment.slice(q);
  let path = q === -1 ? noFragment : noFragment.slice(0, q);
  path = path.replace(/\\/g, '/');
  path = path.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : m;
  });
  path = path.replace(/\/{2,}/g, '/');
  if (!path.startsWith('/')) path = `/${path}`;
  return removeDotSegments(path) + query;
}

/** Escapes compared without regard to the case of their hex digits (`%2f` and `%2F` are one octet). */
const sameOctets = (a: string, b: string) =>
  a.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase()) === b.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase());

/** What the SPEC forbids in a forwarded path; empty when it is canonical. */
function nonCanonical(path: string): string[] {
  const found: string[] = [];
  if (path.includes('//')) found.push('//');
  if (path.includes('\\')) found.push('\\');
  if (path.includes('#')) found.push('#');
  if (path.split('/').some((s) => s === '.' || s === '..')) found.push('dot segment');
  for (const m of path.matchAll(/%([0-9a-fA-F]{2})/g))
    if (UNRESERVED.test(String.fromCharCode(parseInt(m[1]!, 16)))) found.push(`escaped unreserved ${m[0]}`);
  return found;
}

const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');
const escapeOf = (c: string) => fc.constantFrom(`%${hex(c)}`, `%${hex(c).toUpperCase()}`);

/** A word spelled with random case and some letters percent-escaped. */
const spelled = (word: string) =>
  fc
    .tuple(
      ...[...word].map((c) =>
        fc.oneof(
          { arbitrary: fc.constant(c), weight: 8 },
          { arbitrary: fc.constant(c.toUpperCase()), weight: 2 },
          { arbitrary: escapeOf(c), weight: 1 },
          { arbitrary: escapeOf(c.toUpperCase()), weight: 1 },
        ),
      ),
    )
    .map((chars) => chars.join(''));

/** Between segments: a slash, or something a lenient server reads as one (or as a dot segment). */
const separator = fc.oneof(
  { arbitrary: fc.constant('/'), weight: 10 },
  {
    arbitrary: fc.constantFrom(
      '//',
      '///',
      '\\',
      '/\\',
      '/./',
      '/%2e/',
      '/%2E/',
      '/x/../',
      '/x/%2e%2e/',
      '/X/.%2E/',
      '/x/..\\',
      '/a%3Bb/../',
    ),
    weight: 4,
  },
  // Spellings a strict reader may refuse (400): escaped separators, malformed escapes.
  { arbitrary: fc.constantFrom('%2F', '%2f', '%5C', '/%zz/../'), weight: 1 },
);

/** A segment that is not a route: junk, reserved escapes, dot segments, sometimes a malformed escape. */
const junk = fc.oneof(
  {
    arbitrary: fc.constantFrom('x', 'a%3Bb', '%40me', 'a%2Cb', 'v2', '..', '.', '%2e', '%2E%2e', 'a;b'),
    weight: 4,
  },
  { arbitrary: fc.constantFrom('%zz', '%4', '%'), weight: 1 },
);

const chatTail = fc
  .tuple(spelled('v1'), separator, spelled('chat'), separator, spelled('completions'))
  .map((p) => p.join(''));
const otherTail = fc.oneof(
  fc.tuple(spelled('hello')).map((p) => p.join('')),
  fc.tuple(spelled('v1'), separator, spelled('models')).map((p) => p.join('')),
  fc.tuple(spelled('v1'), separator, spelled('messages')).map((p) => p.join('')),
  fc.tuple(junk, separator, spelled('completions')).map((p) => p.join('')),
);

/** `/api` in some spelling, a tail (mostly the chat endpoint), maybe a junk segment, slash, query and fragment. */
const targets = fc
  .tuple(
    fc.constantFrom('/', '/', '/', '//', '\\', '/./', '/x/../', '/%2e/'),
    spelled('api'),
    separator,
    fc.oneof({ arbitrary: chatTail, weight: 3 }, { arbitrary: otherTail, weight: 1 }),
    fc.option(
      fc.tuple(separator, junk).map((p) => p.join('')),
      { freq: 4 },
    ),
    fc.constantFrom('', '', '', '/', '//', '/.', '\\'),
    fc.constantFrom('', '', '?x=1', '?a=%2F&b=..'),
    fc.constantFrom('', '', '#frag', '#/../x', '#?y'),
  )
  .map(([lead, api, sep, tail, extra, slash, query, fragment]) => {
    const path = `${lead}${api}${sep}${tail}${extra ?? ''}${slash}`;
    return path + query + fragment;
  });

interface Decision {
  forwarded: boolean;
  requests: number;
  tokens: number;
}

describe('canonical request target (property)', () => {
  let upstream: LenientUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  let port = 0;
  let n = 0;

  beforeAll(async () => {
    upstream = await new LenientUpstream({ usageEverywhere: true }).start();
    db = await createTestDatabase('gw_canonical_prop');
    gw = await startGateway(
      {
        UPSTREAM_URL: upstream.url,
        DATABASE_URL: db.url,
        REDIS_URL,
        REDIS_PREFIX: uniquePrefix('gw-canon-prop'),
        FLUSHER: 'off',
      },
      { config: METERED_CONFIG },
    );
    port = Number(new URL(gw.url).port);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  const body = Buffer.from(
    JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'one canonical request' }] }),
  );

  async function call(target: string): Promise<{ status: number; userId: string }> {
    const userId = `canon-${++n}`;
    const res = await rawRequest(port, {
      method: 'POST',
      target,
      headers: [
        ['Authorization', `Bearer ${token({ sub: userId })}`],
        ['Content-Type', 'application/json'],
      ],
      body,
    });
    return { status: res.status, userId };
  }

  async function decision(userId: string): Promise<Decision> {
    const c = await dayCounters(gw.gateway, { userId });
    return {
      forwarded: upstream.seenFrom(userId).length > 0,
      requests: c.requests ?? 0,
      tokens: c.tokens ?? 0,
    };
  }

  it('the reference canonical form is canonical and a fixed point (checks the checker)', () => {
    fc.assert(
      fc.property(targets, (target) => {
        const canonical = canonicalTarget(target);
        expect(nonCanonical(canonical.split('?')[0]!)).toEqual([]);
        expect(canonicalTarget(canonical)).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
    expect(canonicalTarget('/%2e/API\\v1/./x/%2E%2E//chat/%63ompletions/.?q=%2e#f')).toBe(
      '/API/v1/chat/completions/?q=%2e',
    );
  });

  it('every target is a 400, or forwarded canonical and metered like its canonical form sent directly', async () => {
    await fc.assert(
      fc.asyncProperty(targets, async (target) => {
        const canonical = canonicalTarget(target);
        const sent = await call(target);
        if (sent.status === 400) {
          expect(upstream.seenFrom(sent.userId)).toEqual([]);
          return;
        }
        const direct = await call(canonical);
        await gw.gateway.idle();
        const seen = upstream.seenFrom(sent.userId);
        if (seen.length > 0) {
          const forwardedPath = seen[0]!.target.split('?')[0]!;
          expect({ target, forwardedPath, nonCanonical: nonCanonical(forwardedPath) }).toEqual({
            target,
            forwardedPath,
            nonCanonical: [],
          });
          expect({ target, canonical, sameAsCanonical: sameOctets(seen[0]!.target, canonical) }).toEqual({
            target,
            canonical,
            sameAsCanonical: true,
          });
        }
        const variant = await decision(sent.userId);
        const reference = await decision(direct.userId);
        expect({ target, canonical, decision: variant }).toEqual({ target, canonical, decision: reference });
        // The chat route matches case-insensitively and with or without a trailing slash.
        const route = canonical.split('?')[0]!.toLowerCase().replace(/\/$/, '');
        if (route === '/api/v1/chat/completions') {
          const served = upstream.servedTo(sent.userId);
          expect({ target, tokens: variant.tokens }).toEqual({
            target,
            tokens: served.inputTokens + served.outputTokens,
          });
          expect(served.calls).toBe(1);
        }
      }),
      { numRuns: 150, interruptAfterTimeLimit: 40_000 },
    );
  }, 90_000);
});

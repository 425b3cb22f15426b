// The identity providers' signing keys (JWT_JWKS_URL): fetched, kept by `kid`, refetched on an unknown `kid` at most
// once per interval, and refreshed in the background, so a rotation at the provider needs no restart.
import { importJWK, type JWK, type KeyLike } from 'jose';

/** The algorithms a JWKS key may sign with: asymmetric only, so a public key can never act as an HMAC secret. */
export const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwksAlgorithm = (typeof JWKS_ALGORITHMS)[number];

const EC_CURVE: Record<string, JwksAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const OKP_CURVES = new Set(['Ed25519', 'Ed448']);
/** A key set is a few keys; anything bigger is no JWKS. */
const MAX_JWKS_BYTES = 512 * 1024;

/** One signing key of a provider, with the one algorithm it may verify. */
export interface JwksKey {
  kid: string | null;
  alg: JwksAlgorithm;
  key: KeyLike | Uint8Array;
  url: string;
}

export interface JwksOptions {
  urls: readonly URL[];
  /** Fewest milliseconds between two fetches of one URL caused by an unknown `kid`. Defaults to 30000. */
  refetchIntervalMs?: number;
  /** Milliseconds between background refreshes of every set. Defaults to 300000 (5 min). */
  refreshIntervalMs?: number;
  /** Bound on one fetch. Defaults to 5000 ms. */
  fetchTimeoutMs?: number;
  /** Milliseconds clock for the refetch interval (tests move it). Defaults to Date.now. */
  now?: () => number;
  /** A fetch that failed (the keys fetched before are kept). */
  onError?: (url: string, message: string) => void;
}

/** The algorithm a JWK may sign with: its `alg` when it names one (and it fits the key type), else the type's own. */
function algorithmOf(jwk: JWK): JwksAlgorithm | null {
  const declared = jwk.alg;
  if (jwk.kty === 'RSA') {
    const alg = declared ?? 'RS256';
    return /^(RS|PS)(256|384|512)$/.test(alg) ? (alg as JwksAlgorithm) : null;
  }
  if (jwk.kty === 'EC') {
    const alg = EC_CURVE[jwk.crv ?? ''];
    return alg && (declared === undefined || declared === alg) ? alg : null;
  }
  if (jwk.kty === 'OKP') {
    return OKP_CURVES.has(jwk.crv ?? '') && (declared === undefined || declared === 'EdDSA') ? 'EdDSA' : null;
  }
  // `oct` (a shared secret) and anything else: never a JWKS verification key.
  return null;
}

/** Whether a JWK is a public signature key (not an encryption key, and not a published private key). */
function isVerificationKey(jwk: JWK): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  // A member of another type (null, a number, a string) is no key_ops list: the key is skipped, not the set.
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return false;
  return jwk.d === undefined;
}

/**
 * The body as text, read chunk by chunk and abandoned past MAX_JWKS_BYTES: a chunked body has no length to check
 * first, and `res.text()` would hold all of it.
 */
async function boundedText(res: Response): Promise<string> {
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_JWKS_BYTES) {
      await reader.cancel();
      throw new Error(`key set over ${MAX_JWKS_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

class Source {
  keys: JwksKey[] = [];
  lastFetchAt = Number.NEGATIVE_INFINITY;
  inFlight: Promise<void> | null = null;
  fetches = 0;
  constructor(readonly url: URL) {}
}

export class JwksKeySet {
  private readonly sources: Source[];
  private readonly refetchIntervalMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  /** The keys of the current sets: a token verified with a key since dropped is verified again. */
  private current = new Set<JwksKey>();

  constructor(private readonly options: JwksOptions) {
    this.sources = options.urls.map((u) => new Source(u));
    this.refetchIntervalMs = options.refetchIntervalMs ?? 30_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
    // Warm the sets now, so the first token does not wait for the provider.
    for (const s of this.sources) void this.fetch(s);
    this.timer = setInterval(
      () => this.sources.forEach((s) => void this.fetch(s)),
      options.refreshIntervalMs ?? 300_000,
    );
    this.timer.unref();
  }

  /** Fetches made so far, over every URL (for tests and metrics). */
  get fetchCount(): number {
    return this.sources.reduce((n, s) => n + s.fetches, 0);
  }

  /** True while `key` is still in its provider's set. */
  holds(key: JwksKey): boolean {
    return this.current.has(key);
  }

  /** The key for a token's `kid` and `alg` among the sets held now; null when none (or several without a kid). */
  find(kid: string | null, alg: string): JwksKey | null {
    let found: JwksKey | null = null;
    for (const s of this.sources)
      for (const k of s.keys) {
        if (k.alg !== alg || (kid !== null && k.kid !== kid)) continue;
        // Without a kid only a single candidate is unambiguous.
        if (found !== null) return null;
        found = k;
        if (kid !== null) return found;
      }
    return found;
  }

  /**
   * The key for `kid`/`alg`, refetching the sets once when it is unknown, unless they were fetched less than the
   * refetch interval ago (so a flood of made-up kids costs the provider at most one fetch per interval).
   */
  async resolve(kid: string | null, alg: string): Promise<JwksKey | null> {
    const known = this.find(kid, alg);
    if (known !== null) return known;
    const now = this.now();
    const due = this.sources.filter(
      (s) => s.inFlight !== null || now - s.lastFetchAt >= this.refetchIntervalMs,
    );
    if (due.length === 0) return null;
    await Promise.all(due.map((s) => this.fetch(s)));
    return this.find(kid, alg);
  }

  /** Waits for the fetches under way (tests; start-up warm-up). */
  async ready(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.inFlight));
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** One fetch of a source (joined when one is under way); on failure the keys it had are kept. */
  private fetch(s: Source): Promise<void> {
    if (s.inFlight) return s.inFlight;
    s.lastFetchAt = this.now();
    s.fetches++;
    s.inFlight = this.load(s.url)
      .then(
        (keys) => {
          s.keys = keys;
          this.current = new Set(this.sources.flatMap((x) => x.keys));
        },
        (err: unknown) =>
          this.options.onError?.(s.url.toString(), err instanceof Error ? err.message : String(err)),
      )
      .finally(() => {
        s.inFlight = null;
      });
    return s.inFlight;
  }

  private async load(url: URL): Promise<JwksKey[]> {
    // A redirect is not followed: it could lead from https to http, or to a host nobody configured.
    const res = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs), redirect: 'manual' });
    if (res.status >= 300 && res.status < 400)
      throw new Error(`HTTP ${res.status}: redirects are not followed`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_JWKS_BYTES) throw new Error(`key set over ${MAX_JWKS_BYTES} bytes`);
    const body = JSON.parse(await boundedText(res)) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error('not a JWK set (no "keys" array)');
    const keys: JwksKey[] = [];
    for (const raw of body.keys as unknown[]) {
      if (raw === null || typeof raw !== 'object') continue;
      const jwk = raw as JWK;
      if (!isVerificationKey(jwk)) continue;
      const alg = algorithmOf(jwk);
      if (alg === null) continue;
      try {
        const key = await importJWK({ ...jwk, ext: true }, alg);
        keys.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : null, alg, key, url: url.toString() });
      } catch {
        // A key that does not import is skipped; the others still verify.
      }
    }
    return keys;
  }
}

// Resolving Tollgate API keys to their rows on a hot path: a known key costs no database round trip (bounded
// in-process cache), an unknown one at most one hashed look-up (bounded negative cache), revocations and rotations
// are seen within a poll interval (each process polls api_keys for what changed), last_used_at written in batches.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '@tollgate/core';
import {
  apiKeyChanges,
  apiKeyRefusal,
  findApiKeyByHash,
  hashApiKey,
  isApiKeyShape,
  looksLikeApiKey,
  touchApiKeys,
  type ApiKeyRecord,
} from './api-keys';
import type { SqlClient } from './sql-client';

export interface ApiKeyResolverOptions {
  sql: SqlClient;
  /** How often api_keys is polled for revocations and rotations. Defaults to 250 ms. */
  pollIntervalMs?: number;
  /** How often last-use times are written. Defaults to 1000 ms. */
  lastUsedFlushMs?: number;
  /** Most keys remembered, known and unknown each. Defaults to 10000. */
  cacheMax?: number;
  /** How long an unknown key is answered from memory. Defaults to 60 s. */
  negativeTtlMs?: number;
  /** A background step (poll, last-use write) failed; it is retried. Defaults to ignoring it. */
  onError?: (what: string, err: unknown) => void;
}

/** Why a key does not name anyone. */
export type ApiKeyFailure = 'malformed' | 'unknown' | 'revoked' | 'expired';

export type ApiKeyResolution = { ok: true; record: ApiKeyRecord } | { ok: false; reason: ApiKeyFailure };

/** Drops the oldest tenth of a full map (Map iteration is insertion order). */
function makeRoom<K, V>(map: Map<K, V>, max: number): void {
  if (map.size < max) return;
  let n = Math.max(1, Math.floor(max / 10));
  for (const key of map.keys()) {
    map.delete(key);
    if (--n <= 0) break;
  }
}

export class ApiKeyResolver {
  private readonly known = new Map<string, ApiKeyRecord>();
  private readonly unknown = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<ApiKeyRecord | null>>();
  private readonly used = new Map<string, Date>();
  private readonly cacheMax: number;
  private readonly negativeTtlMs: number;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly touchTimer: NodeJS.Timeout;
  private watermark: Date | null = null;
  private polling: Promise<void> | null = null;
  private touching: Promise<void> | null = null;
  /** Database look-ups made so far (a known key makes none). */
  lookupCount = 0;

  constructor(private readonly o: ApiKeyResolverOptions) {
    this.cacheMax = o.cacheMax ?? 10_000;
    this.negativeTtlMs = o.negativeTtlMs ?? 60_000;
    this.pollTimer = setInterval(() => void this.poll(), o.pollIntervalMs ?? 250);
    this.pollTimer.unref();
    this.touchTimer = setInterval(() => void this.flushLastUsed(), o.lastUsedFlushMs ?? 1000);
    this.touchTimer.unref();
    void this.poll();
  }

  /** The row a key names, or why not; synchronous for a key seen before (or known to be unknown). */
  resolve(key: string): ApiKeyResolution | Promise<ApiKeyResolution> {
    if (!isApiKeyShape(key)) return { ok: false, reason: 'malformed' };
    const hash = hashApiKey(key);
    const hit = this.known.get(hash);
    if (hit !== undefined) return this.admit(hit);
    const until = this.unknown.get(hash);
    if (until !== undefined) {
      if (until > Date.now()) return { ok: false, reason: 'unknown' };
      this.unknown.delete(hash);
    }
    return this.lookup(hash).then((found) =>
      found === null ? { ok: false, reason: 'unknown' } : this.admit(found),
    );
  }

  /** Forgets a key at once in this process (its revocation or rotation was made here). */
  forget(id: string): void {
    for (const [hash, r] of this.known) if (r.id === id) this.known.delete(hash);
  }

  /** Writes the last-use times gathered so far (one statement). */
  flushLastUsed(): Promise<void> {
    if (this.touching) return this.touching;
    if (this.used.size === 0) return Promise.resolve();
    const batch = new Map(this.used);
    this.used.clear();
    const touching = touchApiKeys(this.o.sql, batch)
      .catch((err: unknown) => {
        // Back for the next round, unless a newer use came in meanwhile.
        for (const [id, at] of batch) if (!this.used.has(id)) this.used.set(id, at);
        this.o.onError?.('writing API key last use', err);
      })
      .finally(() => {
        this.touching = null;
      });
    this.touching = touching;
    return touching;
  }

  async close(): Promise<void> {
    clearInterval(this.pollTimer);
    clearInterval(this.touchTimer);
    await this.polling;
    await this.flushLastUsed();
  }

  private admit(record: ApiKeyRecord): ApiKeyResolution {
    const refusal = apiKeyRefusal(record, Date.now());
    if (refusal !== null) return { ok: false, reason: refusal };
    this.used.set(record.id, new Date());
    return { ok: true, record };
  }

  private lookup(hash: string): Promise<ApiKeyRecord | null> {
    let pending = this.lookups.get(hash);
    if (pending) return pending;
    this.lookupCount++;
    pending = findApiKeyByHash(this.o.sql, hash)
      .then((record) => {
        if (record === null) {
          makeRoom(this.unknown, this.cacheMax);
          this.unknown.set(hash, Date.now() + this.negativeTtlMs);
        } else {
          makeRoom(this.known, this.cacheMax);
          this.known.set(hash, record);
        }
        return record;
      })
      .finally(() => this.lookups.delete(hash));
    return pending;
  }

  /** Drops every key changed since the last poll (a row newer than the one cached). */
  private poll(): Promise<void> {
    if (this.polling) return this.polling;
    const polling = apiKeyChanges(this.o.sql, this.watermark)
      .then(({ changes, now }) => {
        for (const c of changes) {
          this.unknown.delete(c.hash);
          const cached = this.known.get(c.hash);
          if (cached && cached.changedAt.getTime() < c.changedAt.getTime()) this.known.delete(c.hash);
        }
        this.watermark = now;
      })
      .catch((err: unknown) => this.o.onError?.('polling API key changes', err))
      .finally(() => {
        this.polling = null;
      });
    this.polling = polling;
    return polling;
  }
}

/** The key a request carries: `Authorization: Bearer tg_...`, else `X-API-Key`; null when it carries none. */
export function apiKeyOf(headers: IncomingHttpHeaders): string | null {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headers.authorization ?? '');
  if (m && looksLikeApiKey(m[1]!)) return m[1]!;
  const header = headers['x-api-key'];
  if (header === undefined || header === '') return null;
  return Array.isArray(header) ? header.join(', ') : header;
}

export interface ApiKeyIdentityOptions extends ApiKeyResolverOptions {
  /** Told why a request's key was refused (the request is then not identified). Defaults to nothing. */
  onRefused?: (reason: ApiKeyFailure) => void;
}

/** `identify` for trackUsage: the identity of the request's Tollgate API key, with a `close()` for shutdown. */
export interface ApiKeyIdentify {
  (req: { headers: IncomingHttpHeaders }): Identity | null | Promise<Identity | null>;
  readonly resolver: ApiKeyResolver;
  close(): Promise<void>;
}

/**
 * An `identify(req)` for `trackUsage` (Express) or the Fastify plugin that meters by Tollgate API keys without the
 * gateway: the key's tenant, user, tier and id (so per-key limits apply). A request without a key, or with a bad,
 * expired or revoked one, has no identity: not metered, or 401 with `requireIdentity`.
 */
export function apiKeyIdentity(options: ApiKeyIdentityOptions): ApiKeyIdentify {
  const resolver = new ApiKeyResolver(options);
  const toIdentity = (r: ApiKeyResolution): Identity | null => {
    if (!r.ok) {
      options.onRefused?.(r.reason);
      return null;
    }
    const k = r.record;
    return { tenantId: k.tenantId, userId: k.userId, plan: k.tier, apiKeyId: k.id };
  };
  const identify = (req: { headers: IncomingHttpHeaders }) => {
    const key = apiKeyOf(req.headers);
    if (key === null) return null;
    const r = resolver.resolve(key);
    return r instanceof Promise ? r.then(toIdentity) : toIdentity(r);
  };
  return Object.assign(identify, { resolver, close: () => resolver.close() });
}

// API key authentication (SPEC §11): a known key costs no database round trip (bounded in-process cache), an
// unknown one at most one hashed look-up (bounded negative cache), revocation and rotation reach every gateway
// within 1 s (each polls api_keys for what changed), and last_used_at is written in batches.
import {
  apiKeyChanges,
  apiKeyRefusal,
  findApiKeyByHash,
  hashApiKey,
  isApiKeyShape,
  touchApiKeys,
  type ApiKeyRecord,
  type SqlClient,
} from '@tollgate/ledger';
import { identityValueProblem } from '@tollgate/core';
import { TokenError, type GatewayIdentity } from './jwt';
import type { Logger } from './logger';

export interface ApiKeyAuthOptions {
  sql: SqlClient;
  log: Logger;
  /** How often api_keys is polled for revocations and rotations. Defaults to 250 ms (the 1 s promise, with margin). */
  pollIntervalMs?: number;
  /** How often last-use times are written. Defaults to 1000 ms. */
  lastUsedFlushMs?: number;
  /** Most keys (known and unknown, each) remembered. Defaults to 10000. */
  cacheMax?: number;
  /** How long an unknown key is answered from memory. Defaults to 60 s. */
  negativeTtlMs?: number;
}

interface Known {
  record: ApiKeyRecord;
  identity: GatewayIdentity;
}

function identityOf(r: ApiKeyRecord): GatewayIdentity {
  return { userId: r.userId, tenantId: r.tenantId, tier: r.tier, email: null, role: r.role, apiKeyId: r.id };
}

/** Drops the oldest tenth of a full map (Map iteration is insertion order). */
function makeRoom<K, V>(map: Map<K, V>, max: number): void {
  if (map.size < max) return;
  let n = Math.max(1, Math.floor(max / 10));
  for (const key of map.keys()) {
    map.delete(key);
    if (--n <= 0) break;
  }
}

export class ApiKeyAuthenticator {
  private readonly known = new Map<string, Known>();
  private readonly unknown = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<Known | null>>();
  private readonly used = new Map<string, Date>();
  private readonly cacheMax: number;
  private readonly negativeTtlMs: number;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly touchTimer: NodeJS.Timeout;
  private watermark: Date | null = null;
  private polling: Promise<void> | null = null;
  private touching: Promise<void> | null = null;
  /** Database look-ups made (tests: a known key makes none). */
  lookupCount = 0;

  constructor(private readonly o: ApiKeyAuthOptions) {
    this.cacheMax = o.cacheMax ?? 10_000;
    this.negativeTtlMs = o.negativeTtlMs ?? 60_000;
    this.pollTimer = setInterval(() => void this.poll(), o.pollIntervalMs ?? 250);
    this.pollTimer.unref();
    this.touchTimer = setInterval(() => void this.flushLastUsed(), o.lastUsedFlushMs ?? 1000);
    this.touchTimer.unref();
    void this.poll();
  }

  /** The identity a key names; throws (or rejects with) TokenError naming why not: malformed, unknown, revoked, expired. */
  verify(key: string): GatewayIdentity | Promise<GatewayIdentity> {
    if (!isApiKeyShape(key))
      throw new TokenError('malformed API key (expected tg_ and 32 letters or digits)');
    const hash = hashApiKey(key);
    const hit = this.known.get(hash);
    if (hit !== undefined) return this.admit(hit);
    const until = this.unknown.get(hash);
    if (until !== undefined) {
      if (until > Date.now()) throw new TokenError('unknown API key');
      this.unknown.delete(hash);
    }
    return this.lookup(hash).then((found) => {
      if (found === null) throw new TokenError('unknown API key');
      return this.admit(found);
    });
  }

  /** Forgets a key at once on this instance (its revocation or rotation was made here). */
  forget(id: string): void {
    for (const [hash, k] of this.known) if (k.record.id === id) this.known.delete(hash);
  }

  async close(): Promise<void> {
    clearInterval(this.pollTimer);
    clearInterval(this.touchTimer);
    await this.polling;
    await this.flushLastUsed();
  }

  /** Writes the last-use times gathered so far (one statement). */
  flushLastUsed(): Promise<void> {
    if (this.touching) return this.touching;
    if (this.used.size === 0) return Promise.resolve();
    const batch = new Map(this.used);
    this.used.clear();
    const touching = touchApiKeys(this.o.sql, batch)
      .catch((err: unknown) => {
        // Put them back for the next round, unless a newer use came in meanwhile.
        for (const [id, at] of batch) if (!this.used.has(id)) this.used.set(id, at);
        this.o.log.warn({ err: String(err) }, 'writing API key last use failed; retrying');
      })
      .finally(() => {
        this.touching = null;
      });
    this.touching = touching;
    return touching;
  }

  private admit(k: Known): GatewayIdentity {
    const refusal = apiKeyRefusal(k.record, Date.now());
    if (refusal !== null) throw new TokenError(`API key ${refusal}`);
    this.used.set(k.record.id, new Date());
    return k.identity;
  }

  private lookup(hash: string): Promise<Known | null> {
    let pending = this.lookups.get(hash);
    if (pending) return pending;
    this.lookupCount++;
    pending = findApiKeyByHash(this.o.sql, hash)
      .then((record) => {
        if (record === null) {
          makeRoom(this.unknown, this.cacheMax);
          this.unknown.set(hash, Date.now() + this.negativeTtlMs);
          return null;
        }
        for (const v of [record.userId, record.tenantId, record.tier, record.role])
          if (v !== null && identityValueProblem(v) !== null)
            throw new TokenError('API key names an unusable identity');
        const known = { record, identity: identityOf(record) };
        makeRoom(this.known, this.cacheMax);
        this.known.set(hash, known);
        return known;
      })
      .finally(() => this.lookups.delete(hash));
    return pending;
  }

  /** Drops from the cache every key changed since the last poll (a row newer than the one cached). */
  private poll(): Promise<void> {
    if (this.polling) return this.polling;
    const polling = apiKeyChanges(this.o.sql, this.watermark)
      .then(({ changes, now }) => {
        for (const c of changes) {
          this.unknown.delete(c.hash);
          const cached = this.known.get(c.hash);
          if (cached && cached.record.changedAt.getTime() < c.changedAt.getTime()) this.known.delete(c.hash);
        }
        this.watermark = now;
      })
      .catch((err: unknown) => this.o.log.warn({ err: String(err) }, 'polling API key changes failed'))
      .finally(() => {
        this.polling = null;
      });
    this.polling = polling;
    return polling;
  }
}

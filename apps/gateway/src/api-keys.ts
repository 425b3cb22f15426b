// API key authentication at the gateway (SPEC §11): the ledger's ApiKeyResolver (no database round trip for a
// known key, revocation and rotation seen within 250 ms on every instance) answering with the gateway's identity,
// and TokenError naming why a key is refused.
import { identityValueProblem } from '@tollgate/http';
import { ApiKeyResolver, type ApiKeyRecord, type ApiKeyResolution, type SqlClient } from '@tollgate/ledger';
import { TokenError, type GatewayIdentity } from './jwt';
import type { Logger } from './logger';

const REASONS = {
  malformed: 'malformed API key (expected tg_ and 32 letters or digits)',
  unknown: 'unknown API key',
  revoked: 'API key revoked',
  expired: 'API key expired',
} as const;

export class ApiKeyAuthenticator {
  readonly resolver: ApiKeyResolver;
  /** Identities built once per cached row (a changed key is a new row object). */
  private readonly identities = new WeakMap<ApiKeyRecord, GatewayIdentity>();

  constructor(o: { sql: SqlClient; log: Logger }) {
    this.resolver = new ApiKeyResolver({
      sql: o.sql,
      onError: (what, err) => o.log.warn({ err: String(err) }, `${what} failed; retrying`),
    });
  }

  /** Database look-ups made so far (tests: a known key makes none). */
  get lookupCount(): number {
    return this.resolver.lookupCount;
  }

  /** The identity a key names; throws (or rejects with) TokenError naming why not. */
  verify(key: string): GatewayIdentity | Promise<GatewayIdentity> {
    const r = this.resolver.resolve(key);
    return r instanceof Promise ? r.then((x) => this.identity(x)) : this.identity(r);
  }

  forget(id: string): void {
    this.resolver.forget(id);
  }

  flushLastUsed(): Promise<void> {
    return this.resolver.flushLastUsed();
  }

  close(): Promise<void> {
    return this.resolver.close();
  }

  private identity(r: ApiKeyResolution): GatewayIdentity {
    if (!r.ok) throw new TokenError(REASONS[r.reason]);
    const k = r.record;
    let id = this.identities.get(k);
    if (id === undefined) {
      for (const v of [k.userId, k.tenantId, k.tier, k.role])
        if (v !== null && identityValueProblem(v) !== null)
          throw new TokenError('API key names an identity that cannot be forwarded');
      id = {
        userId: k.userId,
        tenantId: k.tenantId,
        tier: k.tier,
        email: null,
        role: k.role,
        apiKeyId: k.id,
      };
      this.identities.set(k, id);
    }
    return id;
  }
}

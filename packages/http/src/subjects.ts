// Subjects of requests, resolved once: a busy subject's requests skip the maps, the rest find theirs without a key
// string built per request. Bounded (identities come from requests).
import { type QuotaEngine, ErrorCode, type ResolvedSubject } from '@tollgate/core';
import type { WarnOnce } from './logger';

const SUBJECT_CACHE_MAX = 10_000;

export class SubjectCache {
  /** tenant -> user -> plan ('' for none) -> subject: looked up with no key string built per request. */
  private readonly subjects = new Map<string, Map<string, Map<string, ResolvedSubject>>>();
  private subjectCount = 0;
  /** The last subject resolved, by its three raw values: a busy subject's requests skip the maps (no hashing). */
  private lastTenant: string | null = null;
  private lastUser: string | null = null;
  private lastPlan: string | null = null;
  private lastSubject: ResolvedSubject | null = null;
  /** Subjects of calls with an API key, by key, tenant, user and plan (bounded like the others). */
  private readonly keySubjects = new Map<string, ResolvedSubject>();

  constructor(
    private readonly engine: QuotaEngine,
    private readonly warnOnce: WarnOnce,
  ) {}

  /** The quota owner, plan and limits of these ids (throws for none), warning once about an unknown plan. */
  of(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
    apiKeyId: string | null = null,
  ): ResolvedSubject {
    // A call with an API key has the key's own scope too: resolved apart, so the plain subjects' caches stay as they are.
    if (apiKeyId !== null) return this.keySubjectOf(tenantId, userId, plan, apiKeyId);
    const last = this.lastSubject;
    if (last !== null && tenantId === this.lastTenant && userId === this.lastUser && plan === this.lastPlan) {
      return last;
    }
    const subject = this.lookUpSubject(tenantId, userId, plan);
    this.lastTenant = tenantId;
    this.lastUser = userId;
    this.lastPlan = plan;
    this.lastSubject = subject;
    return subject;
  }

  private keySubjectOf(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
    apiKeyId: string,
  ): ResolvedSubject {
    const cacheKey = `${apiKeyId}\u0000${tenantId ?? ''}\u0000${userId ?? ''}\u0000${plan ?? ''}`;
    const cached = this.keySubjects.get(cacheKey);
    if (cached !== undefined) return cached;
    // Resolves (and warns once about an unknown plan) as for the same identity without a key.
    this.lookUpSubject(tenantId, userId, plan);
    const subject = this.engine.resolve({ tenantId, userId, plan, apiKeyId });
    if (this.keySubjects.size >= SUBJECT_CACHE_MAX) this.keySubjects.clear();
    this.keySubjects.set(cacheKey, subject);
    return subject;
  }

  private lookUpSubject(
    tenantId: string | null,
    userId: string | null,
    plan: string | null,
  ): ResolvedSubject {
    const t = tenantId ?? '';
    const u = userId ?? '';
    const p = plan ?? '';
    const cached = this.subjects.get(t)?.get(u)?.get(p);
    if (cached !== undefined) return cached;
    const subject = this.engine.resolve({ tenantId, userId, plan });
    if (subject.unknownPlan) {
      this.warnOnce.warn(
        `plan:${plan}`,
        { code: ErrorCode.UnknownPlan, plan, defaultPlan: this.engine.config.defaultPlan },
        `Tollgate: unknown plan "${plan}", metering on the default plan "${this.engine.config.defaultPlan}"`,
      );
    }
    // Bounded: identities come from requests. Dropping everything at the cap is cheap and rare.
    if (this.subjectCount >= SUBJECT_CACHE_MAX) {
      this.subjects.clear();
      this.subjectCount = 0;
    }
    let byUser = this.subjects.get(t);
    if (byUser === undefined) this.subjects.set(t, (byUser = new Map()));
    let byPlan = byUser.get(u);
    if (byPlan === undefined) byUser.set(u, (byPlan = new Map()));
    byPlan.set(p, subject);
    this.subjectCount += 1;
    return subject;
  }
}

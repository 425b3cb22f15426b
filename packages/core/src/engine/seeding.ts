// Rebuilding a shard the store lost (or never had) from the ledger baseline: which counters, asked how, seeded once.
import { StoreUnavailableError } from '../errors';
import type { Period, PeriodWindow } from '../periods';
import type { ApplyOp, ApplyResult, OverrideEntry, ReadResult, ScopeRef, SeedOp } from '../store';
import type { ResolvedSubject } from '../subject';
import type { EngineContext } from './context';

/** One counter's window, asked of the ledger when a shard must be rebuilt. */
export interface BaselineQuery extends ScopeRef {
  tenantId: string | null;
  userId: string | null;
  /**
   * For a user scope: true when the user's quota spans every tenant (`subject: user`), so rows of any
   * tenant count; false when it covers only rows of `tenantId` (a cap inside a tenant, or no tenant).
   */
  allTenants: boolean;
  meter: string;
  period: Period;
  periodStart: Date;
  /** End of the window (exclusive); null for `total`. */
  periodEnd: Date | null;
}

/**
 * The shard a rebuild restores overrides into, under `subject: tenant`: a user's overrides set in `tenantId` only
 * (null: the user's tenantless ones). Under `subject: user` none is given: a user's shard takes all of its own.
 */
export interface OverrideShard {
  tenantId: string | null;
}

/** Where lost counter state is rebuilt from (the ledger): usage so far in a window, and durable overrides. */
export interface BaselineSource {
  used(q: BaselineQuery): Promise<number>;
  /** `used` for many queries at once, in the order asked (a rebuild's in one round trip); optional. */
  usedMany?(qs: readonly BaselineQuery[]): Promise<number[]>;
  overrides?(scopes: ScopeRef[], shard?: OverrideShard): Promise<OverrideEntry[]>;
  /** `overrides` and `usedMany` in one round trip (a cold subject's first request waits on it); optional. */
  shardBaseline?(
    scopes: ScopeRef[],
    shard: OverrideShard | undefined,
    qs: readonly BaselineQuery[],
  ): Promise<{ overrides: OverrideEntry[]; used: number[] }>;
}

/** The scopes of a subject, as one string (two subjects of one shard tag may differ in them). */
function scopesKey(subject: ResolvedSubject): string {
  return subject.scopes.map((s) => `${s.scope}\u0000${s.id}`).join('\u0001');
}

/** Seeds shards when the store answers `needs-seed`; concurrent callers of one shard share one rebuild. */
export class ShardSeeder {
  /**
   * Each running rebuild, by shard tag: the scopes it asked the ledger about, and the seed op it did not send (the
   * ledger held nothing for them), or null.
   */
  private readonly running = new Map<string, { scopes: string; job: Promise<SeedOp | null> }>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly source: BaselineSource | null,
  ) {}

  /** Runs a store call, seeding the shard from the baseline source first when the store asks for it. */
  async seeded<T extends ApplyResult | ReadResult>(
    subject: ResolvedSubject,
    call: () => Promise<T>,
  ): Promise<Exclude<T, { status: 'needs-seed' }>> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await call();
      if (result.status !== 'needs-seed') return result as Exclude<T, { status: 'needs-seed' }>;
      const unsent = await this.rebuildOnce(subject).job;
      if (unsent !== null) await this.ctx.store.seed(unsent);
    }
    throw new StoreUnavailableError(`shard ${subject.tag} stayed unseeded after seeding`);
  }

  /**
   * `apply(op)`, seeding the shard first when the store asks for it. A shard the ledger holds nothing for (no
   * usage in any window, no override: a subject never seen) is not seeded by a call of its own: the op is sent
   * again with `seed: 'auto'`, which marks its scopes seeded as it applies (what seeding zeros would have done).
   */
  async seededApply(
    subject: ResolvedSubject,
    op: ApplyOp,
  ): Promise<Exclude<ApplyResult, { status: 'needs-seed' }>> {
    let sent = op;
    // One more try than `seeded`: a user who joined another user's rebuild needs a rebuild of its own.
    for (let attempt = 0; attempt < 4; attempt++) {
      const result = await this.ctx.store.apply(sent);
      if (result.status !== 'needs-seed') return result;
      const scopes = scopesKey(subject);
      const rebuild = this.rebuildOnce(subject);
      const unsent = await rebuild.job;
      // Only the scopes that rebuild asked about are known to be empty: two users of one tenant share the tag, and
      // a user who joined the other's rebuild resends the op as it was (and then gets a rebuild of its own).
      sent = unsent !== null && rebuild.scopes === scopes ? { ...op, seed: 'auto' } : op;
    }
    throw new StoreUnavailableError(`shard ${subject.tag} stayed unseeded after seeding`);
  }

  /** Rebuilds a shard's counters from the baseline source; concurrent callers share one rebuild. */
  async seedShard(subject: ResolvedSubject): Promise<void> {
    const unsent = await this.rebuildOnce(subject).job;
    if (unsent !== null) await this.ctx.store.seed(unsent);
  }

  /** One rebuild per shard at a time; its job resolves with the seed op left unsent (an empty shard), else null. */
  private rebuildOnce(subject: ResolvedSubject): { scopes: string; job: Promise<SeedOp | null> } {
    const running = this.running.get(subject.tag);
    if (running) return running;
    const job = this.rebuild(subject).finally(() => this.running.delete(subject.tag));
    const entry = { scopes: scopesKey(subject), job };
    this.running.set(subject.tag, entry);
    return entry;
  }

  private async rebuild(subject: ResolvedSubject): Promise<SeedOp | null> {
    const { ctx, source } = this;
    const now = ctx.now();
    const windows = ctx.windowsAt(now);
    // Only this shard's: alice's cap in another tenant is another override (see OverrideShard).
    const shard: OverrideShard | undefined =
      ctx.config.subject === 'tenant'
        ? { tenantId: subject.owner.scope === 'tenant' ? subject.owner.id : null }
        : undefined;
    type Wanted = { scope: ScopeRef; meter: string; window: PeriodWindow };
    const wanted = new Map<string, Wanted>();
    /** The counter newly wanted, or null when it is wanted already. */
    const addWanted = (scope: ScopeRef, meter: string, period: Period): Wanted | null => {
      const key = `${scope.scope}\u0000${scope.id}\u0000${meter}\u0000${period}`;
      if (wanted.has(key)) return null;
      const w = { scope, meter, window: windows.find((x) => x.period === period)! };
      wanted.set(key, w);
      return w;
    };
    const queryOf = ({ scope, meter, window }: Wanted): BaselineQuery => ({
      scope: scope.scope,
      id: scope.id,
      tenantId: scope.scope === 'tenant' ? scope.id : subject.tenantId,
      userId: scope.scope === 'user' ? scope.id : null,
      allTenants: scope.scope === 'user' && ctx.config.subject === 'user',
      meter,
      period: window.period,
      periodStart: new Date(window.start),
      periodEnd: window.resetsAt === null ? null : new Date(window.resetsAt),
    });
    const usedOf = async (qs: BaselineQuery[]): Promise<number[]> =>
      !source || qs.length === 0
        ? qs.map(() => 0)
        : source.usedMany
          ? source.usedMany(qs)
          : Promise.all(qs.map((q) => source.used(q)));
    for (const l of subject.limits) addWanted(l, l.meter, l.period);
    const planned = [...wanted.values()];
    // The plan's limits are known before the overrides: one round trip for both when the source can.
    let overrides: OverrideEntry[];
    let used: number[];
    if (source?.shardBaseline) {
      ({ overrides, used } = await source.shardBaseline(subject.scopes, shard, planned.map(queryOf)));
    } else {
      overrides = source?.overrides ? await source.overrides(subject.scopes, shard) : [];
      used = await usedOf(planned.map(queryOf));
    }
    // An override can limit what the plan does not (rare): those counters are read on their own.
    const extra: Wanted[] = [];
    for (const o of overrides) {
      const w = o.limit === null ? null : addWanted(o, o.meter, o.period);
      if (w) extra.push(w);
    }
    used = [...used.slice(0, planned.length), ...(await usedOf(extra.map(queryOf)))];
    const counters = [...planned, ...extra].map(({ scope, meter, window }, i) => ({
      scope: scope.scope,
      id: scope.id,
      meter,
      window,
      used: used[i] ?? 0,
    }));
    const seed: SeedOp = { tag: subject.tag, now, scopes: subject.scopes, counters, overrides };
    if (overrides.length === 0 && counters.every((c) => c.used === 0)) return seed;
    await ctx.store.seed(seed);
    return null;
  }
}

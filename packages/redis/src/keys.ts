// The key layout: every key of one shard tag shares the hash tag `{tag}`, so each script runs in one slot.
import type { Period, PeriodWindow, ScopeRef } from '@tollgate/core';
import { slotOfTag, slotTagTable } from './slots';

const NEEDS_ESCAPE = /[%{}]/;

/** Percent-encodes `%`, `{` and `}` so a tag can never end its hash tag early or collide with another. */
export function escapeTag(tag: string): string {
  if (!NEEDS_ESCAPE.test(tag)) return tag;
  return tag.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Keys of one shard. `base` is `<prefix>{<escaped tag>}`; every other key extends it. */
export class ShardKeys {
  readonly base: string;
  readonly hashTag: string;
  constructor(
    prefix: string,
    readonly tag: string,
  ) {
    this.hashTag = escapeTag(tag);
    this.base = `${prefix}{${this.hashTag}}`;
  }
  /** Hash of the scopes (`<scope>:<id>`) whose counters exist: seeded from the ledger, or started fresh. */
  get seededScopes(): string {
    return `${this.base}:scopes`;
  }
  get overrides(): string {
    return `${this.base}:ov`;
  }
  get reservations(): string {
    return `${this.base}:rs`;
  }
  get reservationExpiry(): string {
    return `${this.base}:rz`;
  }
  opIds(bucket: number): string {
    return `${this.base}:o:${bucket}`;
  }
  get unflushed(): string {
    return `${this.base}:u`;
  }
  get events(): string {
    return `${this.base}:e`;
  }
  get claims(): string {
    return `${this.base}:cl`;
  }
  /** Not a key: the stem batch keys are built from inside scripts (`<stem><batchId>:u` and `:e`). */
  get batchStem(): string {
    return `${this.base}:b:`;
  }
  counter(scope: ScopeRef, meter: string, period: Period, periodKey: string): string {
    return `${this.base}:c:${scope.scope}:${scope.id}:${meter}:${period}:${periodKey}`;
  }
  counterOf(scope: ScopeRef, meter: string, window: PeriodWindow): string {
    return this.counter(scope, meter, window.period, window.key);
  }
  /** Flush-queue member saying this shard has unflushed usage or events. */
  get dirtyMember(): string {
    return `d:${this.tag}`;
  }
  /** Suffix of this shard's claimed-batch members in the flush queue (`b:<batchId>:<tag>`). */
  get batchMemberSuffix(): string {
    return `:${this.tag}`;
  }
}

/** Field of the overrides hash for one scope, meter and period. */
export function overrideField(scope: ScopeRef, meter: string, period: Period): string {
  return `${scope.scope}:${scope.id}:${meter}:${period}`;
}

/** Where shards with work for the flusher are listed: one key on a single node, one per slot on a cluster. */
export class FlushQueues {
  private readonly perSlot: string[] | null;
  constructor(
    private readonly prefix: string,
    cluster: boolean,
  ) {
    this.perSlot = cluster ? slotTagTable().map((t) => `${prefix}{${t}}:q`) : null;
  }
  /** The queue a shard's scripts write to: in the shard's own slot on a cluster. */
  forShard(keys: ShardKeys): string {
    return this.perSlot ? this.perSlot[slotOfTag(keys.hashTag)]! : `${this.prefix}q`;
  }
  /** Every queue the flusher must look at. */
  all(): readonly string[] {
    return this.perSlot ?? [`${this.prefix}q`];
  }
}

/** The shard tag a flush-queue member names. */
export function tagOfQueueMember(member: string): string | null {
  if (member.startsWith('d:')) return member.slice(2);
  if (member.startsWith('b:')) {
    const colon = member.indexOf(':', 2);
    return colon === -1 ? null : member.slice(colon + 1);
  }
  return null;
}

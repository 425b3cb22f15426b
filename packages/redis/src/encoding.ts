// Turns store operations into script KEYS/ARGV: flat strings (no JSON on the hot path), each fixed one at the
// position script-layout.ts names; the replies go back in replies.ts and batches.ts.
import {
  InvalidUsageError,
  type ApplyOp,
  type LimitSpec,
  type MeterAmount,
  type PeriodWindow,
  type ReadOp,
  type ScopeRef,
  type SeedOp,
  type UsageDelta,
  type UsageEventRecord,
} from '@tollgate/core';
import { COUNTER_CEILING, counterDigits } from '@tollgate/core/internal';
import { Candidates } from './candidates';
import { overrideField, type ShardKeys } from './keys';
import { packCalls } from './packed-calls';
import { ACK, APPLY, CLAIM, READ, SEED, scriptArgs } from './script-layout';

/** Arguments of one script call: its declared KEYS, then ARGV. */
export type ScriptArgs = string[];

/** Dirty members score below any claim time, so they always sort first and are always due. */
const DIRTY_SCORE_OFFSET = 10_000_000_000_000;

function int(n: number, what: string): string {
  if (!Number.isSafeInteger(n)) throw new InvalidUsageError(`${what} must be a safe integer, got ${n}`);
  return String(n);
}

/**
 * A limit or a seeded counter: a whole number below 2^63 in plain digits. Cost in pico-dollars passes 2^53 from
 * about $9007 a period; the scripts only compare limits, and Redis counts in 64-bit integers.
 */
function whole(n: number, what: string): string {
  if (!Number.isInteger(n) || Math.abs(n) >= COUNTER_CEILING) {
    throw new InvalidUsageError(`${what} must be a whole number below 2^63, got ${n}`);
  }
  return counterDigits(n);
}

/** Per meter (in order of first appearance): the total to add (amounts plus reservation) and the part reserved. */
interface MeterTotals {
  meters: string[];
  total: number[];
  reserved: number[];
}

function meterTotals(
  amounts: MeterAmount[],
  reserve: MeterAmount[] | undefined,
  reserves: ReadonlyArray<{ amounts: MeterAmount[] }> = [],
): MeterTotals {
  const out: MeterTotals = { meters: [], total: [], reserved: [] };
  const add = (a: MeterAmount, isReserved: boolean) => {
    let i = out.meters.indexOf(a.meter);
    if (i === -1) {
      i = out.meters.length;
      out.meters.push(a.meter);
      out.total.push(0);
      out.reserved.push(0);
    }
    out.total[i] = out.total[i]! + a.amount;
    if (isReserved) out.reserved[i] = out.reserved[i]! + a.amount;
  };
  for (const a of amounts) add(a, false);
  if (reserve) for (const a of reserve) add(a, true);
  // The op's further reservations count in its total; each is held from its own list (see encodeApply).
  for (const r of reserves) for (const a of r.amounts) add(a, false);
  return out;
}

/**
 * The plan limit for one counter, or '' (not limited unless an override says so). A scan, not a lookup table:
 * plans hold a handful of limits. From the end, so a repeated entry resolves as a table built in order would.
 */
function planLimit(limits: LimitSpec[], scope: ScopeRef, meter: string, window: PeriodWindow): string {
  for (let i = limits.length - 1; i >= 0; i--) {
    const l = limits[i]!;
    if (l.period === window.period && l.meter === meter && l.id === scope.id && l.scope === scope.scope) {
      return whole(l.limit, 'limit');
    }
  }
  return '';
}

/** The counter groups (scope index * meters + meter index) and windows a lean op sends. */
interface Sent {
  groups: number[];
  windows: PeriodWindow[];
}

/**
 * The compact candidate list the scripts read (`read_candidates`): windows once, then one group per scope x
 * meter (in `candidates` order) with its amounts and the plan limit for each window. `lean`: only the groups with a
 * plan limit in some window and the windows with one in some group (apply's `groupsSent` 'p', which the script
 * refuses for a shard with overrides; an op of unlimited meters sends neither), and what was sent is returned; null
 * when every group and window was.
 */
function pushCandidates(
  argv: string[],
  scopes: ScopeRef[],
  meters: string[],
  windows: PeriodWindow[],
  limits: LimitSpec[],
  amounts: MeterTotals | null,
  lean = false,
): Sent | null {
  // The plan limit of group g (scope index * meters + meter index) in window w, at g * windows + w.
  const plans: string[] = [];
  const groups: number[] = [];
  const limited = new Array<boolean>(windows.length).fill(!lean);
  for (let s = 0; s < scopes.length; s++) {
    for (let m = 0; m < meters.length; m++) {
      let any = !lean && windows.length > 0;
      for (let w = 0; w < windows.length; w++) {
        const plan = planLimit(limits, scopes[s]!, meters[m]!, windows[w]!);
        plans.push(plan);
        if (lean && plan !== '') any = limited[w] = true;
      }
      if (any) groups.push(s * meters.length + m);
    }
  }
  const sent = lean ? windows.filter((_, w) => limited[w]) : windows;
  argv.push(String(sent.length));
  for (const w of sent) argv.push(w.period, w.key, w.expiresAt === null ? '' : String(w.expiresAt));
  argv.push(String(groups.length));
  for (const g of groups) {
    const scope = scopes[Math.floor(g / meters.length)]!;
    const m = g % meters.length;
    argv.push(`${scope.scope}:${scope.id}:${meters[m]!}`);
    if (amounts) argv.push(int(amounts.total[m]!, 'amount'), int(amounts.reserved[m]!, 'reserved amount'));
    for (let w = 0; w < windows.length; w++) if (limited[w]) argv.push(plans[g * windows.length + w]!);
  }
  return lean ? { groups, windows: sent } : null;
}

/** How a scope is named in the seeded-scopes hash. */
export function scopeName(s: ScopeRef): string {
  return `${s.scope}:${s.id}`;
}

function pushScopes(argv: string[], scopes: ScopeRef[]): void {
  argv.push(String(scopes.length));
  for (const s of scopes) argv.push(scopeName(s));
}

/** The hash field a usage delta accumulates under: every dimension it is aggregated by, as JSON. */
export function usageField(d: UsageDelta): string {
  const dims = [d.tenantId, d.userId, d.meter, d.model, d.bucketStart, d.estimated ? 1 : 0];
  // The key id only when there is one: fields written before keys existed keep their form (and still decode).
  return JSON.stringify(d.keyId ? [...dims, d.keyId] : dims);
}

function pushUsage(args: string[], usage: UsageDelta[]): void {
  args.push(String(usage.length));
  for (const d of usage) {
    if (!/^-?\d+$/.test(d.costPico)) throw new InvalidUsageError(`costPico must be an integer string`);
    args.push(usageField(d), int(d.amount, 'usage amount'), d.costPico);
  }
}

function pushEvents(args: string[], events: UsageEventRecord[]): void {
  args.push(String(events.length));
  for (const e of events) args.push(JSON.stringify(e));
}

/** Op-id hashes live per time bucket of `dedupWindowMs`; an id is looked up in the buckets around `now`. */
export function opIdBucket(now: number, windowMs: number): { bucket: number; expireAt: number } {
  const bucket = Math.floor(now / windowMs);
  // Written to `bucket`, read while it is the current or previous one: kept at least one window.
  return { bucket, expireAt: (bucket + 2) * windowMs };
}

export interface EncodedOp {
  args: ScriptArgs;
  candidates: Candidates;
}

/**
 * An apply op's script arguments. `lean`: the candidates leave out the counter groups and windows no plan limits
 * (the store's form for a shard it knows no overrides of; the script answers 'F' when the shard has some).
 */
export function encodeApply(
  op: ApplyOp,
  keys: ShardKeys,
  queue: string,
  dedupWindowMs: number,
  lean = false,
): EncodedOp {
  const reserves = op.reserves ?? [];
  const totals = meterTotals(op.amounts, op.reserve?.amounts, reserves);
  const meters = totals.meters;
  const { bucket, expireAt } = opIdBucket(op.now, dedupWindowMs);
  // The request path's one script call: written by index (scriptArgs' loop over names costs ~0.6 µs more).
  const at = APPLY.at;
  const argv = new Array<string>(APPLY.headLength);
  argv[at.shardStem] = keys.base;
  argv[at.flushQueue] = queue;
  argv[at.opId] = op.opId;
  argv[at.now] = int(op.now, 'now');
  argv[at.mode] = op.mode === 'enforce' ? 'e' : 'r';
  argv[at.seed] = op.seed === 'required' ? 'r' : 'a';
  argv[at.opIdBucket] = String(bucket);
  argv[at.opIdExpiry] = String(expireAt);
  argv[at.settleId] = op.settle?.id ?? '';
  argv[at.reserveId] = op.reserve?.id ?? '';
  argv[at.reserveExpiry] = op.reserve ? int(op.reserve.expiresAt, 'reservation expiry') : '';
  argv[at.dirtyMember] = keys.dirtyMember;
  argv[at.dirtyScore] = String(op.now - DIRTY_SCORE_OFFSET);
  argv[at.groupsSent] = lean ? 'p' : '';
  // thresholdsAt: the count, then each; the script reads every list below in this order.
  argv.push(String(op.warnAt.length));
  for (const w of op.warnAt) argv.push(String(w));
  pushScopes(argv, op.scopes);
  const sent = pushCandidates(argv, op.scopes, meters, op.windows, op.limits, totals, lean);
  pushUsage(argv, op.usage);
  pushEvents(argv, op.events ?? []);
  pushUsage(argv, op.mode === 'enforce' ? (op.onReject?.usage ?? []) : []);
  pushEvents(argv, op.mode === 'enforce' ? (op.onReject?.events ?? []) : []);
  // No reservation is ever held under an empty id (the script refuses one): nothing to undo for it.
  const settleIds = (op.settleIds ?? []).filter((id) => id !== '');
  argv.push(String(settleIds.length));
  for (const id of settleIds) argv.push(id);
  // Further reservations: id, expiry, then the amount it holds per counter group sent (scope x meter, as above).
  const groups = op.windows.length === 0 ? 0 : op.scopes.length;
  argv.push(String(reserves.length));
  for (const r of reserves) {
    argv.push(r.id, int(r.expiresAt, 'reservation expiry'));
    const held = meters.map((m) => r.amounts.reduce((sum, a) => (a.meter === m ? sum + a.amount : sum), 0));
    if (sent !== null)
      for (const g of sent.groups) argv.push(int(held[g % meters.length]!, 'reserved amount'));
    else for (let g = 0; g < groups; g++) for (const h of held) argv.push(int(h, 'reserved amount'));
  }
  const candidates =
    sent === null
      ? new Candidates(op.scopes, meters, op.windows)
      : new Candidates(op.scopes, meters, sent.windows, sent.groups);
  return { args: argv, candidates };
}

export function encodeRead(op: ReadOp, keys: ShardKeys): EncodedOp {
  const args = scriptArgs(
    READ,
    { shardStem: keys.base },
    { now: int(op.now, 'now'), seed: op.seed === 'required' ? 'r' : 'a' },
  );
  // scopesAt: the scopes, then the candidates.
  pushScopes(args, op.scopes);
  pushCandidates(args, op.scopes, op.meters, op.windows, op.limits, null);
  return { args, candidates: new Candidates(op.scopes, op.meters, op.windows) };
}

export function encodeSeed(op: SeedOp, keys: ShardKeys): ScriptArgs {
  const names = op.scopes.map(scopeName);
  const args = scriptArgs(
    SEED,
    { shardStem: keys.base, seededScopes: keys.seededScopes, overrides: keys.overrides },
    {},
  );
  // scopesAt: the scopes, then the counters, then the overrides.
  args.push(String(names.length), ...names);
  const counters: string[] = [];
  for (const c of op.counters) {
    // Counters of a scope this op does not seed are left alone, as for a scope seeded already.
    const at = names.indexOf(scopeName(c));
    if (at === -1) continue;
    counters.push(
      String(at + 1),
      overrideField(c, c.meter, c.window.period),
      c.window.key,
      whole(c.used, 'seeded counter'),
      c.window.expiresAt === null ? '' : String(c.window.expiresAt),
    );
  }
  args.push(String(counters.length / 5), ...counters);
  for (const o of op.overrides) {
    if (o.limit !== null) args.push(overrideField(o, o.meter, o.period), whole(o.limit, 'override limit'));
  }
  return args;
}

/** A claim of one shard: its stale batches again, and a new batch `newBatchId` of its unflushed work. */
export function encodeClaim(
  keys: ShardKeys,
  queue: string,
  now: number,
  staleAfterMs: number,
  newBatchId: string,
): ScriptArgs {
  return scriptArgs(
    CLAIM,
    {
      claims: keys.claims,
      unflushed: keys.unflushed,
      events: keys.events,
      flushQueue: queue,
      batchStem: keys.batchStem,
    },
    {
      now: String(now),
      staleAfter: String(staleAfterMs),
      newBatchId,
      dirtyMember: keys.dirtyMember,
      batchMemberSuffix: keys.batchMemberSuffix,
    },
  );
}

/** An acknowledgement of batches of one shard. */
export function encodeAck(keys: ShardKeys, queue: string, batchIds: Iterable<string>): ScriptArgs {
  const args = scriptArgs(
    ACK,
    { claims: keys.claims, flushQueue: queue, batchStem: keys.batchStem },
    { batchMemberSuffix: keys.batchMemberSuffix },
  );
  // batchIdsAt: every id.
  for (const id of batchIds) args.push(id);
  return args;
}

/**
 * One many.lua call from many calls of one script (each: its `keysPerCall` keys, then its arguments): the first
 * call's first key as the one declared key, then every call packed into one value (see packed-calls.ts), its keys
 * with the client's `keyPrefix`: ioredis adds it to the declared key, not to what travels in an argument.
 */
export function manyArgs(
  calls: ReadonlyArray<ScriptArgs>,
  keysPerCall: number,
  keyPrefix: string,
): [string, Buffer] {
  return [calls[0]![0]!, packCalls(calls, keysPerCall, keyPrefix)];
}

// Turns ApplyOp/ReadOp/SeedOp into script KEYS/ARGV (flat strings, no JSON on the hot path) and replies back.
import {
  COUNTER_CEILING,
  InvalidUsageError,
  counterDigits,
  type ApplyOp,
  type ApplyResult,
  type CounterState,
  type LimitSpec,
  type MeterAmount,
  type PeriodWindow,
  type ReadOp,
  type ReadResult,
  type ScopeRef,
  type SeedOp,
  type ThresholdCrossing,
  type UsageDelta,
  type UsageEventRecord,
} from '@tollgate/core';
import { overrideField, type ShardKeys } from './keys';

/**
 * One counter an operation may touch: it is touched iff it has an effective limit (override or plan). Its key
 * is `<shard stem>:c:<scope>:<id>:<meter>:<period>:<period key>`, built inside the script.
 */
export interface Candidate {
  scope: ScopeRef;
  meter: string;
  window: PeriodWindow;
}

/**
 * Every scope x meter x window, in the order MemoryStore reports counters: the script's candidate i is `at(i - 1)`.
 * Index arithmetic rather than a list, so an operation allocates nothing for counters the reply does not name.
 */
export class Candidates {
  constructor(
    readonly scopes: readonly ScopeRef[],
    readonly meters: readonly string[],
    readonly windows: readonly PeriodWindow[],
  ) {}
  get length(): number {
    return this.scopes.length * this.meters.length * this.windows.length;
  }
  at(i: number): Candidate {
    const w = this.windows.length;
    const m = this.meters.length;
    const window = this.windows[i % w];
    const meter = this.meters[Math.floor(i / w) % m];
    const scope = this.scopes[Math.floor(i / (w * m))];
    if (!window || meter === undefined || !scope) throw new Error(`script named unknown candidate ${i + 1}`);
    return { scope, meter, window };
  }
}

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

/**
 * The compact candidate list the scripts read (`read_candidates`): windows once, then one group per scope x
 * meter (in `candidates` order) with its amounts and the plan limit for each window.
 */
function pushCandidates(
  argv: string[],
  scopes: ScopeRef[],
  meters: string[],
  windows: PeriodWindow[],
  limits: LimitSpec[],
  amounts: MeterTotals | null,
): void {
  argv.push(String(windows.length));
  for (const w of windows) argv.push(w.period, w.key, w.expiresAt === null ? '' : String(w.expiresAt));
  argv.push(String(windows.length === 0 ? 0 : scopes.length * meters.length));
  if (windows.length === 0) return;
  for (const scope of scopes) {
    for (let m = 0; m < meters.length; m++) {
      const meter = meters[m]!;
      argv.push(`${scope.scope}:${scope.id}:${meter}`);
      if (amounts) argv.push(int(amounts.total[m]!, 'amount'), int(amounts.reserved[m]!, 'reserved amount'));
      for (const w of windows) argv.push(planLimit(limits, scope, meter, w));
    }
  }
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

export function encodeApply(op: ApplyOp, keys: ShardKeys, queue: string, dedupWindowMs: number): EncodedOp {
  const reserves = op.reserves ?? [];
  const totals = meterTotals(op.amounts, op.reserve?.amounts, reserves);
  const meters = totals.meters;
  const { bucket, expireAt } = opIdBucket(op.now, dedupWindowMs);
  const argv: string[] = [
    keys.base,
    queue,
    op.opId,
    int(op.now, 'now'),
    op.mode === 'enforce' ? 'e' : 'r',
    op.seed === 'required' ? 'r' : 'a',
    String(bucket),
    String(expireAt),
    op.settle?.id ?? '',
    op.reserve?.id ?? '',
    op.reserve ? int(op.reserve.expiresAt, 'reservation expiry') : '',
    keys.dirtyMember,
    String(op.now - DIRTY_SCORE_OFFSET),
    String(op.warnAt.length),
  ];
  for (const w of op.warnAt) argv.push(String(w));
  pushScopes(argv, op.scopes);
  pushCandidates(argv, op.scopes, meters, op.windows, op.limits, totals);
  pushUsage(argv, op.usage);
  pushEvents(argv, op.events ?? []);
  pushUsage(argv, op.mode === 'enforce' ? (op.onReject?.usage ?? []) : []);
  pushEvents(argv, op.mode === 'enforce' ? (op.onReject?.events ?? []) : []);
  // No reservation is ever held under an empty id (the script refuses one): nothing to undo for it.
  const settleIds = (op.settleIds ?? []).filter((id) => id !== '');
  argv.push(String(settleIds.length));
  for (const id of settleIds) argv.push(id);
  // Further reservations: id, expiry, then the amount it holds per counter group (scope x meter, as above).
  const groups = op.windows.length === 0 ? 0 : op.scopes.length;
  argv.push(String(reserves.length));
  for (const r of reserves) {
    argv.push(r.id, int(r.expiresAt, 'reservation expiry'));
    const held = meters.map((m) => r.amounts.reduce((sum, a) => (a.meter === m ? sum + a.amount : sum), 0));
    for (let g = 0; g < groups; g++) for (const h of held) argv.push(int(h, 'reserved amount'));
  }
  return { args: argv, candidates: new Candidates(op.scopes, meters, op.windows) };
}

function state(c: Candidate, limit: number, used: number): CounterState {
  return {
    scope: c.scope.scope,
    id: c.scope.id,
    meter: c.meter,
    period: c.window.period,
    periodKey: c.window.key,
    limit,
    used,
    resetsAt: c.window.resetsAt,
  };
}

type Reply = ReadonlyArray<unknown>;

/** Counters named by a reply ({candidate, limit, used, ...}), in reply order, and by candidate number. */
function decodeCounters(flat: Reply, cands: Candidates): { list: CounterState[]; byIdx: CounterState[] } {
  const list: CounterState[] = [];
  const byIdx: CounterState[] = [];
  for (let i = 0; i < flat.length; i += 3) {
    const idx = Number(flat[i]);
    const c = state(cands.at(idx - 1), Number(flat[i + 1]), Number(flat[i + 2]));
    list.push(c);
    byIdx[idx] = c;
  }
  return { list, byIdx };
}

function unexpected(reply: unknown): Error {
  return new Error(`unexpected script reply ${JSON.stringify(reply)}`);
}

export function decodeApply(reply: unknown, cands: Candidates): ApplyResult {
  if (!Array.isArray(reply)) throw unexpected(reply);
  switch (reply[0]) {
    case 'S':
      return { status: 'needs-seed' };
    case 'D':
      return { status: 'duplicate', outcome: reply[1] === 'r' ? 'rejected' : 'applied' };
    case 'R': {
      const counters = decodeCounters(reply[1] as Reply, cands);
      const held = (reply[4] as Reply | undefined) ?? [];
      const violations = (reply[2] as Reply).map((i, j) => {
        const c = counters.byIdx[Number(i)]!;
        const h = Number(held[j] ?? 0);
        return h > 0 ? { ...c, held: h } : c;
      });
      const firstRejections = (reply[3] as Reply).map((i) => counters.byIdx[Number(i)]!);
      return { status: 'rejected', violations, counters: counters.list, firstRejections };
    }
    case 'A': {
      const counters = decodeCounters(reply[1] as Reply, cands);
      const flat = reply[2] as Reply;
      const crossed: ThresholdCrossing[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        const counter = counters.byIdx[Number(flat[i])]!;
        crossed.push({ ...counter, threshold: Number(flat[i + 1]), used: Number(flat[i + 2]) });
      }
      return { status: 'applied', counters: counters.list, crossed };
    }
    default:
      throw unexpected(reply);
  }
}

export function encodeRead(op: ReadOp, keys: ShardKeys): EncodedOp {
  const args = [keys.base, int(op.now, 'now'), op.seed === 'required' ? 'r' : 'a'];
  pushScopes(args, op.scopes);
  pushCandidates(args, op.scopes, op.meters, op.windows, op.limits, null);
  return { args, candidates: new Candidates(op.scopes, op.meters, op.windows) };
}

export function decodeRead(reply: unknown, cands: Candidates): ReadResult {
  if (!Array.isArray(reply)) throw unexpected(reply);
  if (reply[0] === 'S') return { status: 'needs-seed' };
  if (reply[0] !== 'O') throw unexpected(reply);
  return { status: 'ok', counters: decodeCounters(reply[1] as Reply, cands).list };
}

export function encodeSeed(op: SeedOp, keys: ShardKeys): ScriptArgs {
  const names = op.scopes.map(scopeName);
  const args = [keys.base, keys.seededScopes, keys.overrides, String(names.length), ...names];
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

// Turns ApplyOp/ReadOp/SeedOp into script KEYS/ARGV (flat strings, no JSON on the hot path) and replies back.
import {
  InvalidUsageError,
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

/** Arguments of one script call: its declared KEYS, then ARGV. */
export type ScriptArgs = string[];

/** Dirty members score below any claim time, so they always sort first and are always due. */
const DIRTY_SCORE_OFFSET = 10_000_000_000_000;

function int(n: number, what: string): string {
  if (!Number.isSafeInteger(n)) throw new InvalidUsageError(`${what} must be a safe integer, got ${n}`);
  return String(n);
}

function sumByMeter(...lists: Array<MeterAmount[] | undefined>): Map<string, number> {
  const out = new Map<string, number>();
  for (const list of lists) for (const a of list ?? []) out.set(a.meter, (out.get(a.meter) ?? 0) + a.amount);
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
      return int(l.limit, 'limit');
    }
  }
  return '';
}

/**
 * Every scope x meter x window, in the order MemoryStore reports counters: the script's candidate i is
 * `candidates[i - 1]`.
 */
export function candidates(scopes: ScopeRef[], meters: string[], windows: PeriodWindow[]): Candidate[] {
  const out: Candidate[] = [];
  for (const scope of scopes) {
    for (const meter of meters) {
      for (const window of windows) out.push({ scope, meter, window });
    }
  }
  return out;
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
  amounts: { total: Map<string, number>; reserved: Map<string, number> } | null,
): void {
  argv.push(String(windows.length));
  for (const w of windows) argv.push(w.period, w.key, w.expiresAt === null ? '' : String(w.expiresAt));
  argv.push(String(windows.length === 0 ? 0 : scopes.length * meters.length));
  if (windows.length === 0) return;
  for (const scope of scopes) {
    for (const meter of meters) {
      argv.push(`${scope.scope}:${scope.id}:${meter}`);
      if (amounts) {
        argv.push(
          int(amounts.total.get(meter) ?? 0, 'amount'),
          int(amounts.reserved.get(meter) ?? 0, 'reserved amount'),
        );
      }
      for (const w of windows) argv.push(planLimit(limits, scope, meter, w));
    }
  }
}

/** The hash field a usage delta accumulates under: every dimension it is aggregated by, as JSON. */
export function usageField(d: UsageDelta): string {
  return JSON.stringify([d.tenantId, d.userId, d.meter, d.model, d.bucketStart, d.estimated ? 1 : 0]);
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
  candidates: Candidate[];
}

export function encodeApply(op: ApplyOp, keys: ShardKeys, queue: string, dedupWindowMs: number): EncodedOp {
  const total = sumByMeter(op.amounts, op.reserve?.amounts);
  const reserved = sumByMeter(op.reserve?.amounts);
  const meters = [...total.keys()];
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
  pushCandidates(argv, op.scopes, meters, op.windows, op.limits, { total, reserved });
  pushUsage(argv, op.usage);
  pushEvents(argv, op.events ?? []);
  pushUsage(argv, op.mode === 'enforce' ? (op.onReject?.usage ?? []) : []);
  pushEvents(argv, op.mode === 'enforce' ? (op.onReject?.events ?? []) : []);
  return { args: argv, candidates: candidates(op.scopes, meters, op.windows) };
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

function decodeCounters(flat: Reply, cands: Candidate[]): Map<number, CounterState> {
  const out = new Map<number, CounterState>();
  for (let i = 0; i < flat.length; i += 3) {
    const idx = Number(flat[i]);
    out.set(idx, state(cands[idx - 1]!, Number(flat[i + 1]), Number(flat[i + 2])));
  }
  return out;
}

function unexpected(reply: unknown): Error {
  return new Error(`unexpected script reply ${JSON.stringify(reply)}`);
}

export function decodeApply(reply: unknown, cands: Candidate[]): ApplyResult {
  if (!Array.isArray(reply)) throw unexpected(reply);
  switch (reply[0]) {
    case 'S':
      return { status: 'needs-seed' };
    case 'D':
      return { status: 'duplicate', outcome: reply[1] === 'r' ? 'rejected' : 'applied' };
    case 'R': {
      const counters = decodeCounters(reply[1] as Reply, cands);
      const violations = (reply[2] as Reply).map((i) => counters.get(Number(i))!);
      const firstRejections = (reply[3] as Reply).map((i) => counters.get(Number(i))!);
      return { status: 'rejected', violations, counters: [...counters.values()], firstRejections };
    }
    case 'A': {
      const counters = decodeCounters(reply[1] as Reply, cands);
      const flat = reply[2] as Reply;
      const crossed: ThresholdCrossing[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        crossed.push({ ...counters.get(Number(flat[i]))!, threshold: Number(flat[i + 1]) });
      }
      return { status: 'applied', counters: [...counters.values()], crossed };
    }
    default:
      throw unexpected(reply);
  }
}

export function encodeRead(op: ReadOp, keys: ShardKeys): EncodedOp {
  const args = [keys.base, int(op.now, 'now'), op.seed === 'required' ? 'r' : 'a'];
  pushCandidates(args, op.scopes, op.meters, op.windows, op.limits, null);
  return { args, candidates: candidates(op.scopes, op.meters, op.windows) };
}

export function decodeRead(reply: unknown, cands: Candidate[]): ReadResult {
  if (!Array.isArray(reply)) throw unexpected(reply);
  if (reply[0] === 'S') return { status: 'needs-seed' };
  if (reply[0] !== 'O') throw unexpected(reply);
  return { status: 'ok', counters: [...decodeCounters(reply[1] as Reply, cands).values()] };
}

export function encodeSeed(op: SeedOp, keys: ShardKeys): ScriptArgs {
  const args = [keys.base, keys.seeded, keys.overrides, String(op.counters.length)];
  for (const c of op.counters) {
    args.push(
      overrideField(c, c.meter, c.window.period),
      c.window.key,
      int(c.used, 'seeded counter'),
      c.window.expiresAt === null ? '' : String(c.window.expiresAt),
    );
  }
  for (const o of op.overrides) {
    if (o.limit !== null) args.push(overrideField(o, o.meter, o.period), int(o.limit, 'override limit'));
  }
  return args;
}

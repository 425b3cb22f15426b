// Turns the apply and read scripts' replies back into ApplyResult / ReadResult (claim's: batches.ts).
import type { ApplyResult, CounterState, ReadResult, ThresholdCrossing } from '@tollgate/core';
import { state, type Candidates } from './candidates';
import { APPLY_REPLY, READ_REPLY } from './script-layout';

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
      return { status: 'duplicate', outcome: reply[APPLY_REPLY.D.seen] === 'r' ? 'rejected' : 'applied' };
    case 'R': {
      const at = APPLY_REPLY.R;
      const counters = decodeCounters(reply[at.counters] as Reply, cands);
      const held = (reply[at.held] as Reply | undefined) ?? [];
      const violated: CounterState[] = [];
      const violations = (reply[at.violated] as Reply).map((i, j) => {
        const c = counters.byIdx[Number(i)]!;
        const h = Number(held[j] ?? 0);
        return (violated[Number(i)] = h > 0 ? { ...c, held: h } : c);
      });
      // The same states as the violations (with what reservations hold), as MemoryStore reports them.
      const firstRejections = (reply[at.first] as Reply).map(
        (i) => violated[Number(i)] ?? counters.byIdx[Number(i)]!,
      );
      return { status: 'rejected', violations, counters: counters.list, firstRejections };
    }
    case 'A': {
      const at = APPLY_REPLY.A;
      const counters = decodeCounters(reply[at.counters] as Reply, cands);
      const flat = reply[at.crossed] as Reply;
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

export function decodeRead(reply: unknown, cands: Candidates): ReadResult {
  if (!Array.isArray(reply)) throw unexpected(reply);
  if (reply[0] === 'S') return { status: 'needs-seed' };
  if (reply[0] !== 'O') throw unexpected(reply);
  return { status: 'ok', counters: decodeCounters(reply[READ_REPLY.O.counters] as Reply, cands).list };
}

// Test oracle: a CounterStore wrapper that adds up every ledger delta the store accepted, independently of the flush path.
import type {
  ApplyOp,
  ApplyResult,
  ClaimOptions,
  ClaimedBatch,
  CounterStore,
  OverrideEntry,
  ReadOp,
  ReadResult,
  SeedOp,
  UsageDelta,
} from '@tollgate/core';

export function subjectKey(tenantId: string | null, userId: string | null, meter: string): string {
  return `${tenantId ?? '-'}|${userId ?? '-'}|${meter}`;
}

/** Expected ledger sums: amount and cost (pico-dollars) per tenant|user|meter. */
export class Tally {
  readonly amounts = new Map<string, bigint>();
  readonly costs = new Map<string, bigint>();
  events = 0;

  add(deltas: readonly UsageDelta[]): void {
    for (const d of deltas) {
      const k = subjectKey(d.tenantId, d.userId, d.meter);
      this.amounts.set(k, (this.amounts.get(k) ?? 0n) + BigInt(d.amount));
      this.costs.set(k, (this.costs.get(k) ?? 0n) + BigInt(d.costPico));
    }
  }

  /** Amounts as decimal strings, zero entries dropped (the ledger has no row for them). */
  amountTable(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of [...this.amounts].sort(([a], [b]) => (a < b ? -1 : 1)))
      if (v !== 0n) out[k] = v.toString();
    return out;
  }

  costTable(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of [...this.costs].sort(([a], [b]) => (a < b ? -1 : 1)))
      if (v !== 0n) out[k] = v.toString();
    return out;
  }
}

export class TallyingStore implements CounterStore {
  readonly tally = new Tally();
  /** Op ids already counted: a retry answered `duplicate` after a lost reply is counted once. */
  private readonly counted = new Set<string>();
  constructor(readonly inner: CounterStore) {}

  async apply(op: ApplyOp): Promise<ApplyResult> {
    const res = await this.inner.apply(op);
    const outcome = res.status === 'duplicate' ? res.outcome : res.status;
    if ((outcome === 'applied' || outcome === 'rejected') && !this.counted.has(op.opId)) {
      this.counted.add(op.opId);
      if (outcome === 'applied') {
        this.tally.add(op.usage);
        this.tally.events += op.events?.length ?? 0;
      } else if (op.onReject) {
        this.tally.add(op.onReject.usage);
        this.tally.events += op.onReject.events.length;
      }
    }
    return res;
  }
  read(op: ReadOp): Promise<ReadResult> {
    return this.inner.read(op);
  }
  seed(op: SeedOp): Promise<boolean> {
    return this.inner.seed(op);
  }
  setOverride(tag: string, entry: OverrideEntry): Promise<void> {
    return this.inner.setOverride(tag, entry);
  }
  claim(opts: ClaimOptions): Promise<ClaimedBatch[]> {
    return this.inner.claim(opts);
  }
  ack(batches: ReadonlyArray<Pick<ClaimedBatch, 'batchId' | 'tag'>>): Promise<void> {
    return this.inner.ack(batches);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

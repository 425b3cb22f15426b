// A CounterStore wrapper a test can switch: answering, refusing, hanging, answering late, or applying late.
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
} from '@tollgate/core';

/**
 * `up`: pass through. `down`: reject at once, like a refused connection. `hang`: never answer.
 * `late-answer`: apply now, answer after `delayMs` (the answer is lost to a timeout, the op is not).
 * `late-apply`: wait `delayMs`, then apply and answer (the request is still in admission meanwhile).
 */
export type OutageMode = 'up' | 'down' | 'hang' | 'late-answer' | 'late-apply';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OutageStore implements CounterStore {
  mode: OutageMode = 'up';
  delayMs = 300;
  /** Store calls made while `down` or `hang` (proves the engine asked). */
  refused = 0;

  constructor(readonly inner: CounterStore) {}

  private gate<T>(call: () => Promise<T>): Promise<T> {
    switch (this.mode) {
      case 'up':
        return call();
      case 'down':
        this.refused += 1;
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1 (simulated outage)'));
      case 'hang':
        this.refused += 1;
        return new Promise<T>(() => undefined);
      case 'late-answer': {
        const delay = this.delayMs;
        return call().then(async (v) => {
          await sleep(delay);
          return v;
        });
      }
      case 'late-apply': {
        const delay = this.delayMs;
        return sleep(delay).then(call);
      }
    }
  }

  apply(op: ApplyOp): Promise<ApplyResult> {
    return this.gate(() => this.inner.apply(op));
  }
  read(op: ReadOp): Promise<ReadResult> {
    return this.gate(() => this.inner.read(op));
  }
  seed(op: SeedOp): Promise<boolean> {
    return this.gate(() => this.inner.seed(op));
  }
  setOverride(tag: string, entry: OverrideEntry): Promise<void> {
    return this.gate(() => this.inner.setOverride(tag, entry));
  }
  claim(opts: ClaimOptions): Promise<ClaimedBatch[]> {
    return this.inner.claim(opts);
  }
  ack(batches: ReadonlyArray<Pick<ClaimedBatch, 'batchId' | 'tag'>>): Promise<void> {
    return this.inner.ack(batches);
  }
  ping(): Promise<void> {
    return this.gate(() => this.inner.ping());
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

// Knows when every store call and every pending token record has finished (graceful shutdown, tests).
import type { CounterStore } from '@tollgate/core';

export class StoreTracker {
  readonly store: CounterStore;
  private pending = 0;
  private waiters: Array<() => void> = [];

  constructor(inner: CounterStore) {
    const wrapped: CounterStore = Object.create(inner) as CounterStore;
    wrapped.apply = (op) => this.track(inner.apply(op));
    const applyMany = inner.applyMany;
    if (applyMany !== undefined) wrapped.applyMany = (ops) => this.track(applyMany.call(inner, ops));
    this.store = wrapped;
  }

  /** Counts `work` as pending until it settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending++;
    const done = () => {
      this.pending--;
      if (this.pending === 0) this.waiters.splice(0).forEach((fn) => fn());
    };
    work.then(done, done);
    return work;
  }

  /** Resolves when nothing is pending (checked after a macrotask, so settlements just being issued count), or after `timeoutMs`. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (this.pending === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        t.unref();
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

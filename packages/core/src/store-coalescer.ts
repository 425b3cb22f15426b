// Applies of one event-loop turn share one store call: given a store with `applyMany`, every `apply` issued while the
// current macrotask runs (an admission flush, a commit flush: many subjects' ops) goes out in one call, in order.
import type { ApplyManyResult, ApplyOp, ApplyResult, CounterStore } from './store';

/**
 * At most this many ops per call. Redis runs one script at a time: a call of 32 ops holds it for about a
 * millisecond on a small machine, so nothing else (another process' admissions) waits longer than that behind it.
 */
export const MAX_OPS_PER_CALL = 32;

interface Waiting {
  op: ApplyOp;
  resolve: (result: ApplyResult) => void;
  reject: (err: unknown) => void;
}

/**
 * The store itself when it has no `applyMany`; else a store whose `apply` queues the op and, once the code that
 * issued it has run (`process.nextTick`: no timer, no added event-loop turn), sends the queue with `applyMany`.
 * The other methods are the store's own. Each op's promise settles with its own result, or with the call's error.
 */
export function coalesceApplies(store: CounterStore): CounterStore {
  const applyMany = store.applyMany;
  if (typeof applyMany !== 'function') return store;
  let queue: Waiting[] = [];

  const settle = (part: readonly Waiting[], results: readonly ApplyManyResult[]): void => {
    // A store's own applyMany may answer anything: a wrong answer fails every op rather than leaving them unsettled.
    if (!Array.isArray(results) || results.length !== part.length) {
      const what = Array.isArray(results) ? `${results.length} results` : typeof results;
      const err = new Error(`applyMany answered ${what} for ${part.length} ops`);
      for (const w of part) w.reject(err);
      return;
    }
    for (let i = 0; i < part.length; i++) {
      const r = results[i]!;
      if (r instanceof Error) part[i]!.reject(r);
      else part[i]!.resolve(r);
    }
  };

  const sendPart = (part: Waiting[]): void => {
    let call: Promise<ApplyManyResult[]>;
    try {
      call =
        part.length === 1
          ? store.apply(part[0]!.op).then((r) => [r])
          : applyMany.call(
              store,
              part.map((w) => w.op),
            );
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (results) => settle(part, results),
      (err: unknown) => {
        for (const w of part) w.reject(err);
      },
    );
  };

  const send = (): void => {
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += MAX_OPS_PER_CALL) sendPart(all.slice(i, i + MAX_OPS_PER_CALL));
  };

  return {
    apply: (op) =>
      new Promise<ApplyResult>((resolve, reject) => {
        if (queue.push({ op, resolve, reject }) === 1) process.nextTick(send);
      }),
    applyMany: (ops) => applyMany.call(store, ops),
    read: (op) => store.read(op),
    seed: (op) => store.seed(op),
    setOverride: (tag, entry) => store.setOverride(tag, entry),
    claim: (opts) => store.claim(opts),
    ack: (batches) => store.ack(batches),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

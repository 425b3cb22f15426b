// The ops of one event-loop turn go to the store in one applyMany call, each answered with its own result.
import {
  MemoryStore,
  QuotaEngine,
  parseConfig,
  type ApplyManyResult,
  type ApplyOp,
  type CounterStore,
} from '../../src';
import { coalesceApplies, MAX_OPS_PER_CALL } from '../../src/internal';

// No thresholds: crossing one keeps an event with an op of its own, which would be a call more.
const config = parseConfig({
  subject: 'tenant',
  warnAt: [],
  plans: { free: { limits: { requests: { day: 5 } } } },
});

/** A MemoryStore that records the size of every apply / applyMany call, and can be told how to misbehave. */
class CountingStore extends MemoryStore {
  calls: number[] = [];
  misbehave: ((ops: readonly ApplyOp[]) => Promise<ApplyManyResult[]>) | null = null;
  override async apply(op: ApplyOp) {
    this.calls.push(1);
    return super.apply(op);
  }
  override applyMany(ops: readonly ApplyOp[]): Promise<ApplyManyResult[]> {
    this.calls.push(ops.length);
    return this.misbehave ? this.misbehave(ops) : super.applyMany(ops);
  }
}

const who = (i: number) => ({ tenantId: `t${i}` });

describe('coalesceApplies', () => {
  let store: CountingStore;
  let engine: QuotaEngine;
  beforeEach(() => {
    store = new CountingStore();
    engine = new QuotaEngine({ store, config });
  });
  afterEach(() => store.close());

  it('sends the ops issued in one turn in one call, in issue order, each with its own answer', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => engine.consume(who(i % 2), { requests: 1 })),
    );
    // Then each tenant's first refusal keeps a quota_exceeded event with an op of its own.
    expect(store.calls[0]).toBe(12);
    expect(results.map((r) => r.admitted)).toEqual([...Array(10).fill(true), false, false]);
  });

  it('sends ops of different turns in different calls, and a lone op with apply', async () => {
    await engine.consume(who(1), { requests: 1 });
    await Promise.all([engine.consume(who(1), { requests: 1 }), engine.consume(who(2), { requests: 1 })]);
    expect(store.calls).toEqual([1, 2]);
  });

  it(`splits a turn's ops into calls of at most ${MAX_OPS_PER_CALL}`, async () => {
    const n = MAX_OPS_PER_CALL * 2 + 3;
    await Promise.all(Array.from({ length: n }, (_, i) => engine.consume(who(i), { requests: 1 })));
    expect(store.calls).toEqual([MAX_OPS_PER_CALL, MAX_OPS_PER_CALL, 3]);
  });

  it("rejects only the op whose place holds an error, and every op of a failed call with the call's error", async () => {
    store.misbehave = async (ops) => [
      new Error('bad op'),
      ...(await MemoryStore.prototype.applyMany.call(store, ops.slice(1))),
    ];
    const [a, b] = await Promise.allSettled([
      engine.consume(who(1), { requests: 1 }),
      engine.consume(who(2), { requests: 1 }),
    ]);
    expect(a).toMatchObject({ status: 'rejected', reason: new Error('bad op') });
    expect(b).toMatchObject({ status: 'fulfilled', value: { admitted: true } });

    store.misbehave = () => Promise.reject(new Error('connection lost'));
    const failed = await Promise.allSettled([
      engine.consume(who(3), { requests: 1 }),
      engine.consume(who(4), { requests: 1 }),
    ]);
    expect(failed.map((f) => f.status === 'rejected' && (f.reason as Error).message)).toEqual([
      'connection lost',
      'connection lost',
    ]);
  });

  it('rejects every op, and throws nothing out of the turn, when applyMany throws or miscounts its answers', async () => {
    store.misbehave = () => {
      throw new Error('thrown, not rejected');
    };
    const thrown = await Promise.allSettled([
      engine.consume(who(1), { requests: 1 }),
      engine.consume(who(2), { requests: 1 }),
    ]);
    expect(thrown.map((t) => t.status)).toEqual(['rejected', 'rejected']);
    store.misbehave = async () => [];
    const short = await Promise.allSettled([
      engine.consume(who(1), { requests: 1 }),
      engine.consume(who(2), { requests: 1 }),
    ]);
    expect(short.map((t) => t.status === 'rejected' && (t.reason as Error).message)).toEqual([
      'applyMany answered 0 results for 2 ops',
      'applyMany answered 0 results for 2 ops',
    ]);
  });

  it('is the store itself when the store has no applyMany', () => {
    const plain: CounterStore = {
      ...new MemoryStore(),
      apply: MemoryStore.prototype.apply,
    } as unknown as CounterStore;
    delete (plain as { applyMany?: unknown }).applyMany;
    expect(coalesceApplies(plain)).toBe(plain);
  });
});

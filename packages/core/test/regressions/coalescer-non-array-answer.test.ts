// A store's own applyMany that resolved with something other than an array threw inside the coalescer's `.then`:
// every op of that call stayed unsettled for ever (a request waiting on its admission never answered). Each op is
// now rejected with an error that names the answer.
import { MemoryStore, QuotaEngine, parseConfig, type ApplyManyResult, type ApplyOp } from '../../src';

const config = parseConfig({
  subject: 'tenant',
  warnAt: [],
  plans: { free: { limits: { requests: { day: 5 } } } },
});

class NonArrayStore extends MemoryStore {
  override applyMany(_ops: readonly ApplyOp[]): Promise<ApplyManyResult[]> {
    return Promise.resolve(undefined as unknown as ApplyManyResult[]);
  }
}

it('rejects every op of a call whose applyMany answered a non-array, instead of leaving them pending', async () => {
  const engine = new QuotaEngine({ store: new NonArrayStore(), config });
  const pending = Symbol('pending');
  const settled = Promise.allSettled([
    engine.consume({ tenantId: 'a' }, { requests: 1 }),
    engine.consume({ tenantId: 'b' }, { requests: 1 }),
  ]);
  const outcome = await Promise.race([settled, new Promise((r) => setTimeout(() => r(pending), 1000))]);
  expect(outcome).not.toBe(pending);
  const results = outcome as PromiseSettledResult<unknown>[];
  expect(results.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual([
    'applyMany answered undefined for 2 ops',
    'applyMany answered undefined for 2 ops',
  ]);
});

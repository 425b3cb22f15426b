// Regression: MemoryStore applied an op's counters and only then read its usage deltas' pico-dollar costs (as
// BigInt), so an op with a malformed cost threw halfway: its requests were counted, its usage was not, and a retry
// counted them again. RedisStore refuses such an op before sending anything; MemoryStore now checks first too.
import { MemoryStore, QuotaEngine, parseConfig, type ApplyOp } from '../../src';

const config = parseConfig({ subject: 'tenant', plans: { free: { limits: { requests: { day: 100 } } } } });

it('changes nothing for an op whose usage cost is not an integer string', async () => {
  const store = new MemoryStore();
  const engine = new QuotaEngine({ store, config });
  const subject = engine.resolve({ tenantId: 'acme' });
  const now = Date.now();
  const op = (costPico: string, amount = 3): ApplyOp => ({
    opId: `op-${costPico}-${amount}`,
    tag: subject.tag,
    now,
    mode: 'record',
    scopes: subject.scopes,
    windows: engine.windowsAt(now),
    limits: subject.limits,
    amounts: [{ meter: 'requests', amount: 3 }],
    usage: [
      { tenantId: 'acme', userId: null, meter: 'requests', model: null, bucketStart: now, amount, costPico },
    ],
    warnAt: [],
    seed: 'auto',
  });
  await expect(store.apply(op('1.5'))).rejects.toThrow('costPico must be an integer string');
  await expect(store.apply(op('0', 0.5))).rejects.toThrow('usage amount must be a safe integer');
  expect((await engine.status({ tenantId: 'acme' })).quotas.requests?.day?.used ?? 0).toBe(0);
  expect(await store.claim({ now, maxTags: 10, staleAfterMs: 60_000 })).toEqual([]);
  await store.close();
});

import { createTollgate } from '../../src';
import { MemoryStore, parseConfig } from '@tollgate/core';
import { OutageStore } from '../../src/testing';

it('records one store_degraded event per subject served degraded, once the store answers again', async () => {
  const memory = new MemoryStore();
  const store = new OutageStore(memory);
  const tollgate = createTollgate({
    store,
    config: parseConfig({ plans: { free: { limits: { requests: { day: 100 } } } } }),
    failMode: 'open',
    storeTimeoutMs: 50,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  store.mode = 'down';
  const a = await tollgate.consume({ tenantId: 'deg-a', userId: 'u1' }, { requests: 1 });
  await tollgate.consume({ tenantId: 'deg-a', userId: 'u1' }, { requests: 1 });
  const b = await tollgate.consume({ tenantId: 'deg-b' }, { requests: 1 });
  expect([a.degraded, b.degraded]).toEqual([true, true]);
  store.mode = 'up';
  const ok = await tollgate.consume({ tenantId: 'deg-c' }, { requests: 1 });
  expect(ok.degraded).toBe(false);
  await tollgate.close(); // waits for settlements in flight and replays the buffer
  const batches = await memory.claim({ now: Date.now(), maxTags: 100, staleAfterMs: 60_000 });
  const events = batches.flatMap((x) => x.events).filter((e) => e.type === 'store_degraded');
  const summary = events
    .map((e) => `${e.tenantId}:${e.userId}:${String(e.details.operationsBuffered)}`)
    .sort();
  expect(summary).toEqual(['deg-a:u1:2', 'deg-b:null:1']);
  expect(events[0]!.details).toMatchObject({ failMode: 'open' });
  // The buffered consumes were replayed: nothing lost.
  const requests = batches
    .flatMap((x) => x.usage)
    .filter((u) => u.meter === 'requests')
    .reduce((sum, u) => sum + u.amount, 0);
  expect(requests).toBe(4);
  await memory.close();
});

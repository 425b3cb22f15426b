// Events for the usage API and webhooks (thresholds and quota_exceeded, built alike) carry cost as USD decimal strings, like every API (raw pico-dollars there
// read as a limit of 5 x 10^10).
import { MemoryStore, QuotaEngine, parseConfig } from '../../src';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'metered',
  warnAt: [50],
  plans: { metered: { limits: { cost: { day: '0.05' }, tokens: { day: 1_000_000 } } } },
  pricing: { 'gpt-4o': { input: '2.50', output: '10.00' } },
});

describe('cost events', () => {
  it('name the limit and the used amount in USD, exactly', async () => {
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const who = { tenantId: 't-cost-events' };
    // 10,030 input tokens at $2.50/M = $0.025075: past 50 % of $0.05.
    await engine.record(who, [{ meter: 'input_tokens', amount: 10_030, model: 'gpt-4o' }]);
    const batches = await store.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 60_000 });
    const events = batches.flatMap((b) => b.events).map((e) => [e.type, e.meter, e.details]);
    expect(events).toEqual([
      ['threshold', 'cost', expect.objectContaining({ threshold: 50, limit: '0.050000', used: '0.025075' })],
    ]);
    await store.close();
  });
});

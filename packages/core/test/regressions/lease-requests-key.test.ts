// Found by a flaky dashboard test (2 of an API key's 3 requests in its usage): the `requests` of lease-admitted
// responses, written for the ledger alone (SplitRequests.ledgerOnly, delivered durability), were kept without the
// subject's API key, so a busy key's requests landed in the ledger as its user's without a key.
import { MemoryStore, QuotaEngine, parseConfig } from '../../src';

describe("the ledger's requests of lease-admitted responses", () => {
  it('carry the API key of the call, as its other usage does', async () => {
    const store = new MemoryStore();
    const engine = new QuotaEngine({
      store,
      config: parseConfig({ plans: { free: { limits: { requests: { day: 1000 } } } } }),
    });
    const subject = engine.resolve({ tenantId: 't1', userId: 'u1', plan: 'free', apiKeyId: 'key_a' });
    await engine.settle(subject, null, [{ meter: 'bytes_out', amount: 10 }], { split: { ledgerOnly: 3 } });
    const claimed = await store.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 30_000 });
    const usage = claimed.flatMap((b) => b.usage);
    expect(usage.map((d) => [d.meter, d.amount, d.keyId ?? null]).sort()).toEqual([
      ['bytes_out', 10, 'key_a'],
      ['requests', 3, 'key_a'],
    ]);
  });
});

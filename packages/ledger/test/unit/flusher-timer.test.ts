// The flusher's timer: never overlapping, backing off while the database fails, nothing dropped, close() flushes once more.
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { Flusher } from '../../src';
import { FakeDb } from '../support/fake-db';

const config = parseConfig({ defaultPlan: 'p', plans: { p: { limits: {} } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function requestsIn(rows: string[]): number {
  return rows.filter((l) => l.split(',')[2] === 'requests').reduce((a, l) => a + Number(l.split(',')[4]), 0);
}

describe('Flusher timer', () => {
  it('backs off while the database fails, never overlaps, and drops nothing', async () => {
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const db = new FakeDb();
    const delays: Array<number | null> = [];
    const flusher = new Flusher({
      store,
      sql: db,
      intervalMs: 50,
      initialBackoffMs: 20,
      maxBackoffMs: 80,
      onError: (_err, info) => delays.push(info.retryInMs),
    });
    db.down = true;
    await engine.record({ tenantId: 'a' }, [{ meter: 'requests', amount: 3 }]);
    flusher.start();
    while (delays.length < 5) await sleep(5);
    expect(db.rows).toEqual([]);
    expect(flusher.pending).toBe(1);
    db.down = false;
    await engine.record({ tenantId: 'a' }, [{ meter: 'requests', amount: 4 }]);
    while (requestsIn(db.rows) < 7) await sleep(5);
    await flusher.close();
    const first = delays.slice(0, 5) as number[];
    // 20, 40, 80, 80, 80 ms, each within +-25 % jitter.
    [20, 40, 80, 80, 80].forEach((base, i) => {
      expect(first[i]).toBeGreaterThanOrEqual(base * 0.75);
      expect(first[i]).toBeLessThanOrEqual(base * 1.25);
    });
    expect(db.maxInFlight).toBe(1);
    expect(requestsIn(db.rows)).toBe(7);
    expect(flusher.pending).toBe(0);
  });

  it('close() waits for the flush in progress, flushes once more, and stops the timer', async () => {
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const db = new FakeDb();
    let release: () => void = () => undefined;
    let inCommit = false;
    const flusher = new Flusher({
      store,
      sql: db,
      intervalMs: 50,
      hooks: {
        beforeCommit: async () => {
          if (inCommit) return;
          inCommit = true;
          await new Promise<void>((r) => (release = r));
        },
      },
    });
    await engine.record({ tenantId: 'a' }, [{ meter: 'requests', amount: 1 }]);
    flusher.start();
    while (!inCommit) await sleep(5);
    // Usage arriving during the slow flush goes to the final one.
    await engine.record({ tenantId: 'a' }, [{ meter: 'requests', amount: 2 }]);
    const closing = flusher.close();
    release();
    const report = await closing;
    expect(report.batches).toBe(1);
    expect(requestsIn(db.rows)).toBe(3);
    const transactions = db.transactions;
    await sleep(150);
    expect(db.transactions).toBe(transactions);
  });

  it('rejects an interval under 50 ms', () => {
    expect(() => new Flusher({ store: new MemoryStore(), sql: new FakeDb(), intervalMs: 49 })).toThrow(
      'intervalMs must be a number >= 50',
    );
  });
});

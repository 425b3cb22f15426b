// runFlusher(): the flusher as a process runs it: failures logged and retried, recovery logged, the lag, and a
// close that flushes once more and then releases the caller's clients, in order, even when that flush fails.
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { runFlusher, type FlusherLog } from '../../src/internal';
import { FakeDb } from '../support/fake-db';

const config = parseConfig({ defaultPlan: 'p', plans: { p: { limits: {} } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingLog(): FlusherLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (_obj, msg) => lines.push(`info ${msg}`),
    warn: (_obj, msg) => lines.push(`warn ${msg}`),
    debug: (_obj, msg) => lines.push(`debug ${msg}`),
  };
}

describe('runFlusher', () => {
  it('logs a failing flush, retries it, logs the recovery, and reports each flush and failure', async () => {
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const db = new FakeDb();
    const log = recordingLog();
    const phases: string[] = [];
    let flushes = 0;
    db.down = true;
    await engine.record({ tenantId: 'a' }, [{ meter: 'requests', amount: 2 }]);
    const running = runFlusher({
      store,
      sql: db,
      intervalMs: 50,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
      log,
      maintainAtStart: false,
      onFlush: () => flushes++,
      onError: (phase) => phases.push(phase),
    });
    expect(log.lines[0]).toBe('info flusher started');
    while (phases.length < 2) await sleep(5);
    expect(log.lines).toContain('warn flush failed; nothing is lost, retrying');
    expect(running.lagSeconds()).toBeGreaterThanOrEqual(0);
    db.down = false;
    while (flushes === 0) await sleep(5);
    expect(log.lines).toContain('info flush recovered');
    expect(log.lines).toContain('debug flushed');
    expect(running.flusher.pending).toBe(0);
    await running.close();
  });

  it('close() flushes once more, then runs release in order, also when that flush fails', async () => {
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const db = new FakeDb();
    const released: string[] = [];
    const running = runFlusher({
      store,
      sql: db,
      intervalMs: 60_000,
      log: recordingLog(),
      release: [
        () => released.push('server'),
        () => {
          throw new Error('a failing release');
        },
        async () => {
          released.push('sql');
        },
      ],
    });
    await engine.record({ tenantId: 'a' }, [{ meter: 'requests', amount: 1 }]);
    db.down = true;
    await expect(running.close()).rejects.toThrow('ECONNREFUSED');
    expect(released).toEqual(['server', 'sql']);
    // A second close is the same shutdown, not another one.
    await expect(running.close()).rejects.toThrow('ECONNREFUSED');
    expect(released).toEqual(['server', 'sql']);
  });
});

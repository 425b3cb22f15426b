// Regression (found in review): rebuilds' baseline statements went one at a time, so one statement that never
// answered (a black-holed connection, a pool without query_timeout) held up every later rebuild of the process.
// Now a statement out for more than 250 ms no longer holds back the next one, and a batch that fails is asked again
// rebuild by rebuild.
import { LedgerBaseline, type SqlClient } from '../../src';

function fakeSql(answer: (call: number) => Promise<unknown>): SqlClient & { calls: () => number } {
  let calls = 0;
  return {
    dialect: 'postgres',
    query: () => answer(++calls),
    calls: () => calls,
  } as unknown as SqlClient & { calls: () => number };
}

const nothing = { rows: [], rowCount: 0 };

it('answers a second rebuild while the first statement hangs', async () => {
  const sql = fakeSql((call) => (call === 1 ? new Promise(() => {}) : Promise.resolve(nothing)));
  const b = new LedgerBaseline(sql);
  void b.shardBaseline([{ scope: 'tenant', id: 'stuck' }], undefined, []);
  const second = b.shardBaseline([{ scope: 'tenant', id: 'other' }], undefined, []);
  const answer = await Promise.race([
    second,
    new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2000)),
  ]);
  expect({ answer, statementsSent: sql.calls() }).toEqual({
    answer: { overrides: [], used: [] },
    statementsSent: 2,
  });
});

it('fails only the rebuild whose values the database refuses, not the others of its statement', async () => {
  // 'a' goes alone and hangs; the others share the statement sent once it stalled, which fails on 'bad'; each is
  // then asked alone.
  const sql = fakeSql((call) => (call === 1 ? new Promise(() => {}) : Promise.resolve(nothing)));
  const refusing = {
    ...sql,
    query: (text: string, params: unknown[]) =>
      // The scopes asked go as one JSON parameter.
      (params[0] as string).includes('"n":"bad"')
        ? Promise.reject(new Error('invalid input'))
        : sql.query(text, params),
  } as unknown as SqlClient;
  const b = new LedgerBaseline(refusing);
  const ask = (id: string) => b.shardBaseline([{ scope: 'tenant', id }], undefined, []);
  const first = ['a', 'b', 'c', 'd'].map(ask);
  const later = await Promise.allSettled(['e', 'bad', 'f'].map(ask));
  expect(later.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  await Promise.race([Promise.allSettled(first.slice(1)), new Promise((r) => setTimeout(r, 1000))]);
});

it('refuses a query with an invalid window on its own', async () => {
  const sql = fakeSql(() => Promise.resolve(nothing));
  const b = new LedgerBaseline(sql);
  const bad = {
    scope: 'tenant' as const,
    id: 't',
    tenantId: 't',
    userId: null,
    allTenants: false,
    meter: 'requests',
    period: 'day' as const,
    periodStart: new Date(NaN),
    periodEnd: null,
  };
  await expect(b.shardBaseline([{ scope: 'tenant', id: 't' }], undefined, [bad])).rejects.toThrow(
    /invalid window/,
  );
  expect(sql.calls()).toBe(0);
});

// The ledger suite: one set of behaviours run unchanged on real Postgres and on PGlite.
/// <reference types="jest" />
import { randomUUID } from 'node:crypto';
import {
  MemoryStore,
  QuotaEngine,
  parseConfig,
  type ClaimedBatch,
  type TollgateConfigInput,
  type UsageDelta,
} from '@tollgate/core';
import {
  Flusher,
  LedgerBaseline,
  PartitionManager,
  exportCsv,
  listEvents,
  listOverrides,
  migrate,
  saveOverride,
  topConsumers,
  usageStats,
  usageTimeseries,
  writeBatches,
  type SqlClient,
} from '../../src';
import { ledgerTables } from '../../../../test-support/ledger/ledger-sums';
import { TallyingStore } from '../../../../test-support/ledger/tally';

export interface LedgerSuiteTarget {
  name: string;
  /** A fresh, empty database for the whole suite. */
  open: () => Promise<SqlClient>;
  /** Drops what `open` made. */
  close: (sql: SqlClient) => Promise<void>;
}

export const SUITE_CONFIG: TollgateConfigInput = {
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  warnAt: [100],
  meters: { storage_bytes: { kind: 'gauge' } },
  plans: {
    free: { limits: { requests: { day: 5, month: 100 }, tokens: { day: 100_000 } } },
    big: { limits: { requests: { day: 1_000_000 } } },
  },
  pricing: { 'demo-model': { input: '1.00', output: '2.00' } },
};

const HOUR = 3_600_000;
let seq = 0;
function uid(prefix: string): string {
  seq += 1;
  return `${prefix}${randomUUID().slice(0, 8)}${seq}`;
}

function delta(
  over: Partial<UsageDelta> & Pick<UsageDelta, 'tenantId' | 'meter' | 'amount' | 'bucketStart'>,
): UsageDelta {
  return { userId: null, model: null, costPico: '0', ...over };
}

function batchOf(tag: string, usage: UsageDelta[], batchId = randomUUID()): ClaimedBatch {
  return { batchId, tag, claimedAt: Date.now(), usage, events: [] };
}

/** A tenant's `requests` sum over the day from `since`. */
function tenantDay(t: string, since: Date) {
  return {
    scope: 'tenant',
    id: t,
    tenantId: t,
    userId: null,
    allTenants: false,
    meter: 'requests',
    period: 'day',
    periodStart: since,
    periodEnd: null,
  } as const;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

export function ledgerSuite(target: LedgerSuiteTarget): void {
  describe(`ledger on ${target.name}`, () => {
    let sql: SqlClient;
    const config = parseConfig(SUITE_CONFIG);

    beforeAll(async () => {
      sql = await target.open();
      await migrate(sql);
    });
    afterAll(async () => {
      await target.close(sql);
    });

    /** An engine over a tallying MemoryStore, and a flusher draining it. */
    function setup(opts: { now?: () => number; baseline?: boolean } = {}) {
      const store = new TallyingStore(new MemoryStore());
      const engine = new QuotaEngine({
        store,
        config,
        now: opts.now,
        baseline: opts.baseline ? new LedgerBaseline(sql) : undefined,
      });
      const flusher = new Flusher({ store, sql, intervalMs: 50, staleAfterMs: 60_000, now: opts.now });
      return { store, engine, flusher, tally: store.tally };
    }

    it('runs migrations once: a second run applies nothing and the tables exist', async () => {
      expect(await migrate(sql)).toEqual([]);
      const res = await sql.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
         WHERE table_name IN ('usage_ledger', 'usage_events', 'quota_overrides', 'flush_batches', 'tollgate_migrations')
         ORDER BY 1`,
      );
      expect(res.rows.map((r) => r.name)).toEqual([
        'flush_batches',
        'quota_overrides',
        'tollgate_migrations',
        'usage_events',
        'usage_ledger',
      ]);
      const applied = await sql.query<{ name: string }>('SELECT name FROM tollgate_migrations ORDER BY name');
      expect(applied.rows.map((r) => r.name)).toContain('001_ledger.sql');
    });

    it('runs migrations twice in parallel without an error', async () => {
      await expect(Promise.all([migrate(sql), migrate(sql), migrate(sql)])).resolves.toEqual([[], [], []]);
    });

    it('flushes recorded usage into the ledger with exact amounts and exact cost', async () => {
      const { engine, flusher, tally } = setup();
      const t = uid('flush-');
      const who = { tenantId: t, userId: 'alice', plan: 'free' };
      for (let i = 0; i < 7; i++) await engine.consume(who, { requests: 1 }); // 5 admitted, 2 rejected
      await engine.record(who, [
        { meter: 'input_tokens', amount: 1200, model: 'demo-model' },
        { meter: 'output_tokens', amount: 301, model: 'demo-model' },
      ]);
      await engine.record({ tenantId: t, userId: 'bob' }, [{ meter: 'latency_ms', amount: 42 }]);
      const report = await flusher.flushOnce();
      expect(report).toMatchObject({ batches: 1, skipped: 0 });
      const ledger = await ledgerTables(sql, `${t}%`);
      expect(ledger.amounts).toEqual({
        [`${t}|alice|cost`]: '1802000000',
        [`${t}|alice|input_tokens`]: '1200',
        [`${t}|alice|output_tokens`]: '301',
        [`${t}|alice|rejected`]: '2',
        [`${t}|alice|requests`]: '5',
        [`${t}|alice|tokens`]: '1501',
        [`${t}|bob|latency_ms`]: '42',
      });
      expect(ledger.amounts).toEqual(tally.amountTable());
      // 1200 input tokens at $1/M + 301 output tokens at $2/M = $0.001802, on the token rows only.
      expect(ledger.costs).toEqual({
        [`${t}|alice|input_tokens`]: '1200000000',
        [`${t}|alice|output_tokens`]: '602000000',
      });
      const cost = await sql.query<{ cost: string }>(
        'SELECT sum(cost_usd)::text AS cost FROM usage_ledger WHERE tenant_id = $1',
        [t],
      );
      expect(Number(cost.rows[0]!.cost) * 1e6).toBeCloseTo(1802, 9);
      expect(cost.rows[0]!.cost).toMatch(/^0\.001802(0*)$/);
      const rows = await sql.query<{ batch_id: string; bucket_start: Date }>(
        'SELECT DISTINCT batch_id, bucket_start FROM usage_ledger WHERE tenant_id = $1',
        [t],
      );
      expect(rows.rows.length).toBe(1);
      expect(new Date(rows.rows[0]!.bucket_start).getTime() % HOUR).toBe(0);
    });

    it('loads the same rows with COPY and with INSERT ... unnest, including awkward text and exact cost', async () => {
      const partitions = new PartitionManager(sql);
      const now = Date.now();
      const bucket = now - (now % HOUR);
      const rowsFor = (t: string): UsageDelta[] => [
        delta({
          tenantId: t,
          userId: 'a,"b"\nc',
          meter: 'input_tokens',
          model: 'm\\x',
          amount: 7,
          costPico: '123456789012345',
          bucketStart: bucket,
        }),
        delta({
          tenantId: t,
          userId: null,
          meter: 'storage_bytes',
          amount: -40,
          bucketStart: bucket,
          estimated: true,
        }),
        delta({ tenantId: t, userId: '', meter: 'requests', model: '', amount: 1, bucketStart: bucket }),
        delta({ tenantId: t, meter: 'requests', amount: 0, bucketStart: bucket }),
      ];
      const read = async (t: string) =>
        (
          await sql.query<Record<string, unknown>>(
            `SELECT user_id, meter, model, amount::text AS amount, cost_usd::text AS cost, estimated, batch_row
             FROM usage_ledger WHERE tenant_id = $1 ORDER BY batch_row`,
            [t],
          )
        ).rows;
      const viaCopy = uid('copy-');
      const viaInsert = uid('insert-');
      const a = await writeBatches(sql, [batchOf(`t:${viaCopy}`, rowsFor(viaCopy))], {
        partitions,
        method: 'copy',
      });
      const b = await writeBatches(sql, [batchOf(`t:${viaInsert}`, rowsFor(viaInsert))], {
        partitions,
        method: 'insert',
      });
      expect(a.rows).toBe(3);
      expect(b.rows).toBe(3);
      const copied = await read(viaCopy);
      expect(copied).toEqual(await read(viaInsert));
      expect(copied).toEqual([
        {
          user_id: 'a,"b"\nc',
          meter: 'input_tokens',
          model: 'm\\x',
          amount: '7',
          cost: '123.456789012345',
          estimated: false,
          batch_row: 1,
        },
        {
          user_id: null,
          meter: 'storage_bytes',
          model: null,
          amount: '-40',
          cost: '0',
          estimated: true,
          batch_row: 2,
        },
        { user_id: '', meter: 'requests', model: '', amount: '1', cost: '0', estimated: false, batch_row: 3 },
      ]);
    });

    it('writes the same claimed batch twice without changing anything', async () => {
      const partitions = new PartitionManager(sql);
      const t = uid('twice-');
      const now = Date.now();
      const batch = batchOf(`t:${t}`, [
        delta({ tenantId: t, meter: 'requests', amount: 3, bucketStart: now - (now % HOUR) }),
      ]);
      const first = await writeBatches(sql, [batch], { partitions });
      const second = await writeBatches(sql, [batch, batch], { partitions });
      expect(first.written.map((b) => b.batchId)).toEqual([batch.batchId]);
      expect(second).toMatchObject({ written: [], rows: 0 });
      expect(second.skipped.map((b) => b.batchId)).toEqual([batch.batchId]);
      expect((await ledgerTables(sql, `${t}%`)).amounts).toEqual({ [`${t}|-|requests`]: '3' });
    });

    it('skips a batch committed by a flusher that died before acknowledging it, when the claim is re-issued', async () => {
      const store = new TallyingStore(new MemoryStore());
      const engine = new QuotaEngine({ store, config });
      let clock = Date.now();
      const t = uid('reissue-');
      await engine.record({ tenantId: t }, [{ meter: 'requests', amount: 4 }]);
      const dying = new Flusher({
        store,
        sql,
        staleAfterMs: 30_000,
        now: () => clock,
        hooks: {
          afterCommit: () => {
            throw new Error('killed after commit');
          },
        },
      });
      await expect(dying.flushOnce()).rejects.toThrow('killed after commit');
      // Usage keeps arriving; the next flusher sees the stale claim again (same batch id) and the new usage.
      await engine.record({ tenantId: t }, [{ meter: 'requests', amount: 2 }]);
      clock += 31_000;
      const next = new Flusher({ store, sql, staleAfterMs: 30_000, now: () => clock });
      const report = await next.flushOnce();
      expect(report).toMatchObject({ batches: 1, skipped: 1 });
      expect((await ledgerTables(sql, `${t}%`)).amounts).toEqual({ [`${t}|-|requests`]: '6' });
      clock += 31_000;
      expect(await store.claim({ now: clock, maxTags: 1000, staleAfterMs: 30_000 })).toEqual([]);
    });

    it('rolls back a flush that fails before commit and retries the batch in hand', async () => {
      const { engine, tally, store } = setup();
      const t = uid('rollback-');
      await engine.record({ tenantId: t, userId: 'u' }, [
        { meter: 'input_tokens', amount: 10, model: 'demo-model' },
      ]);
      let fail = true;
      const errors: unknown[] = [];
      const flusher = new Flusher({
        store,
        sql,
        onError: (err) => errors.push(err),
        hooks: {
          beforeCommit: () => {
            if (fail) throw new Error('postgres went away');
          },
        },
      });
      await expect(flusher.flushOnce()).rejects.toThrow('postgres went away');
      expect(flusher.pending).toBe(1);
      expect((await ledgerTables(sql, `${t}%`)).rows).toBe(0);
      fail = false;
      await engine.record({ tenantId: t, userId: 'u' }, [
        { meter: 'input_tokens', amount: 5, model: 'demo-model' },
      ]);
      const report = await flusher.flushOnce();
      expect(report.batches).toBe(2);
      expect(flusher.pending).toBe(0);
      expect((await ledgerTables(sql, `${t}%`)).amounts).toEqual(tally.amountTable());
      expect((await ledgerTables(sql, `${t}%`)).amounts[`${t}|u|input_tokens`]).toBe('15');
    });

    it('puts increments that arrive during a flush into the next batch, never losing them', async () => {
      const { engine, tally, store } = setup();
      const t = uid('during-');
      const who = { tenantId: t, plan: 'big' };
      await engine.consume(who, { requests: 1 });
      let during = 0;
      const flusher = new Flusher({
        store,
        sql,
        hooks: {
          beforeCommit: async () => {
            for (let i = 0; i < 5; i++) {
              await engine.consume(who, { requests: 1 });
              during += 1;
            }
          },
        },
      });
      const first = await flusher.flushOnce();
      expect(first.batches).toBeGreaterThanOrEqual(1);
      expect((await ledgerTables(sql, `${t}%`)).amounts[`${t}|-|requests`]).toBe('1');
      const second = await flusher.flushOnce();
      expect(second.batches).toBeGreaterThanOrEqual(1);
      const third = new Flusher({ store, sql });
      await third.flushOnce();
      expect(during).toBeGreaterThanOrEqual(10);
      expect((await ledgerTables(sql, `${t}%`)).amounts).toEqual(tally.amountTable());
      expect((await ledgerTables(sql, `${t}%`)).amounts[`${t}|-|requests`]).toBe(String(1 + during));
    });

    it('writes notable events through the flush path', async () => {
      const { engine, flusher } = setup();
      const t = uid('events-');
      const who = { tenantId: t, userId: 'u', plan: 'free' };
      for (let i = 0; i < 6; i++) await engine.consume(who, { requests: 1 });
      await engine.setOverride({ scope: 'tenant', id: t }, 'requests', 'day', 50);
      await flusher.flushOnce();
      const events = await listEvents(sql, { filter: { tenantId: t }, from: new Date(Date.now() - HOUR) });
      const types = events.map((e) => e.type).sort();
      expect(types).toContain('override_set');
      const override = events.find((e) => e.type === 'override_set')!;
      expect(override).toMatchObject({ tenantId: t, meter: 'requests', period: 'day' });
      expect(override.details).toMatchObject({ scope: 'tenant', id: t, limit: 50 });
      expect(Date.parse(override.occurredAt)).toBeGreaterThan(Date.now() - HOUR);
      const none = await listEvents(sql, { filter: { tenantId: `${t}-other` }, from: new Date(0) });
      expect(none).toEqual([]);
    });

    it('creates the partition of a past month when a row needs it', async () => {
      const partitions = new PartitionManager(sql);
      const t = uid('past-');
      const past = Date.UTC(2019, 6, 14, 13); // July 2019
      const res = await writeBatches(
        sql,
        [batchOf(`t:${t}`, [delta({ tenantId: t, meter: 'requests', amount: 9, bucketStart: past })])],
        { partitions },
      );
      expect(res.rows).toBe(1);
      expect(await partitions.list()).toContain('usage_ledger_p201907');
      const where = await sql.query<{ p: string }>(
        'SELECT tableoid::regclass::text AS p FROM usage_ledger WHERE tenant_id = $1',
        [t],
      );
      expect(where.rows).toEqual([{ p: 'usage_ledger_p201907' }]);
    });

    it('drops exactly the partitions older than the retention window', async () => {
      const partitions = new PartitionManager(sql);
      const t = uid('retention-');
      // Months of 2001-2002 are used by this test only.
      const months = [
        [2001, 9],
        [2001, 10],
        [2001, 11],
        [2001, 12],
        [2002, 1],
        [2002, 2],
      ] as const;
      await writeBatches(
        sql,
        [
          batchOf(
            `t:${t}`,
            months.map(([y, m]) =>
              delta({ tenantId: t, meter: 'requests', amount: 1, bucketStart: Date.UTC(y, m - 1, 3) }),
            ),
          ),
        ],
        { partitions },
      );
      // Now: 15 Feb 2002 with 3 months kept: Nov 2001 onwards stays, Sep and Oct 2001 go.
      const dropped = await partitions.dropExpired(3, Date.UTC(2002, 1, 15));
      expect(dropped).toEqual(['usage_ledger_p200109', 'usage_ledger_p200110']);
      const left = (await partitions.list()).filter((n) => /p200[12]/.test(n));
      expect(left).toEqual([
        'usage_ledger_p200111',
        'usage_ledger_p200112',
        'usage_ledger_p200201',
        'usage_ledger_p200202',
      ]);
      expect((await ledgerTables(sql, `${t}%`)).amounts).toEqual({ [`${t}|-|requests`]: '4' });
      // Rows for a dropped month create it again.
      await writeBatches(
        sql,
        [
          batchOf(`t:${t}`, [
            delta({ tenantId: t, meter: 'requests', amount: 1, bucketStart: Date.UTC(2001, 8, 9) }),
          ]),
        ],
        { partitions },
      );
      expect(await partitions.list()).toContain('usage_ledger_p200109');
    });

    it('rebuilds a lost shard from the ledger: a subject at its limit stays at its limit', async () => {
      const first = setup({ baseline: true });
      const t = uid('rebuild-');
      const who = { tenantId: t, userId: 'u', plan: 'free' };
      for (let i = 0; i < 5; i++)
        expect((await first.engine.consume(who, { requests: 1 })).admitted).toBe(true);
      await first.engine.setOverride({ scope: 'tenant', id: t }, 'tokens', 'day', 777);
      await saveOverride(sql, { scope: 'tenant', id: t, meter: 'tokens', period: 'day', limit: 777 });
      await first.flusher.flushOnce();
      // The counter store lost everything (a new, empty store): state comes back from the ledger.
      const second = setup({ baseline: true });
      const rejected = await second.engine.consume(who, { requests: 1 });
      expect(rejected.admitted).toBe(false);
      if (!rejected.admitted)
        expect(rejected.violation).toMatchObject({ meter: 'requests', period: 'day', used: 5, limit: 5 });
      const status = await second.engine.status(who);
      expect(status.quotas.requests?.month).toMatchObject({ used: 5, limit: 100 });
      expect(status.quotas.tokens?.day).toMatchObject({ limit: 777, used: 0 });
    });

    it('answers the baseline for tenant and user scopes, by hour bucket, with 0 for minutes', async () => {
      const partitions = new PartitionManager(sql);
      const t = uid('baseline-');
      const day = Date.UTC(2024, 4, 10);
      await writeBatches(
        sql,
        [
          batchOf(`t:${t}`, [
            delta({ tenantId: t, userId: 'a', meter: 'tokens', amount: 10, bucketStart: day + 1 * HOUR }),
            delta({ tenantId: t, userId: 'b', meter: 'tokens', amount: 20, bucketStart: day + 2 * HOUR }),
            delta({ tenantId: t, userId: 'a', meter: 'tokens', amount: 40, bucketStart: day + 26 * HOUR }),
            delta({ tenantId: null, userId: 'a', meter: 'tokens', amount: 80, bucketStart: day + 1 * HOUR }),
          ]),
        ],
        { partitions },
      );
      const b = new LedgerBaseline(sql);
      const base = { meter: 'tokens', periodStart: new Date(day), periodEnd: new Date(day + 24 * HOUR) };
      expect(
        await b.used({ ...base, scope: 'tenant', id: t, tenantId: t, userId: null, period: 'day' }),
      ).toBe(30);
      expect(await b.used({ ...base, scope: 'user', id: 'a', tenantId: t, userId: 'a', period: 'day' })).toBe(
        10,
      );
      expect(
        await b.used({ ...base, scope: 'user', id: 'a', tenantId: null, userId: 'a', period: 'day' }),
      ).toBe(80);
      expect(
        await b.used({
          ...base,
          scope: 'tenant',
          id: t,
          tenantId: t,
          userId: null,
          period: 'total',
          periodStart: new Date(0),
          periodEnd: null,
        }),
      ).toBe(70);
      expect(
        await b.used({
          ...base,
          scope: 'tenant',
          id: t,
          tenantId: t,
          userId: null,
          period: 'hour',
          periodStart: new Date(day + 2 * HOUR),
          periodEnd: new Date(day + 3 * HOUR),
        }),
      ).toBe(20);
      expect(
        await b.used({
          ...base,
          scope: 'tenant',
          id: t,
          tenantId: t,
          userId: null,
          period: 'minute',
          periodStart: new Date(day + HOUR),
          periodEnd: new Date(day + HOUR + 60_000),
        }),
      ).toBe(0);
    });

    it('answers many baseline queries in one statement, as many single ones would', async () => {
      const partitions = new PartitionManager(sql);
      const t = uid('baseline-many-');
      const day = Date.UTC(2024, 4, 10);
      await writeBatches(
        sql,
        [
          batchOf(`t:${t}`, [
            delta({
              tenantId: t,
              userId: `${t}-a`,
              meter: 'tokens',
              amount: 10,
              bucketStart: day + 1 * HOUR,
            }),
            delta({
              tenantId: t,
              userId: `${t}-b`,
              meter: 'tokens',
              amount: 20,
              bucketStart: day + 2 * HOUR,
            }),
            delta({
              tenantId: t,
              userId: `${t}-a`,
              meter: 'requests',
              amount: 3,
              bucketStart: day + 2 * HOUR,
            }),
            delta({
              tenantId: t,
              userId: `${t}-a`,
              meter: 'tokens',
              amount: 40,
              bucketStart: day + 26 * HOUR,
            }),
            delta({
              tenantId: null,
              userId: `${t}-a`,
              meter: 'tokens',
              amount: 80,
              bucketStart: day + 1 * HOUR,
            }),
          ]),
        ],
        { partitions },
      );
      const b = new LedgerBaseline(sql);
      const base = { meter: 'tokens', periodStart: new Date(day), periodEnd: new Date(day + 24 * HOUR) };
      const user = (id: string, tenantId: string | null, allTenants: boolean) =>
        ({ ...base, scope: 'user', id, tenantId, userId: id, allTenants, period: 'day' }) as const;
      const queries = [
        {
          ...base,
          scope: 'tenant',
          id: t,
          tenantId: t,
          userId: null,
          allTenants: false,
          period: 'day',
        } as const,
        user(`${t}-a`, t, false),
        user(`${t}-a`, null, false),
        { ...user(`${t}-a`, t, false), meter: 'requests' },
        { ...user(`${t}-a`, t, false), period: 'minute' as const },
        { ...user(`${t}-b`, t, false), period: 'total' as const, periodStart: new Date(0), periodEnd: null },
        { ...user(`${t}-nobody`, t, false) },
      ];
      const one = await Promise.all(queries.map((q) => b.used(q)));
      expect(one).toEqual([30, 10, 80, 3, 0, 20, 0]);
      expect(await b.usedMany(queries)).toEqual(one);
      expect(await b.usedMany([])).toEqual([]);
    });

    it("answers a shard's overrides and sums in one statement, as the two reads would", async () => {
      const partitions = new PartitionManager(sql);
      const t = uid('shard-baseline-');
      const now = Date.now();
      await writeBatches(
        sql,
        [
          batchOf(`t:${t}`, [
            delta({
              tenantId: t,
              userId: `${t}-a`,
              meter: 'requests',
              amount: 4,
              bucketStart: now - (now % HOUR),
            }),
          ]),
        ],
        { partitions },
      );
      await saveOverride(sql, { scope: 'tenant', id: t, meter: 'requests', period: 'day', limit: 9 });
      await saveOverride(sql, {
        scope: 'user',
        id: `${t}-a`,
        tenantId: t,
        meter: 'tokens',
        period: 'month',
        limit: 50,
      });
      await saveOverride(sql, {
        scope: 'user',
        id: `${t}-a`,
        tenantId: 'elsewhere',
        meter: 'tokens',
        period: 'day',
        limit: 7,
      });
      const b = new LedgerBaseline(sql);
      const scopes = [
        { scope: 'tenant', id: t },
        { scope: 'user', id: `${t}-a` },
      ] as const;
      const since = new Date(now - 24 * HOUR);
      const qs = [
        tenantDay(t, since),
        {
          scope: 'user',
          id: `${t}-a`,
          tenantId: t,
          userId: `${t}-a`,
          allTenants: false,
          meter: 'requests',
          period: 'minute',
          periodStart: since,
          periodEnd: null,
        },
        {
          scope: 'user',
          id: `${t}-a`,
          tenantId: t,
          userId: `${t}-a`,
          allTenants: false,
          meter: 'requests',
          period: 'day',
          periodStart: since,
          periodEnd: null,
        },
      ] as const;
      for (const shard of [undefined, { tenantId: t }]) {
        const one = await b.shardBaseline([...scopes], shard, [...qs]);
        expect(one).toEqual({
          overrides: await b.overrides([...scopes], shard),
          used: await b.usedMany([...qs]),
        });
        expect(one.used).toEqual([4, 0, 4]);
        expect(one.overrides).toHaveLength(shard ? 2 : 3);
      }
      expect(await b.shardBaseline([{ scope: 'tenant', id: `${t}-none` }], undefined, [])).toEqual({
        overrides: [],
        used: [],
      });
    });

    it('sums the rows of ids with quotes, backslashes, non-ASCII and unpaired surrogates, as a lone read does', async () => {
      // The rebuild's values go as one JSON parameter: an unpaired surrogate must still read the rows the ledger
      // holds for it (written as U+FFFD), not fail the statement or miss them.
      const b = new LedgerBaseline(sql);
      const partitions = new PartitionManager(sql);
      const now = Date.now();
      const since = new Date(now - 24 * HOUR);
      const ids = ['"q\\', 'é ü 日本', 'lone \ud800 high', 'lone \udc00 low', '\ud83d\ude00 pair'].map(
        (x) => `${uid('odd-')} ${x}`,
      );
      await writeBatches(
        sql,
        ids.map((t, n) =>
          batchOf(`t:${t}`, [
            delta({ tenantId: t, meter: 'requests', amount: n + 1, bucketStart: now - (now % HOUR) }),
          ]),
        ),
        { partitions },
      );
      const q = (t: string) => tenantDay(t, since);
      const alone = await Promise.all(ids.map((t) => b.used(q(t))));
      expect(alone).toEqual([1, 2, 3, 4, 5]);
      expect(await b.usedMany(ids.map(q))).toEqual(alone);
      const rebuilt = await Promise.all(
        ids.map((t) => b.shardBaseline([{ scope: 'tenant', id: t }], { tenantId: t }, [q(t)])),
      );
      expect(rebuilt.map((r) => r.used[0])).toEqual(alone);
      // A meter of the public API with an unpaired surrogate too (configured meters are plain names).
      const meter = 'm \ud800';
      await writeBatches(
        sql,
        [
          batchOf(`t:${ids[0]}`, [
            delta({ tenantId: ids[0]!, meter, amount: 11, bucketStart: now - (now % HOUR) }),
          ]),
        ],
        { partitions },
      );
      const odd = { ...q(ids[0]!), meter };
      expect(await b.used(odd)).toBe(11);
      expect(await b.usedMany([q(ids[1]!), odd])).toEqual([2, 11]);
      expect((await b.shardBaseline([{ scope: 'tenant', id: ids[0]! }], undefined, [odd])).used).toEqual([
        11,
      ]);
    });

    it('answers rebuilds asked at once in fewer statements, each as it would be answered alone', async () => {
      const partitions = new PartitionManager(sql);
      const now = Date.now();
      const hour = now - (now % HOUR);
      const since = new Date(now - 24 * HOUR);
      // 30 shards: usage for some, a tenant override for some, a user's override in its own tenant and elsewhere.
      const shards = Array.from({ length: 30 }, (_, i) => ({ i, t: uid(`burst-${i}-`) }));
      await writeBatches(
        sql,
        shards
          .filter(({ i }) => i % 3 !== 0)
          .map(({ i, t }) =>
            batchOf(`t:${t}`, [
              delta({ tenantId: t, userId: `${t}-u`, meter: 'requests', amount: i + 1, bucketStart: hour }),
            ]),
          ),
        { partitions },
      );
      for (const { i, t } of shards) {
        if (i % 4 === 0)
          await saveOverride(sql, { scope: 'tenant', id: t, meter: 'requests', period: 'day', limit: i });
        if (i % 5 === 0) {
          for (const tenantId of [t, 'elsewhere']) {
            await saveOverride(sql, {
              scope: 'user',
              id: `${t}-u`,
              tenantId,
              meter: 'tokens',
              period: 'day',
              limit: 7,
            });
          }
        }
      }
      const asks = shards.map(({ i, t }) => {
        const scopes = [
          { scope: 'tenant' as const, id: t },
          { scope: 'user' as const, id: `${t}-u` },
        ];
        const query = (scope: 'tenant' | 'user', id: string, period: 'day' | 'minute') => ({
          scope,
          id,
          tenantId: t,
          userId: scope === 'user' ? id : null,
          allTenants: false,
          meter: 'requests',
          period,
          periodStart: since,
          periodEnd: null,
        });
        // Some ask no sums at all, some only a minute (answered 0 without the ledger).
        const qs =
          i % 7 === 0
            ? []
            : i % 7 === 1
              ? [query('user', `${t}-u`, 'minute')]
              : [
                  query('tenant', t, 'day'),
                  query('user', `${t}-u`, 'minute'),
                  query('user', `${t}-u`, 'day'),
                ];
        return { i, scopes, shard: i % 2 === 0 ? { tenantId: t } : undefined, qs };
      });
      const alone = [];
      for (const a of asks) {
        alone.push({
          overrides: await new LedgerBaseline(sql).overrides(a.scopes, a.shard),
          used: await new LedgerBaseline(sql).usedMany(a.qs),
        });
      }
      let statements = 0;
      const counting: SqlClient = Object.assign(Object.create(sql) as SqlClient, {
        query: ((text: string, params?: readonly unknown[]) => {
          statements += 1;
          return sql.query(text, params);
        }) as SqlClient['query'],
      });
      const b = new LedgerBaseline(counting);
      const together = await Promise.all(asks.map((a) => b.shardBaseline(a.scopes, a.shard, a.qs)));
      expect(together).toEqual(alone);
      // The first goes at once; the 29 asked while it is out share the next one (a third only if the first took
      // longer than the 250 ms after which a statement no longer holds the others back).
      expect(statements).toBeGreaterThanOrEqual(2);
      expect(statements).toBeLessThanOrEqual(3);
      expect(together[4]!.used).toEqual([5, 0, 5]);
      expect(together[4]!.overrides).toEqual([
        { scope: 'tenant', id: shards[4]!.t, meter: 'requests', period: 'day', limit: 4 },
      ]);
      // A user's overrides: only its own tenant's under a shard tenant (10, 20), all of them without (5).
      expect(together[10]!.overrides).toHaveLength(1);
      expect(together[20]!.overrides).toHaveLength(2);
      expect(together[5]!.overrides).toHaveLength(2);
    });

    it('fails every rebuild of a statement that fails, and answers the next ones', async () => {
      let fail = true;
      const flaky: SqlClient = Object.assign(Object.create(sql) as SqlClient, {
        query: ((text: string, params?: readonly unknown[]) =>
          fail
            ? Promise.reject(new Error('connection lost'))
            : sql.query(text, params)) as SqlClient['query'],
      });
      const b = new LedgerBaseline(flaky);
      const scopes = [{ scope: 'tenant' as const, id: uid('flaky-') }];
      const first = await Promise.allSettled([1, 2, 3].map(() => b.shardBaseline(scopes, undefined, [])));
      expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      fail = false;
      expect(await b.shardBaseline(scopes, undefined, [])).toEqual({ overrides: [], used: [] });
    });

    it('keeps durable overrides: upsert, list by owner, delete', async () => {
      const t = uid('ovr-');
      await saveOverride(sql, { scope: 'tenant', id: t, meter: 'requests', period: 'day', limit: 10 });
      await saveOverride(sql, { scope: 'tenant', id: t, meter: 'requests', period: 'day', limit: 20 });
      await saveOverride(sql, {
        scope: 'user',
        id: `${t}-u`,
        tenantId: t,
        meter: 'tokens',
        period: 'month',
        limit: -1,
      });
      const both = await listOverrides(sql, [
        { scope: 'tenant', id: t },
        { scope: 'user', id: `${t}-u` },
      ]);
      expect(both.map((o) => [o.scope, o.id, o.meter, o.period, o.limit, o.tenantId])).toEqual([
        ['tenant', t, 'requests', 'day', 20, null],
        ['user', `${t}-u`, 'tokens', 'month', -1, t],
      ]);
      expect(await new LedgerBaseline(sql).overrides([{ scope: 'user', id: `${t}-u` }])).toEqual([
        { scope: 'user', id: `${t}-u`, meter: 'tokens', period: 'month', limit: -1 },
      ]);
      await saveOverride(sql, { scope: 'tenant', id: t, meter: 'requests', period: 'day', limit: null });
      expect((await listOverrides(sql, [{ scope: 'tenant', id: t }])).length).toBe(0);
    });

    it('keeps a cost override past 2^53 pico-dollars digit for digit', async () => {
      const t = uid('ovr-cost-');
      const limit = 2 ** 62; // $4,611,686.018427387904
      await saveOverride(sql, { scope: 'tenant', id: t, meter: 'cost', period: 'month', limit });
      const stored = await sql.query<{ limit: string }>(
        `SELECT "limit"::text AS limit FROM quota_overrides WHERE id = $1`,
        [t],
      );
      expect(stored.rows).toEqual([{ limit: '4611686018427387904' }]);
      expect((await listOverrides(sql, [{ scope: 'tenant', id: t }]))[0]?.limit).toBe(limit);
      await expect(
        saveOverride(sql, { scope: 'tenant', id: t, meter: 'requests', period: 'day', limit: 2 ** 62 }),
      ).rejects.toThrow(RangeError);
    });

    describe('usage queries', () => {
      const t = uid('q-');
      const now = Date.UTC(2025, 2, 20, 15, 30); // 20 Mar 2025 15:30 UTC
      const today = now - (now % (24 * HOUR));

      beforeAll(async () => {
        const partitions = new PartitionManager(sql);
        const rows: UsageDelta[] = [
          // alice: 3 requests today, 1 error, 300 ms latency; tokens on two models.
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'requests',
            amount: 3,
            bucketStart: today + 9 * HOUR,
          }),
          delta({ tenantId: t, userId: 'alice', meter: 'errors', amount: 1, bucketStart: today + 9 * HOUR }),
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'latency_ms',
            amount: 300,
            bucketStart: today + 9 * HOUR,
          }),
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'input_tokens',
            model: 'demo-model',
            amount: 1000,
            costPico: '1000000000',
            bucketStart: today + 9 * HOUR,
          }),
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'tokens',
            model: 'demo-model',
            amount: 1000,
            bucketStart: today + 9 * HOUR,
          }),
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'output_tokens',
            model: 'gpt-4o',
            amount: 3,
            costPico: '30000000',
            bucketStart: today + 14 * HOUR,
          }),
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'tokens',
            model: 'gpt-4o',
            amount: 3,
            bucketStart: today + 14 * HOUR,
          }),
          // alice two days ago; bob yesterday.
          delta({
            tenantId: t,
            userId: 'alice',
            meter: 'requests',
            amount: 2,
            bucketStart: today - 2 * 24 * HOUR + HOUR,
          }),
          delta({
            tenantId: t,
            userId: 'bob',
            meter: 'requests',
            amount: 7,
            bucketStart: today - 24 * HOUR + 23 * HOUR,
          }),
          delta({ tenantId: t, userId: 'bob', meter: 'tokens', amount: 50, bucketStart: today - 24 * HOUR }),
          // another tenant, for top consumers.
          delta({
            tenantId: `${t}-z`,
            userId: 'zed',
            meter: 'requests',
            amount: 4,
            bucketStart: today + HOUR,
          }),
        ];
        await writeBatches(sql, [batchOf(`t:${t}`, rows)], { partitions });
        await writeBatches(
          sql,
          [
            batchOf(`t:${t}`, [
              delta({
                tenantId: t,
                userId: 'alice',
                meter: 'requests',
                amount: 1,
                bucketStart: today + 9 * HOUR,
              }),
            ]),
          ],
          { partitions },
        );
      });

      it('totals usage per meter and per model with exact cost strings, success rate and latency', async () => {
        const stats = await usageStats(sql, {
          filter: { tenantId: t, userId: 'alice' },
          from: new Date(today),
          to: new Date(today + 24 * HOUR),
        });
        expect(stats.cost).toBe('0.001030');
        expect(stats.requests).toBe(4);
        expect(stats.errors).toBe(1);
        expect(stats.successRate).toBe(75);
        expect(stats.avgLatencyMs).toBe(75);
        expect(stats.meters).toEqual([
          { meter: 'errors', amount: 1, cost: '0.000000' },
          { meter: 'input_tokens', amount: 1000, cost: '0.001000' },
          { meter: 'latency_ms', amount: 300, cost: '0.000000' },
          { meter: 'output_tokens', amount: 3, cost: '0.000030' },
          { meter: 'requests', amount: 4, cost: '0.000000' },
          { meter: 'tokens', amount: 1003, cost: '0.000000' },
        ]);
        expect(stats.models).toEqual([
          { model: 'demo-model', cost: '0.001000', meters: { input_tokens: 1000, tokens: 1000 } },
          { model: 'gpt-4o', cost: '0.000030', meters: { output_tokens: 3, tokens: 3 } },
        ]);
        const tenant = await usageStats(sql, {
          filter: { tenantId: t },
          from: new Date(today - 7 * 24 * HOUR),
        });
        expect(tenant.requests).toBe(13);
        const empty = await usageStats(sql, { filter: { tenantId: `${t}-nobody` }, from: new Date(0) });
        expect(empty).toMatchObject({
          meters: [],
          models: [],
          cost: '0.000000',
          successRate: null,
          avgLatencyMs: null,
        });
      });

      it('returns exactly one zero-filled entry per day, ascending, ending today', async () => {
        const series = await usageTimeseries(sql, {
          filter: { tenantId: t },
          meter: 'requests',
          days: 5,
          now,
        });
        expect(series).toEqual([
          { date: '2025-03-16', amount: 0 },
          { date: '2025-03-17', amount: 0 },
          { date: '2025-03-18', amount: 2 },
          { date: '2025-03-19', amount: 7 },
          { date: '2025-03-20', amount: 4 },
        ]);
        const mine = await usageTimeseries(sql, {
          filter: { tenantId: t, userId: 'bob' },
          meter: 'requests',
          days: 1,
          now,
        });
        expect(mine).toEqual([{ date: '2025-03-20', amount: 0 }]);
        expect(await usageTimeseries(sql, { filter: {}, meter: 'requests', days: 366, now })).toHaveLength(
          366,
        );
      });

      it('groups days in the configured timezone', async () => {
        // In Tokyo (UTC+9) bob's 23:00 UTC bucket on the 19th is already the 20th; today there is the 21st.
        const series = await usageTimeseries(sql, {
          filter: { tenantId: t },
          meter: 'requests',
          days: 3,
          timezone: 'Asia/Tokyo',
          now,
        });
        expect(series).toEqual([
          { date: '2025-03-19', amount: 0 },
          { date: '2025-03-20', amount: 7 + 4 },
          { date: '2025-03-21', amount: 0 },
        ]);
      });

      it('returns hourly entries ending with the current hour', async () => {
        const series = await usageTimeseries(sql, {
          filter: { tenantId: t, userId: 'alice' },
          meter: 'tokens',
          days: 1,
          interval: 'hour',
          now,
        });
        expect(series).toHaveLength(24);
        expect(series[23]!.date).toBe('2025-03-20T15:00:00.000Z');
        expect(series[0]!.date).toBe('2025-03-19T16:00:00.000Z');
        expect(series.filter((p) => p.amount !== 0)).toEqual([
          { date: '2025-03-20T09:00:00.000Z', amount: 1000 },
          { date: '2025-03-20T14:00:00.000Z', amount: 3 },
        ]);
      });

      it('ranks top consumers by tenant and by user', async () => {
        const from = new Date(today - 7 * 24 * HOUR);
        const tenants = (
          await topConsumers(sql, { meter: 'requests', from, by: 'tenant', limit: 100 })
        ).filter((c) => c.tenantId?.startsWith(t));
        expect(tenants).toEqual([
          { tenantId: t, userId: null, amount: 13, cost: '0.001030' },
          { tenantId: `${t}-z`, userId: null, amount: 4, cost: '0.000000' },
        ]);
        const users = await topConsumers(sql, { meter: 'requests', from, by: 'user', tenantId: t, limit: 1 });
        expect(users).toEqual([{ tenantId: t, userId: 'bob', amount: 7, cost: '0.000000' }]);
      });

      it('exports the rows as CSV, page by page, as a stream', async () => {
        const csv = await readAll(
          exportCsv(sql, { filter: { tenantId: t }, from: new Date(today - 7 * 24 * HOUR), pageSize: 3 }),
        );
        const lines = csv.split('\r\n');
        expect(lines[0]).toBe(
          'bucket_start,tenant_id,user_id,meter,model,amount,cost_usd,estimated,batch_id,recorded_at',
        );
        expect(lines[lines.length - 1]).toBe('');
        const body = lines.slice(1, -1);
        expect(body).toHaveLength(11);
        const requests = body
          .filter((l) => l.split(',')[3] === 'requests')
          .map((l) => Number(l.split(',')[5]));
        expect(requests.reduce((a, b) => a + b, 0)).toBe(13);
        const tokenLine = body.find(
          (l) => l.split(',')[4] === 'demo-model' && l.split(',')[3] === 'input_tokens',
        )!;
        expect(tokenLine.split(',').slice(0, 8)).toEqual([
          new Date(today + 9 * HOUR).toISOString(),
          t,
          'alice',
          'input_tokens',
          'demo-model',
          '1000',
          '0.001000',
          'false',
        ]);
        const starts = body.map((l) => l.split(',')[0]!);
        expect([...starts].sort()).toEqual(starts);
      });
    });
  });
}

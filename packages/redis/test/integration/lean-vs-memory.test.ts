// RedisStore, which sends ops in the lean form (only what a plan limits) to shards it knows no overrides of, against
// MemoryStore, op for op: overrides set by another process (so unknown to it) on any scope, meter and window,
// reservations, further reservations, settlements, thresholds, gates, gauges going down, reused op ids, applyMany
// and the clock moving on. Every reply and periodic reads must be the same. (Written by a reviewer of the lean form.)
import Redis from 'ioredis';
import {
  MemoryStore,
  type ApplyOp,
  type ApplyManyResult,
  type LimitSpec,
  type ScopeRef,
} from '@tollgate/core';
import { currentWindows } from '@tollgate/core/internal';
import { RedisStore } from '@tollgate/redis';
import { REDIS_URL } from '../../../../test-support/services';
import { deleteKeys, ready, redisClient } from './helpers';

let client: Redis;
const base = `lean-vs-memory-${Math.random().toString(36).slice(2)}:`;
beforeAll(async () => {
  client = await ready(redisClient(REDIS_URL));
});
afterAll(async () => {
  await deleteKeys(client, base);
  await client.quit();
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Share of steps that set an override (0.01: sparse ones, the usual case).
const OVR = Number(process.env.OVR ?? '0.08');
const METERS = ['requests', 'tokens', 'latency_ms', 'storage'];
const PERIODS = ['minute', 'hour', 'day', 'month', 'total'] as const;
const shards: Array<{ tag: string; scopes: ScopeRef[] }> = [
  {
    tag: 't:A',
    scopes: [
      { scope: 'tenant', id: 'A' },
      { scope: 'user', id: 'u1' },
      { scope: 'key', id: 'k1' },
    ],
  },
  {
    tag: 't:B',
    scopes: [
      { scope: 'tenant', id: 'B' },
      { scope: 'user', id: 'u2' },
    ],
  },
  { tag: 't:C', scopes: [{ scope: 'tenant', id: 'C' }] },
  {
    tag: 't:D',
    scopes: [
      { scope: 'tenant', id: 'D' },
      { scope: 'user', id: 'u4' },
    ],
  },
];
function limitsOf(scopes: ScopeRef[]): LimitSpec[] {
  const out: LimitSpec[] = [];
  for (const s of scopes) {
    if (s.scope === 'tenant') {
      out.push({ ...s, meter: 'requests', period: 'minute', limit: 4 });
      out.push({ ...s, meter: 'requests', period: 'day', limit: 20 });
      out.push({ ...s, meter: 'tokens', period: 'hour', limit: 60 });
    } else if (s.scope === 'user') {
      out.push({ ...s, meter: 'requests', period: 'day', limit: 8 });
      out.push({ ...s, meter: 'tokens', period: 'minute', limit: 15 });
    } else {
      out.push({ ...s, meter: 'tokens', period: 'day', limit: 40 });
    }
  }
  return out;
}

async function run(seed: number, useMany: boolean) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const prefix = `${base}${seed}${useMany ? 'm' : 's'}:`;
  const lean = new RedisStore({ client, prefix });
  const other = new RedisStore({ client, prefix });
  const mem = new MemoryStore();
  let now = Date.now();
  const reservations: Array<{ tag: string; id: string }> = [];
  const recentIds: Array<{ tag: string; id: string }> = [];
  let n = 0;
  const log: string[] = [];
  const makeOp = (): ApplyOp => {
    const sh = pick(shards);
    const scopes = r() < 0.2 ? sh.scopes.slice(0, 1) : sh.scopes;
    const amounts = METERS.filter(() => r() < 0.5).map((meter) => ({
      meter,
      amount: meter === 'storage' ? Math.floor(r() * 9) - 4 : Math.floor(r() * 6),
    }));
    const reuse = recentIds.filter((x) => x.tag === sh.tag);
    const opId = r() < 0.08 && reuse.length > 0 ? pick(reuse).id : `op${++n}`;
    recentIds.push({ tag: sh.tag, id: opId });
    if (recentIds.length > 6) recentIds.shift();
    const op: ApplyOp = {
      opId,
      tag: sh.tag,
      now,
      mode: r() < 0.7 ? 'enforce' : 'record',
      scopes,
      windows: currentWindows(now),
      limits: limitsOf(scopes),
      amounts,
      usage: [],
      warnAt: r() < 0.5 ? [50, 80, 100] : [],
      seed: 'auto',
    };
    const kind = r();
    if (kind < 0.2) {
      const id = `res${++n}`;
      op.reserve = {
        id,
        expiresAt: now + Math.floor(r() * 120_000),
        amounts: [{ meter: pick(['requests', 'tokens', 'latency_ms']), amount: 1 + Math.floor(r() * 4) }],
      };
      reservations.push({ tag: sh.tag, id });
    } else if (kind < 0.3) {
      op.reserves = [0, 1].map(() => {
        const id = `res${++n}`;
        reservations.push({ tag: sh.tag, id });
        return {
          id,
          expiresAt: now + Math.floor(r() * 120_000),
          amounts: [{ meter: pick(['requests', 'tokens', 'latency_ms']), amount: 1 + Math.floor(r() * 3) }],
        };
      });
    } else if (kind < 0.5) {
      const mine = reservations.filter((x) => x.tag === sh.tag);
      if (mine.length > 0) {
        op.mode = 'record';
        op.settle = { id: pick(mine).id };
        if (r() < 0.5)
          op.settleIds = [pick(mine).id, pick(mine).id].filter(
            (x, i, a) => a.indexOf(x) === i && x !== op.settle!.id,
          );
      }
    }
    return op;
  };
  for (let step = 0; step < Number(process.env.STEPS ?? '250'); step++) {
    const k = r();
    if (k < OVR) {
      const sh = pick(shards.slice(0, 3));
      const s = pick(sh.scopes);
      const entry = {
        ...s,
        meter: pick(METERS),
        period: pick(PERIODS),
        limit: r() < 0.15 ? null : r() < 0.1 ? -1 : Math.floor(r() * 25),
      };
      log.push(`override ${sh.tag} ${JSON.stringify(entry)}`);
      await other.setOverride(sh.tag, entry);
      await mem.setOverride(sh.tag, entry);
      continue;
    }
    if (k < OVR + 0.06) {
      now += Math.floor(r() * 40_000);
      continue;
    }
    const ops = useMany && r() < 0.5 ? [makeOp(), makeOp(), makeOp()] : [makeOp()];
    let a: ApplyManyResult[];
    let b: ApplyManyResult[];
    if (ops.length > 1) {
      a = await lean.applyMany(ops);
      b = await mem.applyMany(ops);
    } else {
      a = [await lean.apply(ops[0]!)];
      b = [await mem.apply(ops[0]!)];
    }
    log.push(`ops ${JSON.stringify(ops.map((o) => ({ ...o, windows: undefined, limits: undefined })))}`);
    const norm = (xs: ApplyManyResult[]) =>
      JSON.stringify(xs.map((x) => (x instanceof Error ? `Error ${x.message}` : x)));
    if (norm(a) !== norm(b)) {
      throw new Error(
        `seed ${seed} step ${step} differs\n${log.slice(-8).join('\n')}\nredis ${JSON.stringify(a)}\nmem   ${JSON.stringify(b)}`,
      );
    }
    // Reads agree too.
    if (step % 10 === 0) {
      for (const sh of shards) {
        const rop = {
          tag: sh.tag,
          now,
          scopes: sh.scopes,
          windows: currentWindows(now),
          limits: limitsOf(sh.scopes),
          meters: METERS,
          seed: 'auto' as const,
        };
        const ra = await lean.read(rop);
        const rb = await mem.read(rop);
        if (JSON.stringify(ra) !== JSON.stringify(rb))
          throw new Error(
            `seed ${seed} step ${step} read differs\n${JSON.stringify(ra)}\n${JSON.stringify(rb)}`,
          );
      }
    }
  }
  await mem.close();
}

for (const seed of [1, 2, 3, 4]) {
  it(`seed ${seed} single`, () => run(seed, false));
  it(`seed ${seed} many`, () => run(seed, true));
}

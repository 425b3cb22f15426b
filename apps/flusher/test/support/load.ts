// Keeps usage arriving through a QuotaEngine while a test breaks the flusher; retries keep each op's id.
import { randomUUID } from 'node:crypto';
import { QuotaEngine, parseConfig, type CounterStore, type TollgateConfigInput } from '@tollgate/core';
import { TallyingStore } from '../../../../test-support/ledger/tally';

export const LOAD_CONFIG: TollgateConfigInput = {
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'big',
  warnAt: [50, 100],
  meters: { storage_bytes: { kind: 'gauge' } },
  plans: {
    big: { limits: { requests: { day: 1_000_000_000 } } },
    // Small enough that threshold and quota_exceeded events (and the rejected meter) keep happening.
    tiny: { limits: { requests: { minute: 3 } } },
  },
  pricing: { 'demo-model': { input: '1.25', output: '2.75' }, '*': { input: '0.000001', output: '0' } },
};

export interface LoadHandle {
  /** Every delta and event the store accepted: what the ledger must end up with. */
  store: TallyingStore;
  engine: QuotaEngine;
  /** Operations completed so far. */
  ops(): number;
  /** Stops after the operations in flight; resolves when they are done. */
  stop(): Promise<void>;
}

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

/** Starts `workers` loops of random consume/record calls over a few tenants and users. */
export function startLoad(
  inner: CounterStore,
  opts: { workers?: number; pauseMs?: number; idPrefix: string },
): LoadHandle {
  const store = new TallyingStore(inner);
  const engine = new QuotaEngine({ store, config: parseConfig(LOAD_CONFIG) });
  const subjects = [
    ...Array.from({ length: 6 }, (_, i) => ({
      tenantId: `${opts.idPrefix}t${i}`,
      userId: `u${i % 3}`,
      plan: 'big',
    })),
    { tenantId: `${opts.idPrefix}tiny`, userId: 'u0', plan: 'tiny' },
    { userId: `${opts.idPrefix}solo`, plan: 'big' },
  ];
  let running = true;
  let done = 0;
  const once = async (): Promise<void> => {
    const who = pick(subjects);
    const opId = randomUUID();
    const kind = Math.random();
    for (let attempt = 0; ; attempt++) {
      try {
        if (kind < 0.45) await engine.consume(who, { requests: 1 }, { opId });
        else if (kind < 0.8)
          await engine.record(
            who,
            [
              {
                meter: 'input_tokens',
                amount: 1 + Math.floor(Math.random() * 3000),
                model: pick(['demo-model', 'other-model']),
              },
              { meter: 'output_tokens', amount: Math.floor(Math.random() * 700), model: 'demo-model' },
              { meter: 'latency_ms', amount: 1 + Math.floor(Math.random() * 90) },
            ],
            { opId },
          );
        else
          await engine.record(
            who,
            [{ meter: 'storage_bytes', amount: Math.floor(Math.random() * 2000) - 900 }],
            { opId },
          );
        done += 1;
        return;
      } catch (err) {
        // The same op id again: applied at most once, so a lost reply is never counted twice.
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const loops = Array.from({ length: opts.workers ?? 3 }, async () => {
    while (running) {
      await once();
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  });
  return {
    store,
    engine,
    ops: () => done,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

// The README's Express example, run as written: transpiled from README.md and executed against MemoryStore.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import ts from 'typescript';
import realExpress from 'express';
import * as core from '@tollgate/core';
import { createTollgate } from '@tollgate/http';
import * as tollgateExpress from '@tollgate/express';

const README = path.resolve(__dirname, '../../../../README.md');

function readmeExample(): string {
  const text = readFileSync(README, 'utf8');
  const block = /## In your Express app\n\n```ts\n([\s\S]*?)\n```/.exec(text);
  if (!block) throw new Error('README.md has no "In your Express app" ts block');
  return block[1]!;
}

interface Ran {
  app: Express;
  store: core.MemoryStore;
  config: core.TollgateConfig;
  metering: tollgateExpress.TrackUsageMiddleware;
}

/** Runs the example with its imports bound to the workspace sources; `app.listen` is captured, not run. */
function runExample(source: string): Ran {
  const ran: Partial<Ran> = {};
  const express = Object.assign((...args: Parameters<typeof realExpress>) => {
    const app = realExpress(...args);
    (app as { listen: unknown }).listen = () => undefined;
    ran.app = app;
    return app;
  }, realExpress);
  class MemoryStore extends core.MemoryStore {
    constructor(...args: ConstructorParameters<typeof core.MemoryStore>) {
      super(...args);
      ran.store = this;
    }
  }
  const parseConfig: typeof core.parseConfig = (...args) => (ran.config = core.parseConfig(...args));
  const trackUsage: typeof tollgateExpress.trackUsage = (...args) =>
    (ran.metering = tollgateExpress.trackUsage(...args));
  const modules: Record<string, unknown> = {
    express: { __esModule: true, default: express },
    '@tollgate/core': { ...core, MemoryStore, parseConfig },
    '@tollgate/express': { ...tollgateExpress, trackUsage },
  };
  const js = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  }).outputText;
  const requireModule = (name: string): unknown => {
    if (!(name in modules)) throw new Error(`the README example imports ${name}`);
    return modules[name];
  };
  new Function('require', 'exports', js)(requireModule, {});
  if (!ran.app || !ran.store || !ran.config || !ran.metering)
    throw new Error('the example did not build an app, a store and a config');
  return ran as Ran;
}

describe('the README example', () => {
  it('is 10 to 15 lines of code', () => {
    const lines = readmeExample()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('import '));
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(15);
  });

  it('meters a request: one request, 1,500 tokens and their exact cost for the tenant', async () => {
    const { app, store, config, metering } = runExample(readmeExample());
    const res = await request(app).post('/api/chat').set('X-Tenant-Id', 'acme').expect(200);
    expect(res.body).toEqual({ answer: '...' });
    expect(res.headers['ratelimit-policy']).toBe('"tenant-requests-day";q=1000;w=86400');

    const tollgate = createTollgate({ store, config });
    const status = await tollgate.status({ tenantId: 'acme' });
    expect(status.quotas.requests!.day!.used).toBe(1);
    expect(status.quotas.tokens!.day!.used).toBe(1500);
    // 1200 x $2.50 + 300 x $10.00 per 1M tokens = $0.006.
    const batches = await store.claim({ now: Date.now(), maxTags: 10, staleAfterMs: 30_000 });
    const tokens = batches.flatMap((b) => b.usage).filter((d) => d.meter.endsWith('put_tokens'));
    expect(tokens.map((d) => [d.meter, d.model, d.amount, d.costPico]).sort()).toEqual([
      ['input_tokens', 'gpt-4o', 1200, '3000000000'],
      ['output_tokens', 'gpt-4o', 300, '3000000000'],
    ]);
    await tollgate.close();
    await metering.close();
    await store.close();
  });

  it('refuses the tenant with 429 once its tokens for the day are used up', async () => {
    const { app, store, metering } = runExample(readmeExample());
    for (let i = 0; i < 67; i++) await request(app).post('/api/chat').set('X-Tenant-Id', 'acme').expect(200);
    // A busy subject is admitted from an admission lease; closing it makes the next request ask the store.
    await metering.flushUsage();
    const res = await request(app).post('/api/chat').set('X-Tenant-Id', 'acme').expect(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ meter: 'tokens', period: 'day', limit: 100000, used: 100500 });
    await metering.close();
    await store.close();
  });
});

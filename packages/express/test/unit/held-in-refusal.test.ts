// A refusal caused partly by reservations of requests still in flight says how much of `used` they hold (used stays
// the counter admission compared), on both stores.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { parseConfig } from '@tollgate/core';
import { trackUsage, type TrackUsageMiddleware } from '../../src';
import { captureLogger, eventually, identity, memoryKit, type StoreKit } from '@tollgate/http/testing';
import { redisKit } from '../../../../test-support/middleware/redis-kit';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 1000 } } } },
});

for (const kit of [memoryKit(), redisKit()] as StoreKit[]) {
  describe(`a refusal with reservations in flight (${kit.name})`, () => {
    let mw: TrackUsageMiddleware | null = null;
    let server: Server | null = null;
    afterEach(async () => {
      await new Promise((r) => (server ? server.close(r) : r(undefined)));
      server = null;
      await mw?.close();
      mw = null;
    });
    afterAll(() => kit.teardown());

    it('says how much of the used amount requests in flight hold', async () => {
      const store = await kit.create();
      mw = trackUsage({ store, config, leaseMs: 0, reserve: { tokens: 600 }, logger: captureLogger() });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let running = 0;
      const app = express();
      app.use(mw);
      app.get('/api/work', (req, res) => {
        running += 1;
        void held.then(() => {
          req.usage.record('tokens', 50);
          res.json({ ok: true });
        });
      });
      const s = app.listen(0, '127.0.0.1');
      server = s;
      await new Promise((r) => s.once('listening', r));
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/api/work`;
      const who = identity('t-held');
      const first = fetch(url, { headers: who });
      await eventually(() => expect(running).toBe(1));
      const refused = await fetch(url, { headers: who });
      expect(refused.status).toBe(429);
      const problem = (await refused.json()) as { used: number; limit: number; detail: string };
      expect(problem).toMatchObject({ used: 600, limit: 1000 });
      expect(problem.detail).toContain('(600 used, 600 of it held by requests in flight)');
      release();
      expect((await first).status).toBe(200);
      // Settled before its end reached the client: the next call finds the 50 used and nothing held.
      const next = await fetch(url, { headers: who });
      expect(next.status).toBe(200);
    });
  });
}

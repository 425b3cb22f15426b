import http from 'node:http';
import { createHmac } from 'node:crypto';
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { Flusher, migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { createTestDatabase, freePort } from '../../../../test-support/services';
import { WebhookDispatcher, WEBHOOK_SIGNATURE_HEADER } from '../../src/webhooks/dispatcher';

const SECRET = 'webhook-secret-0123456789abcdef';

interface Received {
  body: string;
  signature: string;
  eventId: string;
}

describe('webhooks', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: SqlClient;
  let server: http.Server;
  let url: string;
  const received: Received[] = [];
  const replies: number[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('webhooks');
    sql = await openSqlClient({ databaseUrl: db.url });
    await migrate(sql);
    const port = await freePort();
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({
          body,
          signature: String(req.headers[WEBHOOK_SIGNATURE_HEADER]),
          eventId: String(req.headers['tollgate-event-id']),
        });
        res.statusCode = replies.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    url = `http://127.0.0.1:${port}/hooks`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await sql.close();
    await db.drop();
  });

  it('posts each threshold once, signed, retries after a 500, and does not resend after a restart', async () => {
    const config = parseConfig({
      warnAt: [50, 100],
      plans: { free: { limits: { requests: { day: 4 } } } },
      webhooks: [{ url, events: ['threshold'], secret: SECRET }],
    });
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const flusher = new Flusher({ store, sql, intervalMs: 60_000 });
    const dispatcher = new WebhookDispatcher({ sql, webhooks: config.webhooks, backoffBaseMs: 20 });
    await dispatcher.runOnce(); // registers the endpoint: events recorded from now on are sent to it
    const who = { tenantId: 'hooked', plan: 'free' };
    await engine.consume(who, { requests: 1 });
    await engine.consume(who, { requests: 1 }); // 50%
    await flusher.flushOnce();

    replies.push(500);
    await dispatcher.runOnce();
    expect(received).toHaveLength(1);
    await dispatcher.runOnce(); // not due yet or due: either way at most one more attempt
    await new Promise((r) => setTimeout(r, 60));
    await dispatcher.runOnce();
    expect(received).toHaveLength(2);
    expect(received[0]!.eventId).toBe(received[1]!.eventId);

    const { body, signature } = received[1]!;
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature)!;
    expect(m).not.toBeNull();
    expect(createHmac('sha256', SECRET).update(`${m[1]}.${body}`).digest('hex')).toBe(m[2]);
    const payload = JSON.parse(body);
    expect(payload).toMatchObject({
      type: 'threshold',
      tenantId: 'hooked',
      meter: 'requests',
      period: 'day',
    });
    expect(payload.details.threshold).toBe(50);

    // A restarted dispatcher (same database) sends nothing again.
    await dispatcher.close();
    const restarted = new WebhookDispatcher({ sql, webhooks: config.webhooks, backoffBaseMs: 20 });
    await restarted.runOnce();
    expect(received).toHaveLength(2);

    // The next threshold is sent exactly once.
    await engine.consume(who, { requests: 1 });
    await engine.consume(who, { requests: 1 }); // 100%
    await engine.consume(who, { requests: 1 }); // rejected: quota_exceeded is not subscribed
    await flusher.flushOnce();
    await restarted.runOnce();
    await restarted.runOnce();
    expect(received).toHaveLength(3);
    expect(JSON.parse(received[2]!.body).details.threshold).toBe(100);
    const states = await sql.query<{ status: string; attempts: number }>(
      'SELECT status, attempts FROM webhook_deliveries ORDER BY event_id',
    );
    expect(states.rows).toEqual([
      { status: 'delivered', attempts: 2 },
      { status: 'delivered', attempts: 1 },
    ]);
    await restarted.close();
    await flusher.close();
    await store.close();
  });

  it('retries one endpoint on its own schedule while another endpoint never answers', async () => {
    const hanging = http.createServer(() => {
      // Never answers: each delivery to it waits out the dispatcher's timeout.
    });
    const hangPort = await freePort();
    await new Promise<void>((r) => hanging.listen(hangPort, '127.0.0.1', r));
    const config = parseConfig({
      warnAt: [50],
      plans: { free: { limits: { requests: { day: 2 } } } },
      webhooks: [
        { url, events: ['threshold'], secret: SECRET },
        { url: `http://127.0.0.1:${hangPort}/hooks`, events: ['threshold'], secret: SECRET },
      ],
    });
    const store = new MemoryStore();
    const engine = new QuotaEngine({ store, config });
    const flusher = new Flusher({ store, sql, intervalMs: 60_000 });
    const dispatcher = new WebhookDispatcher({
      sql,
      webhooks: config.webhooks,
      backoffBaseMs: 20,
      intervalMs: 20,
      timeoutMs: 10_000,
    });
    try {
      await dispatcher.runOnce(); // registers both endpoints
      await engine.consume({ tenantId: 'hooked-beside-a-hang', plan: 'free' }, { requests: 1 }); // 50%
      await flusher.flushOnce();
      replies.push(500, 500);
      const before = received.length;
      dispatcher.start();
      // Two failures, then delivered: three tries 20 and 40 ms apart, all while the other endpoint's first
      // delivery still waits (10 s). Before, every pass waited for it.
      const started = Date.now();
      while (received.length - before < 3 && Date.now() - started < 5000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(received.length - before).toBe(3);
      expect(new Set(received.slice(before).map((r) => r.eventId)).size).toBe(1);
    } finally {
      hanging.closeAllConnections();
      await dispatcher.close();
      await new Promise((r) => hanging.close(r));
      await flusher.close();
      await store.close();
    }
  });
});

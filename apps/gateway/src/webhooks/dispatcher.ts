// Webhook delivery: notable events from usage_events POSTed once per endpoint, signed, retried with backoff; state in Postgres.
import { createHash, createHmac } from 'node:crypto';
import type { WebhookConfig } from '@tollgate/core';
import type { SqlExecutor } from '@tollgate/ledger';

/** The part of the ledger's SqlClient this needs. */
export type SqlQuery = Pick<SqlExecutor, 'query'>;

export interface WebhookLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export interface WebhookDispatcherOptions {
  sql: SqlQuery;
  webhooks: WebhookConfig[];
  /** How often pending deliveries are looked for. Defaults to 1000 ms. */
  intervalMs?: number;
  /** Attempts before a delivery is marked failed. Defaults to 10. */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt, capped at 5 minutes. Defaults to 1000 ms. */
  backoffBaseMs?: number;
  /** Per-request timeout. Defaults to 5000 ms. */
  timeoutMs?: number;
  logger?: WebhookLogger;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as in Stripe-style receivers. */
export function signWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export const WEBHOOK_SIGNATURE_HEADER = 'tollgate-signature';

const EVENT_TYPES: Record<WebhookConfig['events'][number], string> = {
  threshold: 'threshold',
  quota_exceeded: 'quota_exceeded',
  override_set: 'override_set',
};

interface DueDelivery {
  webhook_id: string;
  event_id: string;
  attempts: number;
  type: string;
  tenant_id: string | null;
  user_id: string | null;
  meter: string | null;
  period: string | null;
  details: unknown;
  occurred_at: Date | string;
}

function webhookId(w: WebhookConfig): string {
  return createHash('sha256').update(w.url).digest('hex').slice(0, 16);
}

/** Deliveries in flight at most: each waits up to its timeout, and the passes go on without waiting for them. */
const MAX_IN_FLIGHT = 100;

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Deliveries started and not yet ended (a slow endpoint holds up none of the others, nor the next pass). */
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private readonly byId = new Map<string, WebhookConfig>();
  private readonly intervalMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: WebhookDispatcherOptions) {
    for (const w of options.webhooks) this.byId.set(webhookId(w), w);
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  start(): void {
    if (this.byId.size === 0 || this.timer || this.closed) return;
    const tick = () => {
      this.running = this.startDue()
        .then(() => undefined)
        .catch((err: unknown) => this.options.logger?.warn({ err }, 'webhook dispatch failed; will retry'))
        .finally(() => {
          this.running = null;
          if (!this.closed) {
            this.timer = setTimeout(tick, this.intervalMs);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await Promise.all(this.inflight);
  }

  /** Enqueues new events for every endpoint, then attempts every due delivery once; resolves when those ended. */
  async runOnce(): Promise<void> {
    await Promise.all(await this.startDue());
  }

  /** Enqueues new events for every endpoint and starts every due delivery (within MAX_IN_FLIGHT); returns them. */
  private async startDue(): Promise<Array<Promise<void>>> {
    const { sql } = this.options;
    for (const [id, w] of this.byId) {
      await sql.query(
        `INSERT INTO webhook_endpoints (webhook_id, url) VALUES ($1, $2) ON CONFLICT (webhook_id) DO NOTHING`,
        [id, w.url],
      );
      // Anti-join, not a cursor: event ids commit out of order across concurrent flushers.
      await sql.query(
        `INSERT INTO webhook_deliveries (webhook_id, event_id)
         SELECT $1, e.id FROM usage_events e, webhook_endpoints w
          WHERE w.webhook_id = $1 AND e.type = ANY($2::text[]) AND e.recorded_at >= w.since
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = $1 AND d.event_id = e.id)
         ON CONFLICT DO NOTHING`,
        [id, w.events.map((e) => EVENT_TYPES[e])],
      );
    }
    const room = MAX_IN_FLIGHT - this.inflight.size;
    if (room <= 0) return [];
    const due = await sql.query<DueDelivery>(
      `WITH picked AS (
         SELECT webhook_id, event_id FROM webhook_deliveries
          WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
          ORDER BY next_attempt_at, event_id LIMIT $1::int FOR UPDATE SKIP LOCKED)
       UPDATE webhook_deliveries d SET locked_until = now() + interval '60 seconds'
         FROM picked, usage_events e
        WHERE d.webhook_id = picked.webhook_id AND d.event_id = picked.event_id AND e.id = d.event_id
       RETURNING d.webhook_id, d.event_id::text AS event_id, d.attempts, e.type, e.tenant_id, e.user_id, e.meter,
                 e.period, e.details, e.occurred_at`,
      [room],
    );
    return due.rows.map((d) => {
      const delivery: Promise<void> = this.deliver(d)
        .catch((err: unknown) => this.options.logger?.warn({ err }, 'webhook delivery failed; will retry'))
        .finally(() => this.inflight.delete(delivery));
      this.inflight.add(delivery);
      return delivery;
    });
  }

  private async deliver(d: DueDelivery): Promise<void> {
    const w = this.byId.get(d.webhook_id);
    if (!w) return;
    const body = JSON.stringify({
      id: d.event_id,
      type: d.type,
      tenantId: d.tenant_id,
      userId: d.user_id,
      meter: d.meter,
      period: d.period,
      details: d.details,
      occurredAt: new Date(d.occurred_at).toISOString(),
    });
    let status = 0;
    let error: string | null = null;
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // The answer's body is never read: nothing to decode.
          'accept-encoding': 'identity',
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(w.secret, body),
          'tollgate-event-id': d.event_id,
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      // Only the status counts: the body is dropped unread (read whole, a receiver's gzip answer of a few hundred
      // KiB was hundreds of MiB in memory, with up to MAX_IN_FLIGHT deliveries at once).
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      error = (err as Error).message;
    }
    const ok = status >= 200 && status < 300;
    const attempts = d.attempts + 1;
    const delay = Math.min(this.backoffBaseMs * 2 ** d.attempts, 300_000);
    await this.options.sql.query(
      `UPDATE webhook_deliveries
          SET attempts = $3::int, last_status = $4::int, last_error = $5::text, locked_until = NULL,
              status = CASE WHEN $6::boolean THEN 'delivered' WHEN $3::int >= $7::int THEN 'failed' ELSE 'pending' END,
              delivered_at = CASE WHEN $6::boolean THEN now() ELSE NULL END,
              next_attempt_at = now() + ($8::text || ' milliseconds')::interval
        WHERE webhook_id = $1 AND event_id = $2::bigint`,
      [d.webhook_id, d.event_id, attempts, status || null, error, ok, this.maxAttempts, String(delay)],
    );
    if (!ok)
      this.options.logger?.warn(
        { webhook: w.url, event: d.event_id, status, error, attempts },
        'webhook delivery failed',
      );
  }
}

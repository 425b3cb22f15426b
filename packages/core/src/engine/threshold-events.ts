// Events kept for the flusher (`usage_events`): thresholds crossed and first rejections, awaited or in the background.
import { randomUUID } from 'node:crypto';
import { apiAmount } from '../money';
import type { CounterState, ThresholdCrossing, UsageEventRecord } from '../store';
import type { ResolvedSubject } from '../subject';
import type { EngineContext } from './context';
import type { ShardSeeder } from './seeding';

/** A `threshold` or `quota_exceeded` event of one counter, its amounts as the APIs show them. */
export function counterEvent(
  type: 'threshold' | 'quota_exceeded',
  subject: ResolvedSubject,
  c: CounterState,
  now: number,
  extra: Record<string, unknown> = {},
): UsageEventRecord {
  return {
    type,
    tenantId: subject.tenantId,
    userId: c.scope === 'user' ? c.id : subject.userId,
    meter: c.meter,
    period: c.period,
    details: {
      scope: c.scope,
      id: c.id,
      // The usage API and webhooks carry these as they are: money as exact USD decimal strings, like every API.
      limit: apiAmount(c.meter, c.limit),
      used: apiAmount(c.meter, c.used),
      periodKey: c.periodKey,
      resetsAt: c.resetsAt === null ? null : new Date(c.resetsAt).toISOString(),
      ...extra,
    },
    occurredAt: now,
  };
}

/** Keeps events with one extra store op (they are rare); see `QuotaEngineOptions.onEventsFailed`. */
export class EventKeeper {
  /** Events ops running in the background (when `onFailed` is set), for `kept()`. */
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly seeder: ShardSeeder,
    private readonly onFailed: ((err: unknown) => void) | null,
  ) {}

  /** Threshold crossings become `threshold` events on the flush path (the store reports each once). */
  async thresholds(subject: ResolvedSubject, crossed: ThresholdCrossing[], now: number): Promise<void> {
    if (crossed.length === 0) return;
    await this.keep(
      subject,
      crossed.map((c) => counterEvent('threshold', subject, c, now, { threshold: c.threshold })),
    );
  }

  /** Appends `events`, awaited, or in the background when `onFailed` is set. */
  async keep(subject: ResolvedSubject, events: UsageEventRecord[]): Promise<void> {
    const failed = this.onFailed;
    if (failed === null) return this.append(subject, events);
    const keeping = this.append(subject, events).catch(failed);
    this.background.add(keeping);
    void keeping.finally(() => this.background.delete(keeping));
  }

  /** Resolves once the events ops running in the background have ended (before the store is closed). */
  async kept(): Promise<void> {
    await Promise.all([...this.background]);
  }

  /** Keeps events for the flusher (`usage_events`) in a `record` op of their own. */
  private async append(subject: ResolvedSubject, events: UsageEventRecord[]): Promise<void> {
    const { ctx } = this;
    const now = ctx.now();
    const op = ctx.applyOp(subject, now, randomUUID(), 'record', [], []);
    op.events = events;
    await this.seeder.seededApply(subject, op);
  }
}

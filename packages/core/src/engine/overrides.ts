// Custom limits: `setOverride` writes one to the store and keeps an `override_set` event for the ledger.
import { isConfiguredMeter } from '../config';
import { InvalidUsageError } from '../errors';
import { isLimitValue } from '../money';
import type { Period } from '../periods';
import type { UsageEventRecord } from '../store';
import { overrideTarget, type Identity, type OverrideTargetInput } from '../subject';
import type { EngineParts } from './parts';
import { recordOp } from './record-ops';

/** Sets (or with `limit: null` removes) a custom limit for one tenant, user or API key, effective at once everywhere. */
export async function setOverride(
  parts: EngineParts,
  target: OverrideTargetInput,
  meter: string,
  period: Period,
  limit: number | null,
): Promise<void> {
  const { config, store, now } = parts.ctx;
  if (!isConfiguredMeter(config, meter)) throw new InvalidUsageError(`unknown meter "${meter}"`);
  if (limit !== null && !isLimitValue(meter, limit)) {
    throw new InvalidUsageError('limit must be an integer >= -1 (-1 = unlimited) that the stores can hold');
  }
  const { tag, ref } = overrideTarget(target, config.subject);
  await store.setOverride(tag, { ...ref, meter, period, limit });
  const identity: Identity =
    ref.scope === 'tenant'
      ? { tenantId: ref.id }
      : ref.scope === 'key'
        ? { tenantId: target.tenantId ?? null, userId: target.userId ?? null, apiKeyId: ref.id }
        : { tenantId: target.tenantId ?? null, userId: ref.id };
  const event: UsageEventRecord = {
    type: 'override_set',
    tenantId: identity.tenantId ?? null,
    userId: identity.userId ?? null,
    meter,
    period,
    details: { scope: ref.scope, id: ref.id, limit },
    occurredAt: now(),
  };
  await recordOp(parts, identity, [], { events: [event] });
}

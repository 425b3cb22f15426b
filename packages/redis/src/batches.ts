// Decodes claimed batches: the unflushed-usage hash (a<dims> = amount, c<dims> = cost) and the event list.
import type { ClaimedBatch, UsageDelta, UsageEventRecord } from '@tollgate/core';

type Dims = [string | null, string | null, string, string | null, number, 0 | 1, string?];

/** Rebuilds deltas from HGETALL output, keeping amounts and pico-dollar costs as Redis' exact integers. */
export function decodeUsage(flat: readonly string[]): UsageDelta[] {
  const byField = new Map<string, { amount: string; cost: string }>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    const dims = name.slice(1);
    let entry = byField.get(dims);
    if (!entry) {
      entry = { amount: '0', cost: '0' };
      byField.set(dims, entry);
    }
    if (name[0] === 'a') entry.amount = flat[i + 1]!;
    else if (name[0] === 'c') entry.cost = flat[i + 1]!;
  }
  const out: UsageDelta[] = [];
  for (const [dims, v] of byField) {
    const [tenantId, userId, meter, model, bucketStart, estimated, keyId] = JSON.parse(dims) as Dims;
    const delta: UsageDelta = {
      tenantId,
      userId,
      meter,
      model,
      bucketStart,
      amount: Number(v.amount),
      costPico: v.cost,
    };
    if (estimated === 1) delta.estimated = true;
    if (keyId) delta.keyId = keyId;
    out.push(delta);
  }
  return out;
}

/** One batch from the claim script's reply: {batchId, usage hash, events}. */
export function decodeBatch(tag: string, claimedAt: number, raw: unknown): ClaimedBatch {
  const [batchId, usage, events] = raw as [string, string[], string[]];
  return {
    batchId,
    tag,
    claimedAt,
    usage: decodeUsage(usage),
    events: events.map((e) => JSON.parse(e) as UsageEventRecord),
  };
}

// Owner filters shared by the usage queries, turned into parameterised SQL.

/** Whose rows: `undefined` leaves a column unfiltered, `null` matches rows without one. */
export interface UsageFilter {
  tenantId?: string | null;
  userId?: string | null;
  /** Only usage that came with this API key (`key_id`); `undefined` leaves it unfiltered. */
  keyId?: string;
}

/** Collects `$n` parameters while a query is assembled. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * SQL conditions (ANDed, possibly empty) for a filter on tenant_id / user_id and key_id (`keyCondition` says how a
 * table without that column names a key).
 */
export function ownerConditions(
  filter: UsageFilter,
  p: Params,
  keyCondition: (param: string) => string = (param) => `key_id = ${param}`,
): string[] {
  const out: string[] = [];
  if (filter.tenantId === null) out.push('tenant_id IS NULL');
  else if (filter.tenantId !== undefined) out.push(`tenant_id = ${p.add(filter.tenantId)}`);
  if (filter.userId === null) out.push('user_id IS NULL');
  else if (filter.userId !== undefined) out.push(`user_id = ${p.add(filter.userId)}`);
  if (filter.keyId !== undefined) out.push(keyCondition(p.add(filter.keyId)));
  return out;
}

export function where(conditions: string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

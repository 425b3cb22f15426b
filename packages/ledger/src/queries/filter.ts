// Owner filters shared by the usage queries, turned into parameterised SQL.

/** Whose rows: `undefined` leaves a column unfiltered, `null` matches rows without one. */
export interface UsageFilter {
  tenantId?: string | null;
  userId?: string | null;
}

/** Collects `$n` parameters while a query is assembled. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** SQL conditions (ANDed, possibly empty) for a filter on tenant_id / user_id. */
export function ownerConditions(filter: UsageFilter, p: Params): string[] {
  const out: string[] = [];
  if (filter.tenantId === null) out.push('tenant_id IS NULL');
  else if (filter.tenantId !== undefined) out.push(`tenant_id = ${p.add(filter.tenantId)}`);
  if (filter.userId === null) out.push('user_id IS NULL');
  else if (filter.userId !== undefined) out.push(`user_id = ${p.add(filter.userId)}`);
  return out;
}

export function where(conditions: string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

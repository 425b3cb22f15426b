// What a subject's requests with an estimate (an LLM call's tokens and cost) amount to, for the leases that hold
// them: the estimates' rates per meter, and a lease's held amounts taken and given back.

/** A subject's estimates per ms, by meter, measured over the same periods as its request rate (see Leases). */
export class EstimateRates {
  /** Admissions with an estimate per ms over the last measured period. */
  rate = 0;
  /** Each meter's estimates per ms over the last measured period; null when none was seen. */
  amounts: ReadonlyMap<string, number> | null = null;
  private count = 0;
  private sums: Map<string, number> | null = null;

  /** Adds one admission's estimate to the running period. */
  add(estimate: Record<string, number>): void {
    this.count += 1;
    const sums = (this.sums ??= new Map());
    for (const meter in estimate) {
      const amount = estimate[meter]!;
      // An estimate of `requests` is left to the store (a lease's units are one per request).
      if (meter !== 'requests' && Number.isSafeInteger(amount) && amount > 0) {
        sums.set(meter, (sums.get(meter) ?? 0) + amount);
      }
    }
  }

  /** Sets the rates from the running period, `elapsed` ms long so far; `restart` begins the next period. */
  measure(elapsed: number, restart: boolean): void {
    this.rate = this.count / elapsed;
    let amounts: Map<string, number> | null = null;
    if (this.sums !== null)
      for (const [meter, sum] of this.sums) (amounts ??= new Map()).set(meter, sum / elapsed);
    this.amounts = amounts;
    if (restart) {
      this.count = 0;
      this.sums = null;
    }
  }
}

/** What a lease holds of estimated meters, and what its requests took of it. */
export interface HeldAmounts {
  readonly held: ReadonlyMap<string, number> | null;
  readonly taken: Map<string, number> | null;
}

/**
 * True when `lease` holds room for every amount of `estimate`. An amount that is not a non-negative safe integer is
 * never taken here: the store's admission refuses it with the error the caller would get without a lease.
 */
export function fits(lease: HeldAmounts, estimate: Record<string, number>): boolean {
  const held = lease.held;
  for (const meter in estimate) {
    const amount = estimate[meter]!;
    if (!Number.isSafeInteger(amount) || amount < 0) return false;
    if (amount === 0) continue;
    const room = held?.get(meter);
    if (room === undefined || lease.taken!.get(meter)! + amount > room) return false;
  }
  return true;
}

/** Takes (`sign` 1) or gives back (-1) `estimate` from what `lease` holds (it fits: see fits). */
export function take(lease: HeldAmounts, estimate: Record<string, number>, sign: 1 | -1): void {
  const taken = lease.taken;
  if (taken === null) return;
  for (const meter in estimate) {
    const amount = estimate[meter]!;
    if (amount > 0) taken.set(meter, taken.get(meter)! + sign * amount);
  }
}

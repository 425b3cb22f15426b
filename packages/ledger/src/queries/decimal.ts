// Integer sums from Postgres (bigint text) as JS numbers; money sums are converted by @tollgate/core's money module.

/** An integer sum (bigint text) as a JS number; exact below 2^53. */
export function toAmount(text: string | null | undefined): number {
  return text === null || text === undefined ? 0 : Number(text);
}

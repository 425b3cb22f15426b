// problem+json (RFC 9457) body shapes, apart from the code that builds them: errors.ts carries one without
// depending on the engine.
import type { Scope } from './store';

/** The 429/403 body: names the limit that resets last. */
export interface QuotaProblem {
  type: string;
  title: string;
  status: 429 | 403;
  detail: string;
  scope: Scope;
  meter: string;
  period: string;
  /** Integer, or a USD decimal string for the `cost` meter. */
  limit: number | string;
  used: number | string;
  /** ISO 8601; null for a `total` limit (never resets). */
  resetsAt: string | null;
}

export interface SimpleProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

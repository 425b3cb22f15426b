// What Tollgate reports to user callbacks: thresholds crossed and requests rejected (or, in shadow mode, would-be rejected).
import type { Violation, ThresholdCrossing } from '@tollgate/core';
import type { QuotaProblem, SimpleProblem } from './problem';

/** A `warnAt` threshold crossed for the first time in its period (once per subject, meter, period, threshold). */
export interface ThresholdEvent extends ThresholdCrossing {
  tenantId: string | null;
  userId: string | null;
  plan: string;
}

/** A request (or programmatic call) turned away, or in shadow mode one that would have been. */
export interface RejectedEvent {
  /** `quota`: a limit is used up (429/403); `identity`: no or a bad identity (401); `store`: fail-closed (503). */
  reason: 'quota' | 'identity' | 'store';
  status: 401 | 403 | 429 | 503;
  /** True in shadow mode: the request was let through and only reported. */
  shadow: boolean;
  tenantId: string | null;
  userId: string | null;
  /** The limit named in the 429/403 body (the one that resets last). */
  violation?: Violation;
  /** The problem+json body that was (or would have been) sent. */
  problem: QuotaProblem | SimpleProblem;
  method?: string;
  /** Request path without the query string. */
  path?: string;
}

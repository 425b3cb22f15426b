// What the programmatic API (`createTollgate`) answers, and whom it is asked for.
import type { Admission, Identity, RecordResult } from '@tollgate/core';

/** An admission from the programmatic API; `degraded` when the store was unreachable and `failMode` is `open`. */
export type TollgateAdmission = Admission & { degraded: boolean };

export interface TollgateRecordResult extends RecordResult {
  /** True when the store was unreachable: the usage waits in the fail-open buffer (or was dropped if it was full). */
  buffered: boolean;
}

/** For `/readyz` and metrics. */
export interface TollgateHealth {
  /** True while the store is failing, or buffered usage still waits for it. */
  degraded: boolean;
  /** False since the last store call failed, until one succeeds. */
  storeAvailable: boolean;
  /** Operations waiting in the fail-open buffer. */
  buffered: number;
  /** Operations dropped because the buffer was full (`tollgate_usage_dropped_total`). */
  dropped: number;
  /** ISO time of the failure that started the current outage, or null. */
  failingSince: string | null;
  lastError: string | null;
}

/** Who a programmatic call is for: an identity, or just a user id. */
export type IdentityInput = Identity | string;

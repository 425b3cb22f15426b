// A store call on the request path, bounded: every one answers within `storeTimeoutMs` or fails, and the guard knows
// whether the store is reachable (for fail-open/closed, `/readyz` and the logs).
import { ErrorCode } from '@tollgate/core';
import { isStoreFailure, withDeadline } from './deadline';
import { safeLog, type TollgateLogger } from './logger';

export interface StoreGuardOptions {
  storeTimeoutMs: number;
  failMode: 'open' | 'closed';
  logger: TollgateLogger;
}

export class StoreGuard {
  private since: number | null = null;
  private error: string | null = null;

  constructor(
    private readonly options: StoreGuardOptions,
    /** Called after every call the store answered, with when the outage it ends began (null: there was none). */
    private readonly onAnswered: (downSince: number | null) => void,
  ) {}

  /** When the current outage began (ms since the epoch), or null while the store answers. */
  get failingSince(): number | null {
    return this.since;
  }

  get lastError(): string | null {
    return this.error;
  }

  /** Runs one store call under `storeTimeoutMs`, tracking whether the store is reachable. */
  async call<T>(work: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (err) {
      pending = Promise.reject(err);
    }
    try {
      const value = await withDeadline(pending, this.options.storeTimeoutMs);
      this.storeAnswered();
      return value;
    } catch (err) {
      if (isStoreFailure(err)) this.storeFailed(err);
      throw err;
    }
  }

  private storeAnswered(): void {
    const since = this.since;
    if (since !== null) {
      safeLog(
        this.options.logger,
        'info',
        { code: ErrorCode.StoreUnavailable, downForMs: Date.now() - since },
        'Tollgate: the counter store answers again',
      );
      this.since = null;
    }
    this.onAnswered(since);
  }

  private storeFailed(err: unknown): void {
    this.error = err instanceof Error ? err.message : String(err);
    if (this.since === null) {
      this.since = Date.now();
      safeLog(
        this.options.logger,
        'warn',
        { code: ErrorCode.StoreUnavailable, failMode: this.options.failMode, err: this.error },
        `Tollgate: the counter store is unreachable; failing ${this.options.failMode}`,
      );
    }
  }
}

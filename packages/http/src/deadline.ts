// Bounds a store call by `storeTimeoutMs`: the caller gets an answer or a StoreUnavailableError, never a hang.
import { ErrorCode, StoreUnavailableError, TollgateError } from '@tollgate/core';

/** The store did not answer in time: unlike a refused connection, the call may still have been applied. */
export class StoreTimeoutError extends StoreUnavailableError {}

/**
 * Resolves with `work`, or rejects with StoreUnavailableError after `ms`. A late answer or error of
 * `work` is absorbed here, so it can never surface as an unhandled rejection.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      // Timers run before I/O in a loop turn: on a busy loop the answer may already be waiting in the
      // poll phase. Give it that one phase before declaring the store unavailable.
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(new StoreTimeoutError(`the counter store did not answer within ${ms} ms`));
      });
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(err);
      },
    );
  });
}

/**
 * True when an error means "the store is unreachable" (fail-open/closed applies), false for errors that
 * retrying can never fix (an unknown meter, a bad amount): those are bugs to surface, not outages.
 */
export function isStoreFailure(err: unknown): boolean {
  if (err instanceof TollgateError) return err.code === ErrorCode.StoreUnavailable;
  return true;
}

/** A StoreUnavailableError for any store failure (ioredis errors included), keeping the original as `cause`. */
export function asStoreError(err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  return new StoreUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
}

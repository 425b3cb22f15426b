// Maps anything the Redis client throws (refused, timed out, cluster down, script error) to StoreUnavailableError.
import { StoreUnavailableError, TollgateError } from '@tollgate/core';

export function toStoreError(err: unknown, operation: string): Error {
  if (err instanceof TollgateError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`Redis store ${operation} failed: ${reason}`, { cause: err });
}

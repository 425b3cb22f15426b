// Error types shared by every Tollgate package; codes live in one enum so users can match on them.
import type { QuotaProblem } from './problem-body';

export enum ErrorCode {
  Config = 'ERR_TOLLGATE_CONFIG',
  StoreUnavailable = 'ERR_TOLLGATE_STORE_UNAVAILABLE',
  QuotaExceeded = 'ERR_TOLLGATE_QUOTA_EXCEEDED',
  InvalidUsage = 'ERR_TOLLGATE_INVALID_USAGE',
  InvalidStore = 'ERR_TOLLGATE_INVALID_STORE',
  NoIdentity = 'ERR_TOLLGATE_NO_IDENTITY',
  /** The identity headers' signature is missing, malformed, stale or forged. */
  BadIdentitySignature = 'ERR_TOLLGATE_BAD_IDENTITY_SIGNATURE',
  /** Warning: the middleware ran twice for one request (mounted twice); it was counted once. */
  DoubleCount = 'ERR_TOLLGATE_DOUBLE_COUNT',
  /** Warning: the fail-open buffer was full, so usage was dropped. */
  UsageDropped = 'ERR_TOLLGATE_USAGE_DROPPED',
  /** Warning: an identity named a plan the config does not have; `defaultPlan` was used. */
  UnknownPlan = 'ERR_TOLLGATE_UNKNOWN_PLAN',
  /** Warning: a user callback (`onThreshold`, `onRejected`, `logger`, ...) threw. */
  CallbackFailed = 'ERR_TOLLGATE_CALLBACK_FAILED',
}

/** The error-codes page (docs/error-codes.md): one section per code, its anchor the code in lower case. */
export const ERROR_DOCS_URL = 'https://tollgate.dev/docs/error-codes';

/** Where a code is explained: what it means and what to do. */
export function errorDocsUrl(code: ErrorCode): string {
  return `${ERROR_DOCS_URL}#${code.toLowerCase()}`;
}

export class TollgateError extends Error {
  readonly code: ErrorCode;
  /** The section of the error-codes page for `code`. */
  readonly docs: string;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.docs = errorDocsUrl(code);
    this.name = new.target.name;
  }
}

/** Impossible configuration: thrown at start-up, naming the offending path. */
export class ConfigError extends TollgateError {
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
  constructor(
    issues: ReadonlyArray<{ path: string; message: string }>,
    options?: { cause?: unknown; source?: string },
  ) {
    const where = options?.source ? ` in ${options.source}` : '';
    const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    super(ErrorCode.Config, `Invalid Tollgate config${where}: ${lines.join('; ')}`, options);
    this.issues = issues;
  }
}

/** The counter store did not answer (down, timed out, or refused the command). */
export class StoreUnavailableError extends TollgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StoreUnavailable, message, options);
  }
}

/** A usage value that can never be valid (unknown meter, non-integer amount, ...). */
export class InvalidUsageError extends TollgateError {
  constructor(message: string) {
    super(ErrorCode.InvalidUsage, message);
  }
}

/** A quota would be exceeded: carries the problem+json body and status a caller can send as is. */
export class QuotaExceededError extends TollgateError {
  /** 429, or 403 for a `total` limit (it never resets). */
  readonly status: 429 | 403;
  /** Seconds until the named limit resets (rounded up, >= 1); null for a `total` limit. */
  readonly retryAfter: number | null;
  /** The RFC 9457 body (`type`, `title`, `status`, `detail`, `scope`, `meter`, `period`, `limit`, `used`, `resetsAt`). */
  readonly problem: QuotaProblem;
  constructor(
    message: string,
    details: { status: 429 | 403; retryAfter: number | null; problem: QuotaProblem },
  ) {
    super(ErrorCode.QuotaExceeded, message);
    this.status = details.status;
    this.retryAfter = details.retryAfter;
    this.problem = details.problem;
  }
}

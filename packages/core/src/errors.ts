// Error types shared by every Tollgate package; codes live in one enum so users can match on them.

export enum ErrorCode {
  Config = 'ERR_TOLLGATE_CONFIG',
  StoreUnavailable = 'ERR_TOLLGATE_STORE_UNAVAILABLE',
  QuotaExceeded = 'ERR_TOLLGATE_QUOTA_EXCEEDED',
  InvalidUsage = 'ERR_TOLLGATE_INVALID_USAGE',
  InvalidStore = 'ERR_TOLLGATE_INVALID_STORE',
  NoIdentity = 'ERR_TOLLGATE_NO_IDENTITY',
}

export class TollgateError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
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

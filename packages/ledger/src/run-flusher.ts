// runFlusher(): a Flusher wired for a process (the flusher app, or inline in the gateway): logging of failures
// and recovery, the lag since the last success, retention at start, and a shutdown that flushes once more and
// then releases the caller's clients.
import { Flusher, type FlushReport, type FlusherOptions } from './flusher';

/** What runFlusher logs through (a pino logger fits). */
export interface FlusherLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface RunFlusherOptions extends Omit<FlusherOptions, 'onFlush' | 'onError'> {
  log: FlusherLog;
  /** Each successful flush, after it was logged (metrics). Defaults to none. */
  onFlush?: (report: FlushReport) => void;
  /** Each failed flush or maintenance run, after it was logged (metrics); the flusher retries by itself. */
  onError?: (phase: 'flush' | 'maintenance', err: unknown) => void;
  /** Run retention and batch-id pruning once at start (else after the first flush). Defaults to true. */
  maintainAtStart?: boolean;
  /** Extra fields of the `flusher started` line (e.g. the metrics port). Defaults to none. */
  startedFields?: Record<string, unknown>;
  /** Run in order once the final flush settled (succeeded or not): e.g. closing the store's client and the ledger's. */
  release?: Array<() => unknown>;
}

export interface RunningFlusher {
  readonly flusher: Flusher;
  /** Seconds since the last successful flush (since start before the first): grows while a side is down. */
  lagSeconds(): number;
  /** Stops the timer, finishes the batch in hand, flushes once more, then runs `release`; rejects if that flush failed. */
  close(): Promise<FlushReport>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Builds and starts a Flusher over `options.store` and `options.sql` (the first flush runs after one interval). */
export function runFlusher(options: RunFlusherOptions): RunningFlusher {
  const {
    log,
    onFlush,
    onError,
    maintainAtStart = true,
    startedFields,
    release = [],
    ...flusherOptions
  } = options;
  const startedAt = Date.now();
  let failing = false;
  const flusher = new Flusher({
    ...flusherOptions,
    onFlush: (report) => {
      if (failing) log.info({}, 'flush recovered');
      failing = false;
      if (report.batches + report.skipped > 0) log.debug(report, 'flushed');
      onFlush?.(report);
    },
    onError: (err, info) => {
      if (info.phase === 'flush') failing = true;
      log.warn({ err: message(err), ...info }, `${info.phase} failed; nothing is lost, retrying`);
      onError?.(info.phase, err);
    },
  }).start();
  log.info(
    { intervalMs: flusher.intervalMs, retentionMonths: options.retentionMonths ?? null, ...startedFields },
    'flusher started',
  );
  if (maintainAtStart) void flusher.maintain(true);
  let closing: Promise<FlushReport> | null = null;
  return {
    flusher,
    lagSeconds: () => (Date.now() - (flusher.lastSuccessAt ?? startedAt)) / 1000,
    close() {
      closing ??= (async () => {
        try {
          return await flusher.close();
        } finally {
          for (const step of release) await (async () => step())().catch(() => undefined);
        }
      })();
      return closing;
    },
  };
}

// @tollgate/ledger/internal: UNSTABLE. For Tollgate's own apps, tests and benches; not part of the public API, and
// it may change in any release. Users import `@tollgate/ledger`.

// A Flusher wired for a process, as both apps run it (logging, lag, retention at start, shutdown).
export { runFlusher, type FlusherLog, type RunFlusherOptions, type RunningFlusher } from './run-flusher';

// Partition names and retention months.
export {
  addMonths,
  monthOf,
  oldestKeptMonth,
  parsePartitionName,
  partitionName,
  type Month,
} from './partitions';

// One CSV cell as the export writes it.
export { csvField } from './queries/export-csv';

// What the gateway's key management needs beyond the public life cycle.
export { apiKeyRefusal, apiKeySuccessor, looksLikeApiKey } from './api-keys';

// The parts the gateway opens at start (each closed at shutdown through Cleanups).
export { Cleanups } from './cleanups';
export { openCounterStore, type CounterStorePart } from './counter-store';
export { openCredentials } from './credentials';
export { startInlineFlusher } from './flush-to-ledger';
export { openLedger } from './ledger';
export { resolveUpstream } from './upstream';

// The in-process CounterStore.
export { MemoryStore, type MemoryStoreOptions } from './memory-store';

// A MemoryStore that keeps every post-response usage write (record op) it applied: when usage reached the store.
import { MemoryStore, type ApplyOp } from '@tollgate/core';

export function recordingStore(): { store: MemoryStore; writes: ApplyOp[] } {
  const store = new MemoryStore();
  const writes: ApplyOp[] = [];
  const apply = store.apply.bind(store);
  store.apply = async (op) => {
    const result = await apply(op);
    if (op.mode === 'record') writes.push(op);
    return result;
  };
  return { store, writes };
}

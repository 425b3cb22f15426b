// A real flusher process for the crash tests: startFlusher with hooks that tell the parent (IPC) when a
// transaction is about to COMMIT and when it has committed but not yet been acknowledged, then pause there.
import pino from 'pino';
import type { ClaimedBatch } from '@tollgate/core';
import { parseSettings } from '../../src/env';
import { startFlusher } from '../../src/run';

const pauseMs = Number(process.env.CRASH_PAUSE_MS ?? '0');

function tell(msg: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, () => resolve());
  });
}

async function edge(at: string, batches: readonly ClaimedBatch[]): Promise<void> {
  if (batches.length === 0) return;
  await tell({ at, batches: batches.length });
  if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
}

async function main(): Promise<void> {
  const settings = parseSettings(process.env, { needStore: true });
  const runtime = await startFlusher(settings, {
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    hooks: {
      beforeCommit: (b) => edge('before-commit', b),
      afterCommit: (b) => edge('after-commit', b),
    },
  });
  await tell({ at: 'ready' });
  process.on('SIGTERM', () => {
    void runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err: Error) => {
  process.stderr.write(`crash-child: ${err.message}\n`);
  process.exit(1);
});

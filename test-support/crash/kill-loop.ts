// Starts a child process, SIGKILLs it at random moments and starts it again on the same port; and reads back what
// the counter store kept for the ledger.
import { fork, type ChildProcess } from 'node:child_process';
import type { CounterStore } from '@tollgate/core';

export interface Running {
  child: ChildProcess;
  exited: Promise<NodeJS.Signals | number | null>;
}

/** Forks `script` and resolves once it says `{ at: 'ready' }` (rejects with its stderr if it exits first). */
export function startChild(
  script: string,
  env: NodeJS.ProcessEnv,
  readyTimeoutMs = 20_000,
): Promise<Running> {
  const child = fork(script, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child not ready within ${readyTimeoutMs} ms: ${stderr.trim()}`));
    }, readyTimeoutMs);
    child.on('message', (m: { at?: string }) => {
      if (m.at !== 'ready') return;
      clearTimeout(timer);
      resolve({ child, exited });
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${String(how)}) before it was ready: ${stderr.trim()}`));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `start()`, then `kills` times: lets it serve for a random time within `upMs`, SIGKILLs it and starts it again.
 * Resolves with the last one, still running, and how many kills landed.
 */
export async function killAtRandom(
  start: () => Promise<Running>,
  kills: number,
  upMs: readonly [number, number],
): Promise<{ last: Running; killed: number }> {
  let running = await start();
  let killed = 0;
  for (let i = 0; i < kills; i++) {
    await sleep(upMs[0] + Math.random() * (upMs[1] - upMs[0]));
    running.child.kill('SIGKILL');
    if ((await running.exited) === 'SIGKILL') killed += 1;
    running = await start();
  }
  return { last: running, killed };
}

/** Stops a child gracefully (SIGTERM), resolving with how it exited. */
export async function stopChild(running: Running): Promise<NodeJS.Signals | number | null> {
  running.child.kill('SIGTERM');
  return running.exited;
}

/** Everything the store kept for the ledger, per tenant: `requests` and `tokens` (claimed, so read once). */
export async function ledgerByTenant(
  store: CounterStore,
): Promise<Map<string, { requests: number; tokens: number }>> {
  const out = new Map<string, { requests: number; tokens: number }>();
  for (;;) {
    const batches = await store.claim({ now: Date.now(), maxTags: 10_000, staleAfterMs: 0 });
    if (batches.length === 0) return out;
    for (const b of batches) {
      for (const u of b.usage) {
        if (u.meter !== 'requests' && u.meter !== 'tokens') continue;
        const tenant = u.tenantId ?? u.userId ?? '';
        const cur = out.get(tenant) ?? { requests: 0, tokens: 0 };
        if (u.meter === 'requests') cur.requests += u.amount;
        else cur.tokens += u.amount;
        out.set(tenant, cur);
      }
    }
    await store.ack(batches);
  }
}

export type TenantSums = Map<string, { requests: number; tokens: number }>;

/**
 * Per tenant, where the ledger breaks the promise: less than the clients received in full, or more than that plus
 * what was cut off (a request admitted but never answered may count). Empty when it holds.
 */
export function ledgerMismatches(received: TenantSums, cut: TenantSums, ledger: TenantSums): string[] {
  const out: string[] = [];
  const zero = { requests: 0, tokens: 0 };
  for (const tenant of new Set([...received.keys(), ...cut.keys(), ...ledger.keys()])) {
    const r = received.get(tenant) ?? zero;
    const c = cut.get(tenant) ?? zero;
    const l = ledger.get(tenant) ?? zero;
    for (const meter of ['requests', 'tokens'] as const) {
      if (l[meter] < r[meter] || l[meter] > r[meter] + c[meter]) {
        out.push(`${tenant} ${meter}: ledger ${l[meter]}, received ${r[meter]}, cut off ${c[meter]}`);
      }
    }
  }
  return out;
}

/** Sums over every tenant. */
export function total(sums: TenantSums): { requests: number; tokens: number } {
  let requests = 0;
  let tokens = 0;
  for (const s of sums.values()) {
    requests += s.requests;
    tokens += s.tokens;
  }
  return { requests, tokens };
}

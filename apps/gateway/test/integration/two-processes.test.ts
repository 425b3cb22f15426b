import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, freePort, REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { configFile, SECRET, token } from '../support/kit';

const ROOT = path.resolve(__dirname, '../../../..');
const MAIN = path.join(ROOT, 'apps/gateway/dist/main.js');
const LIMIT = 30;

interface Proc {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startProcess(env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway process exited (${child.exitCode}):\n${out}`);
    const ok = await fetch(`${url}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`gateway process not ready after 20 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, output: () => out };
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.child.once('exit', () => resolve());
    p.child.kill('SIGTERM');
  });
}

describe('two gateway processes on one Redis', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let a: Proc | undefined;
  let b: Proc | undefined;

  beforeAll(async () => {
    // What `npm install` does through the root `prepare` script (cached when nothing changed).
    execFileSync(
      'npx',
      ['turbo', 'run', 'build', '--filter=@tollgate/gateway...', '--output-logs=errors-only'],
      {
        cwd: ROOT,
        stdio: 'ignore',
        env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
      },
    );
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_procs');
    const env = {
      UPSTREAM_URL: upstream.url,
      REDIS_URL,
      REDIS_PREFIX: uniquePrefix('gw-procs'),
      DATABASE_URL: db.url,
      FLUSHER: 'off',
      // Exactness is promised while the store answers in time: on a loaded CI box two cold processes' first
      // admissions (seed from the ledger, then admit) can pass the default 100 ms and fail open, which is another test's subject.
      STORE_TIMEOUT_MS: '2000',
      JWT_SECRET: SECRET,
      TOLLGATE_CONFIG: configFile({ plans: { free: { limits: { requests: { day: LIMIT } } } } }),
    };
    a = await startProcess(env);
    b = await startProcess(env);
  }, 240_000);

  afterAll(async () => {
    await stop(a);
    await stop(b);
    await upstream?.stop();
    await db?.drop();
  });

  it('enforce one shared limit exactly under 90 concurrent requests split between them', async () => {
    const t = token({ sub: 'proc-user', tenant_id: 'procs', tier: 'free' });
    const responses = await Promise.all(
      Array.from({ length: 90 }, (_, i) =>
        fetch(`${(i % 2 ? a! : b!).url}/api/hello`, { headers: { authorization: `Bearer ${t}` } }).then(
          async (r) => {
            await r.text();
            return {
              process: i % 2 ? 'a' : 'b',
              status: r.status,
              degraded: r.headers.get('tollgate-degraded'),
            };
          },
        ),
      ),
    );
    expect(responses.filter((r) => r.degraded !== null)).toEqual([]);
    const ok = responses.filter((r) => r.status === 200);
    expect(ok).toHaveLength(LIMIT);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(90 - LIMIT);
    // Each process answered half; together they admitted the limit once, not once each.
    expect(responses.filter((r) => r.process === 'a')).toHaveLength(45);
    const quota = await fetch(`${a!.url}/usage/quota`, { headers: { authorization: `Bearer ${t}` } });
    const body = (await quota.json()) as {
      quotas: { requests: { day: { used: number; remaining: number } } };
    };
    expect(body.quotas.requests.day).toMatchObject({ used: LIMIT, remaining: 0 });
  });
});

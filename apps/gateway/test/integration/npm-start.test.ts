import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../../../test-support/services';

const ROOT = path.resolve(__dirname, '../../../..');
const MAIN = path.join(ROOT, 'apps/gateway/dist/main.js');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Runs the built gateway like `npm start` does (no REDIS_URL, no DATABASE_URL) and waits for its banner. */
async function start(dataDir: string, port: number): Promise<Started> {
  const env = { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  for (const k of ['REDIS_URL', 'DATABASE_URL', 'JWT_SECRET', 'UPSTREAM_URL', 'TOLLGATE_CONFIG', 'FLUSHER'])
    delete env[k];
  const child = spawn(process.execPath, [MAIN, '--demo'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (out.includes('curl -s')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`gateway exited (${code}) before printing its banner:\n${out}\n${err}`)),
    );
  });
  return { child, stdout: () => out, exited };
}

/** The first printed curl line, as a fetch: URL, -H headers and the -d body. */
function parseCurl(stdout: string): { url: string; headers: Record<string, string>; body: string } {
  const line = stdout.split('\n').find((l) => l.trim().startsWith('curl -s') && l.includes(' -d '))!;
  const url = /curl -s (\S+)/.exec(line)![1]!;
  const headers: Record<string, string> = {};
  for (const m of line.matchAll(/-H "([^:]+): ([^"]+)"/g)) headers[m[1]!] = m[2]!;
  const body = /-d '([^']+)'/.exec(line)![1]!;
  return { url, headers, body };
}

describe('npm start (embedded quick start)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gw-npm-start-'));

  beforeAll(() => {
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
  }, 180_000);

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints a demo JWT and a curl line that works, and keeps the ledger across a restart', async () => {
    const port = await freePort();
    const first = await start(dataDir, port);
    let curl: ReturnType<typeof parseCurl>;
    try {
      curl = parseCurl(first.stdout());
      expect(curl.url).toBe(`http://localhost:${port}/api/v1/chat/completions`);
      const res = await fetch(curl.url.replace('localhost', '127.0.0.1'), {
        method: 'POST',
        headers: curl.headers,
        body: curl.body,
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        choices: Array<{ message: { content: string } }>;
        usage: { prompt_tokens: number };
      };
      expect(body.choices[0]!.message.content).toContain('Hello from the Tollgate demo upstream');
      expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    } finally {
      first.child.kill('SIGTERM');
    }
    // SIGTERM: in-flight work finishes, usage settles, the inline flusher writes the ledger, exit 0.
    expect(await first.exited).toBe(0);

    const second = await start(dataDir, port);
    try {
      // Same data dir: the same demo secret, so the first run's token still works; the quota is rebuilt from the ledger.
      const quota = await fetch(`http://127.0.0.1:${port}/usage/quota`, {
        headers: { Authorization: curl.headers.Authorization! },
      });
      expect(quota.status).toBe(200);
      const q = (await quota.json()) as {
        quotas: { requests: { day: { used: number } }; tokens: { day: { used: number } } };
      };
      expect(q.quotas.requests.day.used).toBe(1);
      expect(q.quotas.tokens.day.used).toBeGreaterThan(0);
    } finally {
      second.child.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
  }, 120_000);
});

// A gateway as its own OS process (the dist build), for tests that need a second instance beside an in-process one.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../../../test-support/services';

const ROOT = path.resolve(__dirname, '../../../..');
const MAIN = path.join(ROOT, 'apps/gateway/dist/main.js');

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/** What `npm install` does through the root `prepare` script (cached by turbo when nothing changed). */
export function buildGateway(): void {
  execFileSync(
    'npx',
    ['turbo', 'run', 'build', '--filter=@tollgate/gateway...', '--output-logs=errors-only'],
    {
      cwd: ROOT,
      stdio: 'ignore',
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    },
  );
}

/** The test's environment, less the one counter-store setting the child is not given (CI exports REDIS_URL). */
function inheritedEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  if (env.REDIS_CLUSTER_NODES !== undefined) delete inherited.REDIS_URL;
  if (env.REDIS_URL !== undefined) delete inherited.REDIS_CLUSTER_NODES;
  return inherited;
}

export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...inheritedEnv(env), LOG_LEVEL: 'info', ...env, PORT: String(port), HOST: '127.0.0.1' },
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
  return {
    child,
    url,
    output: () => out,
    stop: () =>
      child.exitCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
  };
}

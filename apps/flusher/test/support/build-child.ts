// Transpiles the flusher and the workspace packages it uses into a temp dir, so tests can run real child processes.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../../../..');

function transpileTree(srcDir: string, outDir: string, skip: (rel: string) => boolean = () => false): void {
  for (const name of readdirSync(srcDir)) {
    const from = path.join(srcDir, name);
    if (skip(path.relative(srcDir, from))) continue;
    if (statSync(from).isDirectory()) {
      transpileTree(from, path.join(outDir, name));
      continue;
    }
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) {
      // Files a package reads at run time (@tollgate/redis' Lua scripts) are copied as they are.
      if (!name.endsWith('.ts')) {
        mkdirSync(outDir, { recursive: true });
        copyFileSync(from, path.join(outDir, name));
      }
      continue;
    }
    const out = ts.transpileModule(readFileSync(from, 'utf8'), {
      fileName: from,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, name.replace(/\.ts$/, '.js')), out.outputText);
  }
}

let built: string | null = null;

/**
 * Builds once per test process and returns the root of the tree: `apps/flusher/src/*.js`,
 * `apps/flusher/test/support/*.js` and `node_modules/@tollgate/{core,ledger,redis}`. Run children
 * with `NODE_PATH` = `childEnv().NODE_PATH` so third-party packages resolve from the checkout.
 */
export function buildChildTree(): string {
  if (built) return built;
  const out = mkdtempSync(path.join(tmpdir(), 'tg-flusher-child-'));
  for (const pkg of ['core', 'ledger', 'redis']) {
    const dest = path.join(out, 'node_modules', '@tollgate', pkg);
    transpileTree(
      path.join(ROOT, 'packages', pkg, 'src'),
      path.join(dest, 'src'),
      (rel) => rel === 'testing',
    );
    writeFileSync(
      path.join(dest, 'package.json'),
      JSON.stringify({ name: `@tollgate/${pkg}`, main: 'src/index.js' }),
    );
  }
  const migrations = path.join(ROOT, 'packages', 'ledger', 'migrations');
  mkdirSync(path.join(out, 'node_modules', '@tollgate', 'ledger', 'migrations'), { recursive: true });
  for (const f of readdirSync(migrations)) {
    copyFileSync(
      path.join(migrations, f),
      path.join(out, 'node_modules', '@tollgate', 'ledger', 'migrations', f),
    );
  }
  transpileTree(path.join(ROOT, 'apps', 'flusher', 'src'), path.join(out, 'apps', 'flusher', 'src'));
  transpileTree(
    path.join(ROOT, 'apps', 'flusher', 'test', 'support'),
    path.join(out, 'apps', 'flusher', 'test', 'support'),
  );
  built = out;
  return out;
}

/** Environment for a child: the caller's settings plus where third-party packages live. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_PATH: path.join(ROOT, 'node_modules'),
    ...extra,
  };
}

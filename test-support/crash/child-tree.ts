// Transpiles workspace packages (and the crash children) into a temp tree, so a test can run and kill real processes
// on the current sources (no stale dist/).
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

export const ROOT = path.resolve(__dirname, '../..');

function transpileTree(srcDir: string, outDir: string, skip: (rel: string) => boolean = () => false): void {
  for (const name of readdirSync(srcDir)) {
    const from = path.join(srcDir, name);
    if (skip(path.relative(srcDir, from))) continue;
    if (statSync(from).isDirectory()) {
      transpileTree(from, path.join(outDir, name));
      continue;
    }
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) {
      // Assets a package reads at run time (the dashboard's files) are copied as they are.
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

const built = new Map<string, string>();

/**
 * Builds `node_modules/@tollgate/<pkg>` for each package, `test-support/crash/*.js`, and each app's `src` (`apps`),
 * once per test process; returns the tree's root. Children run with `childEnv()` (third-party packages resolve
 * from the checkout).
 */
export function buildCrashTree(packages: readonly string[], apps: readonly string[] = []): string {
  const key = [...packages, '|', ...apps].join(',');
  const cached = built.get(key);
  if (cached !== undefined) return cached;
  const out = mkdtempSync(path.join(tmpdir(), 'tg-crash-'));
  for (const pkg of packages) {
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
    const migrations = path.join(ROOT, 'packages', pkg, 'migrations');
    if (pkg === 'ledger') {
      mkdirSync(path.join(dest, 'migrations'), { recursive: true });
      for (const f of readdirSync(migrations))
        copyFileSync(path.join(migrations, f), path.join(dest, 'migrations', f));
    }
  }
  for (const app of apps) {
    transpileTree(path.join(ROOT, 'apps', app, 'src'), path.join(out, 'apps', app, 'src'));
    const assets = path.join(ROOT, 'apps', app, 'public');
    try {
      if (statSync(assets).isDirectory()) transpileTree(assets, path.join(out, 'apps', app, 'public'));
    } catch {
      // No assets.
    }
  }
  transpileTree(path.join(ROOT, 'test-support', 'crash'), path.join(out, 'test-support', 'crash'));
  built.set(key, out);
  return out;
}

/** Environment for a child: the caller's settings plus where third-party packages live. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // The gateway's own dependencies first (its pino is not the root one).
  const modules = [path.join(ROOT, 'apps', 'gateway', 'node_modules'), path.join(ROOT, 'node_modules')];
  return { PATH: process.env.PATH, NODE_PATH: modules.join(path.delimiter), ...extra };
}

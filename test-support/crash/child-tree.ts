// Transpiles workspace packages (and the crash children) into a temp tree, so a test can run and kill real processes
// on the current sources (no stale dist/).
import {
  copyFileSync,
  existsSync,
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

/** `@tollgate/*` packages a workspace depends on, by its package.json (names without the scope). */
function workspaceDeps(dir: string): string[] {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return Object.keys(manifest.dependencies ?? {})
    .filter((name) => name.startsWith('@tollgate/'))
    .map((name) => name.slice('@tollgate/'.length));
}

/**
 * The packages named and every workspace package they (or the apps) depend on: one left out would resolve through
 * NODE_PATH to the checkout's dist/, stale or missing, and a second copy of core beside the tree's.
 */
function withDependencies(packages: readonly string[], apps: readonly string[]): string[] {
  const all = new Set<string>();
  const visit = (pkg: string): void => {
    if (all.has(pkg)) return;
    all.add(pkg);
    for (const dep of workspaceDeps(path.join('packages', pkg))) visit(dep);
  };
  for (const pkg of packages) visit(pkg);
  for (const app of apps) for (const dep of workspaceDeps(path.join('apps', app))) visit(dep);
  return [...all].sort();
}

/** The tree's package.json: the same entry points as the package's own `exports` (`testing` is not built). */
function treeManifest(pkg: string, srcDir: string): string {
  const exports: Record<string, string> = { '.': './src/index.js' };
  if (existsSync(path.join(srcDir, 'internal.ts'))) exports['./internal'] = './src/internal.js';
  return JSON.stringify({ name: `@tollgate/${pkg}`, main: 'src/index.js', exports });
}

const built = new Map<string, string>();

/**
 * Builds `node_modules/@tollgate/<pkg>` for each package and the workspace packages they and the apps depend on,
 * `test-support/crash/*.js`, each app's `src` (`apps`), and the directories `support` names (repository-relative,
 * e.g. an app's `test/support`), once per test process; returns the tree's root. Children run with `childEnv()`
 * (third-party packages resolve from the checkout).
 */
export function buildCrashTree(
  packages: readonly string[],
  apps: readonly string[] = [],
  support: readonly string[] = [],
): string {
  const key = [...packages, '|', ...apps, '|', ...support].join(',');
  const cached = built.get(key);
  if (cached !== undefined) return cached;
  const out = mkdtempSync(path.join(tmpdir(), 'tg-crash-'));
  for (const pkg of withDependencies(packages, apps)) {
    const dest = path.join(out, 'node_modules', '@tollgate', pkg);
    const srcDir = path.join(ROOT, 'packages', pkg, 'src');
    transpileTree(srcDir, path.join(dest, 'src'), (rel) => rel === 'testing');
    writeFileSync(path.join(dest, 'package.json'), treeManifest(pkg, srcDir));
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
  for (const dir of support) transpileTree(path.join(ROOT, dir), path.join(out, dir));
  built.set(key, out);
  return out;
}

/**
 * Environment for a child: the caller's settings plus where third-party packages live, `app`'s own dependencies
 * first (the apps' pino is not the root one).
 */
export function childEnv(extra: Record<string, string>, app = 'gateway'): NodeJS.ProcessEnv {
  const modules = [path.join(ROOT, 'apps', app, 'node_modules'), path.join(ROOT, 'node_modules')];
  return { PATH: process.env.PATH, NODE_PATH: modules.join(path.delimiter), ...extra };
}

// The names an entry point exports, read by the TypeScript compiler, so each package's public-api test can list its
// type-only exports too (runtime names are Object.keys of the module; types leave no trace at runtime).
import { existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');

/** Entry points of one package compile in one program: each test file pays for the compiler once. */
const programs = new Map<string, ts.Program>();

function programFor(file: string): ts.Program {
  const packageSrc = path.dirname(file).replace(/[/\\]testing$/, '');
  let program = programs.get(packageSrc);
  if (!program) {
    const entries = ['index.ts', 'internal.ts', 'testing/index.ts']
      .map((e) => path.join(packageSrc, e))
      .filter((e) => existsSync(e));
    program = ts.createProgram(entries, {
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: [],
      baseUrl: ROOT,
      // As tsconfig.depcruise.json: other workspaces by their sources, so no build is needed.
      paths: {
        '@tollgate/*/internal': ['packages/*/src/internal.ts'],
        '@tollgate/*/testing': ['packages/*/src/testing/index.ts'],
        '@tollgate/*': ['packages/*/src/index.ts'],
      },
    });
    programs.set(packageSrc, program);
  }
  return program;
}

/** Sorted names `entry` exports as types only (interfaces, type aliases), for a path relative to the repository. */
export function typeOnlyExports(entry: string): string[] {
  const file = path.join(ROOT, entry);
  const program = programFor(file);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol)
    throw new Error(`${entry} is not an entry point (index.ts, internal.ts, testing/index.ts)`);
  return checker
    .getExportsOfModule(moduleSymbol)
    .filter((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return (target.flags & ts.SymbolFlags.Value) === 0;
    })
    .map((s) => s.name)
    .sort();
}

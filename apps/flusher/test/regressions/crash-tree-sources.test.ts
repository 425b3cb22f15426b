// Regression: the child-process trees of the crash tests ran part of Tollgate from the checkout's dist/. Their
// packages had no `exports` map, so `@tollgate/<p>/internal` fell through NODE_PATH to dist/ (stale, or missing before
// a build, and a second copy of core beside the tree's), and so did every package a list left out: @tollgate/http
// and @tollgate/llm for the gateway and the framework crash tests, @tollgate/settings for the flusher.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { buildCrashTree, childEnv } from '../../../../test-support/crash/child-tree';
import { buildChildTree } from '../support/build-child';

jest.setTimeout(60_000);

/** Where a child process started in `tree` finds each module. */
function resolvedIn(tree: string, modules: readonly string[]): string[] {
  const script = `for (const m of ${JSON.stringify(modules)}) console.log(require.resolve(m));`;
  const child = spawnSync(process.execPath, ['-e', script], {
    cwd: tree,
    env: childEnv({}),
    encoding: 'utf8',
  });
  expect(child.stderr).toBe('');
  return child.stdout.trim().split('\n');
}

function expectInside(tree: string, modules: readonly string[]): void {
  const root = realpathSync(tree) + path.sep;
  const outside = resolvedIn(tree, modules).filter((file) => !file.startsWith(root));
  expect(outside).toEqual([]);
}

describe('crash-test child trees', () => {
  it("give the flusher's children every package and entry point from the tree's own sources", () => {
    expectInside(buildChildTree(), [
      '@tollgate/core',
      '@tollgate/core/internal',
      '@tollgate/ledger',
      '@tollgate/ledger/internal',
      '@tollgate/redis',
      '@tollgate/settings',
    ]);
  });

  it("give the gateway's children the packages the gateway depends on", () => {
    expectInside(buildCrashTree(['core', 'redis', 'express', 'ledger'], ['gateway']), [
      '@tollgate/http',
      '@tollgate/http/internal',
      '@tollgate/llm',
      '@tollgate/llm/internal',
      '@tollgate/settings',
    ]);
  });

  it('give an adapter crash child the request engine its adapter depends on', () => {
    expectInside(buildCrashTree(['core', 'redis', 'express', 'fastify']), [
      '@tollgate/express',
      '@tollgate/fastify',
      '@tollgate/http',
    ]);
  });
});

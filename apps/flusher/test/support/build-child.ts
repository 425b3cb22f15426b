// The flusher's child-process tree: test-support's crash tree with the flusher app (and the workspace packages it
// depends on) and this folder, whose scripts the children run.
import { buildCrashTree, childEnv as crashChildEnv } from '../../../../test-support/crash/child-tree';

/** Builds once per test process; children run `apps/flusher/src/*.js` or `apps/flusher/test/support/*.js` in it. */
export function buildChildTree(): string {
  return buildCrashTree([], ['flusher'], ['apps/flusher/test/support']);
}

/** Environment for a child: the caller's settings plus where third-party packages live (the flusher's pino first). */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return crashChildEnv(extra, 'flusher');
}

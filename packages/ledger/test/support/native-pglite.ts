// Loads PGlite with Node's own loader: inside jest's sandbox its dynamic imports would need --experimental-vm-modules.
import type { PGlite } from '@electric-sql/pglite';

interface NativeModule {
  _load(request: string, parent: null, isMain: boolean): unknown;
}

export function nativePglite(): Pick<typeof PGlite, 'create'> {
  // jest patches createRequire but not Module._load, which is Node's real loader.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loader = require('node:module') as NativeModule;
  const mod = loader._load(require.resolve('@electric-sql/pglite'), null, false) as { PGlite: typeof PGlite };
  return mod.PGlite;
}

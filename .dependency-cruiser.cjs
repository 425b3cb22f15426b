// Layering rules, run by `npm run lint`. Type-only imports count (tsPreCompilationDeps), so a cycle through
// `import type` is still a cycle.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module must not import itself through others: split the shared part out.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-relative-import-across-packages',
      severity: 'error',
      comment: 'Another workspace is reached by its package name (@tollgate/...), never by a relative path.',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { path: '^(packages|apps)/([^/]+)/', pathNot: '^$1/$2/', dependencyTypes: ['local'] },
    },
    {
      name: 'core-model-without-http',
      severity: 'error',
      comment: "core's model (config, money, periods, pricing, stores, engine) knows nothing of HTTP.",
      from: { path: '^packages/core/src/', pathNot: '^packages/core/src/(request|testing)/' },
      to: { path: '^(node:)?(http|https|http2)$|^packages/express/|^packages/fastify/|^apps/' },
    },
    {
      name: 'packages-never-import-apps',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|coverage)/' },
    combinedDependencies: true,
  },
};

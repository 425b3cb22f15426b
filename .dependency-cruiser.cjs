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
      to: {
        path: '^(packages|apps)/([^/]+)/',
        pathNot: '^$1/$2/',
        dependencyTypes: ['local'],
        dependencyTypesNot: ['aliased'],
      },
    },
    {
      name: 'core-without-http',
      severity: 'error',
      comment:
        'core (config, money, periods, pricing, stores, engine) knows nothing of HTTP or LLMs: the request engine is @tollgate/http, LLM usage extraction @tollgate/llm.',
      from: { path: '^packages/core/' },
      to: {
        path: '^(node:)?(http|https|http2)$|^(packages/(http|llm|express|fastify)|apps)/|^@tollgate/(http|llm|express|fastify)($|/)',
      },
    },
    {
      name: 'llm-without-http-adapters',
      severity: 'error',
      comment:
        '@tollgate/llm reads LLM requests and answers on top of core only; it never needs the request engine.',
      from: { path: '^packages/llm/' },
      to: { path: '^(packages/(http|express|fastify)|apps)/|^@tollgate/(http|express|fastify)($|/)' },
    },
    {
      name: 'http-without-adapters',
      severity: 'error',
      comment: '@tollgate/http is what the adapters share: it never knows a framework or an app.',
      from: { path: '^packages/http/' },
      to: {
        path: '^(packages/(express|fastify)|apps)/|^@tollgate/(express|fastify)($|/)|^(express|fastify)$',
      },
    },
    {
      name: 'settings-only-for-apps',
      severity: 'error',
      comment:
        '@tollgate/settings is private (environment parsing for the apps): a published package never needs it.',
      from: { path: '^packages/', pathNot: '^packages/settings/' },
      to: { path: '^packages/settings/' },
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
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|coverage)/' },
    combinedDependencies: true,
  },
};

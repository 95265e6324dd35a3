/**
 * The import rule of docs/architecture.md: imports point inward. `npx depcruise src` checks it (.ci/run, before the
 * tests). A layer may import itself and the layers listed as allowed in the architecture page, nothing else.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'model-imports-nothing',
      comment: 'src/model is plain records and types every layer shares: it imports nothing of ours',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/model/' },
    },
    {
      name: 'model-takes-the-engine-contract-only',
      comment: "src/model may re-export the render engine's contract (@press-cloud/engine/renderer), never the package root, which loads the Chromium driver",
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^packages/engine/src/index\\.ts$' },
    },
    {
      name: 'ports-import-model-only',
      comment: 'ports are interfaces over model records; domain types a port needs belong in src/model',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { path: '^src/', pathNot: '^src/(model|ports)/' },
    },
    {
      name: 'domain-imports-model-and-ports',
      comment: 'the domain knows nothing of HTTP, SQL, files or processes: only model, ports and itself',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/(model|ports|domain)/' },
    },
    {
      name: 'workers-run-the-domain',
      comment: 'background processes run domain rules through ports; adapters are chosen by the composition root',
      severity: 'error',
      from: { path: '^src/workers/' },
      to: { path: '^src/', pathNot: '^src/(model|ports|domain|workers)/' },
    },
    {
      name: 'adapters-implement-ports',
      comment: 'an adapter implements a port: model and ports only (no domain errors or types), plus the shared SQL layer',
      severity: 'error',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/', pathNot: ['^src/(model|ports)/', '^src/adapters/$1/', '^src/adapters/sql/'] },
    },
    {
      name: 'shared-sql-knows-no-dialect',
      comment: 'src/adapters/sql is written once for every dialect; a dialect plugs in through the Dialect interface',
      severity: 'error',
      from: { path: '^src/adapters/sql/' },
      to: { path: '^src/adapters/', pathNot: '^src/adapters/sql/' },
    },
    {
      name: 'http-calls-the-domain',
      comment: 'routes and plugins call domain functions; they never reach a port, an adapter or a worker themselves',
      severity: 'error',
      from: { path: '^src/(http/|app\\.ts$)' },
      to: { path: '^src/(ports|adapters|workers|start|cli)/' },
    },
    {
      name: 'one-composition-root',
      comment: 'only src/start picks and opens the database dialects (the CLI goes through start/compose.ts)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(start|adapters)/' },
      to: { path: '^src/adapters/(sqlite|postgres)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

import { defineConfig } from 'vitest/config';

// `source`: the workspace packages (@press-cloud/*) resolve to their TypeScript sources, as in tsconfig's
// customConditions, so tests and typechecks never depend on a stale build. No 'import'/'module' condition: it
// makes CJS externals load ESM wrappers (pg → pg-pool) and @aws-sdk's bundler-only dist-es.
export default defineConfig({
  resolve: { conditions: ['source', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['source', 'node', 'development|production'], externalConditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

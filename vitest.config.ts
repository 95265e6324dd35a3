import { defineConfig } from 'vitest/config';

// `source`: the workspace packages (@press-cloud/*) resolve to their TypeScript sources, as in tsconfig's
// customConditions, so tests and typechecks never depend on a stale build.
export default defineConfig({
  resolve: { conditions: ['source', 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'], externalConditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

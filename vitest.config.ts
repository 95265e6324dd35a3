import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // The workspace packages from their TypeScript sources (as tsconfig's `source` condition does), so tests
    // never depend on a stale build; everything else resolves as Node resolves it.
    alias: [
      { find: /^@press-cloud\/sdk$/, replacement: src('sdk/src/index.ts') },
      { find: /^@press-cloud\/sdk\/node$/, replacement: src('sdk/src/node/index.ts') },
      { find: /^@press-cloud\/engine$/, replacement: src('engine/src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

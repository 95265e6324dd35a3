import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/** Writes a `.gz` twin of every script and style sheet; the server sends it to browsers that accept gzip. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'press-precompress',
    apply: 'build',
    configResolved(c) { outDir = join(c.root, c.build.outDir); },
    closeBundle() {
      const assets = join(outDir, 'assets');
      for (const f of readdirSync(assets)) {
        if (/\.(m?js|css|svg|json)$/.test(f)) writeFileSync(join(assets, `${f}.gz`), gzipSync(readFileSync(join(assets, f)), { level: 9 }));
      }
    },
  };
}

// The dashboard is served by the Press Cloud server itself (src/http/dashboard.ts): hashed files under /assets/
// get an immutable cache, index.html is revalidated on every load.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [precompress()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});

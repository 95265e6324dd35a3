/*
 * Writes the OpenAPI document the server serves at /v1/openapi.json to ./openapi.json (committed, so API changes
 * show up in review). test/api/openapi.test.ts fails when the committed file drifts: run `npm run openapi`.
 * The app is built in-process on a throwaway data directory; nothing listens and no browser starts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDomainDeps } from '../src/start/compose.js';

export const OPENAPI_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');

/** The OpenAPI document as `npm run openapi` writes it (2-space indent, trailing newline). */
export function formatOpenApi(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export async function exportOpenApi(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'press-openapi-'));
  try {
    const deps = await createDomainDeps(loadConfig({ PRESS_DATA_DIR: dataDir }));
    try {
      const app = await buildApp({ deps, hooks: {}, readiness: {} }, { logger: false });
      try {
        const res = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
        if (res.statusCode !== 200) throw new Error(`GET /v1/openapi.json answered ${res.statusCode}: ${res.body}`);
        return formatOpenApi(res.json());
      } finally {
        await app.close();
      }
    } finally {
      await deps.db.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await exportOpenApi();
  writeFileSync(OPENAPI_FILE, text);
  const paths = Object.keys(JSON.parse(text).paths).length;
  process.stdout.write(`wrote ${OPENAPI_FILE} (${paths} paths)\n`);
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support.js';

const SCHEMA = join(REPO, 'packages/sdk/src/schema.d.ts');

describe('SDK types', () => {
  it('packages/sdk/src/schema.d.ts is what `npm run sdk:types` generates from openapi.json (run it after `npm run openapi`)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'press-sdk-types-'));
    try {
      const out = join(dir, 'schema.d.ts');
      execFileSync(process.execPath, [join(REPO, 'node_modules/openapi-typescript/bin/cli.js'), join(REPO, 'openapi.json'), '--output', out], { stdio: 'pipe' });
      expect(readFileSync(SCHEMA, 'utf8') === readFileSync(out, 'utf8'), 'schema.d.ts is stale: run `npm run sdk:types`').toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('covers every /v1 operation of openapi.json', () => {
    const doc = JSON.parse(readFileSync(join(REPO, 'openapi.json'), 'utf8'));
    const schema = readFileSync(SCHEMA, 'utf8');
    for (const [path, ops] of Object.entries<Record<string, { operationId: string }>>(doc.paths)) {
      expect(schema).toContain(`"${path}": {`);
      for (const op of Object.values(ops)) expect(schema).toContain(`    ${op.operationId}: {`);
    }
  });
});

describe('SDK coverage', () => {
  it('has a method for every /v1 operation an API key may call (signed links are URLs; session-only routes are the dashboard\'s)', () => {
    const doc = JSON.parse(readFileSync(join(REPO, 'openapi.json'), 'utf8'));
    const client = readFileSync(join(REPO, 'packages/sdk/src/client.ts'), 'utf8');
    const wrapped = new Set([...client.matchAll(/this\.http\.(?:request|raw)\('(\w+)', '([^']+)'/g)].map((m) => `${m[1]} ${m[2]}`));
    // an operation without its own `security` takes the document's, which includes the bearer key
    const takesKey = (op: { security?: Record<string, unknown>[] }) => !op.security || op.security.some((s) => 'bearer' in s);
    const operations = Object.entries<Record<string, { security?: Record<string, unknown>[] }>>(doc.paths)
      .filter(([path]) => path.startsWith('/v1/') && !path.startsWith('/v1/signed/'))
      .flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => takesKey(op)).map(([method]) => `${method} ${path}`));
    expect(operations.filter((op) => !wrapped.has(op))).toEqual([]);
  });
});

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { newId, type IdPrefix } from '../../src/domain/ids.js';
import type { TestResponse, TestServer } from '../helpers/server.js';

/**
 * Asserts the spec's error contract: the real status, a body of exactly `{error, message}`, never a Fastify-shaped
 * error or a stack trace, and the request id header.
 */
export function expectError(res: TestResponse, status: number, code: string) {
  expect({ status: res.status, error: res.body?.error }, res.text).toEqual({ status, error: code });
  expect(Object.keys(res.body).sort()).toEqual(['error', 'message']);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.message.length).toBeGreaterThan(0);
  expect(res.text).not.toMatch(/statusCode|"stack"|\n\s+at /);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('x-request-id')).toBeTruthy();
}

/** A well-formed id that names nothing. */
export const unknownId = (prefix: IdPrefix) => newId(prefix);

/** Every byte of the SQLite database (main file and WAL), for "the plaintext is nowhere on disk" checks. */
export function databaseBytes(s: TestServer): Buffer {
  const parts: Buffer[] = [];
  for (const f of ['press.db', 'press.db-wal']) {
    const p = join(s.dataDir, f);
    if (existsSync(p)) parts.push(readFileSync(p));
  }
  return Buffer.concat(parts);
}

/** Creates a deploy and returns its id (asserting 201). */
export async function createDeploy(s: TestServer, slug: string, opts: { key?: string; name?: string } = {}): Promise<string> {
  const res = await s.request('POST', '/v1/deploys', { key: opts.key, json: { slug, name: opts.name ?? slug } });
  expect(res.status, res.text).toBe(201);
  return res.body.deploy.id;
}

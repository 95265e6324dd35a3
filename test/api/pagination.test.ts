import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/model/records.js';
import type { TestServer } from '../helpers/server.js';
import { createDeploy, expectError, startApiServer } from './helpers.js';

let s: TestServer;
let acct: { accountId: string; keys: Record<Role, string> };
let created: string[] = [];
beforeAll(async () => {
  s = await startApiServer();
  acct = await s.newAccount('paged');
  const other = await s.newAccount('noise');
  for (let i = 0; i < 25; i++) {
    s.clock.advance(1);
    created.push(await createDeploy(s, `d-${i}`, { key: acct.keys.editor }));
    await createDeploy(s, `noise-${i}`, { key: other.keys.editor });
  }
  created = created.reverse(); // newest first
});
afterAll(async () => s.stop());

type Page = { items: { id: string }[]; nextCursor: string | null };
const list = async (query: string, key = acct.keys.viewer): Promise<Page> => {
  const res = await s.request('GET', `/v1/deploys${query}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

async function walk(limit: number, key = acct.keys.viewer): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Page = await list(`?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, key);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((d) => d.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { ids, pages };
}

describe('cursor pagination', () => {
  it('default limit 20, newest first; nextCursor null on the last page', async () => {
    const first = await list('');
    expect(first.items.map((d) => d.id)).toEqual(created.slice(0, 20));
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await list(`?cursor=${first.nextCursor}`);
    expect(second.items.map((d) => d.id)).toEqual(created.slice(20));
    expect(second.nextCursor).toBeNull();
  });

  it('any limit walks every item exactly once, in order, and only the caller\'s', async () => {
    for (const limit of [1, 7, 25, 100]) {
      const { ids, pages } = await walk(limit);
      expect(ids, `limit=${limit}`).toEqual(created);
      expect(pages, `limit=${limit}`).toBe(Math.ceil(25 / limit));
    }
  });

  it('a full last page has nextCursor null only when nothing follows', async () => {
    const page = await list('?limit=25');
    expect(page.items).toHaveLength(25);
    expect(page.nextCursor).toBeNull();
    const almost = await list('?limit=24');
    expect(almost.nextCursor).toEqual(expect.any(String));
    expect((await list(`?limit=24&cursor=${almost.nextCursor}`)).items.map((d) => d.id)).toEqual([created[24]]);
  });

  it('stable under concurrent inserts and deletes: no duplicates, no skips of items that still exist', async () => {
    const p1 = await list('?limit=10');
    // new deploys arrive (newer than everything) and one not yet seen is deleted while the client pages
    const fresh: string[] = [];
    for (let i = 0; i < 3; i++) {
      s.clock.advance(1);
      fresh.push(await createDeploy(s, `late-${i}`, { key: acct.keys.editor }));
    }
    const gone = created[12];
    expect((await s.request('DELETE', `/v1/deploys/${gone}`, { key: acct.keys.editor })).status).toBe(204);
    const ids = p1.items.map((d) => d.id);
    let cursor = p1.nextCursor;
    while (cursor) {
      const page = await list(`?limit=10&cursor=${cursor}`);
      ids.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor;
    }
    expect(ids).toEqual(created.filter((id) => id !== gone));
    expect(new Set(ids).size).toBe(ids.length);
    // a fresh walk sees the new ones first
    expect((await list('?limit=3')).items.map((d) => d.id)).toEqual([...fresh].reverse());
  });

  it('API keys page the same way', async () => {
    for (let i = 0; i < 4; i++) {
      s.clock.advance(1);
      expect((await s.request('POST', '/v1/api-keys', { key: acct.keys.admin, json: { name: `k${i}`, role: 'viewer' } })).status).toBe(201);
    }
    const all = (await s.request('GET', '/v1/api-keys?limit=100', { key: acct.keys.admin })).body.items.map((k: { id: string }) => k.id);
    expect(all).toHaveLength(7);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await s.request(
        'GET', `/v1/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: acct.keys.admin },
      );
      walked.push(...res.body.items.map((k) => k.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(walked).toEqual(all);
    expect((await s.request('GET', '/v1/api-keys?limit=2', { key: acct.keys.admin })).body.items.map((k: { name: string }) => k.name)).toEqual(['k3', 'k2']);
  });

  it('cursors are opaque: a tampered one → 400 invalid_query_param', async () => {
    const { nextCursor } = await list('?limit=1');
    const decoded = Buffer.from(nextCursor!, 'base64url').toString('utf8');
    const tampered = (text: string) => Buffer.from(text).toString('base64url');
    expectError(await s.request('GET', `/v1/deploys?cursor=${tampered(decoded.slice(0, -1))}`, { key: acct.keys.viewer }), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/deploys?cursor=${tampered(decoded.replace(/^\[(\d+)/, '["$1"'))}`, { key: acct.keys.viewer }), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/deploys?cursor=${Buffer.from('{"a":1}').toString('base64url')}`, { key: acct.keys.viewer }), 400, 'invalid_query_param');
    expectError(await s.request('GET', `/v1/deploys?cursor=${'A'.repeat(600)}`, { key: acct.keys.viewer }), 400, 'invalid_query_param');
  });

  /*
   * Known bug outside this suite's files: src/domain/ids.ts draws the 16 random characters afresh for every id, so
   * ids minted in the same millisecond are not monotonic and "newest first" breaks ties at random (also makes
   * test/smoke.test.ts flaky). A monotonic ULID generator (same ms → previous random part + 1) fixes it; then drop
   * `.fails`.
   */
  it('newest first also for deploys created within the same millisecond', async () => {
    const b = await s.newAccount('same-ms');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await createDeploy(s, `same-${i}`, { key: b.keys.editor }));
    expect((await list('?limit=100', b.keys.viewer)).items.map((d) => d.id)).toEqual(ids.reverse());
  });
});

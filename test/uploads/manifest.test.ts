import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billPeriod } from '../../src/domain/policy.js';
import type { TestServer } from '../helpers/server.js';
import { commit, createSession, expectError, manifest, newDeploy, uniqueFiles, uniqueSlug, uploadAll, startUploadServer } from './support.js';

let s: TestServer;
let deployId: string;
beforeAll(async () => {
  s = await startUploadServer();
  deployId = await newDeploy(s);
});
afterAll(async () => s.stop());

const MB = 1024 * 1024; // binary, as the docs count (spec §9.2)
const H = (c: string) => c.repeat(64);
const entry = (over: Record<string, unknown> = {}) => ({ path: 'index.html', sha256: H('a'), size: 10, mime: 'text/html', ...over });
const create = (body: unknown, key?: string) => s.request('POST', '/v1/upload-sessions', { key, json: body });

async function sessionCount(): Promise<number> {
  const [{ n }] = await s.sql<{ n: number | string }>('SELECT count(*) AS n FROM upload_sessions');
  return Number(n);
}

describe('manifest validation → 400 invalid_input, nothing created', () => {
  const badPaths: [string, string][] = [
    ['../x', 'parent traversal'],
    ['a/../../b', 'traversal in the middle'],
    ['a/..', 'trailing ..'],
    ['/etc/passwd', 'leading slash'],
    ['a\\b', 'backslash'],
    ['..\\..\\x', 'windows traversal'],
    ['', 'empty'],
    ['./a', 'dot segment'],
    ['a/./b', 'inner dot segment'],
    ['.', 'just a dot'],
    ['a//b', 'empty segment'],
    ['dir/', 'trailing slash'],
    ['a\u0000b', 'NUL'],
    ['a\nb', 'newline'],
    ['a\u001fb', 'control char'],
    ['a\u007fb', 'DEL'],
    ['x'.repeat(513), '513 bytes'],
    ['€'.repeat(171), '513 bytes of multi-byte characters'],
  ];
  it.each(badPaths)('path %j (%s)', async (path) => {
    const before = await sessionCount();
    expectError(await create({ deployId, files: [entry({ path })] }), 400, 'invalid_input');
    expect(await sessionCount()).toBe(before);
  });

  it('accepts a path of exactly 512 bytes and ordinary nested paths', async () => {
    for (const path of ['x'.repeat(512), 'a/b/c/d.e.f', '.well-known/x', 'a..b/..c', 'sp ace/ü.html']) {
      const res = await create({ deployId, files: [entry({ path })] });
      expect(res.status, path).toBe(201);
    }
  });

  const badBodies: [string, () => unknown][] = [
    ['duplicate paths', () => ({ deployId, files: [entry(), entry({ sha256: H('b') })] })],
    ['uppercase sha256', () => ({ deployId, files: [entry({ sha256: H('A') })] })],
    ['63-char sha256', () => ({ deployId, files: [entry({ sha256: 'a'.repeat(63) })] })],
    ['65-char sha256', () => ({ deployId, files: [entry({ sha256: 'a'.repeat(65) })] })],
    ['non-hex sha256', () => ({ deployId, files: [entry({ sha256: H('g') })] })],
    ['negative size', () => ({ deployId, files: [entry({ size: -1 })] })],
    ['fractional size', () => ({ deployId, files: [entry({ size: 1.5 })] })],
    ['string size', () => ({ deployId, files: [entry({ size: '10' })] })],
    ['missing mime', () => ({ deployId, files: [{ path: 'a', sha256: H('a'), size: 1 }] })],
    ['empty mime', () => ({ deployId, files: [entry({ mime: '' })] })],
    ['missing path', () => ({ deployId, files: [{ sha256: H('a'), size: 1, mime: 'x/y' }] })],
    ['both deployId and createDeploy', () => ({ deployId, createDeploy: { slug: uniqueSlug(), name: 'x' }, files: [entry()] })],
    ['neither deployId nor createDeploy', () => ({ files: [entry()] })],
    ['bad createDeploy slug', () => ({ createDeploy: { slug: 'Bad Slug', name: 'x' }, files: [entry()] })],
    ['same sha256 with two sizes', () => ({ deployId, files: [entry({ path: 'a' }), entry({ path: 'b', size: 11 })] })],
    ['empty file list', () => ({ deployId, files: [] })],
    ['files not an array', () => ({ deployId, files: {} })],
    ['malformed deployId', () => ({ deployId: 'nope', files: [entry()] })],
  ];
  it.each(badBodies)('%s', async (_name, body) => {
    const before = await sessionCount();
    expectError(await create(body()), 400, 'invalid_input');
    expect(await sessionCount()).toBe(before);
  });

  it('malformed JSON and a non-JSON content type → 400 invalid_input', async () => {
    expectError(await s.request('POST', '/v1/upload-sessions', { body: '{"files":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/upload-sessions', { body: 'files', headers: { 'content-type': 'text/plain' } }), 400, 'invalid_input');
    expectError(await s.request('POST', '/v1/upload-sessions', { body: Buffer.from('{}'), headers: { 'content-type': 'application/octet-stream' } }), 400, 'invalid_input');
  });

  it('a failed inline create does not leave a deploy behind', async () => {
    const slug = uniqueSlug();
    expectError(await create({ createDeploy: { slug, name: 'x' }, files: [entry({ path: '../x' })] }), 400, 'invalid_input');
    const list = await s.request('GET', '/v1/deploys?limit=100');
    expect(list.body.items.map((d: any) => d.slug)).not.toContain(slug);
  });

  it('the same sha256 under two paths with the same size is fine', async () => {
    const res = await create({ deployId, files: [entry({ path: 'a' }), entry({ path: 'b' })] });
    expect(res.status).toBe(201);
    expect(res.body.uploadSession).toMatchObject({ requestedFileCount: 2, requestedBytes: 20 });
  });
});

describe('hard limits (all plans)', () => {
  it('a file over 10 MB → 400 upload_blob_too_large', async () => {
    expectError(await create({ deployId, files: [entry({ size: 10 * MB + 1 })] }), 400, 'upload_blob_too_large');
    expect((await create({ deployId, files: [entry({ size: 10 * MB })] })).status).toBe(201);
  });

  it('more than 5000 files → 400 upload_session_too_large', async () => {
    const files = Array.from({ length: 5001 }, (_, i) => entry({ path: `f/${i}`, size: 1 }));
    expectError(await create({ deployId, files }), 400, 'upload_session_too_large');
    expect((await create({ deployId, files: files.slice(0, 5000) })).status).toBe(201);
  });

  it('more than 256 MB in total → 400 upload_session_too_large', async () => {
    const files = Array.from({ length: 26 }, (_, i) => entry({ path: `f/${i}`, sha256: i.toString(16).padStart(64, '0'), size: 10 * MB }));
    expectError(await create({ deployId, files }), 400, 'upload_session_too_large');
    const exact = Array.from({ length: 26 }, (_, i) => entry({ path: `f/${i}`, sha256: i.toString(16).padStart(64, '0'), size: i < 25 ? 10 * MB : 6 * MB }));
    expect((await create({ deployId, files: exact })).status).toBe(201);
  });
});

describe('plan limits and quotas', () => {
  it('free plan: more than 50 files → 400 upload_session_policy_limit_exceeded; 50 is fine', async () => {
    const f = await s.newAccount('manifest-free-files', 'free');
    const files = Array.from({ length: 51 }, (_, i) => entry({ path: `f/${i}`, size: 1 }));
    const body = { createDeploy: { slug: uniqueSlug(), name: 'x' }, files };
    expectError(await create(body, f.keys.editor), 400, 'upload_session_policy_limit_exceeded');
    expect((await create({ ...body, files: files.slice(0, 50) }, f.keys.editor)).status).toBe(201);
  });

  it('free plan: more than 25 MB per commit → 400 upload_session_policy_limit_exceeded', async () => {
    const f = await s.newAccount('manifest-free-bytes', 'free');
    const files = [entry({ path: 'a', sha256: H('1'), size: 10 * MB }), entry({ path: 'b', sha256: H('2'), size: 10 * MB }), entry({ path: 'c', sha256: H('3'), size: 5 * MB + 1 })];
    expectError(await create({ createDeploy: { slug: uniqueSlug(), name: 'x' }, files }, f.keys.editor), 400, 'upload_session_policy_limit_exceeded');
  });

  it('free plan storage (1 GiB): new blobs beyond it → 400 storage_limit_exceeded; blobs already held do not count twice', async () => {
    const f = await s.newAccount('manifest-free-storage', 'free');
    const now = s.clock.now();
    await s.deps.db.blobs.recordAccountBlob(f.accountId, H('c'), 10 * MB, now);
    await s.deps.db.blobs.recordAccountBlob(f.accountId, H('d'), 1024 * MB - 10 * MB - 10, now);
    const dep = await newDeploy(s, f.keys.editor);
    expectError(await create({ deployId: dep, files: [entry({ sha256: H('e'), size: 11 })] }, f.keys.editor), 400, 'storage_limit_exceeded');
    // exactly at the limit is fine, and re-listing held blobs adds nothing
    const ok = await create({ deployId: dep, files: [entry({ sha256: H('e'), size: 10 }), entry({ path: 'held', sha256: H('c'), size: 10 * MB })] }, f.keys.editor);
    expect(ok.status).toBe(201);
  });

  it('storage is checked again at commit: of two sessions opened at once that each fit, only the first commit passes', async () => {
    const f = await s.newAccount('storage-at-commit', 'free');
    const dep = await newDeploy(s, f.keys.editor);
    // a stored version that holds all but 100 bytes of the free plan's 1 GiB
    const base = await createSession(s, { deployId: dep }, uniqueFiles(1, 'base'), f.keys.editor);
    await uploadAll(s, base, f.keys.editor);
    expect((await commit(s, base, { key: f.keys.editor })).status).toBe(201);
    const nearlyFull = 1024 * MB - 100;
    await s.sql('UPDATE deploy_version_files SET size = ? WHERE sha256 = ? RETURNING 1', [nearlyFull, base.manifest[0].sha256]);
    await s.sql('UPDATE account_blobs SET size = ? WHERE sha256 = ? RETURNING 1', [nearlyFull, base.manifest[0].sha256]);
    // each session alone fits (60 new bytes), so both open
    const files = (p: string) => [{ path: 'x.txt', content: `${p}${'x'.repeat(59)}`.slice(0, 60), mime: 'text/plain' }];
    const a = await createSession(s, { deployId: dep }, files('a'), f.keys.editor);
    const b = await createSession(s, { deployId: dep }, files('b'), f.keys.editor);
    await uploadAll(s, a, f.keys.editor);
    await uploadAll(s, b, f.keys.editor);
    const [first, second] = await Promise.all([commit(s, a, { key: f.keys.editor }), commit(s, b, { key: f.keys.editor })]);
    const statuses = [first.status, second.status].sort();
    expect(statuses).toEqual([201, 400]);
    expectError([first, second].find((r) => r.status === 400)!, 400, 'storage_limit_exceeded');
    const versions = (await s.request('GET', `/v1/deploys/${dep}/versions`, { key: f.keys.viewer })).body.items;
    expect(versions).toHaveLength(2);
  });

  it('deploy_commit_policy_limit_exceeded at commit when the plan shrank after the session was created', async () => {
    const acct = await s.newAccount('manifest-shrink');
    const session = await createSession(s, { createDeploy: { slug: uniqueSlug(), name: 'x' } }, uniqueFiles(60), acct.keys.editor);
    await uploadAll(s, session, acct.keys.editor);
    await s.deps.db.accounts.update(acct.accountId, { planKey: 'free' });
    expectError(await commit(s, session, { key: acct.keys.editor }), 400, 'deploy_commit_policy_limit_exceeded');
    // the session is still open (not committed, lock released) and commits once the plan allows it
    expect((await s.request('GET', `/v1/upload-sessions/${session.id}`, { key: acct.keys.editor })).body.uploadSession.status).toBe('open');
    await s.deps.db.accounts.update(acct.accountId, { planKey: 'unlimited' });
    expect((await commit(s, session, { key: acct.keys.editor })).status).toBe(201);
  });

  it('deploy commit quota used up → 429 deploy_commit_quota_exceeded with Retry-After (create and commit)', async () => {
    const f = await s.newAccount('manifest-quota', 'free');
    const session = await createSession(s, { createDeploy: { slug: uniqueSlug(), name: 'x' } }, uniqueFiles(1), f.keys.editor);
    await uploadAll(s, session, f.keys.editor);
    await s.deps.db.usage.record(f.accountId, 'deploy_commits', 100, s.clock.now());

    const created = await create({ deployId: session.deployId, files: manifest(uniqueFiles(1)) }, f.keys.editor);
    expectError(created, 429, 'deploy_commit_quota_exceeded');
    const retry = Number(created.headers.get('retry-after'));
    expect(retry).toBe(Math.ceil((billPeriod(s.clock.now()).end - s.clock.now()) / 1000));

    const committed = await commit(s, session, { key: f.keys.editor });
    expectError(committed, 429, 'deploy_commit_quota_exceeded');
    expect(Number(committed.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import { billPeriod } from '../../src/domain/policy.js';
import { ConflictError } from '../../src/model/errors.js';
import type { ApiKeyRecord, IdempotencyScope, WebhookDeliveryRecord, WebhookEventRecord } from '../../src/model/records.js';
import {
  account, BACKENDS, deploy, fid, file, seedDeploy, seedVersion, session, T0, useBackend,
} from '../helpers/backends.js';

/** The MetadataStore port contract: every adapter must pass the same suite. */
describe.each(BACKENDS)('MetadataStore contract · %s', (_name, backend) => {
  if (!backend.available) {
    it.skip(backend.skipReason!, () => {});
    return;
  }
  const b = useBackend(backend);

  const apiKey = (accountId: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
    id: fid('key'), accountId, name: 'k', role: 'admin', prefix: 'pcak_abc', keyHash: fid('hash'), userId: null, createdAt: T0,
    lastUsedAt: null, disabledAt: null, ...over,
  });

  describe('accounts', () => {
    it('creates, reads by id and name, counts and updates', async () => {
      expect(await b.store.accounts.count()).toBe(0);
      const a = account({ name: 'acme' });
      await b.store.accounts.create(a);
      expect(await b.store.accounts.get(a.id)).toEqual(a);
      expect(await b.store.accounts.getByName('acme')).toEqual(a);
      expect(await b.store.accounts.get('acct_missing')).toBeNull();
      expect(await b.store.accounts.getByName('nope')).toBeNull();
      expect(await b.store.accounts.count()).toBe(1);
      expect(typeof (await b.store.accounts.count())).toBe('number');
      await b.store.accounts.update(a.id, { planKey: 'pro', name: undefined });
      expect(await b.store.accounts.get(a.id)).toEqual({ ...a, planKey: 'pro' });
      await b.store.accounts.update(a.id, {}); // nothing to change is fine
      await b.store.accounts.update(a.id, { disabledAt: T0 + 5 });
      expect((await b.store.accounts.get(a.id))!.disabledAt).toBe(T0 + 5);
      await b.store.accounts.update(a.id, { disabledAt: null });
      expect((await b.store.accounts.get(a.id))!.disabledAt).toBeNull();
    });

    it('lists every account newest first, in keyset pages', async () => {
      const older = account({ name: 'older', createdAt: T0 });
      const newer = account({ name: 'newer', createdAt: T0 + 1 });
      await b.store.accounts.create(older);
      await b.store.accounts.create(newer);
      expect((await b.store.accounts.list({ limit: 10 })).map((a) => a.id)).toEqual([newer.id, older.id]);
      expect((await b.store.accounts.list({ limit: 10, after: { at: newer.createdAt, id: newer.id } })).map((a) => a.id)).toEqual([older.id]);
    });

    it('rejects a duplicate name or id with ConflictError', async () => {
      const a = account({ name: 'dup' });
      await b.store.accounts.create(a);
      await expect(b.store.accounts.create(account({ name: 'dup' }))).rejects.toBeInstanceOf(ConflictError);
      await expect(b.store.accounts.create(account({ id: a.id }))).rejects.toBeInstanceOf(ConflictError);
      const other = account();
      await b.store.accounts.create(other);
      await expect(b.store.accounts.update(other.id, { name: 'dup' })).rejects.toBeInstanceOf(ConflictError);
    });
  });

  describe('apiKeys', () => {
    it('creates, finds by hash, scopes get to the account, disables once and touches', async () => {
      const { account: a } = await seedDeploy(b.store);
      const { account: other } = await seedDeploy(b.store);
      const k = apiKey(a.id);
      await b.store.apiKeys.create(k);
      expect(await b.store.apiKeys.getByHash(k.keyHash)).toEqual(k);
      expect(await b.store.apiKeys.get(a.id, k.id)).toEqual(k);
      expect(await b.store.apiKeys.get(other.id, k.id)).toBeNull();
      await b.store.apiKeys.disable(a.id, k.id, T0 + 5);
      await b.store.apiKeys.disable(a.id, k.id, T0 + 9); // first disable time stays
      await b.store.apiKeys.disable(other.id, k.id, T0 + 1); // other account: no effect
      await b.store.apiKeys.touch(k.id, T0 + 7);
      expect(await b.store.apiKeys.get(a.id, k.id)).toEqual({ ...k, disabledAt: T0 + 5, lastUsedAt: T0 + 7 });
      await b.store.apiKeys.enable(other.id, k.id); // other account: no effect
      expect((await b.store.apiKeys.get(a.id, k.id))!.disabledAt).toBe(T0 + 5);
      await b.store.apiKeys.enable(a.id, k.id);
      expect(await b.store.apiKeys.get(a.id, k.id)).toEqual({ ...k, disabledAt: null, lastUsedAt: T0 + 7 });
    });

    it('rejects a duplicate key hash with ConflictError', async () => {
      const { account: a } = await seedDeploy(b.store);
      const k = apiKey(a.id);
      await b.store.apiKeys.create(k);
      await expect(b.store.apiKeys.create(apiKey(a.id, { keyHash: k.keyHash }))).rejects.toBeInstanceOf(ConflictError);
    });

    it('lists newest first (createdAt desc, id desc), limit + 1 rows, and continues after a cursor', async () => {
      const { account: a } = await seedDeploy(b.store);
      const keys: ApiKeyRecord[] = [];
      // two share a timestamp: the id breaks the tie
      for (const [i, at] of [T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3].entries()) keys.push(apiKey(a.id, { id: `key_${i}`, createdAt: at }));
      for (const k of [...keys].reverse()) await b.store.apiKeys.create(k);
      const expected = ['key_4', 'key_3', 'key_2', 'key_1', 'key_0'];
      const first = await b.store.apiKeys.list(a.id, { limit: 2 });
      expect(first.map((k) => k.id)).toEqual(expected.slice(0, 3)); // limit + 1: the caller sees there is more
      const second = await b.store.apiKeys.list(a.id, { limit: 2, after: { at: first[1].createdAt, id: first[1].id } });
      expect(second.map((k) => k.id)).toEqual(expected.slice(2, 5));
      const last = await b.store.apiKeys.list(a.id, { limit: 5, after: { at: T0 + 1, id: 'key_2' } });
      expect(last.map((k) => k.id)).toEqual(['key_1', 'key_0']);
      expect(await b.store.apiKeys.list('acct_other', { limit: 10 })).toEqual([]);
    });
  });

  describe('deploys', () => {
    it('creates, reads live deploys with booleans as booleans, and patches only given fields', async () => {
      const a = account();
      await b.store.accounts.create(a);
      const d = deploy(a.id, { webhookEnabled: true, webhookUrl: 'https://example.test/h' });
      await b.store.deploys.create(d);
      const got = await b.store.deploys.get(a.id, d.id);
      expect(got).toEqual(d);
      expect(got!.webhookEnabled).toBe(true);
      expect(await b.store.deploys.get('acct_other', d.id)).toBeNull();
      await b.store.deploys.update(a.id, d.id, { name: 'Renamed', webhookEnabled: false, webhookUrl: null, slug: undefined });
      expect(await b.store.deploys.get(a.id, d.id)).toEqual({ ...d, name: 'Renamed', webhookEnabled: false, webhookUrl: null });
    });

    it('keeps slugs unique among live deploys of an account (ConflictError), free again once deleted', async () => {
      const a = account();
      await b.store.accounts.create(a);
      const other = account();
      await b.store.accounts.create(other);
      const d = deploy(a.id, { slug: 'invoice' });
      await b.store.deploys.create(d);
      await expect(b.store.deploys.create(deploy(a.id, { slug: 'invoice' }))).rejects.toBeInstanceOf(ConflictError);
      await b.store.deploys.create(deploy(other.id, { slug: 'invoice' })); // another account may use it
      const d2 = deploy(a.id, { slug: 'report' });
      await b.store.deploys.create(d2);
      await expect(b.store.deploys.update(a.id, d2.id, { slug: 'invoice' })).rejects.toBeInstanceOf(ConflictError);
      await b.store.deploys.markDeleted(a.id, d.id, T0 + 1);
      await b.store.deploys.create(deploy(a.id, { slug: 'invoice' }));
    });

    it('lists live deploys newest first with limit + 1', async () => {
      const a = account();
      await b.store.accounts.create(a);
      for (let i = 0; i < 4; i++) await b.store.deploys.create(deploy(a.id, { id: `dpl_${i}`, createdAt: T0 + i }));
      await b.store.deploys.markDeleted(a.id, 'dpl_2', T0 + 10);
      expect((await b.store.deploys.list(a.id, { limit: 1 })).map((d) => d.id)).toEqual(['dpl_3', 'dpl_1']);
      expect((await b.store.deploys.list(a.id, { limit: 5, after: { at: T0 + 3, id: 'dpl_3' } })).map((d) => d.id)).toEqual(['dpl_1', 'dpl_0']);
    });

    it('markDeleted hides the deploy and drops its aliases and vars and expires its open sessions, in one step', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const v = await seedVersion(b.store, a.id, d.id, undefined, { aliases: ['latest'] });
      await b.store.deploys.writeVars(d.id, [{ kind: 'env', name: 'A', value: '1' }]);
      const open = session(a.id, d.id);
      await b.store.uploads.create(open, [file('a.html', 'ab')]);
      await b.store.deploys.markDeleted(a.id, d.id, T0 + 1);
      expect(await b.store.deploys.get(a.id, d.id)).toBeNull();
      expect(await b.store.aliases.list(d.id)).toEqual([]);
      expect(await b.store.deploys.listVars(d.id)).toEqual([]);
      expect((await b.store.uploads.get(a.id, open.id))!.status).toBe('expired');
      expect(await b.store.versions.get(d.id, v.id)).not.toBeNull(); // versions stay (render history)
      await b.store.deploys.markDeleted(a.id, d.id, T0 + 2); // again: no-op
    });

    it('writes vars (set, replace, delete) in one step and lists them by kind and name', async () => {
      const { deploy: d } = await seedDeploy(b.store);
      await b.store.deploys.writeVars(d.id, [
        { kind: 'secret', name: 'TOKEN', value: 'enc:1' },
        { kind: 'env', name: 'b', value: '2' },
        { kind: 'env', name: 'B', value: '3' },
        { kind: 'env', name: 'A', value: '1' },
      ]);
      await b.store.deploys.writeVars(d.id, [
        { kind: 'env', name: 'A', value: 'changed' },
        { kind: 'env', name: 'b', value: null },
        { kind: 'env', name: 'missing', value: null },
      ]);
      expect(await b.store.deploys.listVars(d.id)).toEqual([
        { kind: 'env', name: 'A', value: 'changed' },
        { kind: 'env', name: 'B', value: '3' },
        { kind: 'secret', name: 'TOKEN', value: 'enc:1' },
      ]);
      await b.store.deploys.writeVars(d.id, []);
    });
  });

  describe('versions and aliases', () => {
    it('reads versions (get, latest, list newest first) and their files in path order with afterPath paging', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const files = [file('b/x.css', 'bb', 3, 'text/css'), file('a.html', 'aa', 5), file('B.js', 'cc', 7, 'text/javascript'), file('a/z.html', 'dd', 1)];
      const v1 = await seedVersion(b.store, a.id, d.id, files, { at: T0 });
      const v2 = await seedVersion(b.store, a.id, d.id, [file('index.html', 'ee')], { at: T0 + 1 });
      expect(await b.store.versions.get(d.id, v1.id)).toEqual(v1);
      expect(await b.store.versions.get('dpl_other', v1.id)).toBeNull();
      expect(await b.store.versions.latest(d.id)).toEqual(v2);
      expect(await b.store.versions.latest('dpl_none')).toBeNull();
      expect((await b.store.versions.list(d.id, { limit: 1 })).map((v) => v.id)).toEqual([v2.id, v1.id]);
      expect((await b.store.versions.list(d.id, { limit: 1, after: { at: v2.createdAt, id: v2.id } })).map((v) => v.id)).toEqual([v1.id]);
      // bytewise path order, as SQLite's BINARY collation: upper case before lower case, '/' before letters
      const order = ['B.js', 'a.html', 'a/z.html', 'b/x.css'];
      expect((await b.store.versions.listFiles(v1.id, { limit: 10 })).map((f) => f.path)).toEqual(order);
      const page1 = await b.store.versions.listFiles(v1.id, { limit: 2 });
      expect(page1.map((f) => f.path)).toEqual(order.slice(0, 3));
      expect((await b.store.versions.listFiles(v1.id, { limit: 2, afterPath: page1[1].path })).map((f) => f.path)).toEqual(order.slice(2));
      expect(await b.store.versions.getFile(v1.id, 'a.html')).toEqual(file('a.html', 'aa', 5));
      expect(await b.store.versions.getFile(v1.id, 'nope.html')).toBeNull();
      expect(typeof (await b.store.versions.getFile(v1.id, 'B.js'))!.size).toBe('number');
    });

    it('puts (upserts), reads, lists by name and deletes aliases', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const v1 = await seedVersion(b.store, a.id, d.id);
      const v2 = await seedVersion(b.store, a.id, d.id);
      await b.store.aliases.put({ deployId: d.id, name: 'prod', deployVersionId: v1.id, updatedAt: T0 });
      await b.store.aliases.put({ deployId: d.id, name: 'latest', deployVersionId: v1.id, updatedAt: T0 });
      await b.store.aliases.put({ deployId: d.id, name: 'prod', deployVersionId: v2.id, updatedAt: T0 + 5 });
      expect(await b.store.aliases.get(d.id, 'prod')).toEqual({ deployId: d.id, name: 'prod', deployVersionId: v2.id, updatedAt: T0 + 5 });
      expect((await b.store.aliases.list(d.id)).map((x) => x.name)).toEqual(['latest', 'prod']);
      expect(await b.store.aliases.delete(d.id, 'prod')).toBe(true);
      expect(await b.store.aliases.delete(d.id, 'prod')).toBe(false);
      expect(await b.store.aliases.get(d.id, 'prod')).toBeNull();
    });
  });

  describe('uploads', () => {
    it('creates a session with its manifest, scoped to the account, files in path order', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const s = session(a.id, d.id, { requestedFileCount: 2, requestedBytes: 30 });
      await b.store.uploads.create(s, [file('z.html', 'aa', 10), file('a.css', 'bb', 20, 'text/css')]);
      expect(await b.store.uploads.get(a.id, s.id)).toEqual(s);
      expect(await b.store.uploads.get('acct_other', s.id)).toBeNull();
      expect(await b.store.uploads.files(s.id)).toEqual([file('a.css', 'bb', 20, 'text/css'), file('z.html', 'aa', 10)]);
      await expect(b.store.uploads.create({ ...s }, [])).rejects.toBeInstanceOf(ConflictError);
    });

    it('reports the distinct blobs the account is missing and the stats of those it holds', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const { account: other } = await seedDeploy(b.store);
      const s = session(a.id, d.id);
      await b.store.uploads.create(s, [file('1.html', 'aa', 10), file('2.html', 'aa', 10), file('3.css', 'bb', 20), file('4.js', 'cc', 30)]);
      await b.store.blobs.recordAccountBlob(a.id, 'cc'.padEnd(64, '0'), 30, T0);
      await b.store.blobs.recordAccountBlob(other.id, 'bb'.padEnd(64, '0'), 20, T0); // another account's holding does not count
      expect(await b.store.uploads.missingBlobs(a.id, s.id)).toEqual([
        { sha256: 'aa'.padEnd(64, '0'), size: 10 },
        { sha256: 'bb'.padEnd(64, '0'), size: 20 },
      ]);
      expect(await b.store.uploads.presentBlobStats(a.id, s.id)).toEqual({ count: 1, bytes: 30 });
      expect(await b.store.uploads.presentBlobStats(a.id, 'us_none')).toEqual({ count: 0, bytes: 0 });
    });

    it('takes the commit lock by compare-and-set: once, again after it lapses or is released, never on a closed session', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const s = session(a.id, d.id);
      await b.store.uploads.create(s, [file('a.html', 'aa')]);
      expect(await b.store.uploads.tryLockCommit(s.id, T0, T0 + 100)).toBe(true);
      expect(await b.store.uploads.tryLockCommit(s.id, T0 + 50, T0 + 150)).toBe(false);
      expect(await b.store.uploads.tryLockCommit(s.id, T0 + 100, T0 + 200)).toBe(true); // lapsed
      await b.store.uploads.releaseCommitLock(s.id);
      expect((await b.store.uploads.get(a.id, s.id))!.commitLockUntil).toBeNull();
      expect(await b.store.uploads.tryLockCommit(s.id, T0 + 101, T0 + 300)).toBe(true);
      expect(await b.store.uploads.expire(s.expiresAt)).toBe(1);
      expect(await b.store.uploads.tryLockCommit(s.id, T0 + 500, T0 + 600)).toBe(false);
      expect(await b.store.uploads.tryLockCommit('us_none', T0, T0 + 1)).toBe(false);
    });

    it('commits atomically: version, files, aliases, usage; a second commit is a ConflictError and changes nothing', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const s = session(a.id, d.id);
      await b.store.uploads.create(s, [file('index.html', 'aa', 10), file('style.css', 'bb', 20, 'text/css')]);
      expect(await b.store.uploads.tryLockCommit(s.id, T0, T0 + 300_000)).toBe(true);
      const version = { id: fid('dv'), accountId: a.id, deployId: d.id, fileCount: 2, bytes: 30, uploadSessionId: s.id, createdAt: T0 + 1 };
      await b.store.uploads.commit({ session: s, version, aliases: ['latest', 'prod'], now: T0 + 1 });
      expect(await b.store.uploads.get(a.id, s.id)).toEqual({ ...s, status: 'committed', committedAt: T0 + 1, commitLockUntil: null, deployVersionId: version.id });
      expect(await b.store.versions.get(d.id, version.id)).toEqual(version);
      expect(await b.store.versions.listFiles(version.id, { limit: 10 })).toEqual([file('index.html', 'aa', 10), file('style.css', 'bb', 20, 'text/css')]);
      expect((await b.store.aliases.list(d.id)).map((x) => [x.name, x.deployVersionId])).toEqual([['latest', version.id], ['prod', version.id]]);
      expect(await b.store.usage.periodTotal(a.id, 'deploy_commits', billPeriod(T0).start)).toBe(1);

      const again = { ...version, id: fid('dv') };
      await expect(b.store.uploads.commit({ session: s, version: again, aliases: ['other'], now: T0 + 2 })).rejects.toBeInstanceOf(ConflictError);
      expect(await b.store.versions.get(d.id, again.id)).toBeNull();
      expect(await b.store.aliases.get(d.id, 'other')).toBeNull();
      expect(await b.store.usage.periodTotal(a.id, 'deploy_commits', billPeriod(T0).start)).toBe(1);
    });

    it('expires open sessions past their expiry and reports how many', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const s1 = session(a.id, d.id, { expiresAt: T0 + 10, commitLockUntil: T0 + 20 });
      const s2 = session(a.id, d.id, { expiresAt: T0 + 100 });
      await b.store.uploads.create(s1, []);
      await b.store.uploads.create(s2, []);
      expect(await b.store.uploads.expire(T0 + 10)).toBe(1);
      expect(await b.store.uploads.get(a.id, s1.id)).toMatchObject({ status: 'expired', commitLockUntil: null });
      expect((await b.store.uploads.get(a.id, s2.id))!.status).toBe('open');
      expect(await b.store.uploads.expire(T0 + 10)).toBe(0);
    });
  });

  describe('blobs', () => {
    const sha = (s: string) => s.padEnd(64, '0');

    it('records holdings idempotently, answers presence per account and sums bytes', async () => {
      const { account: a } = await seedDeploy(b.store);
      const { account: other } = await seedDeploy(b.store);
      await b.store.blobs.recordAccountBlob(a.id, sha('aa'), 10, T0);
      await b.store.blobs.recordAccountBlob(a.id, sha('aa'), 10, T0 + 1);
      await b.store.blobs.recordAccountBlob(a.id, sha('bb'), 5_000_000_000, T0); // beyond 32 bits
      expect(await b.store.blobs.hasAccountBlob(a.id, sha('aa'))).toBe(true);
      expect(await b.store.blobs.hasAccountBlob(other.id, sha('aa'))).toBe(false);
      expect(await b.store.blobs.accountBlobBytes(a.id)).toBe(5_000_000_010);
      expect(await b.store.blobs.accountBlobBytes(other.id)).toBe(0);
      expect(await b.store.blobs.isHeld(sha('aa'))).toBe(true);
      expect(await b.store.blobs.isHeld(sha('ff'))).toBe(false);
    });

    it('drops holdings no live version or open session of the same account references (the GC query)', async () => {
      const { account: a, deploy: live } = await seedDeploy(b.store);
      const gone = deploy(a.id);
      await b.store.deploys.create(gone);
      const { account: other, deploy: otherDeploy } = await seedDeploy(b.store);
      await seedVersion(b.store, a.id, live.id, [file('a.html', 'a1')]); // live version → kept
      await seedVersion(b.store, a.id, gone.id, [file('b.html', 'b1')]); // deploy deleted below → dropped
      await b.store.uploads.create(session(a.id, live.id), [file('c.html', 'c1')]); // open session → kept
      const expired = session(a.id, live.id, { expiresAt: T0 + 1 });
      await b.store.uploads.create(expired, [file('d.html', 'd1')]); // expired below → dropped
      await seedVersion(b.store, other.id, otherDeploy.id, [file('e.html', 'e1')]); // only another account references e1
      for (const s of ['a1', 'b1', 'c1', 'd1', 'e1', 'f1']) await b.store.blobs.recordAccountBlob(a.id, sha(s), 1, T0);
      await b.store.blobs.recordAccountBlob(other.id, sha('e1'), 1, T0);
      await b.store.deploys.markDeleted(a.id, gone.id, T0 + 1);
      await b.store.uploads.expire(T0 + 1);

      expect(await b.store.blobs.dropUnreferencedAccountBlobs()).toBe(4);
      const held = [];
      for (const s of ['a1', 'b1', 'c1', 'd1', 'e1', 'f1']) if (await b.store.blobs.hasAccountBlob(a.id, sha(s))) held.push(s);
      expect(held).toEqual(['a1', 'c1']);
      expect(await b.store.blobs.hasAccountBlob(other.id, sha('e1'))).toBe(true);
      expect(await b.store.blobs.isHeld(sha('e1'))).toBe(true);
      expect(await b.store.blobs.isHeld(sha('b1'))).toBe(false);
      expect(await b.store.blobs.dropUnreferencedAccountBlobs()).toBe(0);
    });
  });

  describe('usage', () => {
    it('totals a meter per account and bill period, in step with the ledger, on both sides of a period boundary', async () => {
      const { account: a } = await seedDeploy(b.store);
      const { account: other } = await seedDeploy(b.store);
      const { start, end } = billPeriod(T0);
      await b.store.usage.record(a.id, 'render_time_ms', 1500, T0);
      await b.store.usage.record(a.id, 'render_time_ms', 3_000_000_000, T0 + 5);
      await b.store.usage.record(a.id, 'render_time_ms', 7, end - 1); // the period's last millisecond
      await b.store.usage.record(a.id, 'render_time_ms', 11, end); // the next period's first
      await b.store.usage.record(a.id, 'render_time_ms', 13, start - 1); // the previous period's last
      await b.store.usage.record(a.id, 'render_jobs', 1, T0);
      await b.store.usage.record(other.id, 'render_time_ms', 99, T0);
      expect(await b.store.usage.periodTotal(a.id, 'render_time_ms', start)).toBe(3_000_001_507);
      expect(await b.store.usage.periodTotal(a.id, 'render_time_ms', end)).toBe(11);
      expect(await b.store.usage.periodTotal(a.id, 'render_time_ms', billPeriod(start - 1).start)).toBe(13);
      expect(await b.store.usage.periodTotal(a.id, 'render_jobs', start)).toBe(1);
      expect(await b.store.usage.periodTotal(a.id, 'deploy_commits', start)).toBe(0);
      expect(await b.store.usage.periodTotal(other.id, 'render_time_ms', start)).toBe(99);
      // the ledger keeps every unit (the daily series read it)
      const days = await b.store.usage.daily(a.id, start, end);
      expect(days.filter((d) => d.meter === 'render_time_ms').reduce((n, d) => n + d.total, 0)).toBe(3_000_001_507);
    });

    it('loses no unit when nodes record for one account at once', async () => {
      const { account: a } = await seedDeploy(b.store);
      const other = await b.node();
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? other.store : b.store).usage.record(a.id, 'render_jobs', 1, T0 + i)));
      expect(await b.store.usage.periodTotal(a.id, 'render_jobs', billPeriod(T0).start)).toBe(40);
    });
  });

  describe('idempotency', () => {
    const scope = (key = 'k1'): IdempotencyScope => ({ accountId: 'acct_1', apiKeyId: 'key_1', method: 'POST', route: '/v1/deploys', key });

    it('reserves once, completes, replays, releases and purges', async () => {
      expect(await b.store.idempotency.reserve(scope(), 'hash1', T0)).toBeNull();
      expect(await b.store.idempotency.reserve(scope(), 'hash2', T0 + 1)).toEqual({
        requestHash: 'hash1', statusCode: null, responseBody: null, createdAt: T0, completedAt: null,
      });
      await b.store.idempotency.complete(scope(), 201, '{"id":1}', T0 + 2);
      expect(await b.store.idempotency.reserve(scope(), 'hash1', T0 + 3)).toEqual({
        requestHash: 'hash1', statusCode: 201, responseBody: '{"id":1}', createdAt: T0, completedAt: T0 + 2,
      });
      // every part of the scope matters
      expect(await b.store.idempotency.reserve({ ...scope(), method: 'PATCH' }, 'h', T0)).toBeNull();
      expect(await b.store.idempotency.reserve({ ...scope(), accountId: 'acct_2' }, 'h', T0)).toBeNull();
      expect(await b.store.idempotency.reserve({ ...scope(), apiKeyId: 'key_2' }, 'h', T0)).toBeNull(); // another API key
      await b.store.idempotency.release(scope());
      expect(await b.store.idempotency.reserve(scope(), 'hash3', T0 + 10)).toBeNull();
      expect(await b.store.idempotency.reserve(scope('k2'), 'h', T0 + 20)).toBeNull();
      expect(await b.store.idempotency.purge(T0 + 10)).toBe(3); // created at T0 (PATCH, acct_2, key_2)
      expect(await b.store.idempotency.purge(T0 + 21)).toBe(2);
      expect(await b.store.idempotency.reserve(scope(), 'again', T0 + 30)).toBeNull();
    });

    it('lets exactly one of many concurrent reservations (several nodes) hold the key', async () => {
      const nodes = [b, await b.node(), await b.node()];
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => nodes[i % 3].store.idempotency.reserve(scope('race'), `h${i}`, T0)));
      expect(results.filter((r) => r === null)).toHaveLength(1);
      const winner = `h${results.indexOf(null)}`;
      for (const r of results) if (r) expect(r.requestHash).toBe(winner);
    });
  });

  describe('webhooks', () => {
    const event = (accountId: string, deployId: string, jobId = fid('rj')): WebhookEventRecord => ({
      id: `evt_render_job_terminated_${jobId}`, accountId, deployId, renderJobId: jobId, type: 'render.job.terminated', data: '{"job":{}}', createdAt: T0,
    });
    const delivery = (e: WebhookEventRecord, over: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord => ({
      id: fid('whd'), eventId: e.id, accountId: e.accountId, deployId: e.deployId, renderJobId: e.renderJobId, url: 'https://hooks.test/a',
      attempt: 1, status: 'pending', responseStatus: null, error: null, createdAt: T0, deliveredAt: null, nextAttemptAt: T0,
      durationMs: null, leaseOwner: null, leaseExpiresAt: null, redeliveryOf: null, ...over,
    });

    it('creates an event with its first delivery exactly once', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const e = event(a.id, d.id);
      const first = delivery(e);
      expect(await b.store.webhooks.createEvent(e, first)).toBe(true);
      expect(await b.store.webhooks.createEvent(e, delivery(e))).toBe(false);
      expect(await b.store.webhooks.getEvent(e.id)).toEqual(e);
      expect(await b.store.webhooks.getEvent('evt_none')).toBeNull();
      expect(await b.store.webhooks.list(a.id, d.id, { limit: 10 })).toEqual([first]);
    });

    it('creates the event once when several nodes race', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const e = event(a.id, d.id);
      const nodes = [b, await b.node(), await b.node()];
      const created = await Promise.all(Array.from({ length: 9 }, (_, i) => nodes[i % 3].store.webhooks.createEvent(e, delivery(e))));
      expect(created.filter(Boolean)).toHaveLength(1);
      expect(await b.store.webhooks.list(a.id, d.id, { limit: 10 })).toHaveLength(1);
    });

    it('claims the earliest due delivery under a lease; a leased one is not claimed again until the lease lapses', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const e1 = event(a.id, d.id);
      const e2 = event(a.id, d.id);
      const e3 = event(a.id, d.id);
      await b.store.webhooks.createEvent(e1, delivery(e1, { nextAttemptAt: T0 + 20 }));
      await b.store.webhooks.createEvent(e2, delivery(e2, { nextAttemptAt: T0 + 10 }));
      await b.store.webhooks.createEvent(e3, delivery(e3, { nextAttemptAt: T0 + 1000 })); // not due
      expect(await b.store.webhooks.claimDue(T0 + 5, 'w1', T0 + 100)).toBeNull();
      const c1 = await b.store.webhooks.claimDue(T0 + 30, 'w1', T0 + 100);
      expect(c1).toMatchObject({ eventId: e2.id, leaseOwner: 'w1', leaseExpiresAt: T0 + 100, status: 'pending' });
      const c2 = await b.store.webhooks.claimDue(T0 + 30, 'w2', T0 + 100);
      expect(c2).toMatchObject({ eventId: e1.id, leaseOwner: 'w2' });
      expect(await b.store.webhooks.claimDue(T0 + 30, 'w3', T0 + 100)).toBeNull();
      const again = await b.store.webhooks.claimDue(T0 + 100, 'w3', T0 + 200); // lapsed: due order again
      expect(again).toMatchObject({ eventId: e2.id, leaseOwner: 'w3' });
      // the first owner lost it
      const result = { status: 'succeeded' as const, url: 'https://hooks.test/a', responseStatus: 200, error: null, deliveredAt: T0 + 101, durationMs: 12, nextAttemptAt: null };
      expect(await b.store.webhooks.complete(c1!.id, 'w1', result, null)).toBe(false);
      expect(await b.store.webhooks.complete(c1!.id, 'w3', result, null)).toBe(true);
      expect(await b.store.webhooks.complete(c1!.id, 'w3', result, null)).toBe(false); // no longer pending
    });

    it('concurrent claims from several nodes take different deliveries', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      for (let i = 0; i < 6; i++) {
        const e = event(a.id, d.id);
        await b.store.webhooks.createEvent(e, delivery(e, { nextAttemptAt: T0 + i }));
      }
      const nodes = [b, await b.node(), await b.node()];
      const claimed = await Promise.all(Array.from({ length: 9 }, (_, i) => nodes[i % 3].store.webhooks.claimDue(T0 + 100, `w${i}`, T0 + 1000)));
      const ids = claimed.filter((c) => c !== null).map((c) => c!.id);
      expect(ids).toHaveLength(6);
      expect(new Set(ids).size).toBe(6);
    });

    it('records a failed attempt and schedules the next one in the same step (a duplicate next is ignored)', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const e = event(a.id, d.id);
      const first = delivery(e, { createdAt: T0 });
      await b.store.webhooks.createEvent(e, first);
      const claimed = (await b.store.webhooks.claimDue(T0, 'w1', T0 + 60_000))!;
      const next = delivery(e, { attempt: 2, createdAt: T0 + 1, nextAttemptAt: T0 + 60_000, url: 'https://hooks.test/b' });
      const failed = { status: 'failed' as const, url: 'https://hooks.test/b', responseStatus: 500, error: 'HTTP 500', deliveredAt: T0 + 1, durationMs: 40, nextAttemptAt: T0 + 60_000 };
      expect(await b.store.webhooks.complete(claimed.id, 'w1', failed, next)).toBe(true);
      const list = await b.store.webhooks.list(a.id, d.id, { limit: 10 });
      expect(list.map((x) => [x.attempt, x.status])).toEqual([[2, 'pending'], [1, 'failed']]);
      expect(list[1]).toEqual({
        ...first, status: 'failed', url: 'https://hooks.test/b', responseStatus: 500, error: 'HTTP 500', deliveredAt: T0 + 1,
        durationMs: 40, nextAttemptAt: T0 + 60_000, leaseOwner: null, leaseExpiresAt: null,
      });
      expect(list[0]).toEqual(next);
      expect(await b.store.webhooks.claimDue(T0 + 59_999, 'w1', T0 + 70_000)).toBeNull();
      const second = (await b.store.webhooks.claimDue(T0 + 60_000, 'w1', T0 + 70_000))!;
      expect(second.id).toBe(next.id);
      // scheduling an attempt number the event already has (a sender that lost a race) is ignored
      const dup = delivery(e, { attempt: 2, createdAt: T0 + 2, nextAttemptAt: T0 + 90_000 });
      expect(await b.store.webhooks.complete(second.id, 'w1', { ...failed, nextAttemptAt: T0 + 90_000 }, dup)).toBe(true);
      expect((await b.store.webhooks.list(a.id, d.id, { limit: 10 })).map((x) => [x.attempt, x.status])).toEqual([[2, 'failed'], [1, 'failed']]);
    });

    it('lists a deploy\'s deliveries newest first with limit + 1', async () => {
      const { account: a, deploy: d } = await seedDeploy(b.store);
      const other = deploy(a.id);
      await b.store.deploys.create(other);
      for (let i = 0; i < 3; i++) {
        const e = event(a.id, d.id);
        await b.store.webhooks.createEvent(e, delivery(e, { id: `whd_${i}`, createdAt: T0 + i }));
      }
      const eo = event(a.id, other.id);
      await b.store.webhooks.createEvent(eo, delivery(eo));
      expect((await b.store.webhooks.list(a.id, d.id, { limit: 1 })).map((x) => x.id)).toEqual(['whd_2', 'whd_1']);
      expect((await b.store.webhooks.list(a.id, d.id, { limit: 5, after: { at: T0 + 1, id: 'whd_1' } })).map((x) => x.id)).toEqual(['whd_0']);
      expect(await b.store.webhooks.list('acct_other', d.id, { limit: 5 })).toEqual([]);
    });
  });

  it('pings', async () => {
    await expect(b.store.ping()).resolves.toBeUndefined();
  });
});

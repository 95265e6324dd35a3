/** Small helpers shared by the upload-session suites (test/uploads/*.test.ts). */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { blobKey } from '../../src/domain/uploads.js';
import { noRenderer } from '../api/helpers.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manifest, type TestFile } from '../helpers/uploads.js';

export { manifest, type TestFile };

/** The real server without Chromium: these suites never render. */
export const startUploadServer = () => startTestServer({}, { renderer: noRenderer() });

export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const tok = (token: string) => ({ 'x-upload-token': token });
export const OCTET = { 'content-type': 'application/octet-stream' };

let n = 0;
/** A slug unique within the test process. */
export const uniqueSlug = (prefix = 'd') => `${prefix}-${++n}-${randomBytes(3).toString('hex')}`;

/** Files with unique content (so no blob is shared by accident between tests). */
export function uniqueFiles(count: number, prefix = 'f'): TestFile[] {
  const salt = randomBytes(8).toString('hex');
  return Array.from({ length: count }, (_, i) => ({ path: `${prefix}/${i}.txt`, content: `${salt}:${prefix}:${i}`, mime: 'text/plain' }));
}

export { expectError } from '../helpers/http.js';

export type Target = { deployId: string } | { createDeploy: { slug: string; name: string } };

export interface Session {
  id: string;
  token: string;
  deployId: string;
  files: TestFile[];
  manifest: ReturnType<typeof manifest>;
  body: any;
}

/** POST /v1/upload-sessions, expecting 201. */
export async function createSession(s: TestServer, target: Target, files: TestFile[], key?: string): Promise<Session> {
  const m = manifest(files);
  const res = await s.request('POST', '/v1/upload-sessions', { key, json: { ...target, files: m } });
  if (res.status !== 201) throw new Error(`create session: ${res.status} ${res.text}`);
  return { id: res.body.uploadSession.id, token: res.body.uploadToken, deployId: res.body.uploadSession.deployId, files, manifest: m, body: res.body };
}

export async function newDeploy(s: TestServer, key?: string): Promise<string> {
  const res = await s.request('POST', '/v1/deploys', { key, json: { slug: uniqueSlug(), name: 'Test' } });
  if (res.status !== 201) throw new Error(`create deploy: ${res.status} ${res.text}`);
  return res.body.deploy.id;
}

export function missingBlobs(s: TestServer, session: Pick<Session, 'id' | 'token'>, opts: { key?: string | null; subset?: string[]; token?: string | null } = {}) {
  const token = opts.token === undefined ? session.token : opts.token;
  return s.request('POST', `/v1/upload-sessions/${session.id}/missing-blobs`, {
    key: opts.key, headers: token === null ? {} : tok(token), ...(opts.subset ? { json: { sha256: opts.subset } } : {}),
  });
}

export function putBlob(
  s: TestServer, session: Pick<Session, 'id' | 'token'>, sha256: string, body: Buffer | string,
  opts: { key?: string | null; token?: string | null; contentType?: string } = {},
) {
  const token = opts.token === undefined ? session.token : opts.token;
  return s.request('PUT', `/v1/upload-sessions/${session.id}/blobs/${sha256}`, {
    key: opts.key, body: Buffer.from(body), headers: { ...(token === null ? {} : tok(token)), 'content-type': opts.contentType ?? 'application/octet-stream' },
  });
}

export function commit(s: TestServer, session: Pick<Session, 'id' | 'token'>, opts: { key?: string | null; aliases?: string[]; token?: string | null } = {}) {
  const token = opts.token === undefined ? session.token : opts.token;
  return s.request('POST', `/v1/upload-sessions/${session.id}/commit`, {
    key: opts.key, headers: token === null ? {} : tok(token), ...(opts.aliases ? { json: { aliases: opts.aliases } } : {}),
  });
}

/** PUTs every blob of the session's manifest (each distinct hash once), expecting 200. */
export async function uploadAll(s: TestServer, session: Session, key?: string) {
  const done = new Set<string>();
  for (let i = 0; i < session.manifest.length; i++) {
    const h = session.manifest[i].sha256;
    if (done.has(h)) continue;
    done.add(h);
    const res = await putBlob(s, session, h, Buffer.from(session.files[i].content), { key });
    if (res.status !== 200) throw new Error(`put blob: ${res.status} ${res.text}`);
  }
}

/** Create → upload all → commit; returns the session and the commit response body. */
export async function deploy(s: TestServer, target: Target, files: TestFile[], key?: string) {
  const session = await createSession(s, target, files, key);
  await uploadAll(s, session, key);
  const res = await commit(s, session, { key });
  if (res.status !== 201) throw new Error(`commit: ${res.status} ${res.text}`);
  return { session, version: res.body.deployVersion, deployId: res.body.deployVersion.deployId as string };
}

/** the file holding a blob's bytes, on disk or in the S3 emulator's directory (see TestServer.blobPath) */
export const blobFile = (s: TestServer, sha256: string) => s.blobPath(blobKey(sha256));
export const blobOnDisk = (s: TestServer, sha256: string) => existsSync(blobFile(s, sha256));
export const tmpFiles = (s: TestServer) => s.tmpEntries();

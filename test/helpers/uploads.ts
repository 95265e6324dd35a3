import { createHash } from 'node:crypto';
import type { TestServer } from './server.js';

export interface TestFile {
  path: string;
  content: string | Buffer;
  mime?: string;
}

export function manifest(files: TestFile[]) {
  return files.map((f) => {
    const buf = Buffer.from(f.content);
    return { path: f.path, sha256: createHash('sha256').update(buf).digest('hex'), size: buf.length, mime: f.mime ?? 'text/html; charset=utf-8' };
  });
}

/**
 * The documented client flow: create session → missing-blobs → PUT each missing blob → commit.
 * Returns what each step answered so tests can assert on it.
 */
export async function deployFiles(server: TestServer, target: { deployId: string } | { createDeploy: { slug: string; name: string } }, files: TestFile[], opts: { key?: string; aliases?: string[] } = {}) {
  const m = manifest(files);
  const created = await server.request('POST', '/v1/upload-sessions', { key: opts.key, json: { ...target, files: m } });
  if (created.status !== 201) throw new Error(`create session: ${created.status} ${created.text}`);
  const sessionId = created.body.uploadSession.id as string;
  const token = created.body.uploadToken as string;
  const tokenHeader = { 'x-upload-token': token };
  const missing = await server.request('POST', `/v1/upload-sessions/${sessionId}/missing-blobs`, { key: opts.key, headers: tokenHeader });
  let uploadedBytes = 0;
  for (const sha of missing.body.missing as string[]) {
    const i = m.findIndex((f) => f.sha256 === sha);
    const put = await server.request('PUT', `/v1/upload-sessions/${sessionId}/blobs/${sha}`, {
      key: opts.key, body: Buffer.from(files[i].content), headers: { ...tokenHeader, 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 200) throw new Error(`put blob: ${put.status} ${put.text}`);
    uploadedBytes += m[i].size;
  }
  const commit = await server.request('POST', `/v1/upload-sessions/${sessionId}/commit`, { key: opts.key, json: { aliases: opts.aliases ?? [] }, headers: tokenHeader });
  if (commit.status !== 201) throw new Error(`commit: ${commit.status} ${commit.text}`);
  return { sessionId, token, missing: missing.body, uploadedBytes, deployVersion: commit.body.deployVersion, deployId: commit.body.deployVersion.deployId as string };
}

/**
 * Node-only: deploy a local directory through the documented upload flow — hash every file (streamed), open an
 * upload session with the manifest, ask which blobs the server lacks, upload only those (bounded concurrency,
 * retried by the transport), commit. Loaded lazily by `PressCloud.deployDirectory`.
 */
import { readFile } from 'node:fs/promises';
import type { PressCloud } from '../client.js';
import { PressCloudError } from '../errors.js';
import type { DeployVersion, UploadFile, UploadSession } from '../types.js';
import { hashFile, listFiles, mapLimit, type LocalFile } from './files.js';

export type DeployTarget = { deployId: string; slug?: undefined; name?: undefined } | { slug: string; name?: string; deployId?: undefined };

export type DeployDirectoryOptions = DeployTarget & {
  /** aliases to point at the new version on commit, e.g. `['preview']` */
  aliases?: string[];
  /** called as hashing and uploading advance (and once before the commit) */
  onProgress?: (progress: DeployProgress) => void;
  /** blob uploads at once; default 4 */
  concurrency?: number;
  /** paths to leave out besides hidden files and node_modules (relative POSIX paths) */
  exclude?: (path: string) => boolean;
  signal?: AbortSignal;
};

export type DeployProgress =
  | { phase: 'hash' | 'upload'; files: number; totalFiles: number; bytes: number; totalBytes: number }
  | { phase: 'commit' };

export interface DeployDirectoryResult {
  deployId: string;
  /** true when this call created the deploy (slug not used yet) */
  deployCreated: boolean;
  deployVersion: DeployVersion;
  uploadSession: UploadSession;
  /** files and bytes in the version */
  files: number;
  bytes: number;
  /** blobs (distinct contents) actually sent, and their bytes; 0 when the server held them all */
  uploadedFiles: number;
  uploadedBytes: number;
  timings: { hashMs: number; uploadMs: number };
}

const HASH_CONCURRENCY = 8;

export async function deployDirectory(client: PressCloud, dir: string, opts: DeployDirectoryOptions): Promise<DeployDirectoryResult> {
  if (!opts.deployId && !opts.slug) throw new TypeError('deployDirectory needs a deployId or a slug');
  const progress = opts.onProgress ?? (() => {});
  const signal = opts.signal;

  // 1. Walk and hash.
  const t0 = performance.now();
  const local = await listFiles(dir, { exclude: opts.exclude });
  if (local.length === 0) throw new TypeError(`${dir} has no files to deploy`);
  const totalBytes = local.reduce((n, f) => n + f.size, 0);
  let hashedFiles = 0;
  let hashedBytes = 0;
  const manifest: (UploadFile & { file: LocalFile })[] = await mapLimit(local, HASH_CONCURRENCY, async (file) => {
    signal?.throwIfAborted();
    const sha256 = await hashFile(file.absPath);
    hashedFiles++;
    hashedBytes += file.size;
    progress({ phase: 'hash', files: hashedFiles, totalFiles: local.length, bytes: hashedBytes, totalBytes });
    return { path: file.path, sha256, size: file.size, mime: file.mime, file };
  });
  const t1 = performance.now();

  // 2. The session, on an existing deploy or one created inline.
  const files = manifest.map(({ path, sha256, size, mime }) => ({ path, sha256, size, mime }));
  let deployId = opts.deployId ?? (await findDeployBySlug(client, opts.slug!, signal));
  let created;
  if (deployId) {
    created = await client.uploads.create({ deployId, files }, { signal });
  } else {
    try {
      created = await client.uploads.create({ createDeploy: { slug: opts.slug!, name: opts.name ?? opts.slug! }, files }, { signal });
    } catch (err) {
      // Someone created the slug in between: deploy to theirs.
      if (!(err instanceof PressCloudError && err.code === 'deploy_slug_conflict')) throw err;
      deployId = await findDeployBySlug(client, opts.slug!, signal);
      if (!deployId) throw err;
      created = await client.uploads.create({ deployId, files }, { signal });
    }
  }
  const deployCreated = !deployId;
  const session = created.uploadSession;
  const token = created.uploadToken;

  // 3. Only the blobs the server lacks, each once.
  const { missing } = await client.uploads.missingBlobs(session.id, token, undefined, { signal });
  const wanted = new Set(missing);
  const toSend = [...new Map(manifest.filter((m) => wanted.has(m.sha256)).map((m) => [m.sha256, m])).values()];
  const sendBytes = toSend.reduce((n, m) => n + m.size, 0);
  let sentFiles = 0;
  let sentBytes = 0;
  progress({ phase: 'upload', files: 0, totalFiles: toSend.length, bytes: 0, totalBytes: sendBytes });
  await mapLimit(toSend, opts.concurrency ?? 4, async (m) => {
    await client.uploads.putBlob(session.id, token, m.sha256, () => readFile(m.file.absPath), { signal });
    sentFiles++;
    sentBytes += m.size;
    progress({ phase: 'upload', files: sentFiles, totalFiles: toSend.length, bytes: sentBytes, totalBytes: sendBytes });
  });

  // 4. Commit. A commit is not idempotent: when its answer is lost, the session tells whether it happened.
  progress({ phase: 'commit' });
  let committed: { deployVersion: DeployVersion; uploadSession: UploadSession };
  try {
    committed = await client.uploads.commit(session.id, token, opts.aliases ? { aliases: opts.aliases } : undefined, { signal });
  } catch (err) {
    if (!(err instanceof PressCloudError) || !(err.status === 0 || err.status >= 500 || err.code === 'upload_session_not_open')) throw err;
    const { uploadSession } = await client.uploads.get(session.id, { signal });
    if (uploadSession.status !== 'committed' || !uploadSession.deployVersionId) throw err;
    const { deployVersion } = await client.versions.get(uploadSession.deployId, uploadSession.deployVersionId, { signal });
    committed = { deployVersion, uploadSession };
  }
  const t2 = performance.now();

  return {
    deployId: session.deployId,
    deployCreated,
    deployVersion: committed.deployVersion,
    uploadSession: committed.uploadSession,
    files: manifest.length,
    bytes: totalBytes,
    uploadedFiles: sentFiles,
    uploadedBytes: sentBytes,
    timings: { hashMs: Math.round(t1 - t0), uploadMs: Math.round(t2 - t1) },
  };
}

/** The id of the account's deploy with this slug, or null (slugs are unique per account). */
export async function findDeployBySlug(client: PressCloud, slug: string, signal?: AbortSignal): Promise<string | null> {
  for await (const d of client.paginate((cursor) => client.deploys.list({ cursor, limit: 100 }, { signal }))) {
    if (d.slug === slug) return d.id;
  }
  return null;
}

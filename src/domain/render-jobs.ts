import type { Readable } from 'node:stream';
import { emptyDiagnostics, parseDiagnostics } from '../model/diagnostics.js';
import type { JobFilter, PdfRecord, RenderJobRecord } from '../model/records.js';
import { TERMINAL_STATUSES } from '../model/records.js';
import { canonicalJson } from '@press-cloud/engine/canonical-json';
import type { PdfOptions } from '@press-cloud/engine';
import type { Caller, DomainDeps } from './context.js';
import { requireRole } from './context.js';
import { loadDeploy, resolveVersion } from './deploys.js';
import { Errors } from './errors.js';
import { newId } from './ids.js';
import { isMediaType } from './media-type.js';
import { DEFAULT_LINK_TTL_SECONDS, signLink, verifyLink, type Disposition, type LinkTarget } from './links.js';
import { pageRequest, toPage } from './pagination.js';
import { checkPath } from './uploads.js';
import { accountPolicy, checkQuota, recordingUnit } from './usage.js';

export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const MAX_ATTEMPTS = 3;
export const MAX_WAIT_SECONDS = 60;
export const DEFAULT_PAYLOAD_MIME = 'application/json; charset=utf-8';

export function isJsonMime(mime: string): boolean {
  const base = mime.split(';')[0].trim().toLowerCase();
  return base === 'application/json' || base.endsWith('+json');
}

export function jobView(j: RenderJobRecord, now: number) {
  const terminal = TERMINAL_STATUSES.includes(j.status);
  const hasOutput = j.status === 'succeeded' && j.outputDeletedAt === null && (j.outputKey !== null || j.pdfId !== null);
  return {
    id: j.id,
    deployId: j.deployId,
    deployVersionId: j.deployVersionId,
    businessKey: j.businessKey,
    entry: j.entry,
    status: j.status,
    // retries so far (spec §9.2): 0 while the first attempt runs and after it succeeds; the record counts attempts
    attempt: Math.max(0, j.attempt - 1),
    maxAttempts: j.maxAttempts,
    outputMode: j.outputMode,
    timeoutMs: j.timeoutMs,
    requestedAt: j.requestedAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    nextAttemptAt: j.status === 'retry_scheduled' ? j.nextAttemptAt : null,
    // the last attempt's error stays visible while a retry is scheduled; a success clears it
    error: j.errorCode && (terminal || j.status === 'retry_scheduled') && j.status !== 'succeeded'
      ? { code: j.errorCode, message: j.errorMessage ?? '' }
      : null,
    // what went wrong inside the page (spec §9.1): every terminal job has them (empty lists when no page was
    // rendered); a scheduled retry shows the last attempt's
    diagnostics: terminal || j.status === 'retry_scheduled' ? (parseDiagnostics(j.diagnostics) ?? (terminal ? emptyDiagnostics() : null)) : null,
    pdfOptions: pdfOptionsOf(j),
    output: hasOutput
      ? {
          fileName: j.fileName,
          bytes: j.outputBytes!,
          pageCount: j.outputPageCount!,
          expiresAt: j.outputExpiresAt,
          expired: j.outputExpiresAt !== null && j.outputExpiresAt <= now,
          pdfId: j.pdfId,
        }
      : null,
  };
}

export function pdfView(p: PdfRecord) {
  return {
    id: p.id, state: 'available' as const, fileName: p.fileName, bytes: p.bytes, pageCount: p.pageCount, deployId: p.deployId,
    deployVersionId: p.deployVersionId, renderJobId: p.renderJobId, businessKey: p.businessKey, createdAt: p.createdAt,
  };
}

export interface CreateJobInput {
  deployId?: string;
  deployVersionId?: string;
  businessKey?: string | null;
  payload?: unknown;
  payloadBase64?: string;
  payloadMime?: string;
  outputMode?: 'transient' | 'managed';
  entry?: string;
  fileName?: string;
  /** [ours] print options (press.toml's [playwright]); the schema has checked their names and values */
  pdfOptions?: PdfOptions;
  /** [ours] the render limit in ms; at most the plan's (the schema has checked it is a whole number ≥ 1000) */
  timeoutMs?: number;
}

/** The job's print options as the renderer takes them; null: the defaults. */
export function pdfOptionsOf(j: RenderJobRecord): PdfOptions | null {
  return j.pdfOptions ? (JSON.parse(j.pdfOptions) as PdfOptions) : null;
}

const FILE_NAME_RE = /^[^/\\\x00-\x1f\x7f]{1,255}$/;

function payloadOf(input: CreateJobInput): { mime: string; body: Buffer } {
  const hasJson = input.payload !== undefined;
  const hasBinary = input.payloadBase64 !== undefined;
  if (hasJson && hasBinary) throw Errors.invalidInput('Send either payload or payloadBase64 (binary), not both.');
  if (input.payloadMime !== undefined && !isMediaType(input.payloadMime)) {
    throw Errors.invalidInput('payloadMime must be a media type such as "text/csv" or "application/json; charset=utf-8".');
  }
  let body: Buffer;
  const mime = input.payloadMime ?? DEFAULT_PAYLOAD_MIME;
  if (hasBinary) {
    if (!input.payloadMime || isJsonMime(input.payloadMime)) {
      throw Errors.invalidInput('payloadBase64 needs an explicit non-JSON payloadMime (e.g. "application/pdf" or "text/csv"); send JSON as payload.');
    }
    const b64 = input.payloadBase64!;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw Errors.invalidInput('payloadBase64 is not valid base64.');
    body = Buffer.from(b64, 'base64');
  } else if (isJsonMime(mime)) {
    body = Buffer.from(canonicalJson(hasJson ? input.payload : null));
  } else {
    // a non-JSON type: the payload is its text (CSV, XML…), sent to the page as UTF-8
    if (typeof input.payload !== 'string') {
      throw Errors.invalidInput(`With payloadMime "${mime}" the payload is text: send it as a string, or raw bytes as payloadBase64.`);
    }
    body = Buffer.from(input.payload, 'utf8');
  }
  if (body.length > MAX_PAYLOAD_BYTES) throw Errors.invalidInput(`The payload is ${body.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}.`);
  return { mime, body };
}

export async function createRenderJob(deps: DomainDeps, caller: Caller, input: CreateJobInput, pathDeployId?: string) {
  requireRole(caller, 'editor', 'Creating render jobs');
  if (pathDeployId && input.deployId && input.deployId !== pathDeployId) {
    throw Errors.invalidInput(`Body deployId ${input.deployId} does not match the deploy in the path (${pathDeployId}).`);
  }
  const deployId = pathDeployId ?? input.deployId;
  if (!deployId) throw Errors.invalidInput('body: missing required field "deployId".');
  const entry = input.entry ?? 'index.html';
  const entryProblem = checkPath(entry);
  if (entryProblem) throw Errors.invalidInput(`entry ${JSON.stringify(entry)} ${entryProblem}.`);
  if (input.fileName !== undefined && !FILE_NAME_RE.test(input.fileName)) {
    throw Errors.invalidInput('fileName must be 1–255 characters without slashes or control characters.');
  }
  const payload = payloadOf(input);
  const deploy = await loadDeploy(deps, caller, deployId);
  const version = await resolveVersion(deps, deploy, input.deployVersionId ?? 'latest');
  // one plan lookup for both quota checks and the job's timeout
  const plan = await accountPolicy(deps, caller.accountId);
  const { policy } = plan;
  if (input.timeoutMs !== undefined && input.timeoutMs > policy.maxRenderTimeoutMs) {
    throw Errors.invalidInput(`timeoutMs ${input.timeoutMs} is over this workspace's render timeout limit of ${policy.maxRenderTimeoutMs} ms (maxRenderTimeoutMs); leave it out to use the limit.`);
  }
  const jobQuota = await checkQuota(deps, caller.accountId, 'render_jobs', plan);
  // render time is known only when a render ends: this read is all there is (docs/api.md, quotas under concurrency)
  await checkQuota(deps, caller.accountId, 'render_time_ms', plan);
  const now = deps.clock.now();
  const id = newId('rj', now);
  const businessKey = input.businessKey ?? null;
  const job: RenderJobRecord = {
    id, accountId: caller.accountId, deployId: deploy.id, deployVersionId: version.id, businessKey, entry,
    fileName: input.fileName ?? `${businessKey && FILE_NAME_RE.test(`${businessKey}.pdf`) ? businessKey : id}.pdf`,
    outputMode: input.outputMode ?? 'transient', status: 'queued', attempt: 0, maxAttempts: MAX_ATTEMPTS,
    timeoutMs: input.timeoutMs ?? policy.maxRenderTimeoutMs, requestedAt: now, startedAt: null, finishedAt: null, nextAttemptAt: null,
    leaseOwner: null, leaseExpiresAt: null, errorCode: null, errorMessage: null, outputKey: null, outputBytes: null,
    outputPageCount: null, outputExpiresAt: null, outputDeletedAt: null, pdfId: null, renderTimeMs: null, webhookPending: false, diagnostics: null,
    pdfOptions: input.pdfOptions && Object.keys(input.pdfOptions).length ? canonicalJson(input.pdfOptions) : null,
  };
  await recordingUnit(deps, () => deps.db.renderJobs.enqueue(job, payload, jobQuota ?? undefined));
  return job;
}

export async function loadJob(deps: DomainDeps, caller: Caller, jobId: string): Promise<RenderJobRecord> {
  const j = await deps.db.renderJobs.get(caller.accountId, jobId);
  if (!j) throw Errors.renderJobNotFound(`Render job ${jobId} does not exist.`);
  return j;
}

/**
 * Holds until the job is terminal, `seconds` pass or `signal` aborts (server shutting down: answer with the job as
 * it is rather than hold the shutdown for up to a minute). Wakes on the same-process terminal event, and polls twice a
 * second as well so a job finished by a worker on another node is seen too.
 */
export async function waitForJob(deps: DomainDeps, caller: Caller, jobId: string, seconds: number, signal?: AbortSignal): Promise<RenderJobRecord> {
  if (seconds <= 0 || signal?.aborted) return loadJob(deps, caller, jobId);
  // Listen before the first read, so a job that ends between the read and the wait still wakes it at once.
  let ended = false;
  let wake: (() => void) | null = null;
  const off = deps.db.renderJobs.onTerminal((id) => {
    if (id !== jobId) return;
    ended = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    let job = await loadJob(deps, caller, jobId);
    const deadline = Date.now() + seconds * 1000;
    while (!TERMINAL_STATUSES.includes(job.status) && Date.now() < deadline && !signal?.aborted) {
      if (!ended) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(500, deadline - Date.now()));
          function done() {
            clearTimeout(timer);
            wake = null;
            resolve();
          }
          wake = done;
        });
      }
      ended = false;
      job = await loadJob(deps, caller, jobId);
    }
    return job;
  } finally {
    off();
    signal?.removeEventListener('abort', onAbort);
  }
}


export async function listRenderJobs(deps: DomainDeps, caller: Caller, query: JobFilter & { cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  const rows = await deps.db.renderJobs.list(caller.accountId, { deployId: query.deployId, status: query.status, businessKey: query.businessKey }, page);
  const now = deps.clock.now();
  return toPage(rows, page.limit, (r) => jobView(r, now), (r) => r.requestedAt);
}

export async function cancelRenderJob(deps: DomainDeps, caller: Caller, jobId: string) {
  requireRole(caller, 'editor', 'Canceling render jobs');
  await loadJob(deps, caller, jobId);
  const { canceled, job } = await deps.db.renderJobs.cancel(caller.accountId, jobId, deps.clock.now());
  if (!canceled) throw Errors.renderJobAlreadyTerminal(`Render job ${jobId} already ended (${job?.status}).`);
  return job!;
}

export async function deleteRenderJob(deps: DomainDeps, caller: Caller, jobId: string) {
  requireRole(caller, 'editor', 'Deleting render jobs');
  const job = await loadJob(deps, caller, jobId);
  if (!TERMINAL_STATUSES.includes(job.status)) {
    throw Errors.renderJobNotTerminal(`Render job ${jobId} is ${job.status}; cancel it first or wait until it ends.`);
  }
  if (job.outputKey && job.outputDeletedAt === null) await deps.blobs.delete(job.outputKey);
  await deps.db.renderJobs.delete(caller.accountId, jobId);
}

/** The job's PDF: the transient output or, for managed jobs, the managed PDF. */
async function jobOutput(deps: DomainDeps, job: RenderJobRecord): Promise<{ key: string; fileName: string; bytes: number }> {
  const missing = () => Errors.renderJobOutputNotFound(`Render job ${job.id} has no output${job.status === 'succeeded' ? ' (it was deleted)' : ` (status ${job.status})`}.`);
  if (job.status !== 'succeeded') throw missing();
  const expiresAt = job.pdfId ? null : job.outputExpiresAt;
  // expired (and maybe already swept) answers 410; deleted by the user before expiry answers 404
  if (expiresAt !== null && expiresAt <= deps.clock.now() && (job.outputDeletedAt === null || job.outputDeletedAt >= expiresAt)) {
    throw Errors.renderJobOutputExpired(`The output of render job ${job.id} expired at ${new Date(expiresAt).toISOString()}; transient outputs are kept ${Math.round(deps.settings.transientOutputTtlMs / 3_600_000)} h. Use outputMode "managed" to keep PDFs.`);
  }
  if (job.outputDeletedAt !== null) throw missing();
  if (job.pdfId) {
    const pdf = await deps.db.pdfs.get(job.accountId, job.pdfId);
    if (!pdf) throw missing();
    return { key: pdf.outputKey, fileName: pdf.fileName, bytes: pdf.bytes };
  }
  if (!job.outputKey) throw missing();
  return { key: job.outputKey, fileName: job.fileName, bytes: job.outputBytes ?? 0 };
}

export interface PdfStream {
  stream: Readable;
  fileName: string;
  bytes: number;
}

async function open(deps: DomainDeps, out: { key: string; fileName: string; bytes: number }, notFound: () => Error): Promise<PdfStream> {
  const stream = await deps.blobs.get(out.key);
  if (!stream) throw notFound();
  return { stream, fileName: out.fileName, bytes: out.bytes };
}

export async function openJobOutput(deps: DomainDeps, caller: Caller, jobId: string): Promise<PdfStream> {
  const job = await loadJob(deps, caller, jobId);
  return open(deps, await jobOutput(deps, job), () => Errors.renderJobOutputNotFound(`Render job ${jobId} has no output.`));
}

export async function deleteJobOutput(deps: DomainDeps, caller: Caller, jobId: string) {
  requireRole(caller, 'editor', 'Deleting render outputs');
  const job = await loadJob(deps, caller, jobId);
  if (job.status !== 'succeeded' || job.outputDeletedAt !== null) throw Errors.renderJobOutputNotFound(`Render job ${jobId} has no output to delete.`);
  const now = deps.clock.now();
  if (job.pdfId) {
    const pdf = await deps.db.pdfs.get(job.accountId, job.pdfId);
    if (pdf && (await deps.db.pdfs.markDeleted(job.accountId, pdf.id, now))) await deps.blobs.delete(pdf.outputKey);
  } else if (job.outputKey) {
    await deps.blobs.delete(job.outputKey);
  }
  await deps.db.renderJobs.markOutputDeleted(jobId, now);
}

function linkTtl(expiresInSeconds: number | undefined) {
  return (expiresInSeconds ?? DEFAULT_LINK_TTL_SECONDS) * 1000;
}

/**
 * PRESS_SIGNED_URLS=s3: the object store signs the link (an S3 presigned GET), so downloads bypass this API; the
 * store signs with its own clock, for whole seconds. null = sign our own link.
 */
async function presignedAccess(deps: DomainDeps, out: { key: string; fileName: string }, disposition: Disposition, expiresAt: number) {
  if (deps.settings.signedUrls !== 's3' || !deps.blobs.presignGet) return null;
  const now = deps.clock.now();
  const expiresInSeconds = Math.max(1, Math.floor((expiresAt - now) / 1000));
  const url = await deps.blobs.presignGet(out.key, { expiresInSeconds, fileName: out.fileName, disposition });
  return { url, expiresAt: now + expiresInSeconds * 1000 };
}

export async function jobOutputLink(deps: DomainDeps, caller: Caller, jobId: string, disposition: Disposition, expiresInSeconds?: number) {
  const job = await loadJob(deps, caller, jobId);
  const out = await jobOutput(deps, job);
  const now = deps.clock.now();
  let expiresAt = now + linkTtl(expiresInSeconds);
  // a link never outlives the transient output it points at
  if (job.outputExpiresAt !== null && !job.pdfId) expiresAt = Math.min(expiresAt, job.outputExpiresAt);
  const presigned = await presignedAccess(deps, out, disposition, expiresAt);
  if (presigned) return { access: presigned };
  return { access: signLink({ key: deps.linkSigningKey, baseUrl: deps.settings.publicUrl, target: { kind: 'render-job-output', accountId: caller.accountId, id: jobId }, disposition, expiresAt }) };
}

/** Serves a signed link: no API key, the signature is the authorization. */
export async function openSignedLink(deps: DomainDeps, target: LinkTarget, q: { disposition: Disposition; expires: number; signature: string }): Promise<PdfStream> {
  verifyLink({ key: deps.linkSigningKey, target, disposition: q.disposition, expires: q.expires, signature: q.signature, now: deps.clock.now() });
  if (target.kind === 'pdf') {
    const pdf = await deps.db.pdfs.get(target.accountId, target.id);
    if (!pdf) throw Errors.pdfNotFound(`PDF ${target.id} does not exist or was deleted.`);
    return open(deps, { key: pdf.outputKey, fileName: pdf.fileName, bytes: pdf.bytes }, () => Errors.pdfNotFound(`PDF ${target.id} has no content.`));
  }
  const job = await deps.db.renderJobs.get(target.accountId, target.id);
  if (!job) throw Errors.renderJobNotFound(`Render job ${target.id} does not exist.`);
  return open(deps, await jobOutput(deps, job), () => Errors.renderJobOutputNotFound(`Render job ${target.id} has no output.`));
}

// ---- managed PDFs ----

export async function loadPdf(deps: DomainDeps, caller: Caller, pdfId: string): Promise<PdfRecord> {
  const p = await deps.db.pdfs.get(caller.accountId, pdfId);
  if (!p) throw Errors.pdfNotFound(`PDF ${pdfId} does not exist or was deleted.`);
  return p;
}

export async function listPdfs(deps: DomainDeps, caller: Caller, query: { deployId?: string; cursor?: string; limit?: number }) {
  const page = pageRequest(query);
  return toPage(await deps.db.pdfs.list(caller.accountId, { deployId: query.deployId }, page), page.limit, pdfView);
}

export async function deletePdf(deps: DomainDeps, caller: Caller, pdfId: string) {
  requireRole(caller, 'editor', 'Deleting managed PDFs');
  const p = await loadPdf(deps, caller, pdfId);
  const now = deps.clock.now();
  if (await deps.db.pdfs.markDeleted(caller.accountId, pdfId, now)) {
    // the job (if it still exists) no longer has an output: its view and GET output must agree (404, not a ghost)
    await deps.db.renderJobs.markOutputDeleted(p.renderJobId, now);
    await deps.blobs.delete(p.outputKey);
  }
}

export async function openPdf(deps: DomainDeps, caller: Caller, pdfId: string): Promise<PdfStream> {
  const p = await loadPdf(deps, caller, pdfId);
  return open(deps, { key: p.outputKey, fileName: p.fileName, bytes: p.bytes }, () => Errors.pdfNotFound(`PDF ${pdfId} has no content.`));
}

export async function pdfLink(deps: DomainDeps, caller: Caller, pdfId: string, disposition: Disposition, expiresInSeconds?: number) {
  const pdf = await loadPdf(deps, caller, pdfId);
  const expiresAt = deps.clock.now() + linkTtl(expiresInSeconds);
  const presigned = await presignedAccess(deps, { key: pdf.outputKey, fileName: pdf.fileName }, disposition, expiresAt);
  if (presigned) return { access: presigned };
  return { access: signLink({ key: deps.linkSigningKey, baseUrl: deps.settings.publicUrl, target: { kind: 'pdf', accountId: caller.accountId, id: pdfId }, disposition, expiresAt }) };
}

/**
 * Deletes stored render outputs and managed-PDF objects that no job or PDF records (a worker that died between
 * storing a PDF and recording it; a delete of a recorded one that failed half-way), once older than `graceMs` —
 * a render in flight records its output right after storing it.
 */
export async function sweepUnrecordedOutputs(deps: DomainDeps, opts: { graceMs?: number } = {}): Promise<number> {
  const cutoff = deps.clock.now() - (opts.graceMs ?? 60 * 60_000);
  let deleted = 0;
  for (const prefix of ['outputs/', 'pdfs/']) {
    for await (const { key, modifiedAt } of deps.blobs.list(prefix)) {
      if (modifiedAt > cutoff || (await deps.db.renderJobs.isOutputRecorded(key))) continue;
      await deps.blobs.delete(key);
      deleted++;
    }
  }
  return deleted;
}

/** Deletes transient outputs past their retention; the job then answers 410 → 404 stays consistent via outputDeletedAt. */
export async function sweepExpiredOutputs(deps: DomainDeps): Promise<number> {
  const now = deps.clock.now();
  let n = 0;
  for (;;) {
    const batch = await deps.db.renderJobs.expiredOutputs(now, 100);
    if (batch.length === 0) return n;
    for (const job of batch) {
      await deps.blobs.delete(job.outputKey!);
      await deps.db.renderJobs.markOutputDeleted(job.id, now);
      n++;
    }
  }
}

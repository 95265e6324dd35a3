import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import {
  mimeType,
  PressCloudTimeoutError,
  type CreateRenderJobInput,
  type PressCloud,
  type RenderJob,
} from '@press-cloud/sdk';
import { canonicalJson } from '../../../../src/domain/canonical-json.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { deployProgress, formatBytes, Output } from '../output.js';
import { findConfig, loadProject, resolveEntry, selectEntry, type ResolvedEntry } from '../project.js';
import { clientFrom } from '../user-config.js';

export interface RenderFlags {
  config?: string;
  out?: string;
  timeout: string;
  timingDetail?: boolean;
  remote?: boolean;
  saveVersion?: boolean;
  remoteOutput: 'transient' | 'managed';
  token?: string;
  apiBase?: string;
  deployId?: string;
  slug?: string;
  name?: string;
  businessKey?: string;
  json?: boolean;
}

/** The server's default payload type, also used for local renders (spec §5). */
const JSON_MIME = 'application/json; charset=utf-8';

type Payload = { kind: 'json'; value: unknown } | { kind: 'binary'; bytes: Buffer; mime: string } | null;

/** `500ms`, `30s`, `2m`, or a plain number of seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) throw usageError(`--timeout ${text}: expected a duration such as 30s, 500ms, 2m or 45`, 'invalid_timeout');
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (n <= 0) throw usageError('--timeout must be positive', 'invalid_timeout');
  return Math.round(n);
}

async function readPayload(path: string | null): Promise<Payload> {
  if (!path) return null;
  const bytes = await readFile(path).catch(() => {
    throw usageError(`payload_path ${path} cannot be read`, 'invalid_payload');
  });
  const mime = mimeType(path);
  if (!mime.startsWith('application/json')) return { kind: 'binary', bytes, mime };
  try {
    return { kind: 'json', value: JSON.parse(bytes.toString('utf8')) };
  } catch (err) {
    throw usageError(`payload_path ${path} is not valid JSON: ${(err as Error).message}`, 'invalid_payload');
  }
}

function checkFlags(f: RenderFlags) {
  if (!f.remote) {
    const remoteOnly = [
      ['--save-version', f.saveVersion], ['--deploy-id', f.deployId], ['--slug', f.slug], ['--name', f.name],
      ['--business-key', f.businessKey], ['--remote-output', f.remoteOutput !== 'transient' ? f.remoteOutput : undefined],
    ].filter(([, v]) => v !== undefined && v !== false).map(([k]) => k);
    if (remoteOnly.length) throw usageError(`${remoteOnly.join(', ')} only apply with --remote`, 'remote_only_flag');
  } else if (!f.saveVersion && (f.deployId || f.slug)) {
    throw usageError(
      '--deploy-id and --slug choose the deploy --save-version keeps the version in; without --save-version the render uses a temporary deploy',
      'save_version_required',
    );
  }
  if (f.deployId && f.slug) throw usageError('pass --deploy-id or --slug, not both', 'conflicting_flags');
}

export async function renderCommand(entryName: string | undefined, flags: RenderFlags): Promise<void> {
  checkFlags(flags);
  const timeoutMs = parseDuration(flags.timeout);
  const project = loadProject(findConfig(flags.config));
  const entry = resolveEntry(project, selectEntry(project, entryName), process.env, flags.out);
  const payload = await readPayload(entry.payloadPath);
  const out = new Output({ json: !!flags.json });
  if (flags.remote) await renderRemote(entry, payload, timeoutMs, flags, out, project.workspace);
  else await renderLocal(entry, payload, timeoutMs, flags, out);
}

async function writePdf(path: string, pdf: Buffer) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, pdf);
}

const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};

async function renderLocal(entry: ResolvedEntry, payload: Payload, timeoutMs: number, flags: RenderFlags, out: Output) {
  const { renderLocally } = await import('../local-engine.js');
  const body =
    payload?.kind === 'binary'
      ? { body: payload.bytes, mime: payload.mime }
      : { body: Buffer.from(canonicalJson(payload?.value ?? null)), mime: JSON_MIME };
  const stop = out.spinner(() => `rendering ${entry.name} locally`);
  let result;
  try {
    result = await renderLocally({ dir: entry.dir, entry: entry.entry, exclude: entry.exclude, payload: body, env: entry.env, secrets: entry.secrets, timeoutMs });
  } finally {
    stop();
  }
  const t0 = performance.now();
  await writePdf(entry.output, result.pdf);
  const writeMs = Math.round(performance.now() - t0);
  const t = result.timings;
  const timings = {
    files: t.filesMs,
    launch: t.launchMs,
    queue: t.queueMs,
    render: Math.round(t.acquirePageMs + t.navigateMs + t.readyMs + t.pdfMs + t.inspectMs),
    navigate: t.navigateMs,
    ready: t.readyMs,
    pdf: t.pdfMs,
    write: writeMs,
    total: Math.round(t.filesMs + t.launchMs + t.totalMs + writeMs),
  };
  out.result(
    `rendered ${entry.name} locally → ${shown(entry.output)} (${result.pageCount} page${result.pageCount === 1 ? '' : 's'}, ${formatBytes(result.pdf.length)})`,
    { mode: 'local', entry: entry.name, output: entry.output, bytes: result.pdf.length, pageCount: result.pageCount, timings },
  );
  if (flags.timingDetail) out.timings(Object.entries(timings));
}

/** A slug for the entry: lowercase, dashes, within the slug pattern. */
function slugify(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return s || 'pdf';
}

async function checkWorkspace(client: PressCloud, workspace: string) {
  const { account } = await client.account.get();
  if (workspace !== account.id && workspace !== account.name) {
    throw new CliError(
      `press.toml names workspace "${workspace}", but the API key belongs to ${account.name} (${account.id})`,
      'workspace_mismatch',
      EXIT.auth,
    );
  }
}

export function failedJobError(job: RenderJob): CliError {
  if (job.status === 'canceled') return new CliError(`render job ${job.id} was canceled`, 'render_job_canceled', EXIT.renderFailed);
  const code = job.error?.code ?? 'render_failed';
  const exit = code === 'render_timeout' ? EXIT.timeout : EXIT.renderFailed;
  return new CliError(`render job ${job.id} failed: ${job.error?.message ?? 'no reason given'}`, code, exit);
}

async function renderRemote(entry: ResolvedEntry, payload: Payload, timeoutMs: number, flags: RenderFlags, out: Output, workspace: string | null) {
  const client = await clientFrom(flags);
  if (workspace) await checkWorkspace(client, workspace);
  const temporary = !flags.saveVersion;
  let tempDeployId: string | null = null;
  let jobId: string | null = null;
  // Ctrl-C stops the upload or the wait, cancels the job and still removes the temporary deploy.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new CliError('interrupted', 'interrupted', EXIT.interrupted));
  process.once('SIGINT', onSigint);
  const signal = interrupt.signal;
  const cleanup = async () => {
    const id = tempDeployId;
    tempDeployId = null;
    if (id) await client.deploys.delete(id).catch((err: Error) => out.warn(`could not delete the temporary deploy ${id}: ${err.message}`));
  };
  try {
    // 1. Upload (only the blobs the account lacks) into a temporary deploy or the one that keeps the version.
    let target;
    if (temporary) {
      const slug = `press-tmp-${slugify(entry.name).slice(0, 30)}-${randomBytes(5).toString('hex')}`;
      ({ deploy: { id: tempDeployId } } = await client.deploys.create({ slug, name: `press render ${entry.name} (temporary)` }));
      target = { deployId: tempDeployId };
    } else {
      target = flags.deployId ? { deployId: flags.deployId } : { slug: flags.slug ?? slugify(entry.name), name: flags.name ?? entry.name };
    }
    const deployed = await client.deployDirectory(entry.dir, { ...target, exclude: entry.exclude, onProgress: deployProgress(out), signal });
    out.clear();
    const t0 = performance.now();
    const hasRuntime = Object.keys(entry.env).length > 0 || Object.keys(entry.secrets).length > 0;
    if (hasRuntime) await client.settings.update(deployed.deployId, { env: entry.env, secrets: entry.secrets }, { signal });
    const settingsMs = performance.now() - t0;

    // 2. Render and wait.
    const input: CreateRenderJobInput = {
      deployId: deployed.deployId,
      deployVersionId: deployed.deployVersion.id,
      entry: entry.entry,
      outputMode: flags.remoteOutput,
      ...(flags.businessKey ? { businessKey: flags.businessKey } : {}),
      ...(payload?.kind === 'json' ? { payload: payload.value } : {}),
      ...(payload?.kind === 'binary' ? { payloadBase64: payload.bytes.toString('base64'), payloadMime: payload.mime } : {}),
    };
    let last: RenderJob | null = null;
    const stop = out.spinner(() => (last ? `render job ${last.id}: ${last.status}` : 'rendering on Press Cloud'));
    let job: RenderJob;
    try {
      job = await client.render(input, {
        wait: Math.max(1, Math.ceil(timeoutMs / 1000)),
        signal,
        onUpdate: (j) => {
          last = j;
          jobId = j.id;
        },
      });
    } catch (err) {
      if (signal.aborted && jobId) await client.renderJobs.cancel(jobId).catch(() => undefined);
      if (err instanceof PressCloudTimeoutError) {
        await client.renderJobs.cancel(err.job.id).catch(() => undefined);
        throw new CliError(`render job ${err.job.id} did not finish within ${flags.timeout} (still ${err.job.status}; canceled)`, 'timeout', EXIT.timeout);
      }
      throw err;
    } finally {
      stop();
    }
    if (job.status !== 'succeeded') throw failedJobError(job);

    // 3. Download.
    const t1 = performance.now();
    const saved = await client.download(job.id, { to: entry.output, signal });
    const downloadMs = Math.round(performance.now() - t1);
    await cleanup();

    const span = (a: number | null | undefined, b: number | null | undefined) => (a && b ? Math.max(0, b - a) : 0);
    const timings = {
      hash: deployed.timings.hashMs,
      upload: Math.round(deployed.timings.uploadMs + settingsMs),
      queue: span(job.requestedAt, job.startedAt),
      render: span(job.startedAt, job.finishedAt),
      download: downloadMs,
    };
    const pages = job.output?.pageCount ?? 0;
    out.result(
      [
        `rendered ${entry.name} on ${client.apiBase} → ${shown(saved.path)} (${pages} page${pages === 1 ? '' : 's'}, ${formatBytes(saved.bytes)})`,
        `  job ${job.id}; uploaded ${deployed.uploadedFiles} of ${deployed.files} files (${formatBytes(deployed.uploadedBytes)})`,
        temporary
          ? '  temporary deploy removed'
          : `  version ${deployed.deployVersion.id} kept in deploy ${deployed.deployId}${deployed.deployCreated ? ' (created)' : ''}`,
        ...(job.output?.pdfId ? [`  managed PDF ${job.output.pdfId}`] : []),
      ],
      {
        mode: 'remote', entry: entry.name, output: saved.path, bytes: saved.bytes, pageCount: pages, jobId: job.id,
        deployId: deployed.deployId, deployVersionId: deployed.deployVersion.id, temporaryDeploy: temporary,
        pdfId: job.output?.pdfId ?? null, uploaded: { files: deployed.uploadedFiles, bytes: deployed.uploadedBytes }, timings,
      },
    );
    if (flags.timingDetail) out.timings(Object.entries(timings));
  } catch (err) {
    throw signal.aborted ? signal.reason : err;
  } finally {
    process.off('SIGINT', onSigint);
    await cleanup();
  }
}

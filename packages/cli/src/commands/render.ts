import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import {
  mimeType,
  PressCloudTimeoutError,
  type CreateRenderJobInput,
  type RenderJob,
  type RenderJobDiagnostics,
} from '@press-cloud/sdk';
import { byId, CliError, describeFailure, EXIT, usageError } from '../errors.js';
import type { LocalRenderer } from '../local-engine.js';
import { deployProgress, formatBytes, Output } from '../output.js';
import { findConfig, loadProject, resolveEntry, selectEntry, type ResolvedEntry } from '../project.js';
import { activeCredentials, clientFrom, type ProfileFlags } from '../user-config.js';

export interface RenderFlags extends ProfileFlags {
  config?: string;
  out?: string;
  timeout?: string;
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
  watch?: boolean;
}

/** Press.js' default per-page render limit (spec §9.4). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The server's default payload type, also used for local renders (spec §5). */
const JSON_MIME = 'application/json; charset=utf-8';

type Payload = { kind: 'json'; value: unknown } | { kind: 'binary'; bytes: Buffer; mime: string } | null;

/** `--timeout <ms>`: a whole number of milliseconds, as in Press.js. */
export function parseTimeout(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n <= 0) {
    throw usageError(`--timeout ${text}: expected a whole number of milliseconds, e.g. --timeout 30000`, 'invalid_timeout');
  }
  return n;
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
  }
  if (f.deployId && f.slug) throw usageError('pass --deploy-id or --slug, not both', 'conflicting_flags');
  if (f.name && !f.slug && !(f.saveVersion && !f.deployId)) throw usageError('--name names a deploy --slug creates', 'name_without_slug');
}

/** The entry as it stands now: press.toml is read again for every render, so --watch picks up its edits too. */
async function prepare(entryName: string | undefined, flags: RenderFlags) {
  const configPath = findConfig(flags.config);
  const project = loadProject(configPath);
  const entry = resolveEntry(project, selectEntry(project, entryName), process.env, flags.out);
  const timeoutMs = flags.timeout !== undefined ? parseTimeout(flags.timeout) : (entry.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return { configPath, entry, timeoutMs };
}

export async function renderCommand(entryName: string | undefined, flags: RenderFlags): Promise<void> {
  checkFlags(flags);
  const out = new Output({ json: !!flags.json });
  const engine: { local: LocalRenderer | null } = { local: null };
  const once = async () => {
    const { entry, timeoutMs } = await prepare(entryName, flags);
    await runBuild(entry, out);
    const payload = await readPayload(entry.payloadPath);
    if (flags.remote) return renderRemote(entry, payload, timeoutMs, flags, out);
    engine.local ??= new (await import('../local-engine.js')).LocalRenderer();
    return renderLocal(engine.local, entry, payload, timeoutMs, flags, out);
  };
  try {
    if (!flags.watch) return await once();
    await watchLoop(entryName, flags, out, once);
  } finally {
    await engine.local?.close();
  }
}

/** The entry's `build` command, in its workspace directory, with `.dev.vars` under the process environment. */
async function runBuild(entry: ResolvedEntry, out: Output): Promise<void> {
  if (!entry.build) return;
  out.info(`building ${entry.name}: ${entry.build}`);
  // the build's output goes to stderr: stdout is the render's result (JSON with --json)
  const child = spawn(entry.build, { shell: true, cwd: entry.workspace, env: entry.processEnv, stdio: ['ignore', process.stderr, process.stderr] });
  const code = await new Promise<number | null>((resolveCode, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolveCode(signal ? 128 : c));
  });
  if (code !== 0) throw new CliError(`the build command of ${entry.name} (${entry.build}) exited with ${code}`, 'build_failed', EXIT.error);
}

/**
 * `--watch`: render, then render again whenever a file of the entry (its directory, payload, press.toml or
 * `.dev.vars`) changes, until Ctrl-C. Changes made while a render (or its build) runs are coalesced into one
 * more render afterwards, except those to the output itself. A failed render is reported and the loop goes on.
 */
async function watchLoop(entryName: string | undefined, flags: RenderFlags, out: Output, once: () => Promise<void>): Promise<void> {
  const first = await prepare(entryName, flags);
  const roots = [...new Set([first.entry.dir, first.entry.workspace, dirname(first.configPath)])];
  const ignored = new Set([first.entry.output]);
  let pending = true;
  let running = false;
  let wake: (() => void) | null = null;
  const watchers: FSWatcher[] = roots.map((root) =>
    watch(root, { recursive: true }, (_event, file) => {
      if (file && ignored.has(resolve(root, file.toString()))) return;
      if (file && /(^|\/)(node_modules|\.git)\//.test(file.toString())) return;
      pending = true;
      if (!running) wake?.();
    }),
  );
  const stopped = new Promise<void>((resolveStop) => process.once('SIGINT', () => resolveStop()));
  try {
    for (;;) {
      if (pending) {
        pending = false;
        running = true;
        try {
          await once();
        } catch (err) {
          const { message, code } = describeFailure(err, activeCredentials);
          process.stderr.write(`press: ${message} (${code})\n`);
        }
        running = false;
        // let the burst of events a render or build causes settle before looking for more
        await new Promise((r) => setTimeout(r, 150));
        out.info('watching for changes (Ctrl-C to stop)');
        continue;
      }
      const woken = new Promise<void>((r) => (wake = r));
      const which = await Promise.race([woken.then(() => 'change' as const), stopped.then(() => 'stop' as const)]);
      wake = null;
      if (which === 'stop') return;
      // debounce: an editor's save is several events
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const w of watchers) w.close();
  }
}

async function writePdf(path: string, pdf: Buffer) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, pdf);
}

const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};

async function renderLocal(engine: LocalRenderer, entry: ResolvedEntry, payload: Payload, timeoutMs: number, flags: RenderFlags, out: Output) {
  const { canonicalJson } = await (await import('../local-engine.js')).loadEngine();
  const body =
    payload?.kind === 'binary'
      ? { body: payload.bytes, mime: payload.mime }
      : { body: Buffer.from(canonicalJson(payload?.value ?? null)), mime: JSON_MIME };
  const stop = out.spinner(() => `rendering ${entry.name} locally`);
  let result;
  try {
    // the engine applies the print options as a render job's pdfOptions are applied on the server
    result = await engine.render({ dir: entry.dir, entry: entry.entry, exclude: entry.exclude, payload: body, env: entry.env, secrets: entry.secrets, timeoutMs, pdfOptions: entry.print });
  } catch (err) {
    stop();
    // the engine's RenderError carries what the page did wrong before it failed
    out.diagnostics((err as { diagnostics?: RenderJobDiagnostics | null }).diagnostics, `the render of ${entry.name}`, true);
    throw err;
  } finally {
    stop();
  }
  out.diagnostics(result.diagnostics, `the render of ${entry.name}`, false);
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
    { mode: 'local', entry: entry.name, output: entry.output, bytes: result.pdf.length, pageCount: result.pageCount, timings, diagnostics: result.diagnostics },
  );
  if (flags.timingDetail) out.timings(Object.entries(timings));
}

/** A slug for the entry: lowercase, dashes, within the slug pattern. */
function slugify(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return s || 'pdf';
}

export function failedJobError(job: RenderJob): CliError {
  if (job.status === 'canceled') return new CliError(`render job ${job.id} was canceled`, 'render_job_canceled', EXIT.renderFailed);
  const code = job.error?.code ?? 'render_failed';
  const exit = code === 'render_timeout' ? EXIT.timeout : EXIT.renderFailed;
  return new CliError(`render job ${job.id} failed: ${job.error?.message ?? 'no reason given'}`, code, exit);
}

/** the API's smallest per-job render limit (`timeoutMs`) */
const MIN_REMOTE_TIMEOUT_MS = 1000;
/** how much longer than the render limit `--remote` waits for the job: its time in the queue, the round trips */
const REMOTE_WAIT_MARGIN_S = 15;

/**
 * `--remote`: upload the entry's directory as a new version, render it on the server, wait, download.
 * Where the version goes: `--deploy-id` (an existing deploy), `--slug` (found, or created with `--name`), with
 * `--save-version` alone a deploy named after the entry; otherwise a temporary deploy, deleted afterwards.
 * Without --save-version a version uploaded to an existing deploy is left unaliased (the API deletes no versions).
 * Local env and secrets go only to a deploy this run created: an existing deploy renders with its own settings.
 */
async function renderRemote(entry: ResolvedEntry, payload: Payload, timeoutMs: number, flags: RenderFlags, out: Output) {
  const client = await clientFrom(flags);
  let tempDeployId: string | null = null;
  let jobId: string | null = null;
  // Ctrl-C stops the upload or the wait, cancels the job and still removes the temporary deploy.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new CliError('interrupted', 'interrupted', EXIT.interrupted));
  if (!flags.watch) process.once('SIGINT', onSigint);
  const signal = interrupt.signal;
  const cleanup = async () => {
    const id = tempDeployId;
    tempDeployId = null;
    if (id) await client.deploys.delete(id).catch((err: Error) => out.warn(`could not delete the temporary deploy ${id}: ${err.message}`));
  };
  try {
    // 1. Upload (only the blobs the account lacks) into a temporary deploy or the chosen one.
    let target;
    if (flags.deployId) {
      const id = flags.deployId;
      await byId('deploy', 'deploy_not_found', id, () => client.deploys.get(id, { signal }));
      target = { deployId: id };
    } else if (flags.slug || flags.saveVersion) {
      target = { slug: flags.slug ?? slugify(entry.name), name: flags.name ?? entry.name };
    } else {
      const slug = `press-tmp-${slugify(entry.name).slice(0, 30)}-${randomBytes(5).toString('hex')}`;
      ({ deploy: { id: tempDeployId } } = await client.deploys.create({ slug, name: `press render ${entry.name} (temporary)` }));
      target = { deployId: tempDeployId };
    }
    const temporary = tempDeployId !== null;
    const deployed = await client.deployDirectory(entry.dir, { ...target, exclude: entry.exclude, onProgress: deployProgress(out), signal });
    out.clear();
    const t0 = performance.now();
    const hasRuntime = Object.keys(entry.env).length > 0 || Object.keys(entry.secrets).length > 0;
    const ownsSettings = temporary || deployed.deployCreated;
    if (hasRuntime && ownsSettings) await client.settings.update(deployed.deployId, { env: entry.env, secrets: entry.secrets }, { signal });
    if (hasRuntime && !ownsSettings) out.info(`deploy ${deployed.deployId} renders with its own env and secrets; press.toml's [runtime] values are not written to it`);
    const settingsMs = performance.now() - t0;

    // 2. Render and wait. The job's render limit is --timeout / press.toml's, unless the plan allows less (then the
    // plan's applies): the server then ends a page that never gets ready with render_timeout and its diagnostics,
    // before the CLI stops waiting (the wait adds a margin for the queue).
    const { policy } = await client.usage.get({ signal });
    const renderLimitMs = Math.max(MIN_REMOTE_TIMEOUT_MS, Math.min(timeoutMs, policy.maxRenderTimeoutMs));
    const input: CreateRenderJobInput = {
      deployId: deployed.deployId,
      deployVersionId: deployed.deployVersion.id,
      entry: entry.entry,
      outputMode: flags.remoteOutput,
      // press.toml's [playwright] print options: the server applies them as the local engine does
      ...(Object.keys(entry.print).length ? { pdfOptions: entry.print } : {}),
      ...(renderLimitMs < policy.maxRenderTimeoutMs ? { timeoutMs: renderLimitMs } : {}),
      ...(flags.businessKey ? { businessKey: flags.businessKey } : {}),
      ...(payload?.kind === 'json' ? { payload: payload.value } : {}),
      ...(payload?.kind === 'binary' ? { payloadBase64: payload.bytes.toString('base64'), payloadMime: payload.mime } : {}),
    };
    let last: RenderJob | null = null;
    const stop = out.spinner(() => (last ? `render job ${last.id}: ${last.status}` : 'rendering on Press Cloud'));
    let job: RenderJob;
    try {
      job = await client.render(input, {
        wait: Math.ceil(renderLimitMs / 1000) + REMOTE_WAIT_MARGIN_S,
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
        throw new CliError(`render job ${err.job.id} did not finish within ${renderLimitMs} ms + ${REMOTE_WAIT_MARGIN_S} s (still ${err.job.status}; canceled)`, 'timeout', EXIT.timeout);
      }
      throw err;
    } finally {
      stop();
    }
    out.diagnostics(job.diagnostics, `render job ${job.id}`, job.status !== 'succeeded');
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
    const kept = flags.saveVersion ? 'kept' : 'left unaliased (not saved: pass --save-version to keep it)';
    out.result(
      [
        `rendered ${entry.name} on ${client.apiBase} → ${shown(saved.path)} (${pages} page${pages === 1 ? '' : 's'}, ${formatBytes(saved.bytes)})`,
        `  job ${job.id}; uploaded ${deployed.uploadedFiles} of ${deployed.files} files (${formatBytes(deployed.uploadedBytes)})`,
        temporary
          ? '  temporary deploy removed'
          : `  version ${deployed.deployVersion.id} ${kept} in deploy ${deployed.deployId}${deployed.deployCreated ? ' (created)' : ''}`,
        ...(job.output?.pdfId ? [`  managed PDF ${job.output.pdfId}`] : []),
      ],
      {
        mode: 'remote', entry: entry.name, output: saved.path, bytes: saved.bytes, pageCount: pages, jobId: job.id,
        deployId: deployed.deployId, deployVersionId: deployed.deployVersion.id, deployCreated: deployed.deployCreated, temporaryDeploy: temporary,
        versionSaved: !temporary && !!flags.saveVersion, pdfId: job.output?.pdfId ?? null, diagnostics: job.diagnostics,
        uploaded: { files: deployed.uploadedFiles, bytes: deployed.uploadedBytes }, timings,
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

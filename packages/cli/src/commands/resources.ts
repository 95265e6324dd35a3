/** press jobs …, press pdfs …, press usage: thin wrappers over the SDK, human tables or the API's JSON. */
import { basename } from 'node:path';
import type { Pdf, RenderJob } from '@press-cloud/sdk';
import { byId, usageError } from '../errors.js';
import { diagnosticsLines, formatBytes, formatTime, Output, problemCount, table } from '../output.js';
import { clientFrom, type ProfileFlags } from '../user-config.js';

export interface CommonFlags extends ProfileFlags {
  token?: string;
  apiBase?: string;
  json?: boolean;
}

function limitOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw usageError('--limit must be an integer from 1 to 100', 'invalid_limit');
  return n;
}

const more = (nextCursor: string | null) => (nextCursor ? [`more: --cursor ${nextCursor}`] : []);

function jobLines(job: RenderJob): string[] {
  return [
    `job ${job.id}: ${job.status}${job.error ? ` — ${job.error.code}: ${job.error.message}` : ''}`,
    `  deploy ${job.deployId}, version ${job.deployVersionId}, entry ${job.entry}, attempt ${job.attempt}/${job.maxAttempts}`,
    `  business key ${job.businessKey ?? '-'}, output mode ${job.outputMode}`,
    `  requested ${formatTime(job.requestedAt)}, started ${formatTime(job.startedAt)}, finished ${formatTime(job.finishedAt)}`,
    ...(job.output
      ? [`  output ${job.output.fileName}: ${job.output.pageCount} pages, ${formatBytes(job.output.bytes)}${job.output.pdfId ? `, managed PDF ${job.output.pdfId}` : ''}`]
      : []),
    ...(job.diagnostics && diagnosticsLines(job.diagnostics).length
      ? [`  ${problemCount(job.diagnostics)}:`, ...diagnosticsLines(job.diagnostics, '    ')]
      : []),
  ];
}

function pdfLines(pdf: Pdf): string[] {
  return [
    `pdf ${pdf.id}: ${pdf.fileName}, ${pdf.pageCount} pages, ${formatBytes(pdf.bytes)}`,
    `  deploy ${pdf.deployId}, version ${pdf.deployVersionId}, render job ${pdf.renderJobId}, business key ${pdf.businessKey ?? '-'}`,
    `  created ${formatTime(pdf.createdAt)}`,
  ];
}

export const jobs = {
  async list(flags: CommonFlags & { deployId?: string; status?: RenderJob['status']; businessKey?: string; limit?: string; cursor?: string }) {
    const client = await clientFrom(flags);
    const page = await client.renderJobs.list({
      deployId: flags.deployId, status: flags.status, businessKey: flags.businessKey, limit: limitOf(flags.limit), cursor: flags.cursor,
    });
    new Output({ json: !!flags.json }).result(
      page.items.length
        ? [...table([['ID', 'STATUS', 'DEPLOY', 'BUSINESS KEY', 'REQUESTED'], ...page.items.map((j) => [j.id, j.status, j.deployId, j.businessKey ?? '-', formatTime(j.requestedAt)])]), ...more(page.nextCursor)]
        : 'no render jobs',
      page,
    );
  },
  async get(jobId: string, flags: CommonFlags & { wait?: string }) {
    const client = await clientFrom(flags);
    const wait = flags.wait === undefined ? undefined : Number(flags.wait);
    if (wait !== undefined && !(Number.isInteger(wait) && wait >= 0 && wait <= 60)) throw usageError('--wait must be 0–60 seconds', 'invalid_wait');
    const res = await byId('render job', 'render_job_not_found', jobId, () => client.renderJobs.get(jobId, { wait }));
    new Output({ json: !!flags.json }).result(jobLines(res.job), res);
  },
  async cancel(jobId: string, flags: CommonFlags) {
    const client = await clientFrom(flags);
    const res = await byId('render job', 'render_job_not_found', jobId, () => client.renderJobs.cancel(jobId));
    new Output({ json: !!flags.json }).result(jobLines(res.job), res);
  },
};

export const pdfs = {
  async list(flags: CommonFlags & { deployId?: string; limit?: string; cursor?: string }) {
    const client = await clientFrom(flags);
    const page = await client.pdfs.list({ deployId: flags.deployId, limit: limitOf(flags.limit), cursor: flags.cursor });
    new Output({ json: !!flags.json }).result(
      page.items.length
        ? [...table([['ID', 'FILE', 'PAGES', 'SIZE', 'DEPLOY', 'CREATED'], ...page.items.map((p) => [p.id, p.fileName, String(p.pageCount), formatBytes(p.bytes), p.deployId, formatTime(p.createdAt)])]), ...more(page.nextCursor)]
        : 'no managed PDFs',
      page,
    );
  },
  async get(pdfId: string, flags: CommonFlags) {
    const client = await clientFrom(flags);
    const res = await byId('managed PDF', 'pdf_not_found', pdfId, () => client.pdfs.get(pdfId));
    new Output({ json: !!flags.json }).result(pdfLines(res.pdf), res);
  },
  /** a managed PDF (`pdf_…`) or a render job's output (`rj_…`); default file name: the PDF's own */
  async download(id: string, flags: CommonFlags & { out?: string }) {
    const client = await clientFrom(flags);
    let to = flags.out;
    if (!to) {
      const fileName = id.startsWith('pdf_')
        ? (await byId('managed PDF', 'pdf_not_found', id, () => client.pdfs.get(id))).pdf.fileName
        : (await byId('render job', 'render_job_not_found', id, () => client.renderJobs.get(id))).job.output?.fileName;
      to = basename(fileName ?? `${id}.pdf`);
    }
    const saved = await byId(id.startsWith('pdf_') ? 'managed PDF' : 'render job', 'not_found', id, () => client.download(id, { to }));
    new Output({ json: !!flags.json }).result(`saved ${id} → ${to} (${formatBytes(saved.bytes)})`, { id, ...saved });
  },
  async delete(pdfId: string, flags: CommonFlags) {
    const client = await clientFrom(flags);
    await byId('managed PDF', 'pdf_not_found', pdfId, () => client.pdfs.delete(pdfId));
    new Output({ json: !!flags.json }).result(`deleted ${pdfId}`, { id: pdfId, deleted: true });
  },
};

/** the policy entry that limits each usage meter per bill period */
const METER_LIMIT = {
  deploy_commits: 'maxDeployCommitsPerBillPeriod',
  render_jobs: 'maxRenderJobsPerBillPeriod',
  render_time_ms: 'maxRenderTimeMsPerBillPeriod',
} as const;

export async function usageCommand(flags: CommonFlags) {
  const client = await clientFrom(flags);
  const u = await client.usage.get();
  const limit = (v: number | null | undefined, fmt: (n: number) => string = String) => (v === null || v === undefined ? 'unlimited' : fmt(v));
  new Output({ json: !!flags.json }).result(
    [
      `plan ${u.plan.name} (${u.plan.key}), period ${formatTime(u.period.start)} – ${formatTime(u.period.end)}`,
      ...table([
        ['METER', 'USED', 'LIMIT'],
        ...u.usageMeters.map((m) => [m.code, `${m.totalQuantity} ${m.unit}`, limit(u.policy[METER_LIMIT[m.code]])]),
        ['storage', formatBytes(u.liveStorage.totalBytes), limit(u.policy.storageLimitBytes, formatBytes)],
      ]),
    ],
    u,
  );
}

import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { diagnosticLines } from '../../../packages/sdk/src/diagnostics';
import { call, type Ok } from '../api';
import { Link, navigate, useLocation } from '../router';
import { atLeast, type Workspace } from '../session';
import { bytes, ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Status, Table, usePaged, when } from '../ui';

const PdfPreview = lazy(() => import('./preview').then((m) => m.PdfPreview));

type Job = Ok<'getRenderJob'>['job'];
type JobStatus = Job['status'];
const TERMINAL = new Set<JobStatus>(['succeeded', 'failed', 'canceled']);
const STATUSES: JobStatus[] = ['queued', 'rendering', 'retry_scheduled', 'succeeded', 'failed', 'canceled'];
/** Live status without reload: unfinished jobs are polled (spec §5 suggests 2–5 s; the dashboard is a person watching). */
const LIVE_MS = 1_000;

export function Jobs(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const loc = useLocation();
  const status = loc.query.get('status') ?? '';
  const deployId = loc.query.get('deployId') ?? '';
  const businessKey = loc.query.get('businessKey') ?? '';
  const [bk, setBk] = useState(businessKey);
  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(loc.query);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`/w/${ws.id}/jobs${q.size ? `?${q}` : ''}`, { replace: true });
  };
  const paged = usePaged<Job>(
    [ws.id, 'jobs', status, deployId, businessKey],
    (cursor) => call('listRenderJobs', 'GET', '/v1/render-jobs', { query: { cursor, limit: PAGE_SIZE, status: (status || undefined) as JobStatus | undefined, deployId: deployId || undefined, businessKey: businessKey || undefined } }),
    { refetchInterval: (items) => (items.some((j) => !TERMINAL.has(j.status)) ? LIVE_MS : false) },
  );
  return (
    <section>
      <PageHeader title="Render jobs" />
      <form class="row filters" role="search" aria-label="Filter render jobs" onSubmit={(e) => { e.preventDefault(); setFilter('businessKey', bk); }}>
        <Field label="Status">
          <select name="status" value={status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </Field>
        <Field label="Deploy id"><input name="deployId" value={deployId} onChange={(e) => setFilter('deployId', e.currentTarget.value.trim())} placeholder="dpl_…" /></Field>
        <Field label="Business key"><input name="businessKey" value={bk} onInput={(e) => setBk(e.currentTarget.value)} /></Field>
        <button type="submit" class="secondary">Filter</button>
      </form>
      <ErrorNote error={paged.query.error} />
      <Table<Job>
        caption="Render jobs"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No render jobs match."
        rowKey={(j) => j.id}
        skeletonRows={PAGE_SIZE}
        columns={[
          { title: 'Job', cell: (j) => <Link href={`/w/${ws.id}/jobs/${j.id}`}><code title={j.id}>{j.id}</code></Link>, width: '22%' },
          { title: 'Status', cell: (j) => <Status status={j.status} />, width: '8.5rem' },
          { title: 'Business key', cell: (j) => <span title={j.businessKey ?? undefined}>{j.businessKey ?? '—'}</span>, width: '14%' },
          { title: 'Deploy', cell: (j) => <Link href={`/w/${ws.id}/deploys/${j.deployId}`}><code title={j.deployId}>{j.deployId}</code></Link>, width: '17%' },
          { title: 'Requested', cell: (j) => when(j.requestedAt), width: '24%' },
          { title: 'Pages', cell: (j) => j.output?.pageCount ?? '—', class: 'num', width: '4rem' },
        ]}
      />
      <Pager paged={paged} label="Render jobs" />
    </section>
  );
}

interface Diagnostic { message?: string; source?: string; line?: number; url?: string; status?: number; type?: string; text?: string }

export function JobPage(props: { workspace: Workspace; jobId: string }) {
  const ws = props.workspace;
  const qc = useQueryClient();
  const key = [ws.id, 'job', props.jobId];
  const q = useQuery({
    queryKey: key,
    queryFn: () => call('getRenderJob', 'GET', '/v1/render-jobs/{jobId}', { path: { jobId: props.jobId } }),
    refetchInterval: (query) => (query.state.data && TERMINAL.has(query.state.data.job.status) ? false : LIVE_MS),
  });
  const job = q.data?.job;
  const cancel = useMutation({
    mutationFn: () => call('cancelRenderJob', 'POST', '/v1/render-jobs/{jobId}/cancel', { path: { jobId: props.jobId } }),
    onSuccess: (r) => qc.setQueryData(key, r),
  });
  const download = useMutation({
    mutationFn: () => call('downloadRenderJobOutput', 'POST', '/v1/render-jobs/{jobId}/output/download', { path: { jobId: props.jobId }, body: {} }),
    onSuccess: (r) => { location.assign(r.access.url); },
  });
  const [preview, setPreview] = useState(false);
  const editor = atLeast(ws.role, 'editor');
  // what went wrong inside the page (spec §9.1), one line per problem as the CLI prints them
  const problems = job?.diagnostics ? diagnosticLines(job.diagnostics) : [];
  const omitted = job?.diagnostics?.omitted ?? 0;

  return (
    <section>
      <p class="crumbs"><Link href={`/w/${ws.id}/jobs`}>Render jobs</Link> /</p>
      <PageHeader title={`Job ${props.jobId}`}>
        {job && <span aria-live="polite" data-testid="job-status"><Status status={job.status} /></span>}
      </PageHeader>
      <ErrorNote error={q.error ?? cancel.error ?? download.error} />
      {job && (
        <>
          <dl class="facts card">
            <dt>Deploy</dt><dd><Link href={`/w/${ws.id}/deploys/${job.deployId}`}><code>{job.deployId}</code></Link></dd>
            <dt>Version</dt><dd><Link href={`/w/${ws.id}/deploys/${job.deployId}/versions/${job.deployVersionId}`}><code>{job.deployVersionId}</code></Link></dd>
            <dt>Entry</dt><dd><code>{job.entry}</code></dd>
            <dt>Business key</dt><dd>{job.businessKey ?? '—'}</dd>
            {/* the API's `attempt` counts retries so far (spec: 0 while the first attempt renders and after it succeeds) */}
            <dt>Attempt</dt><dd>{job.startedAt == null ? `not started (up to ${job.maxAttempts})` : `${job.attempt + 1} of ${job.maxAttempts}`}</dd>
            <dt>Requested</dt><dd>{when(job.requestedAt)}</dd>
            <dt>Started</dt><dd>{when(job.startedAt)}</dd>
            <dt>Finished</dt><dd>{when(job.finishedAt)}</dd>
            <dt>Output</dt><dd>{job.output ? `${job.output.fileName}, ${job.output.pageCount} pages, ${bytes(job.output.bytes)}${job.output.pdfId ? ` (managed ${job.output.pdfId})` : ''}${job.output.expired ? ', expired' : ''}` : '—'}</dd>
          </dl>
          {job.error && <p class="error" role="alert"><strong>{job.error.code}</strong>: {job.error.message}</p>}
          <div class="row">
            {editor && !TERMINAL.has(job.status) && <button type="button" class="secondary" onClick={() => cancel.mutate()}>Cancel job</button>}
            {job.output && !job.output.expired && <button type="button" onClick={() => setPreview(true)} disabled={preview}>Preview PDF</button>}
            {job.output && !job.output.expired && <button type="button" class="secondary" onClick={() => download.mutate()}>Download</button>}
            {editor && TERMINAL.has(job.status) && (
              <button
                type="button"
                class="secondary"
                onClick={() => {
                  const p = new URLSearchParams({ tab: 'render', version: job.deployVersionId, entry: job.entry, outputMode: job.outputMode, ...(job.businessKey ? { businessKey: job.businessKey } : {}) });
                  navigate(`/w/${ws.id}/deploys/${job.deployId}?${p}`);
                }}
              >
                Re-run…
              </button>
            )}
          </div>
          {problems.length > 0 && (
            <section class="card">
              <h2>Diagnostics</h2>
              <ul class="diag">{problems.map((line, i) => <li key={i}><code>{line}</code></li>)}</ul>
              {omitted > 0 && <p>… and {omitted} more the renderer did not keep</p>}
            </section>
          )}
          {preview && job.output && (
            <Suspense fallback={<p aria-busy="true">Loading the viewer…</p>}>
              <PdfPreview jobId={job.id} pageCount={job.output.pageCount} />
            </Suspense>
          )}
        </>
      )}
    </section>
  );
}

import { useQuery } from '@tanstack/preact-query';
import { call } from '../api';
import { Link } from '../router';
import type { Workspace } from '../session';
import { bytes, ErrorNote, PageHeader } from '../ui';

function Meter(props: { label: string; used: number; limit: number | null; format: (n: number) => string }) {
  const pct = props.limit ? Math.min(100, (props.used / props.limit) * 100) : 0;
  return (
    <div class="meter">
      <div class="meter-head">
        <span>{props.label}</span>
        <span>{props.format(props.used)} of {props.limit === null ? 'unlimited' : props.format(props.limit)}</span>
      </div>
      <div
        class="bar" role="meter" aria-label={props.label} aria-valuemin={0}
        aria-valuemax={props.limit ?? undefined} aria-valuenow={props.used}
        aria-valuetext={`${props.format(props.used)} of ${props.limit === null ? 'unlimited' : props.format(props.limit)}`}
      >
        <div class={`fill${pct > 90 ? ' hot' : ''}`} style={{ width: `${props.limit === null ? 0 : pct}%` }} />
      </div>
    </div>
  );
}

/** Bars per day of the bill period, drawn as SVG at a fixed height (no layout jump while data arrives). */
function DayChart(props: { title: string; days: string[]; values: Map<string, number>; format: (n: number) => string }) {
  const max = Math.max(1, ...props.values.values());
  const w = 100 / Math.max(1, props.days.length);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label={`${props.title}, per day`}>
        {props.days.map((d, i) => {
          const v = props.values.get(d) ?? 0;
          const h = (v / max) * 38;
          return <rect key={d} x={i * w + w * 0.15} y={40 - h} width={w * 0.7} height={h}><title>{`${d}: ${props.format(v)}`}</title></rect>;
        })}
      </svg>
      <div class="chart-axis"><span>{props.days[0]}</span><span>{props.days[props.days.length - 1]}</span></div>
      <table class="sr-only">
        <caption>{props.title}</caption>
        <tbody>{props.days.filter((d) => props.values.get(d)).map((d) => <tr key={d}><th scope="row">{d}</th><td>{props.format(props.values.get(d)!)}</td></tr>)}</tbody>
      </table>
    </figure>
  );
}

/** The UTC days of the bill period [start, end) (epoch ms), as YYYY-MM-DD. */
function daysBetween(start: number, end: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(start / 86_400_000) * 86_400_000; t < end && out.length < 40; t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

const count = (n: number) => n.toLocaleString();
const minutes = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(ms < 600_000 ? 1 : 0)} min`);

export function Overview(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const usage = useQuery({ queryKey: [ws.id, 'usage'], queryFn: () => call('getUsage', 'GET', '/v1/usage') });
  // per-day sums from the server, so the chart is right at any volume
  const daily = useQuery({ queryKey: [ws.id, 'usage-daily'], queryFn: () => call('getDailyUsage', 'GET', '/v1/usage/daily') });
  const u = usage.data;
  const meter = (code: string) => u?.usageMeters.find((m) => m.code === code)?.totalQuantity ?? 0;
  const days = u ? daysBetween(u.period.start, u.period.end) : [];
  const jobsPerDay = new Map<string, number>((daily.data?.days ?? []).map((d) => [d.day, d.renderJobs]));
  const storagePerDay = new Map<string, number>();
  for (const m of u?.storageMeters ?? []) {
    const peaks = (m as { peakBytesByDay?: { day: string; peakBytes: number }[] }).peakBytesByDay ?? [];
    for (const p of peaks) storagePerDay.set(p.day, (storagePerDay.get(p.day) ?? 0) + p.peakBytes);
  }

  return (
    <section>
      <PageHeader title={ws.name}>
        <span class="badge">{ws.role}</span>
      </PageHeader>
      <ErrorNote error={usage.error} />
      <div class="grid">
        <section class="card" aria-labelledby="plan-h">
          <h2 id="plan-h">Plan</h2>
          <p class="big">{u?.plan.name ?? '…'}</p>
          <p class="muted">{u ? `Bill period ${days[0]} – ${days[days.length - 1]}` : '\u00a0'}</p>
        </section>
        <section class="card wide" aria-labelledby="usage-h">
          <h2 id="usage-h">Usage this period</h2>
          <Meter label="Render jobs" used={meter('render_jobs')} limit={u?.policy.maxRenderJobsPerBillPeriod ?? null} format={count} />
          <Meter label="Render time" used={meter('render_time_ms')} limit={u?.policy.maxRenderTimeMsPerBillPeriod ?? null} format={minutes} />
          <Meter label="Deploy commits" used={meter('deploy_commits')} limit={u?.policy.maxDeployCommitsPerBillPeriod ?? null} format={count} />
          <Meter label="Storage" used={u?.liveStorage.totalBytes ?? 0} limit={u?.policy.storageLimitBytes ?? null} format={bytes} />
        </section>
      </div>
      <div class="grid">
        <section class="card wide">
          <DayChart title="Render jobs requested" days={days} values={jobsPerDay} format={count} />
        </section>
        <section class="card wide">
          <DayChart title="Managed PDF storage, daily peak" days={days} values={storagePerDay} format={bytes} />
        </section>
      </div>
      <p class="muted">
        <Link href={`/w/${ws.id}/deploys`}>Deploys</Link> · <Link href={`/w/${ws.id}/jobs`}>Render jobs</Link> · <Link href={`/w/${ws.id}/keys`}>API keys</Link>
      </p>
    </section>
  );
}

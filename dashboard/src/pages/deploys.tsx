import { useEffect, useState } from 'preact/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { call, type Ok } from '../api';
import { Link, navigate, useLocation } from '../router';
import { atLeast, type Workspace } from '../session';
import { bytes, CopyButton, ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Status, Table, usePaged, when } from '../ui';

type Deploy = Ok<'listDeploys'>['items'][number];
type Version = Ok<'listDeployVersions'>['items'][number];
type Alias = Ok<'listAliases'>['items'][number];
type FileRow = Ok<'listDeployVersionFiles'>['items'][number];
type Delivery = Ok<'listWebhookDeliveries'>['items'][number];

export function Deploys(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const paged = usePaged<Deploy>([ws.id, 'deploys'], (cursor) => call('listDeploys', 'GET', '/v1/deploys', { query: { cursor, limit: PAGE_SIZE } }));
  return (
    <section>
      <PageHeader title="Deploys" />
      <p class="muted">Deploy a folder with <code>press deploy</code>; each deploy keeps its versions, aliases and settings.</p>
      <ErrorNote error={paged.query.error} />
      <Table<Deploy>
        caption="Deploys"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No deploys yet. Run press deploy with an API key of this workspace."
        rowKey={(d) => d.id}
        columns={[
          { title: 'Name', cell: (d) => <Link href={`/w/${ws.id}/deploys/${d.id}`}>{d.name}</Link> },
          { title: 'Slug', cell: (d) => <code>{d.slug}</code> },
          { title: 'Created', cell: (d) => when(d.createdAt) },
        ]}
      />
      <Pager paged={paged} label="Deploys" />
    </section>
  );
}

const TABS = ['versions', 'render', 'settings', 'deliveries'] as const;
type Tab = (typeof TABS)[number];
const TAB_LABEL: Record<Tab, string> = { versions: 'Versions & aliases', render: 'Render', settings: 'Settings', deliveries: 'Webhook deliveries' };

export function DeployPage(props: { workspace: Workspace; deployId: string }) {
  const ws = props.workspace;
  const loc = useLocation();
  const tab = (TABS as readonly string[]).includes(loc.query.get('tab') ?? '') ? (loc.query.get('tab') as Tab) : 'versions';
  const deploy = useQuery({ queryKey: [ws.id, 'deploy', props.deployId], queryFn: () => call('getDeploy', 'GET', '/v1/deploys/{deployId}', { path: { deployId: props.deployId } }) });
  const base = `/w/${ws.id}/deploys/${props.deployId}`;
  return (
    <section>
      <p class="crumbs"><Link href={`/w/${ws.id}/deploys`}>Deploys</Link> /</p>
      <PageHeader title={deploy.data?.deploy.name ?? 'Deploy'}>
        {deploy.data && <code>{deploy.data.deploy.slug}</code>}
      </PageHeader>
      <ErrorNote error={deploy.error} />
      <nav class="tabs" aria-label="Deploy sections">
        {TABS.map((t) => <Link key={t} href={`${base}?tab=${t}`} aria-current={t === tab ? 'page' : undefined}>{TAB_LABEL[t]}</Link>)}
      </nav>
      {tab === 'versions' && <Versions ws={ws} deployId={props.deployId} />}
      {tab === 'render' && <RenderForm ws={ws} deployId={props.deployId} />}
      {tab === 'settings' && <Settings ws={ws} deployId={props.deployId} />}
      {tab === 'deliveries' && <Deliveries ws={ws} deployId={props.deployId} />}
    </section>
  );
}

function Versions(props: { ws: Workspace; deployId: string }) {
  const { ws, deployId } = props;
  const qc = useQueryClient();
  const paged = usePaged<Version>([ws.id, 'versions', deployId], (cursor) => call('listDeployVersions', 'GET', '/v1/deploys/{deployId}/versions', { path: { deployId }, query: { cursor, limit: PAGE_SIZE } }));
  const aliases = useQuery({ queryKey: [ws.id, 'aliases', deployId], queryFn: () => call('listAliases', 'GET', '/v1/deploys/{deployId}/aliases', { path: { deployId } }) });
  const promote = useMutation({
    mutationFn: (v: { alias: string; versionId: string }) => call('putAlias', 'PUT', '/v1/deploys/{deployId}/aliases/{alias}', { path: { deployId, alias: v.alias }, body: { deployVersionId: v.versionId } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: [ws.id, 'aliases', deployId] }),
  });
  const byVersion = new Map<string, string[]>();
  for (const a of aliases.data?.items ?? []) byVersion.set(a.deployVersionId, [...(byVersion.get(a.deployVersionId) ?? []), a.name]);
  const editor = atLeast(ws.role, 'editor');
  const admin = atLeast(ws.role, 'admin');
  return (
    <>
      <h2>Aliases</h2>
      <p class="muted">Render requests may name an alias instead of a version; point it at an older version to roll back.</p>
      <Table<Alias>
        caption="Aliases"
        rows={aliases.data?.items ?? []}
        loading={aliases.isPending}
        empty="No aliases yet: promote a version below."
        rowKey={(a) => a.name}
        columns={[
          { title: 'Alias', cell: (a) => <strong>{a.name}</strong> },
          { title: 'Version', cell: (a) => <Link href={`/w/${ws.id}/deploys/${deployId}/versions/${a.deployVersionId}`}><code>{a.deployVersionId}</code></Link> },
          { title: 'Updated', cell: (a) => when(a.updatedAt) },
        ]}
      />
      <h2>Versions</h2>
      <ErrorNote error={paged.query.error ?? promote.error} />
      <Table<Version>
        caption="Versions"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No versions yet: run press deploy."
        rowKey={(v) => v.id}
        columns={[
          { title: 'Version', cell: (v) => <Link href={`/w/${ws.id}/deploys/${deployId}/versions/${v.id}`}><code>{v.id}</code></Link> },
          { title: 'Aliases', cell: (v) => (byVersion.get(v.id) ?? []).map((a) => <span class="badge" key={a}>{a}</span>) },
          { title: 'Files', cell: (v) => v.fileCount, class: 'num' },
          { title: 'Size', cell: (v) => bytes(v.bytes), class: 'num' },
          { title: 'Created', cell: (v) => when(v.createdAt) },
          {
            title: 'Promote',
            cell: (v) => (
              <div class="row">
                {editor && <button type="button" class="secondary" disabled={byVersion.get(v.id)?.includes('preview')} onClick={() => promote.mutate({ alias: 'preview', versionId: v.id })} aria-label={`Promote ${v.id} to preview`}>Preview</button>}
                {admin && <button type="button" class="secondary" disabled={byVersion.get(v.id)?.includes('production')} onClick={() => promote.mutate({ alias: 'production', versionId: v.id })} aria-label={`Promote ${v.id} to production`}>Production</button>}
              </div>
            ),
          },
        ]}
      />
      <Pager paged={paged} label="Versions" />
    </>
  );
}

export function VersionPage(props: { workspace: Workspace; deployId: string; versionId: string }) {
  const { workspace: ws, deployId, versionId } = props;
  const version = useQuery({ queryKey: [ws.id, 'version', versionId], queryFn: () => call('getDeployVersion', 'GET', '/v1/deploys/{deployId}/versions/{deployVersionId}', { path: { deployId, deployVersionId: versionId } }) });
  const paged = usePaged<FileRow>([ws.id, 'files', versionId], (cursor) => call('listDeployVersionFiles', 'GET', '/v1/deploys/{deployId}/versions/{deployVersionId}/files', { path: { deployId, deployVersionId: versionId }, query: { cursor, limit: PAGE_SIZE } }));
  const v = version.data?.deployVersion;
  return (
    <section>
      <p class="crumbs"><Link href={`/w/${ws.id}/deploys`}>Deploys</Link> / <Link href={`/w/${ws.id}/deploys/${deployId}`}>{deployId}</Link> /</p>
      <PageHeader title={`Version ${versionId}`} />
      <p class="muted">{v ? `${v.fileCount} files, ${bytes(v.bytes)}, created ${when(v.createdAt)}` : '\u00a0'}</p>
      <ErrorNote error={version.error ?? paged.query.error} />
      <Table<FileRow>
        caption="Files"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No files."
        rowKey={(f) => f.path}
        columns={[
          { title: 'Path', cell: (f) => <code>{f.path}</code> },
          { title: 'Type', cell: (f) => f.mime },
          { title: 'Size', cell: (f) => bytes(f.size), class: 'num' },
          { title: 'SHA-256', cell: (f) => <code title={f.sha256}>{f.sha256.slice(0, 12)}…</code> },
        ]}
      />
      <Pager paged={paged} label="Files" />
    </section>
  );
}

/** Render from the dashboard: the same POST /v1/deploys/{id}/render-jobs a client makes. */
function RenderForm(props: { ws: Workspace; deployId: string }) {
  const { ws, deployId } = props;
  const loc = useLocation();
  const [version, setVersion] = useState(loc.query.get('version') ?? 'latest');
  const [entry, setEntry] = useState(loc.query.get('entry') ?? 'index.html');
  const [businessKey, setBusinessKey] = useState(loc.query.get('businessKey') ?? '');
  const [outputMode, setOutputMode] = useState<'transient' | 'managed'>(loc.query.get('outputMode') === 'managed' ? 'managed' : 'transient');
  const [payload, setPayload] = useState('{}');
  const [error, setError] = useState<unknown>(null);
  if (!atLeast(ws.role, 'editor')) return <p class="note" role="note">Viewers cannot start renders.</p>;
  return (
    <form
      class="card stack"
      aria-label="Render a PDF"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          let parsed: unknown;
          try {
            parsed = JSON.parse(payload || 'null');
          } catch {
            throw new Error('The payload is not valid JSON.');
          }
          const r = await call('createDeployRenderJob', 'POST', '/v1/deploys/{deployId}/render-jobs', {
            path: { deployId },
            body: { deployVersionId: version, entry, businessKey: businessKey || undefined, outputMode, payload: parsed },
          });
          navigate(`/w/${ws.id}/jobs/${r.job.id}`);
        } catch (err) {
          setError(err);
        }
      }}
    >
      <div class="row">
        <Field label="Version" hint="A dv_ id, latest, or an alias such as preview."><input name="version" required value={version} onInput={(e) => setVersion(e.currentTarget.value)} /></Field>
        <Field label="Entry"><input name="entry" required value={entry} onInput={(e) => setEntry(e.currentTarget.value)} /></Field>
        <Field label="Business key"><input name="businessKey" value={businessKey} onInput={(e) => setBusinessKey(e.currentTarget.value)} /></Field>
        <Field label="Output">
          <select name="outputMode" value={outputMode} onChange={(e) => setOutputMode(e.currentTarget.value as 'transient' | 'managed')}>
            <option value="transient">transient (24 h)</option>
            <option value="managed">managed PDF</option>
          </select>
        </Field>
      </div>
      <Field label="Payload (JSON)"><textarea name="payload" rows={6} spellcheck={false} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} /></Field>
      <ErrorNote error={error} />
      <div><button type="submit">Render</button></div>
    </form>
  );
}

type Settings = Ok<'getDeploySettings'>['settings'];

/**
 * Deploy settings with a staged save: edits stay in the form until "Save changes" sends one PATCH; secrets are
 * write-only (names listed, values never shown); the signing secret is shown (eye button) only in the response
 * that enabled or rotated it.
 */
function Settings(props: { ws: Workspace; deployId: string }) {
  const { ws, deployId } = props;
  const qc = useQueryClient();
  const q = useQuery({ queryKey: [ws.id, 'settings', deployId], queryFn: () => call('getDeploySettings', 'GET', '/v1/deploys/{deployId}/settings', { path: { deployId } }) });
  const server = q.data?.settings;
  const [env, setEnv] = useState<[string, string][]>([]);
  const [secrets, setSecrets] = useState<Record<string, string | null>>({});
  const [newSecret, setNewSecret] = useState({ name: '', value: '' });
  const [hook, setHook] = useState<{ enabled: boolean; url: string; action: 'rotate' | 'clear' | null }>({ enabled: false, url: '', action: null });
  const [revealed, setRevealed] = useState<string | null>(null);
  const [show, setShow] = useState(false);
  const reset = (s: Settings) => {
    setEnv(Object.entries(s.env));
    setSecrets({});
    setHook({ enabled: s.webhook.enabled, url: s.webhook.url ?? '', action: null });
  };
  useEffect(() => { if (server) reset(server); }, [server]);
  const save = useMutation({
    mutationFn: () => {
      const envPatch: Record<string, string | null> = {};
      for (const k of Object.keys(server!.env)) if (!env.some(([n]) => n === k)) envPatch[k] = null;
      for (const [k, v] of env) if (k && server!.env[k] !== v) envPatch[k] = v;
      const webhook: { enabled?: boolean; url?: string | null; signingSecretAction?: 'rotate' | 'clear' } = {};
      if (hook.enabled !== server!.webhook.enabled) webhook.enabled = hook.enabled;
      if ((hook.url || null) !== server!.webhook.url) webhook.url = hook.url || null;
      if (hook.action) webhook.signingSecretAction = hook.action;
      return call('updateDeploySettings', 'PATCH', '/v1/deploys/{deployId}/settings', {
        path: { deployId },
        body: { env: envPatch, secrets, ...(Object.keys(webhook).length ? { webhook } : {}) },
      });
    },
    onSuccess: (r) => {
      setRevealed(r.settings.webhook.signingSecret ?? null);
      setShow(false);
      qc.setQueryData([ws.id, 'settings', deployId], { settings: r.settings });
    },
  });
  if (!server) return <><ErrorNote error={q.error} /><p aria-busy="true">Loading…</p></>;
  const editor = atLeast(ws.role, 'editor');
  const dirty = JSON.stringify(env) !== JSON.stringify(Object.entries(server.env)) || Object.keys(secrets).length > 0
    || hook.enabled !== server.webhook.enabled || (hook.url || null) !== server.webhook.url || hook.action !== null;
  return (
    <form class="stack" aria-label="Deploy settings" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <fieldset class="card" disabled={!editor}>
        <legend>Environment variables</legend>
        {env.map(([k, v], i) => (
          <div class="row" key={i}>
            <Field label="Name"><input value={k} pattern="[A-Z_][A-Z0-9_]*" onInput={(e) => setEnv(env.map((p, j) => (j === i ? [e.currentTarget.value, p[1]] : p)))} /></Field>
            <Field label="Value"><input value={v} onInput={(e) => setEnv(env.map((p, j) => (j === i ? [p[0], e.currentTarget.value] : p)))} /></Field>
            <button type="button" class="secondary" aria-label={`Remove ${k || 'variable'}`} onClick={() => setEnv(env.filter((_, j) => j !== i))}>Remove</button>
          </div>
        ))}
        <button type="button" class="secondary" onClick={() => setEnv([...env, ['', '']])}>Add variable</button>
      </fieldset>
      <fieldset class="card" disabled={!editor}>
        <legend>Secrets (write-only)</legend>
        <ul class="plain">
          {server.secrets.map((name) => (
            <li key={name} class="row">
              <code>{name}</code>
              <span class="muted">{secrets[name] === null ? 'will be deleted' : secrets[name] !== undefined ? 'will be replaced' : 'set'}</span>
              <button type="button" class="secondary" onClick={() => setSecrets({ ...secrets, [name]: null })}>Delete</button>
            </li>
          ))}
          {Object.entries(secrets).filter(([n, v]) => v !== null && !server.secrets.includes(n)).map(([n]) => <li key={n}><code>{n}</code> <span class="muted">will be added</span></li>)}
        </ul>
        <div class="row">
          <Field label="Secret name"><input value={newSecret.name} pattern="[A-Z_][A-Z0-9_]*" onInput={(e) => setNewSecret({ ...newSecret, name: e.currentTarget.value })} /></Field>
          <Field label="Secret value"><input type="password" autoComplete="off" value={newSecret.value} onInput={(e) => setNewSecret({ ...newSecret, value: e.currentTarget.value })} /></Field>
          <button type="button" class="secondary" disabled={!newSecret.name} onClick={() => { setSecrets({ ...secrets, [newSecret.name]: newSecret.value }); setNewSecret({ name: '', value: '' }); }}>Stage secret</button>
        </div>
      </fieldset>
      <fieldset class="card" disabled={!editor}>
        <legend>Webhook</legend>
        <label class="check"><input type="checkbox" checked={hook.enabled} onChange={(e) => setHook({ ...hook, enabled: e.currentTarget.checked })} /> Send render.job.terminated to this URL</label>
        <Field label="Webhook URL"><input type="url" value={hook.url} placeholder="https://example.com/hooks/press" onInput={(e) => setHook({ ...hook, url: e.currentTarget.value })} /></Field>
        <p>Signing secret: <code>{server.webhook.signingSecretPreview ?? 'the workspace secret'}</code></p>
        <div class="row">
          <label class="check"><input type="radio" name="secret-action" checked={hook.action === null} onChange={() => setHook({ ...hook, action: null })} /> Keep</label>
          <label class="check"><input type="radio" name="secret-action" checked={hook.action === 'rotate'} onChange={() => setHook({ ...hook, action: 'rotate' })} /> {server.webhook.signingSecretPreview ? 'Rotate' : 'Enable'} a deploy secret</label>
          {server.webhook.signingSecretPreview && <label class="check"><input type="radio" name="secret-action" checked={hook.action === 'clear'} onChange={() => setHook({ ...hook, action: 'clear' })} /> Disable (use the workspace secret)</label>}
        </div>
        {revealed && (
          <div class="secret-once row" role="status">
            <span>New signing secret, shown once:</span>
            <code class="secret">{show ? revealed : '•'.repeat(24)}</code>
            <button type="button" class="secondary" aria-pressed={show} onClick={() => setShow(!show)}>{show ? 'Hide' : 'Reveal'}</button>
            <CopyButton text={revealed} />
          </div>
        )}
      </fieldset>
      <ErrorNote error={save.error} />
      {editor && (
        <div class="row sticky-actions">
          <button type="submit" disabled={!dirty || save.isPending}>Save changes</button>
          <button type="button" class="secondary" disabled={!dirty} onClick={() => reset(server)}>Discard</button>
          {dirty && <span class="muted" role="status">Unsaved changes</span>}
        </div>
      )}
    </form>
  );
}

function Deliveries(props: { ws: Workspace; deployId: string }) {
  const { ws, deployId } = props;
  const qc = useQueryClient();
  // live while an attempt is pending: a redelivery shows as pending, then its outcome, without a reload
  const paged = usePaged<Delivery>([ws.id, 'deliveries', deployId], (cursor) => call('listWebhookDeliveries', 'GET', '/v1/deploys/{deployId}/webhook-deliveries', { path: { deployId }, query: { cursor, limit: PAGE_SIZE } }),
    { refetchInterval: (items) => (items.some((d) => d.status === 'pending') ? 1000 : false) });
  const redeliver = useMutation({
    mutationFn: (deliveryId: string) => call('redeliverWebhook', 'POST', '/v1/deploys/{deployId}/webhook-deliveries/{deliveryId}/redeliver', { path: { deployId, deliveryId } }),
    onSuccess: () => {
      paged.reset();
      void qc.invalidateQueries({ queryKey: [ws.id, 'deliveries', deployId] });
    },
  });
  const editor = atLeast(ws.role, 'editor');
  return (
    <>
      <ErrorNote error={paged.query.error ?? redeliver.error} />
      {redeliver.data && (
        <p class="note" role="status">
          {redeliver.data.created ? 'Redelivery queued' : 'An attempt was already pending; it is sent now'}: attempt {redeliver.data.delivery.attempt} of <code>{redeliver.data.delivery.eventId}</code>.
        </p>
      )}
      <Table<Delivery>
        caption="Webhook deliveries"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No webhook deliveries yet."
        rowKey={(d) => d.id}
        columns={[
          { title: 'Job', cell: (d) => <Link href={`/w/${ws.id}/jobs/${d.renderJobId}`}><code>{d.renderJobId}</code></Link> },
          { title: 'Attempt', cell: (d) => (d.redeliveryOf ? `${d.attempt} (redelivery)` : d.attempt), class: 'num' },
          { title: 'Status', cell: (d) => <Status status={d.status} /> },
          { title: 'Response', cell: (d) => d.responseStatus ?? d.error ?? '—' },
          { title: 'URL', cell: (d) => <code>{d.url}</code> },
          { title: 'Sent', cell: (d) => when(d.createdAt) },
          {
            title: 'Actions',
            cell: (d) => editor && d.status !== 'pending' && (
              <button type="button" class="secondary" disabled={redeliver.isPending} onClick={() => redeliver.mutate(d.id)} aria-label={`Redeliver attempt ${d.attempt} of job ${d.renderJobId}`}>
                Redeliver
              </button>
            ),
          },
        ]}
      />
      <Pager paged={paged} label="Webhook deliveries" />
    </>
  );
}

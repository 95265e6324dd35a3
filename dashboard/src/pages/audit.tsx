import { useState } from 'preact/hooks';
import { call, type Ok } from '../api';
import type { Workspace } from '../session';
import { ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Table, usePaged, when } from '../ui';

type Entry = Ok<'listAuditLogs'>['items'][number];

export function AuditLog(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const [action, setAction] = useState('');
  const [applied, setApplied] = useState('');
  const paged = usePaged<Entry>([ws.id, 'audit', applied], (cursor) => call('listAuditLogs', 'GET', '/v1/audit-logs', { query: { cursor, limit: PAGE_SIZE, action: applied || undefined } }));
  // the API names the people (members who left included); an id is shown only when there is no name to show
  const who = (p: { name: string | null; email: string | null }) => p.name || p.email;
  return (
    <section>
      <PageHeader title="Audit log" />
      <form class="row filters" role="search" aria-label="Filter the audit log" onSubmit={(e) => { e.preventDefault(); setApplied(action.trim()); paged.reset(); }}>
        <Field label="Action"><input name="action" placeholder="e.g. member.removed" value={action} onInput={(e) => setAction(e.currentTarget.value)} /></Field>
        <button type="submit" class="secondary">Filter</button>
      </form>
      <ErrorNote error={paged.query.error} />
      <Table<Entry>
        caption="Audit log"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="Nothing recorded yet."
        rowKey={(e) => e.id}
        columns={[
          { title: 'When', cell: (e) => when(e.createdAt) },
          { title: 'Action', cell: (e) => <code class="nowrap">{e.action}</code> },
          {
            title: 'Actor',
            cell: (e) => e.actor.type === 'operator' ? 'operator (CLI)' : (
              <>
                {e.actor.type === 'api_key' && <span class="muted">key <code class="id" title={e.actor.id ?? ''}>{e.actor.id}</code> of </span>}
                {who(e.actor) ? <span title={e.actor.email ?? ''}>{who(e.actor)}</span> : <code class="id" title={e.actor.userId ?? ''}>{e.actor.userId ?? e.actor.id}</code>}
              </>
            ),
          },
          { title: 'Target', cell: (e) => <><span class="muted">{e.target.type} </span>{who(e.target) ? <span title={e.target.email ?? ''}>{who(e.target)}</span> : <code class="id" title={e.target.id}>{e.target.id}</code>}</> },
          { title: 'Request', cell: (e) => (e.requestId ? <code class="id" title={e.requestId}>{e.requestId}</code> : '—') },
        ]}
      />
      <Pager paged={paged} label="Audit log" />
    </section>
  );
}

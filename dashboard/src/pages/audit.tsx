import { useState } from 'preact/hooks';
import { useQuery } from '@tanstack/preact-query';
import { call, type Ok } from '../api';
import type { Workspace } from '../session';
import { ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Table, usePaged, when } from '../ui';

type Entry = Ok<'listAuditLogs'>['items'][number];

export function AuditLog(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const [action, setAction] = useState('');
  const [applied, setApplied] = useState('');
  const paged = usePaged<Entry>([ws.id, 'audit', applied], (cursor) => call('listAuditLogs', 'GET', '/v1/audit-logs', { query: { cursor, limit: PAGE_SIZE, action: applied || undefined } }));
  // names for the ids of current members (a removed member's id stays an id: the log outlives memberships)
  const members = useQuery({ queryKey: [ws.id, 'members', 'names'], queryFn: () => call('listMembers', 'GET', '/v1/members', { query: { limit: 100 } }) });
  const names = new Map((members.data?.items ?? []).map((m) => [m.userId, m.name || m.email]));
  const who = (id: string | null) => (id && names.get(id)) ?? null;
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
                {who(e.actor.userId) ?? <code class="id" title={e.actor.userId ?? ''}>{e.actor.userId ?? e.actor.id}</code>}
              </>
            ),
          },
          { title: 'Target', cell: (e) => <><span class="muted">{e.target.type} </span>{who(e.target.id) ?? <code class="id" title={e.target.id}>{e.target.id}</code>}</> },
          { title: 'Request', cell: (e) => (e.requestId ? <code class="id" title={e.requestId}>{e.requestId}</code> : '—') },
        ]}
      />
      <Pager paged={paged} label="Audit log" />
    </section>
  );
}

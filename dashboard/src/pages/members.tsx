import { useState } from 'preact/hooks';
import { useMutation, useQueryClient } from '@tanstack/preact-query';
import { call, type Ok } from '../api';
import { atLeast, useSession, type Workspace } from '../session';
import { CopyButton, ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Table, usePaged, when } from '../ui';

type Member = Ok<'listMembers'>['items'][number];
type Invitation = Ok<'listInvitations'>['items'][number];
type InvitedRole = Invitation['role'];

export function Members(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const session = useSession()!;
  const me = session.user;
  const qc = useQueryClient();
  const admin = atLeast(ws.role, 'admin');
  const members = usePaged<Member>([ws.id, 'members'], (cursor) => call('listMembers', 'GET', '/v1/members', { query: { cursor, limit: PAGE_SIZE } }));
  const invitations = usePaged<Invitation>([ws.id, 'invitations', admin], (cursor) => (admin ? call('listInvitations', 'GET', '/v1/invitations', { query: { cursor, limit: PAGE_SIZE } }) : Promise.resolve({ items: [], nextCursor: null })));
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<InvitedRole>('viewer');
  const [link, setLink] = useState<Ok<'createInvitation'> | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: [ws.id] });

  const invite = useMutation({
    mutationFn: () => call('createInvitation', 'POST', '/v1/invitations', { body: { email, role } }),
    onSuccess: (r) => { setLink(r); setEmail(''); void refresh(); },
  });
  const revoke = useMutation({ mutationFn: (id: string) => call('revokeInvitation', 'DELETE', '/v1/invitations/{invitationId}', { path: { invitationId: id } }), onSuccess: refresh });
  const remove = useMutation({ mutationFn: (userId: string) => call('removeMember', 'DELETE', '/v1/members/{userId}', { path: { userId } }), onSuccess: refresh });
  // the owner hands the workspace over (spec §10); they stay on as an admin
  const transfer = useMutation({
    mutationFn: (userId: string) => call('transferWorkspaceOwnership', 'POST', '/v1/workspaces/{workspaceId}/transfer-ownership', { path: { workspaceId: ws.id }, body: { userId } }),
    onSuccess: async () => { await session.refresh(); await refresh(); },
  });
  const changeRole = useMutation({ mutationFn: (v: { userId: string; role: InvitedRole }) => call('updateMember', 'PATCH', '/v1/members/{userId}', { path: { userId: v.userId }, body: { role: v.role } }), onSuccess: refresh });

  return (
    <section>
      <PageHeader title="Members" />
      <ErrorNote error={members.query.error ?? remove.error ?? changeRole.error ?? revoke.error ?? transfer.error} />
      <Table<Member>
        caption="Members"
        rows={members.items}
        loading={members.query.isPending}
        empty="No members."
        rowKey={(m) => m.userId}
        columns={[
          { title: 'Name', cell: (m) => m.name || '—' },
          { title: 'E-mail', cell: (m) => m.email },
          {
            title: 'Role',
            cell: (m) => admin && m.role !== 'owner' && m.userId !== me.id ? (
              <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => changeRole.mutate({ userId: m.userId, role: e.currentTarget.value as InvitedRole })}>
                <option value="admin">admin</option><option value="editor">editor</option><option value="viewer">viewer</option>
              </select>
            ) : m.role,
          },
          { title: 'Joined', cell: (m) => when(m.createdAt) },
          {
            title: 'Actions',
            cell: (m) => (
              <>
                {m.role !== 'owner' && (admin || m.userId === me.id) && (
                  <button type="button" class="secondary" onClick={() => remove.mutate(m.userId)} aria-label={m.userId === me.id ? 'Leave workspace' : `Remove ${m.email}`}>{m.userId === me.id ? 'Leave' : 'Remove'}</button>
                )}
                {ws.role === 'owner' && !ws.personal && m.userId !== me.id && (
                  <>
                    {' '}
                    <button
                      type="button"
                      class="secondary"
                      disabled={transfer.isPending}
                      onClick={() => window.confirm(`Make ${m.email} the owner of ${ws.name}? You become an admin; only the new owner can give it back or delete the workspace.`) && transfer.mutate(m.userId)}
                      aria-label={`Make ${m.email} owner`}
                    >
                      Make owner
                    </button>
                  </>
                )}
              </>
            ),
          },
        ]}
      />
      <Pager paged={members} label="Members" />
      {admin && (
        <>
          <h2>Invitations</h2>
          <form class="card inline-form" aria-label="Invite a member" onSubmit={(e) => { e.preventDefault(); setLink(null); invite.mutate(); }}>
            <Field label="E-mail to invite"><input type="email" name="invite-email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></Field>
            <Field label="Invite as">
              <select name="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value as InvitedRole)}>
                <option value="viewer">viewer</option><option value="editor">editor</option><option value="admin">admin</option>
              </select>
            </Field>
            <button type="submit" disabled={invite.isPending}>Invite</button>
            <ErrorNote error={invite.error} />
          </form>
          {link && (
            <div class="card secret-once" role="status">
              <p>Invitation for {link.invitation.email} created{link.emailSent ? ' and e-mailed' : ''}. Send them this link (valid 7 days, shown only now):</p>
              <div class="row"><code class="secret" data-testid="invite-link">{link.url}</code><CopyButton text={link.url} label="Copy link" /></div>
            </div>
          )}
          <Table<Invitation>
            caption="Pending invitations"
            rows={invitations.items}
            loading={invitations.query.isPending}
            empty="No pending invitations."
            rowKey={(i) => i.id}
            columns={[
              { title: 'E-mail', cell: (i) => i.email },
              { title: 'Role', cell: (i) => i.role },
              { title: 'Expires', cell: (i) => when(i.expiresAt) },
              { title: 'Actions', cell: (i) => <button type="button" class="secondary" onClick={() => revoke.mutate(i.id)} aria-label={`Revoke invitation for ${i.email}`}>Revoke</button> },
            ]}
          />
          <Pager paged={invitations} label="Invitations" />
        </>
      )}
    </section>
  );
}

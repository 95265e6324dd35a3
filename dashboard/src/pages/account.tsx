import { useState } from 'preact/hooks';
import { useMutation } from '@tanstack/preact-query';
import { call, type Ok } from '../api';
import { useSession } from '../session';
import { ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Table, usePaged, when } from '../ui';

type Session = Ok<'listSessions'>['items'][number];

export function Account() {
  const session = useSession()!;
  const [name, setName] = useState(session.user.name);
  const [pw, setPw] = useState({ currentPassword: '', newPassword: '' });
  const rename = useMutation({ mutationFn: () => call('updateUser', 'PATCH', '/v1/user', { body: { name } }), onSuccess: () => session.refresh() });
  const change = useMutation({ mutationFn: () => call('changePassword', 'POST', '/v1/user/password', { body: pw }), onSuccess: () => setPw({ currentPassword: '', newPassword: '' }) });
  const everywhere = useMutation({ mutationFn: () => call('signOutEverywhere', 'DELETE', '/v1/sessions'), onSuccess: () => session.signOut() });
  const sessions = usePaged<Session>(['me', 'sessions'], (cursor) => call('listSessions', 'GET', '/v1/sessions', { query: { cursor, limit: PAGE_SIZE } }));
  return (
    <section>
      <PageHeader title="Account" />
      <form class="card stack" aria-label="Profile" onSubmit={(e) => { e.preventDefault(); rename.mutate(); }}>
        <h2>Profile</h2>
        <p>Signed in as <strong>{session.user.email}</strong></p>
        <Field label="Name"><input name="name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <ErrorNote error={rename.error} />
        {rename.isSuccess && <p role="status">Saved.</p>}
        <div><button type="submit">Save name</button></div>
      </form>
      <form class="card stack" aria-label="Change password" onSubmit={(e) => { e.preventDefault(); change.mutate(); }}>
        <h2>Password</h2>
        <Field label="Current password"><input type="password" autoComplete="current-password" required value={pw.currentPassword} onInput={(e) => setPw({ ...pw, currentPassword: e.currentTarget.value })} /></Field>
        <Field label="New password" hint="At least 10 characters. Your other sessions are signed out."><input type="password" autoComplete="new-password" required minLength={10} value={pw.newPassword} onInput={(e) => setPw({ ...pw, newPassword: e.currentTarget.value })} /></Field>
        <ErrorNote error={change.error} />
        {change.isSuccess && <p role="status">Password changed; {change.data.revokedSessions} other session(s) signed out.</p>}
        <div><button type="submit" disabled={change.isPending}>Change password</button></div>
      </form>
      <h2>Sessions</h2>
      <ErrorNote error={sessions.query.error ?? everywhere.error} />
      <Table<Session>
        caption="Your sessions"
        rows={sessions.items}
        loading={sessions.query.isPending}
        empty="No sessions."
        rowKey={(s) => s.id}
        columns={[
          { title: 'Browser', cell: (s) => <>{s.userAgent ?? 'unknown'}{s.current && <span class="badge">this one</span>}</> },
          { title: 'IP', cell: (s) => s.ip ?? '—' },
          { title: 'Last seen', cell: (s) => when(s.lastSeenAt) },
          { title: 'Expires', cell: (s) => when(s.expiresAt) },
        ]}
      />
      <Pager paged={sessions} label="Sessions" />
      <p><button type="button" class="secondary" onClick={() => everywhere.mutate()}>Sign out everywhere</button></p>
    </section>
  );
}

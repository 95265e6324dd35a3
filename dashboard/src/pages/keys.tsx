import { useState } from 'preact/hooks';
import { useMutation, useQueryClient } from '@tanstack/preact-query';
import { call, type Ok } from '../api';
import { atLeast, type Workspace } from '../session';
import { CopyButton, ErrorNote, Field, PageHeader, Pager, PAGE_SIZE, Table, usePaged, when } from '../ui';

type Key = Ok<'listApiKeys'>['items'][number];
type Role = Key['role'];

export function ApiKeys(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const qc = useQueryClient();
  const admin = atLeast(ws.role, 'admin');
  const paged = usePaged<Key>([ws.id, 'api-keys'], (cursor) => call('listApiKeys', 'GET', '/v1/api-keys', { query: { cursor, limit: PAGE_SIZE } }));
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [created, setCreated] = useState<Ok<'createApiKey'> | null>(null);

  const create = useMutation({
    mutationFn: () => call('createApiKey', 'POST', '/v1/api-keys', { body: { name, role } }),
    onSuccess: (r) => {
      setCreated(r);
      setName('');
      paged.reset();
      void qc.invalidateQueries({ queryKey: [ws.id, 'api-keys'] });
    },
  });
  const setDisabled = useMutation({
    mutationFn: (v: { id: string; disabled: boolean }) => call('updateApiKey', 'PATCH', '/v1/api-keys/{keyId}', { path: { keyId: v.id }, body: { disabled: v.disabled } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: [ws.id, 'api-keys'] }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => call('disableApiKey', 'DELETE', '/v1/api-keys/{keyId}', { path: { keyId: id }, query: { permanent: true } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: [ws.id, 'api-keys'] }),
  });

  return (
    <section>
      <PageHeader title="API keys" />
      <p class="muted">A key acts with the role it was given, never above the current role of the member who created it.</p>
      {admin ? (
        <form
          class="card inline-form"
          aria-label="Create an API key"
          onSubmit={(e) => {
            e.preventDefault();
            setCreated(null);
            create.mutate();
          }}
        >
          <Field label="Key name"><input name="key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. invoices service" /></Field>
          <Field label="Role">
            <select name="key-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              <option value="viewer">viewer</option>
              <option value="editor">editor</option>
              <option value="admin">admin</option>
            </select>
          </Field>
          <button type="submit" disabled={create.isPending}>Create key</button>
          <ErrorNote error={create.error} />
        </form>
      ) : (
        <p class="note" role="note">Only admins and the owner can create or disable API keys; your role here is {ws.role}.</p>
      )}
      {created && (
        <div class="card secret-once" role="status">
          <h2>Key “{created.apiKey.name}” created</h2>
          <p>Copy it now: it is shown only this once.</p>
          <div class="row">
            <code class="secret" data-testid="new-key">{created.key}</code>
            <CopyButton text={created.key} label="Copy key" />
          </div>
          <button type="button" class="link" onClick={() => setCreated(null)}>I have stored it</button>
        </div>
      )}
      <ErrorNote error={paged.query.error ?? setDisabled.error ?? remove.error} />
      <Table<Key>
        caption="API keys"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No API keys yet."
        rowKey={(k) => k.id}
        columns={[
          { title: 'Name', cell: (k) => k.name },
          { title: 'Key', cell: (k) => <code>{k.prefix}…</code> },
          { title: 'Role', cell: (k) => k.role },
          { title: 'Created', cell: (k) => when(k.createdAt) },
          { title: 'Last used', cell: (k) => when(k.lastUsedAt) },
          { title: 'State', cell: (k) => (k.disabledAt ? <span class="status s-failed">disabled</span> : <span class="status s-succeeded">active</span>) },
          {
            title: 'Actions',
            cell: (k) => admin && (
              <>
                <button type="button" class="secondary" onClick={() => setDisabled.mutate({ id: k.id, disabled: !k.disabledAt })} aria-label={`${k.disabledAt ? 'Enable' : 'Disable'} key ${k.name}`}>
                  {k.disabledAt ? 'Enable' : 'Disable'}
                </button>{' '}
                <button
                  type="button"
                  class="danger"
                  onClick={() => window.confirm(`Delete the key "${k.name}" for good? Requests with it fail at once, and it cannot be enabled again.`) && remove.mutate(k.id)}
                  aria-label={`Delete key ${k.name}`}
                >
                  Delete
                </button>
              </>
            ),
          },
        ]}
      />
      <Pager paged={paged} label="API keys" />
    </section>
  );
}

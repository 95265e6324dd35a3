import { useEffect, useState } from 'preact/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { call } from '../api';
import { atLeast, useSession, type Workspace } from '../session';
import { CopyButton, ErrorNote, Field, PageHeader } from '../ui';

/** Workspace settings: its name and the workspace webhook signing secret (admin; spec §2, §10). */
export function WorkspaceSettings(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const session = useSession()!;
  const qc = useQueryClient();
  const admin = atLeast(ws.role, 'admin');
  const account = useQuery({ queryKey: [ws.id, 'account'], queryFn: () => call('getAccount', 'GET', '/v1/account') });
  const [name, setName] = useState(ws.name);
  useEffect(() => setName(ws.name), [ws.name]);
  const [secret, setSecret] = useState<string | null>(null);
  const [show, setShow] = useState(false);
  const rename = useMutation({
    mutationFn: () => call('updateWorkspace', 'PATCH', '/v1/workspaces/{workspaceId}', { path: { workspaceId: ws.id }, body: { name } }),
    onSuccess: () => session.refresh(),
  });
  const rotate = useMutation({
    mutationFn: () => call('updateAccount', 'PATCH', '/v1/account', { body: { webhook: { signingSecretAction: 'rotate' } } }),
    onSuccess: (r) => {
      setSecret(r.account.webhook.signingSecret ?? null);
      setShow(false);
      qc.setQueryData([ws.id, 'account'], { account: r.account });
    },
  });
  return (
    <section>
      <PageHeader title="Workspace settings" />
      <form class="card stack" aria-label="Workspace name" onSubmit={(e) => { e.preventDefault(); rename.mutate(); }}>
        <h2>Name</h2>
        <Field label="Workspace name"><input name="workspace-name" required maxLength={200} value={name} disabled={!admin} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <ErrorNote error={rename.error} />
        {admin && <div><button type="submit" disabled={name === ws.name || rename.isPending}>Rename</button></div>}
      </form>
      <section class="card stack" aria-labelledby="whsec-h">
        <h2 id="whsec-h">Webhook signing secret</h2>
        <p class="muted">Signs the webhooks of deploys that have no secret of their own. Rotating it takes effect on the next delivery.</p>
        <ErrorNote error={account.error ?? rotate.error} />
        <p>Current: <code>{account.data?.account.webhook.signingSecretPreview ?? '…'}</code></p>
        {secret && (
          <div class="secret-once row" role="status">
            <span>New secret, shown once:</span>
            <code class="secret">{show ? secret : '•'.repeat(24)}</code>
            <button type="button" class="secondary" aria-pressed={show} onClick={() => setShow(!show)}>{show ? 'Hide' : 'Reveal'}</button>
            <CopyButton text={secret} />
          </div>
        )}
        {admin
          ? <div><button type="button" class="secondary" onClick={() => rotate.mutate()} disabled={rotate.isPending}>Rotate secret</button></div>
          : <p class="note" role="note">Only admins and the owner manage the workspace secret.</p>}
      </section>
    </section>
  );
}

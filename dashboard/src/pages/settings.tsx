import { useEffect, useRef, useState } from 'preact/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { call } from '../api';
import { navigate } from '../router';
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
      <DangerZone workspace={ws} />
    </section>
  );
}

/**
 * Deleting the workspace (owner only; personal workspaces stay): a modal dialog — focus moves into it and stays
 * there, Escape closes it — where the owner types the workspace's name, as the API requires.
 */
function DangerZone(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const session = useSession()!;
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const remove = useMutation({
    mutationFn: () => call('deleteWorkspace', 'DELETE', '/v1/workspaces/{workspaceId}', { path: { workspaceId: ws.id }, body: { confirm: typed } }),
    onSuccess: async (r) => {
      dialog.current?.close();
      await session.refresh();
      navigate(`/w/${r.workspace.id}`, { replace: true });
    },
  });
  const open = () => {
    setTyped('');
    remove.reset();
    dialog.current?.showModal();
  };
  return (
    <section class="card stack danger-zone" aria-labelledby="danger-h">
      <h2 id="danger-h">Danger zone</h2>
      {ws.personal ? (
        <p class="note" role="note">A personal workspace belongs to its user and cannot be deleted.</p>
      ) : ws.role !== 'owner' ? (
        <p class="note" role="note">Only the owner can delete this workspace.</p>
      ) : (
        <>
          <p>Deleting <strong>{ws.name}</strong> cancels its render jobs and deletes its deploys, versions, files, render outputs, managed PDFs, API keys, members, invitations and audit log. It cannot be undone.</p>
          <div><button type="button" class="danger" onClick={open}>Delete workspace…</button></div>
        </>
      )}
      <dialog ref={dialog} aria-labelledby="delete-ws-h" aria-describedby="delete-ws-d" onClose={() => setTyped('')}>
        <form
          method="dialog"
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            remove.mutate();
          }}
        >
          <h2 id="delete-ws-h">Delete workspace {ws.name}?</h2>
          <p id="delete-ws-d">Everything in it is deleted for good, and its API keys stop working at once. Type <strong>{ws.name}</strong> to confirm.</p>
          <Field label="Workspace name to confirm">
            <input name="confirm-name" autoComplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoFocus />
          </Field>
          <ErrorNote error={remove.error} />
          <div class="row">
            <button type="submit" class="danger-solid" disabled={typed !== ws.name || remove.isPending}>{remove.isPending ? 'Deleting…' : 'Delete this workspace'}</button>
            <button type="button" class="secondary" onClick={() => dialog.current?.close()}>Cancel</button>
          </div>
        </form>
      </dialog>
    </section>
  );
}

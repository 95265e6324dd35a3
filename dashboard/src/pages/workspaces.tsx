import { useState } from 'preact/hooks';
import { call } from '../api';
import { navigate } from '../router';
import { useSession, type Workspace } from '../session';
import { ErrorNote, Field } from '../ui';

/** Switch workspace (a select: keyboard and screen readers for free) or create a team workspace. */
export function WorkspaceSwitcher(props: { current: Workspace | null }) {
  const session = useSession()!;
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  return (
    <div class="switcher">
      <label class="field">
        <span class="label">Workspace</span>
        <select
          value={props.current?.id ?? ''}
          onChange={(e) => {
            const v = e.currentTarget.value;
            if (v === '__new') setCreating(true);
            else if (v) navigate(`/w/${v}`);
          }}
        >
          {!props.current && <option value="">Choose…</option>}
          {session.workspaces.map((w) => <option value={w.id} key={w.id}>{w.name}{w.personal ? ' (personal)' : ''}</option>)}
          <option value="__new">+ New workspace…</option>
        </select>
      </label>
      {creating && (
        <form
          class="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const r = await call('createWorkspace', 'POST', '/v1/workspaces', { body: { name } });
              await session.refresh();
              setCreating(false);
              setName('');
              navigate(`/w/${r.workspace.id}`);
            } catch (err) {
              setError(err);
            }
          }}
        >
          <Field label="New workspace name"><input name="workspace-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus /></Field>
          <ErrorNote error={error} />
          <div class="row">
            <button type="submit">Create workspace</button>
            <button type="button" class="secondary" onClick={() => setCreating(false)}>Cancel</button>
          </div>
        </form>
      )}
    </div>
  );
}

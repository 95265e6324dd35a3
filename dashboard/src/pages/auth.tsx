import { useEffect, useState } from 'preact/hooks';
import { call, setCsrfToken, type Ok } from '../api';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorNote, Field } from '../ui';

/** The token of a setup or invitation link rides in the fragment, so it never reaches a server log. */
function tokenFromHash(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, '')).get('token') ?? '';
}

/** A form's submit: one request at a time, its error shown until the next try. */
function useSubmit(run: () => Promise<void>) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, onSubmit };
}

function AuthCard(props: { title: string; children: preact.ComponentChildren }) {
  return (
    <main class="center">
      <section class="card auth" aria-labelledby="auth-title">
        <div class="brand">Press Cloud</div>
        <h1 id="auth-title">{props.title}</h1>
        {props.children}
      </section>
    </main>
  );
}

export function SignIn(props: { onDone: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { error, busy, onSubmit } = useSubmit(async () => {
    const r = await call('signIn', 'POST', '/v1/sessions', { body: { email, password } });
    setCsrfToken(r.csrfToken);
    await props.onDone();
  });
  return (
    <AuthCard title="Sign in">
      <form onSubmit={onSubmit}>
        <Field label="E-mail"><input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></Field>
        <Field label="Password"><input type="password" name="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></Field>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </AuthCard>
  );
}

export function SetupPage(props: { onDone: () => Promise<void> }) {
  const loc = useLocation();
  const token = tokenFromHash(loc.hash);
  const [form, setForm] = useState({ name: '', email: '', password: '' });
  const set = (k: keyof typeof form) => (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [k]: e.currentTarget.value });
  const { error, busy, onSubmit } = useSubmit(async () => {
    const r = await call('completeSetup', 'POST', '/v1/setup', { body: { token, ...form } });
    setCsrfToken(r.csrfToken);
    history.replaceState(null, '', '/setup'); // the token is spent: keep it out of the history
    await props.onDone();
    navigate(r.adoptedWorkspaceIds[0] ? `/w/${r.adoptedWorkspaceIds[0]}` : '/', { replace: true });
  });
  return (
    <AuthCard title="Set up Press Cloud">
      <p>Create the first user. They own the existing workspaces and can invite everyone else.</p>
      {!token && <p class="error" role="alert">This page needs the one-time setup link the server printed when it started.</p>}
      <form onSubmit={onSubmit}>
        <Field label="Your name"><input name="name" autoComplete="name" value={form.name} onInput={set('name')} /></Field>
        <Field label="E-mail"><input type="email" name="email" autoComplete="username" required value={form.email} onInput={set('email')} /></Field>
        <Field label="Password" hint="At least 10 characters."><input type="password" name="password" autoComplete="new-password" required minLength={10} value={form.password} onInput={set('password')} /></Field>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || !token}>Create the owner</button>
      </form>
    </AuthCard>
  );
}

export function AcceptInvitation(props: { onDone: () => Promise<void> }) {
  const loc = useLocation();
  const session = useSession();
  const token = tokenFromHash(loc.hash);
  const [offer, setOffer] = useState<Ok<'previewInvitation'> | null>(null);
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const { error, setError, busy, onSubmit: accept } = useSubmit(async () => {
    const r = await call('acceptInvitation', 'POST', '/v1/invitations/accept', { body: offer!.userExists ? { token } : { token, password, name: name || undefined } });
    if (r.csrfToken) setCsrfToken(r.csrfToken);
    await props.onDone();
    history.replaceState(null, '', '/accept-invitation');
    navigate(`/w/${r.workspaceId}`, { replace: true });
  });
  useEffect(() => {
    if (!token) return;
    call('previewInvitation', 'POST', '/v1/invitations/preview', { body: { token } }).then(setOffer, setError);
  }, [token]);

  return (
    <AuthCard title="Join a workspace">
      {!token && <p class="error" role="alert">This page needs the invitation link you were sent.</p>}
      {offer ? (
        <>
          <p>You are invited to <strong>{offer.workspace.name}</strong> as <strong>{offer.role}</strong> ({offer.email}).</p>
          {offer.userExists && !session && (
            <p>You already have an account: <a href={`/sign-in?next=${encodeURIComponent(`/accept-invitation${loc.hash}`)}`}>sign in</a> as {offer.email} first, then come back to this link.</p>
          )}
          {offer.userExists && session && session.user.email.toLowerCase() !== offer.email.toLowerCase() && (
            <p class="error" role="alert">You are signed in as {session.user.email}; this invitation is for {offer.email}.</p>
          )}
          <form onSubmit={accept}>
            {!offer.userExists && (
              <>
                <Field label="Your name"><input name="name" autoComplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
                <Field label="Choose a password" hint="At least 10 characters."><input type="password" name="password" autoComplete="new-password" required minLength={10} value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></Field>
              </>
            )}
            <ErrorNote error={error} />
            <button type="submit" disabled={busy || (offer.userExists && !session)}>Accept invitation</button>
          </form>
        </>
      ) : (
        <>
          <ErrorNote error={error} />
          {!error && token && <p aria-busy="true">Checking the invitation…</p>}
        </>
      )}
    </AuthCard>
  );
}


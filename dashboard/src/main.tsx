import { render } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { ApiError, call, setCsrfToken, setWorkspace, whenSignedOut } from './api';
import { Link, match, navigate, useLocation } from './router';
import { SessionContext, useSession, type Me, type SessionState, type Workspace } from './session';
import { AcceptInvitation, SetupPage, SignIn } from './pages/auth';
import { Overview } from './pages/overview';
import { WorkspaceSwitcher } from './pages/workspaces';
import './style.css';

// Pages past the overview load on first visit, so the overview's first load stays small.
const ApiKeys = lazy(() => import('./pages/keys').then((m) => m.ApiKeys));
const Deploys = lazy(() => import('./pages/deploys').then((m) => m.Deploys));
const DeployPage = lazy(() => import('./pages/deploys').then((m) => m.DeployPage));
const VersionPage = lazy(() => import('./pages/deploys').then((m) => m.VersionPage));
const Jobs = lazy(() => import('./pages/jobs').then((m) => m.Jobs));
const JobPage = lazy(() => import('./pages/jobs').then((m) => m.JobPage));
const Pdfs = lazy(() => import('./pages/pdfs').then((m) => m.Pdfs));
const Members = lazy(() => import('./pages/members').then((m) => m.Members));
const AuditLog = lazy(() => import('./pages/audit').then((m) => m.AuditLog));
const WorkspaceSettings = lazy(() => import('./pages/settings').then((m) => m.WorkspaceSettings));
const Account = lazy(() => import('./pages/account').then((m) => m.Account));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: { retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2, refetchOnWindowFocus: true, staleTime: 5_000 },
  },
});

const PUBLIC = ['/sign-in', '/setup', '/accept-invitation'];

function App() {
  const loc = useLocation();
  const [state, setState] = useState<{ user: Me; workspaces: Workspace[] } | null | 'loading'>('loading');

  const load = async () => {
    try {
      const s = await call('getSession', 'GET', '/v1/session');
      setCsrfToken(s.csrfToken);
      const ws = await call('listWorkspaces', 'GET', '/v1/workspaces', { query: { limit: 100 } });
      setState({ user: s.user, workspaces: ws.items });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setState(null);
      else throw e;
    }
  };
  useEffect(() => {
    whenSignedOut(() => {
      setState(null);
      queryClient.clear();
    });
    void load();
  }, []);

  const session: SessionState | null = state && state !== 'loading' ? {
    ...state,
    refresh: load,
    signedIn: async (_user, csrf) => {
      setCsrfToken(csrf);
      await load();
    },
    signOut: async () => {
      await call('signOut', 'DELETE', '/v1/session').catch(() => undefined);
      setCsrfToken(null);
      queryClient.clear();
      setState(null);
      navigate('/sign-in');
    },
  } : null;

  if (loc.path === '/setup') return <SessionContext.Provider value={session}><SetupPage onDone={load} /></SessionContext.Provider>;
  if (loc.path === '/accept-invitation') return <SessionContext.Provider value={session}><AcceptInvitation onDone={load} /></SessionContext.Provider>;
  if (state === 'loading') return <main class="center" aria-busy="true"><p>Loading…</p></main>;
  if (!session) {
    if (loc.path !== '/sign-in') {
      navigate(`/sign-in${loc.path !== '/' ? `?next=${encodeURIComponent(loc.path)}` : ''}`, { replace: true });
      return null;
    }
    return <SignIn onDone={load} />;
  }
  if (PUBLIC.includes(loc.path) || loc.path === '/') {
    const first = session.workspaces.find((w) => w.personal) ?? session.workspaces[0];
    const next = loc.query.get('next');
    navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : first ? `/w/${first.id}` : '/account', { replace: true });
    return null;
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell path={loc.path} />
    </SessionContext.Provider>
  );
}

const NAV: [string, string][] = [
  ['', 'Overview'], ['/deploys', 'Deploys'], ['/jobs', 'Render jobs'], ['/pdfs', 'Managed PDFs'],
  ['/keys', 'API keys'], ['/members', 'Members'], ['/audit', 'Audit log'], ['/settings', 'Settings'],
];

function Shell(props: { path: string }) {
  const session = useSessionStrict();
  const wsId = /^\/w\/(acct_[\w-]+)/.exec(props.path)?.[1] ?? null;
  const workspace = session.workspaces.find((w) => w.id === wsId) ?? null;
  setWorkspace(workspace?.id ?? null);
  const base = workspace ? `/w/${workspace.id}` : '';
  const sub = workspace ? props.path.slice(base.length) : '';

  let page;
  if (props.path === '/account') page = <Account />;
  else if (!workspace) page = <NotFound what={wsId ? 'You are not a member of this workspace.' : 'No such page.'} />;
  else page = route(sub, workspace);

  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <aside class="sidebar">
        <div class="brand">Press Cloud</div>
        <WorkspaceSwitcher current={workspace} />
        {workspace && (
          <nav aria-label="Workspace pages">
            <ul>
              {NAV.map(([p, label]) => {
                const href = base + p;
                const active = p === '' ? sub === '' : sub.startsWith(p);
                return <li key={p}><Link href={href} aria-current={active ? 'page' : undefined}>{label}</Link></li>;
              })}
            </ul>
          </nav>
        )}
        <div class="me">
          <Link href="/account" aria-current={props.path === '/account' ? 'page' : undefined}>{session.user.name || session.user.email}</Link>
          <button type="button" class="link" onClick={() => void session.signOut()}>Sign out</button>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p aria-busy="true">Loading…</p>}>{page}</Suspense>
      </main>
    </div>
  );
}

function route(sub: string, ws: Workspace) {
  let m;
  if (sub === '') return <Overview workspace={ws} />;
  if (sub === '/keys') return <ApiKeys workspace={ws} />;
  if (sub === '/deploys') return <Deploys workspace={ws} />;
  if ((m = match('/deploys/:deployId', sub))) return <DeployPage workspace={ws} deployId={m.deployId} />;
  if ((m = match('/deploys/:deployId/versions/:versionId', sub))) return <VersionPage workspace={ws} deployId={m.deployId} versionId={m.versionId} />;
  if (sub === '/jobs') return <Jobs workspace={ws} />;
  if ((m = match('/jobs/:jobId', sub))) return <JobPage workspace={ws} jobId={m.jobId} />;
  if (sub === '/pdfs') return <Pdfs workspace={ws} />;
  if (sub === '/members') return <Members workspace={ws} />;
  if (sub === '/audit') return <AuditLog workspace={ws} />;
  if (sub === '/settings') return <WorkspaceSettings workspace={ws} />;
  return <NotFound what="No such page." />;
}

function useSessionStrict(): SessionState {
  const s = useSession();
  if (!s) throw new Error('no session');
  return s;
}

function NotFound(props: { what: string }) {
  return (
    <section>
      <h1>Not found</h1>
      <p>{props.what}</p>
      <p><Link href="/">Back to the dashboard</Link></p>
    </section>
  );
}

render(<QueryClientProvider client={queryClient}><App /></QueryClientProvider>, document.getElementById('app')!);

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Ok } from './api';

export type Me = Ok<'getSession'>['user'];
export type Workspace = Ok<'listWorkspaces'>['items'][number];

export interface SessionState {
  user: Me;
  workspaces: Workspace[];
  refresh: () => Promise<void>;
  signedIn: (user: Me, csrfToken: string) => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);
export const useSession = () => useContext(SessionContext);

/** The role checks the dashboard makes to hide what the server would refuse anyway (spec §10). */
const RANK = { viewer: 0, editor: 1, admin: 2, owner: 3 } as const;
export const atLeast = (role: Workspace['role'] | undefined, min: keyof typeof RANK) => role !== undefined && RANK[role] >= RANK[min];

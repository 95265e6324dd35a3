-- Users, sessions, the setup link, memberships, invitations and the audit log (spec §10). Accounts are workspaces;
-- an account made before users existed has no members until the setup link or `press-cloud users create --workspace`
-- gives it an owner. API keys now belong to the user who made them (NULL: made before the workspace had users).
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  token_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  user_agent TEXT,
  ip TEXT
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC, id DESC);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE setup_tokens (
  token_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE TABLE memberships (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX memberships_member ON memberships (account_id, user_id);
-- one owner per workspace, enforced by the database
CREATE UNIQUE INDEX memberships_owner ON memberships (account_id) WHERE role = 'owner';
CREATE INDEX memberships_user ON memberships (user_id, created_at DESC, id DESC);
CREATE INDEX memberships_list ON memberships (account_id, created_at DESC, id DESC);

CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  token_hash TEXT NOT NULL,
  invited_by_user_id TEXT REFERENCES users(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  accepted_at INTEGER,
  accepted_by_user_id TEXT REFERENCES users(id),
  revoked_at INTEGER
);
CREATE UNIQUE INDEX invitations_token_hash ON invitations (token_hash);
CREATE INDEX invitations_list ON invitations (account_id, created_at DESC, id DESC);

CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  action TEXT NOT NULL,
  actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'operator')),
  actor_id TEXT,
  actor_user_id TEXT,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  request_id TEXT,
  details TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_list ON audit_log (account_id, created_at DESC, id DESC);

ALTER TABLE accounts ADD COLUMN personal_user_id TEXT REFERENCES users(id);
ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users(id);

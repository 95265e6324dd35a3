-- PostgreSQL twin of sqlite/migrations/001-control-plane.sql (same tables, columns and constraints).
-- Times are epoch milliseconds (BIGINT); keys and ordered text use COLLATE "C" so ids, paths and names sort bytewise,
-- exactly as SQLite's BINARY collation does, whatever the database's locale (keyset pagination depends on it).
CREATE TABLE accounts (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  plan_key TEXT NOT NULL,
  webhook_signing_secret TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  disabled_at BIGINT
);
CREATE INDEX api_keys_list ON api_keys (account_id, created_at DESC, id DESC);

CREATE TABLE deploys (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT,
  webhook_enabled BOOLEAN NOT NULL DEFAULT false,
  webhook_url TEXT,
  webhook_signing_secret TEXT
);
CREATE UNIQUE INDEX deploys_slug ON deploys (account_id, slug) WHERE deleted_at IS NULL;
CREATE INDEX deploys_list ON deploys (account_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE deploy_vars (
  deploy_id TEXT COLLATE "C" NOT NULL REFERENCES deploys(id),
  kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('env', 'secret')),
  name TEXT COLLATE "C" NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (deploy_id, kind, name)
);

CREATE TABLE deploy_versions (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  deploy_id TEXT COLLATE "C" NOT NULL REFERENCES deploys(id),
  file_count INTEGER NOT NULL,
  bytes BIGINT NOT NULL,
  upload_session_id TEXT COLLATE "C",
  created_at BIGINT NOT NULL
);
CREATE INDEX deploy_versions_list ON deploy_versions (deploy_id, created_at DESC, id DESC);

CREATE TABLE deploy_version_files (
  deploy_version_id TEXT COLLATE "C" NOT NULL REFERENCES deploy_versions(id),
  path TEXT COLLATE "C" NOT NULL,
  sha256 TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL,
  mime TEXT NOT NULL,
  PRIMARY KEY (deploy_version_id, path)
);
CREATE INDEX deploy_version_files_sha ON deploy_version_files (sha256);

CREATE TABLE aliases (
  deploy_id TEXT COLLATE "C" NOT NULL REFERENCES deploys(id),
  name TEXT COLLATE "C" NOT NULL,
  deploy_version_id TEXT COLLATE "C" NOT NULL REFERENCES deploy_versions(id),
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (deploy_id, name)
);

CREATE TABLE upload_sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  deploy_id TEXT COLLATE "C" NOT NULL REFERENCES deploys(id),
  status TEXT NOT NULL CHECK (status IN ('open', 'committed', 'expired')),
  upload_token_hash TEXT NOT NULL,
  requested_file_count INTEGER NOT NULL,
  requested_bytes BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  committed_at BIGINT,
  commit_lock_until BIGINT,
  deploy_version_id TEXT COLLATE "C"
);
CREATE INDEX upload_sessions_open ON upload_sessions (expires_at) WHERE status = 'open';

CREATE TABLE upload_session_files (
  upload_session_id TEXT COLLATE "C" NOT NULL REFERENCES upload_sessions(id),
  path TEXT COLLATE "C" NOT NULL,
  sha256 TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL,
  mime TEXT NOT NULL,
  PRIMARY KEY (upload_session_id, path)
);
CREATE INDEX upload_session_files_sha ON upload_session_files (sha256);

-- Which blobs an account holds: presence is per account (no cross-tenant probing), bytes are shared in storage.
CREATE TABLE account_blobs (
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  sha256 TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, sha256)
);
CREATE INDEX account_blobs_sha ON account_blobs (sha256);

-- Append-only usage ledger; meters are sums over a period.
CREATE TABLE usage_records (
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  meter TEXT NOT NULL,
  quantity BIGINT NOT NULL,
  occurred_at BIGINT NOT NULL
);
CREATE INDEX usage_records_period ON usage_records (account_id, meter, occurred_at);

CREATE TABLE idempotency_keys (
  account_id TEXT COLLATE "C" NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status_code INTEGER,
  response_body TEXT,
  created_at BIGINT NOT NULL,
  completed_at BIGINT,
  PRIMARY KEY (account_id, method, route, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

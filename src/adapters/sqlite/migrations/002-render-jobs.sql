-- Render jobs: the jobs table is the durable queue (claimed with a lease, heartbeated, reclaimed when the lease lapses).
CREATE TABLE render_jobs (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  deploy_id TEXT NOT NULL REFERENCES deploys(id),
  deploy_version_id TEXT NOT NULL REFERENCES deploy_versions(id),
  business_key TEXT,
  entry TEXT NOT NULL,
  file_name TEXT NOT NULL,
  output_mode TEXT NOT NULL CHECK (output_mode IN ('transient', 'managed')),
  status TEXT NOT NULL CHECK (status IN ('queued', 'rendering', 'retry_scheduled', 'succeeded', 'failed', 'canceled')),
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  requested_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  next_attempt_at INTEGER,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  error_code TEXT,
  error_message TEXT,
  output_key TEXT,
  output_bytes INTEGER,
  output_page_count INTEGER,
  output_expires_at INTEGER,
  output_deleted_at INTEGER,
  pdf_id TEXT,
  render_time_ms INTEGER,
  -- set on every terminal transition; the webhook sender turns it into a delivery and clears it
  webhook_pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX render_jobs_list ON render_jobs (account_id, requested_at DESC, id DESC);
CREATE INDEX render_jobs_queue ON render_jobs (status, requested_at) WHERE status IN ('queued', 'retry_scheduled', 'rendering');
CREATE INDEX render_jobs_outputs ON render_jobs (output_expires_at) WHERE output_key IS NOT NULL;
CREATE INDEX render_jobs_webhook ON render_jobs (webhook_pending) WHERE webhook_pending = 1;

-- Payloads live apart from the job so they can be deleted at the terminal state (spec §5).
CREATE TABLE render_job_payloads (
  render_job_id TEXT PRIMARY KEY REFERENCES render_jobs(id),
  mime TEXT NOT NULL,
  body BLOB NOT NULL
);

CREATE TABLE pdfs (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  deploy_id TEXT NOT NULL,
  deploy_version_id TEXT NOT NULL,
  render_job_id TEXT NOT NULL,
  business_key TEXT,
  file_name TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  page_count INTEGER NOT NULL,
  blob_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX pdfs_list ON pdfs (account_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX pdfs_job ON pdfs (render_job_id);

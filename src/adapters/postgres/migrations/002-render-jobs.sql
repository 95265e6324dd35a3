-- PostgreSQL twin of sqlite/migrations/002-render-jobs.sql. The jobs table is the durable queue: claimed with
-- FOR UPDATE SKIP LOCKED and a lease, heartbeated, reclaimed when the lease lapses (see pg-queue.ts).
CREATE TABLE render_jobs (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  deploy_id TEXT COLLATE "C" NOT NULL REFERENCES deploys(id),
  deploy_version_id TEXT COLLATE "C" NOT NULL REFERENCES deploy_versions(id),
  business_key TEXT,
  entry TEXT NOT NULL,
  file_name TEXT NOT NULL,
  output_mode TEXT NOT NULL CHECK (output_mode IN ('transient', 'managed')),
  status TEXT NOT NULL CHECK (status IN ('queued', 'rendering', 'retry_scheduled', 'succeeded', 'failed', 'canceled')),
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  requested_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  next_attempt_at BIGINT,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  error_code TEXT,
  error_message TEXT,
  output_key TEXT,
  output_bytes BIGINT,
  output_page_count INTEGER,
  output_expires_at BIGINT,
  output_deleted_at BIGINT,
  pdf_id TEXT COLLATE "C",
  render_time_ms BIGINT,
  -- set on every terminal transition; the webhook sender turns it into a delivery and clears it
  webhook_pending BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX render_jobs_list ON render_jobs (account_id, requested_at DESC, id DESC);
-- claim order (oldest first) over queued jobs only
CREATE INDEX render_jobs_claim ON render_jobs (requested_at, id) WHERE status = 'queued';
-- per-account running count (concurrency limits) and lapsed-lease scan
CREATE INDEX render_jobs_running ON render_jobs (account_id, lease_expires_at) WHERE status = 'rendering';
CREATE INDEX render_jobs_retry ON render_jobs (next_attempt_at) WHERE status = 'retry_scheduled';
CREATE INDEX render_jobs_deploy_unfinished ON render_jobs (deploy_id) WHERE status IN ('queued', 'rendering', 'retry_scheduled');
CREATE INDEX render_jobs_outputs ON render_jobs (output_expires_at) WHERE output_key IS NOT NULL AND output_deleted_at IS NULL;
CREATE INDEX render_jobs_webhook ON render_jobs (finished_at) WHERE webhook_pending;

-- Payloads live apart from the job so they can be deleted at the terminal state (spec §5).
CREATE TABLE render_job_payloads (
  render_job_id TEXT COLLATE "C" PRIMARY KEY REFERENCES render_jobs(id),
  mime TEXT NOT NULL,
  body BYTEA NOT NULL
);

CREATE TABLE pdfs (
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  deploy_id TEXT COLLATE "C" NOT NULL,
  deploy_version_id TEXT COLLATE "C" NOT NULL,
  render_job_id TEXT COLLATE "C" NOT NULL,
  business_key TEXT,
  file_name TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  page_count INTEGER NOT NULL,
  blob_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX pdfs_list ON pdfs (account_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX pdfs_job ON pdfs (render_job_id);

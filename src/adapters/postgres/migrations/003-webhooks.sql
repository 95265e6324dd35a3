-- PostgreSQL twin of sqlite/migrations/003-webhooks.sql. One event per terminal render job, one delivery row per
-- attempt: the rows are both the durable retry schedule (the pending row is claimed with a short lease) and the
-- delivery log the API lists. No foreign key to render_jobs: a finished job may be deleted while its webhook is retried.
CREATE TABLE webhook_events (
  -- evt_render_job_terminated_<jobId>: the primary key makes creating the event idempotent across senders and nodes
  id TEXT COLLATE "C" PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  deploy_id TEXT COLLATE "C" NOT NULL,
  render_job_id TEXT COLLATE "C" NOT NULL,
  type TEXT NOT NULL,
  -- JSON snapshot of the job view at termination (data.job of every attempt's body)
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
  id TEXT COLLATE "C" PRIMARY KEY,
  event_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_events(id),
  account_id TEXT COLLATE "C" NOT NULL,
  deploy_id TEXT COLLATE "C" NOT NULL,
  render_job_id TEXT COLLATE "C" NOT NULL,
  url TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  response_status INTEGER,
  error TEXT,
  created_at BIGINT NOT NULL,
  delivered_at BIGINT,
  -- pending: when the attempt is due; failed: when the next attempt runs (null after the last); succeeded: null
  next_attempt_at BIGINT,
  duration_ms BIGINT,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  UNIQUE (event_id, attempt)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (deploy_id, created_at DESC, id DESC);

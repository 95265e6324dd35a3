-- Per-status partial indexes for the queue, as the PostgreSQL schema has had since 002. SQLite only uses a partial
-- index when the query repeats a term of its WHERE, and "status = 'queued'" does not prove
-- "status IN ('queued', 'retry_scheduled', 'rendering')", so render_jobs_queue was never used: every claim, lease
-- reclaim and retry promotion scanned all jobs ever run (the cost of a claim grew with the job history).
-- (account_id first: the claim lists the accounts with queued jobs, then takes the oldest job of the eligible ones)
CREATE INDEX render_jobs_claim ON render_jobs (account_id, requested_at, id) WHERE status = 'queued';
CREATE INDEX render_jobs_running ON render_jobs (account_id, lease_expires_at) WHERE status = 'rendering';
CREATE INDEX render_jobs_retry ON render_jobs (next_attempt_at) WHERE status = 'retry_scheduled';
CREATE INDEX render_jobs_deploy_unfinished ON render_jobs (deploy_id) WHERE status IN ('queued', 'rendering', 'retry_scheduled');
DROP INDEX render_jobs_queue;

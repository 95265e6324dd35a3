-- Mirrors the SQLite migration of the same name, which adds the per-status partial indexes of the render queue;
-- this schema has had them since 002 (render_jobs_claim, render_jobs_running, render_jobs_retry,
-- render_jobs_deploy_unfinished), so there is nothing to change here.
SELECT 1;

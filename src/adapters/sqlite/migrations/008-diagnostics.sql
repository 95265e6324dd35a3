-- What went wrong inside the page during a job's last attempt (spec §9.1): JSON, at most ~8 KiB.
ALTER TABLE render_jobs ADD COLUMN diagnostics TEXT;

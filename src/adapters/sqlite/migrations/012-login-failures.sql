-- Failed sign-ins for login throttling, in the metadata store so that every API node on one database counts the same
-- failures (they were per process before). One row per failure and key: `e:<e-mail>` and `a:<client address>`.
-- Rows older than the throttle's window are purged by the sweeper.
CREATE TABLE login_failures (
  key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- PostgreSQL twin of sqlite/migrations/012-login-failures.sql: failed sign-ins shared by every API node, one row per
-- failure and key (`e:<e-mail>`, `a:<client address>`), purged by the sweeper after the throttle's window.
CREATE TABLE login_failures (
  key TEXT COLLATE "C" NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

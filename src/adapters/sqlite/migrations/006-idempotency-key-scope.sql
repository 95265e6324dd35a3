-- Idempotency keys are scoped to the API key too (spec §9.2): another key reusing an Idempotency-Key never sees the
-- first key's stored response. Rows live 24 h at most, so the table is recreated rather than migrated: a retry that
-- spans the upgrade runs as a new request.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
  account_id TEXT NOT NULL,
  api_key_id TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status_code INTEGER,
  response_body TEXT,
  created_at INTEGER NOT NULL,
  completed_at INTEGER,
  PRIMARY KEY (account_id, api_key_id, method, route, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- An account (workspace) the operator disabled (press-cloud accounts disable): its keys and sessions are refused
-- with 403 account_disabled and its queued render jobs wait, unclaimed, until it is enabled again. NULL: enabled.
ALTER TABLE accounts ADD COLUMN disabled_at BIGINT;

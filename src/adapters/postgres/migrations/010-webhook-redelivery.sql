-- PostgreSQL twin of sqlite/migrations/010-webhook-redelivery.sql: an attempt asked for by a person names the
-- delivery it was asked from; it is sent once and not retried.
ALTER TABLE webhook_deliveries ADD COLUMN redelivery_of TEXT COLLATE "C";

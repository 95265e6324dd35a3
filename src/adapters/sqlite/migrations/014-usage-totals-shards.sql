-- usage_totals gets a `shard` column in its key, so that the PostgreSQL twin can spread one account's running total
-- over a few rows: concurrent transactions of one account (jobs created and finished at once) then no longer queue
-- on one row's lock until each other's commit. SQLite has one writer at a time and always writes shard 0. A total
-- is the sum of its shards.
DROP TRIGGER usage_records_total;
CREATE TABLE usage_totals_sharded (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  meter TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  quantity INTEGER NOT NULL,
  PRIMARY KEY (account_id, meter, period_start, shard)
);
INSERT INTO usage_totals_sharded (account_id, meter, period_start, shard, quantity)
SELECT account_id, meter, period_start, 0, quantity FROM usage_totals;
DROP TABLE usage_totals;
ALTER TABLE usage_totals_sharded RENAME TO usage_totals;
CREATE TRIGGER usage_records_total AFTER INSERT ON usage_records BEGIN
  INSERT INTO usage_totals (account_id, meter, period_start, shard, quantity)
  VALUES (NEW.account_id, NEW.meter, CAST(strftime('%s', NEW.occurred_at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000, 0, NEW.quantity)
  ON CONFLICT (account_id, meter, period_start, shard) DO UPDATE SET quantity = quantity + excluded.quantity;
END;

-- The running total of each meter per account and bill period (the UTC calendar month, domain/policy.ts billPeriod;
-- period_start is its first millisecond), so that a quota check reads a few rows instead of summing the period's
-- usage records (which grew with the month). The ledger stays the record of each unit (the daily series read it); a
-- trigger adds every new row to its period's total in the same statement, whichever code inserts it, and the totals
-- are filled here from the rows already there. A total is the sum of its shards: the PostgreSQL twin spreads one
-- account's total over a few rows so that its concurrent transactions do not queue on one row's lock; SQLite has one
-- writer at a time and always writes shard 0.
CREATE TABLE usage_totals (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  meter TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  quantity INTEGER NOT NULL,
  PRIMARY KEY (account_id, meter, period_start, shard)
);
INSERT INTO usage_totals (account_id, meter, period_start, shard, quantity)
SELECT account_id, meter, CAST(strftime('%s', occurred_at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000, 0, sum(quantity)
FROM usage_records
GROUP BY 1, 2, 3;
CREATE TRIGGER usage_records_total AFTER INSERT ON usage_records BEGIN
  INSERT INTO usage_totals (account_id, meter, period_start, shard, quantity)
  VALUES (NEW.account_id, NEW.meter, CAST(strftime('%s', NEW.occurred_at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000, 0, NEW.quantity)
  ON CONFLICT (account_id, meter, period_start, shard) DO UPDATE SET quantity = quantity + excluded.quantity;
END;

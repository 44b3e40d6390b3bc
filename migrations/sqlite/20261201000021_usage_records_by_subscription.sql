-- SQLite twin of migrations/postgres/20261201000021_usage_records_by_subscription.sql (see migrations/README.md).
-- A user subscription's raw records by usage time: the customer portal's hourly CSV
-- (services::usage::hourly_csv) and its tag filter read one customer's records of a day
-- at a time, so their cost follows that customer's own records, not everyone's stored in
-- the same hours. Inserts add one entry at the right edge of each subscription's range;
-- the ingest benchmark's figure with and without it is in the README.
CREATE INDEX usage_records_subscription_time ON usage_records (user_subscription_id, usage_start_at);

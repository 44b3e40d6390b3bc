-- Records by reported time: the Azure-compatible usage endpoints
-- (services::usage_aggregates) page through a reported window in (reported_at, id) order
-- with keyset continuation, so every page is an index seek wherever it starts; the
-- customer portal's hourly CSV reads one customer's records of a day by reported time.
-- The user subscription is the last column, so both filter by it inside the index. New
-- records are reported now and get the next id, so inserts append at the index's right
-- edge: a column order starting (reported_at, user_subscription_id) instead put each
-- batch's subscriptions in the middle of its own entries and cost SQLite ingestion
-- about 18 % in the ingest benchmark; this order's cost is in the README.
CREATE INDEX usage_records_reported ON usage_records (reported_at, id, user_subscription_id);

-- SQLite twin of migrations/postgres/20261201000022_usage_records_by_reported_time.sql (see migrations/README.md).
-- Records by reported time: the Azure-compatible usage endpoints
-- (services::usage_aggregates) page through a reported window in the order
-- (reported_at, user_subscription_id, id) with keyset continuation, so every page is an
-- index seek wherever it starts. New records are reported now, so inserts land at the
-- index's right edge; the ingest benchmark's figure with and without it is in the README.
CREATE INDEX usage_records_reported ON usage_records (reported_at, user_subscription_id, id);

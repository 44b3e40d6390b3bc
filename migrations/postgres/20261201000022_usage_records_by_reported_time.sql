-- Records by reported time: the Azure-compatible usage endpoints
-- (services::usage_aggregates) page through a reported window in the order
-- (reported_at, user_subscription_id, id) with keyset continuation, so every page is an
-- index seek wherever it starts. New records are reported now, so inserts land at the
-- index's right edge; the ingest benchmark's figure with and without it is in the README.
CREATE INDEX usage_records_reported ON usage_records (reported_at, user_subscription_id, id);

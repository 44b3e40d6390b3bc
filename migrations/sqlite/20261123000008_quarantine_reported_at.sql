-- The reported time of a quarantined record's batch, when it had one (a window pulled by
-- the collector), so that a record reprocessed later still remembers the window it was
-- reported in rather than the moment it was reprocessed. NULL for pushed and imported
-- records (they take the time they enter Stackbill, as when first ingested).
ALTER TABLE usage_quarantine ADD COLUMN reported_at BIGINT;

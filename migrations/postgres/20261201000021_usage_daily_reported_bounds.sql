-- The first and last reported time of each daily subscription rollup's records. The
-- customer portal's hourly CSV and tag filter read one customer's records of a day by
-- reported time between these bounds (through the reported-time index of migration 22),
-- so no index ordered by subscription is needed on usage_records: such an index takes a
-- write at every subscription's place in each batch, which cost SQLite ingestion about a
-- quarter of its speed in the ingest benchmark. Kept in the same upsert as the quantities;
-- NULL means not known (rows written before this migration) until the rebuild below.
ALTER TABLE usage_daily ADD COLUMN first_reported_at BIGINT;
ALTER TABLE usage_daily ADD COLUMN last_reported_at BIGINT;

-- Rebuild every day's rollups from the records once (`stackbill migrate` and start-up run
-- it), which fills the bounds of existing rows.
INSERT INTO maintenance_tasks (name, requested_at) VALUES ('rebuild_rollups', 0)
    ON CONFLICT (name) DO NOTHING;

-- SQLite twin of migrations/postgres/20261123000004_usage.sql (see migrations/README.md).
-- Usage records and their daily rollups.
--
-- Instants are Unix seconds (BIGINT) on both engines: one SQL text for SQLite and
-- PostgreSQL, exact equality inside the record identity, and small indexes at tens of
-- millions of rows.
--
-- Quantities: each record keeps its quantity as exact decimal text (canonical form of
-- what Azure Stack sent). Rollups must be summed inside the upsert, which neither engine
-- can do exactly on text, so they hold a fixed-point number with 18 decimal places in two
-- integers: quantity = quantity_whole + quantity_atto / 10^18, 0 <= quantity_atto < 10^18.
-- Integer addition is exact on both engines; rounding a record to 10^-18 of a unit (at
-- most 5 x 10^-19 per record) is the only approximation and is far below any price.

-- One row per committed ingestion batch (a usage-API page, a request, a chunk of a file):
-- what it was, who sent it and what happened to its records. A batch's records, rollup
-- updates and this row commit together.
CREATE TABLE ingest_batches (
    id              INTEGER PRIMARY KEY,
    -- 'reprocess': quarantined records accepted after a fix.
    source          TEXT NOT NULL CHECK (source IN ('pull', 'push', 'import', 'demo', 'reprocess')),
    registration_id BIGINT REFERENCES registrations (id),
    -- Who sent it: 'user:12', 'token:3', 'cli', 'collector'.
    actor           TEXT NOT NULL,
    -- File name, reported window or request description.
    label           TEXT NOT NULL DEFAULT '',
    accepted        BIGINT NOT NULL,
    duplicates      BIGINT NOT NULL,
    corrected       BIGINT NOT NULL,
    quarantined     BIGINT NOT NULL,
    committed_at    BIGINT NOT NULL
);
CREATE INDEX ingest_batches_committed_at ON ingest_batches (committed_at);

-- Resources seen in usage, per user subscription. ARM resource IDs are case-insensitive
-- (the same response spells /resourceGroups/ and /resourcegroups/), so the key is the
-- lower-cased URI; the URI as first seen is kept for display.
CREATE TABLE usage_resources (
    id                   INTEGER PRIMARY KEY,
    user_subscription_id BIGINT NOT NULL REFERENCES user_subscriptions (id),
    resource_key         TEXT NOT NULL,
    resource_uri         TEXT NOT NULL,
    location             TEXT NOT NULL DEFAULT '',
    UNIQUE (user_subscription_id, resource_key),
    -- Lets a usage record reference its resource and user subscription as one pair.
    UNIQUE (id, user_subscription_id)
);

-- One row per distinct usage record. `identity_key` identifies it: the hour of its usage
-- start (4 bytes) and 96 bits of a SHA-256 of the record identity (user subscription,
-- normalised meter, usage start, usage end, resource URI, additional info). Azure's own
-- id/name are not unique, a hash keeps the unique index small, and the hour prefix keeps
-- inserts at the index's right edge (cost independent of table size) and makes the same
-- index the access path for raw records by time (a key range per hour range). There is
-- deliberately no other index: every one costs each of millions of inserts, and
-- dashboards and invoices read the rollups.
CREATE TABLE usage_records (
    id                   INTEGER PRIMARY KEY,
    identity_key         BLOB NOT NULL UNIQUE,
    user_subscription_id BIGINT NOT NULL,
    meter_id             TEXT NOT NULL REFERENCES meters (id),
    resource_id          BIGINT NOT NULL,
    usage_start_at       BIGINT NOT NULL,
    usage_end_at         BIGINT NOT NULL,
    quantity             TEXT NOT NULL,
    additional_info      TEXT NOT NULL DEFAULT '',
    tags                 TEXT NOT NULL DEFAULT '',
    -- Start of the reported window the record was pulled from, or when a pushed or
    -- imported record entered Stackbill (unless it carried its own).
    reported_at          BIGINT NOT NULL,
    ingested_at          BIGINT NOT NULL,
    CHECK (usage_end_at > usage_start_at),
    -- One foreign key for both: the resource exists, belongs to this user subscription
    -- (so that exists too), and each insert pays for one check instead of two.
    FOREIGN KEY (resource_id, user_subscription_id) REFERENCES usage_resources (id, user_subscription_id)
);

-- The same record identity delivered again with another quantity is a correction: the
-- record keeps the latest quantity and this table keeps what it replaced, when and by
-- which batch.
CREATE TABLE usage_corrections (
    id              INTEGER PRIMARY KEY,
    usage_record_id BIGINT NOT NULL REFERENCES usage_records (id),
    old_quantity    TEXT NOT NULL,
    new_quantity    TEXT NOT NULL,
    batch_id        BIGINT NOT NULL REFERENCES ingest_batches (id),
    corrected_at    BIGINT NOT NULL
);
CREATE INDEX usage_corrections_record ON usage_corrections (usage_record_id);

-- Daily rollup per (UTC day of usage start, user subscription, meter): what invoices and
-- dashboards read instead of hourly rows. Updated in the same transaction as the records.
-- The primary key starts with the day: the rows an ingestion updates (the days being
-- reported, usually today) sit together at the end of the key, so the pages it touches
-- do not grow with the history stored and ingest cost stays flat at any table size.
CREATE TABLE usage_daily (
    usage_on             TEXT NOT NULL,
    user_subscription_id BIGINT NOT NULL REFERENCES user_subscriptions (id),
    meter_id             TEXT NOT NULL REFERENCES meters (id),
    quantity_whole       BIGINT NOT NULL,
    quantity_atto        BIGINT NOT NULL CHECK (quantity_atto >= 0 AND quantity_atto < 1000000000000000000),
    record_count         BIGINT NOT NULL,
    PRIMARY KEY (usage_on, user_subscription_id, meter_id)
);
-- One subscription's days (a customer's dashboards and invoices).
CREATE INDEX usage_daily_subscription ON usage_daily (user_subscription_id, usage_on);

-- The same per resource, for the dashboards' top-resources views.
CREATE TABLE usage_daily_by_resource (
    usage_on       TEXT NOT NULL,
    resource_id    BIGINT NOT NULL REFERENCES usage_resources (id),
    meter_id       TEXT NOT NULL REFERENCES meters (id),
    quantity_whole BIGINT NOT NULL,
    quantity_atto  BIGINT NOT NULL CHECK (quantity_atto >= 0 AND quantity_atto < 1000000000000000000),
    record_count   BIGINT NOT NULL,
    PRIMARY KEY (usage_on, resource_id, meter_id)
);
-- One resource's days.
CREATE INDEX usage_daily_by_resource_resource ON usage_daily_by_resource (resource_id, usage_on);

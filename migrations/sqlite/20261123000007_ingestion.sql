-- SQLite twin of migrations/postgres/20261123000007_ingestion.sql (see migrations/README.md).
-- Ingestion: the quarantine, the collector's configuration and its progress.

-- Records that could not be accepted as they were (bad GUID, negative quantity, end
-- before start, unparseable instanceData, missing fields). Never dropped: kept with their
-- raw text and the reason until an operator reprocesses them after a fix or discards them.
CREATE TABLE usage_quarantine (
    id              INTEGER PRIMARY KEY,
    batch_id        BIGINT NOT NULL REFERENCES ingest_batches (id),
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    -- 0-based position of the record in its document or request.
    record_index    BIGINT NOT NULL,
    -- How to read `raw` again: a JSON record, or a one-row CSV with its header line.
    format          TEXT NOT NULL CHECK (format IN ('json', 'csv')),
    raw             TEXT NOT NULL,
    -- SHA-256 of `raw`: the same bad record sent again is not quarantined twice.
    raw_hash        BLOB NOT NULL,
    reason          TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    resolved_at     BIGINT,
    resolution      TEXT CHECK (resolution IN ('reprocessed', 'discarded')),
    resolved_by     TEXT,
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE INDEX usage_quarantine_open ON usage_quarantine (registration_id, resolved_at, id);
CREATE UNIQUE INDEX usage_quarantine_open_raw
    ON usage_quarantine (registration_id, raw_hash) WHERE resolved_at IS NULL;

-- Where the collector reads a registration's usage: the Azure Stack admin endpoint
-- (https://adminmanagement.{region}.{fqdn}) and the Default Provider Subscription. The
-- bearer token is never stored: either the name of an environment variable holding it or
-- a command that prints one (e.g. an Azure CLI call), run when a token is needed.
ALTER TABLE registrations ADD COLUMN usage_endpoint TEXT;
ALTER TABLE registrations ADD COLUMN provider_subscription_id TEXT;
ALTER TABLE registrations ADD COLUMN token_env TEXT;
ALTER TABLE registrations ADD COLUMN token_command TEXT;

-- The collector's progress per registration. watermark_at is the exclusive end of the
-- last reported window whose records are stored; it only moves in the same transaction
-- as that window's records, so a crash resumes with no gap and no duplicate.
CREATE TABLE collector_state (
    registration_id     BIGINT PRIMARY KEY REFERENCES registrations (id),
    watermark_at        BIGINT NOT NULL,
    last_success_at     BIGINT,
    last_error_at       BIGINT,
    last_error          TEXT,
    last_window_records BIGINT NOT NULL DEFAULT 0,
    updated_at          BIGINT NOT NULL
);

-- One row per collected reported window: what it brought.
CREATE TABLE collector_windows (
    registration_id  BIGINT NOT NULL REFERENCES registrations (id),
    window_start_at  BIGINT NOT NULL,
    window_end_at    BIGINT NOT NULL,
    pages            BIGINT NOT NULL,
    records          BIGINT NOT NULL,
    accepted         BIGINT NOT NULL,
    duplicates       BIGINT NOT NULL,
    corrected        BIGINT NOT NULL,
    quarantined      BIGINT NOT NULL,
    completed_at     BIGINT NOT NULL,
    PRIMARY KEY (registration_id, window_start_at),
    CHECK (window_end_at > window_start_at)
);

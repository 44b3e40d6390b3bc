-- SQLite twin of migrations/postgres/20261123000002_price_sheets.sql (see migrations/README.md).
-- Price sheets: prices per meter in one currency, in effective-dated versions.
CREATE TABLE price_sheets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

-- A version is in effect over the half-open day range [effective_on, ended_on) in UTC;
-- ended_on is NULL for the open-ended latest version. Versions of one sheet never
-- overlap: the service checks that through billing::PriceSheet before writing, and the
-- unique key below stops two versions starting on the same day even under a race.
-- Boundaries are whole UTC days because invoices are rated from daily rollups.
CREATE TABLE price_sheet_versions (
    id             INTEGER PRIMARY KEY,
    price_sheet_id BIGINT NOT NULL REFERENCES price_sheets (id) ON DELETE CASCADE,
    effective_on   TEXT NOT NULL,
    ended_on       TEXT,
    note           TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    UNIQUE (price_sheet_id, effective_on),
    CHECK (ended_on IS NULL OR ended_on > effective_on)
);

-- One price per meter per version. `pricing` holds the JSON form of the closed enum
-- billing::PricingModel (per-unit, graduated, volume, package) and is parsed back through
-- it, so an entry that does not parse is an error, never a silent zero. Prices are exact
-- decimal text inside that JSON; nothing here is a float.
CREATE TABLE price_sheet_entries (
    id              INTEGER PRIMARY KEY,
    version_id      BIGINT NOT NULL REFERENCES price_sheet_versions (id) ON DELETE CASCADE,
    meter_id        TEXT NOT NULL REFERENCES meters (id),
    pricing         TEXT NOT NULL,
    -- The unit the price is quoted in ("GB-month") and how it relates to the meter's
    -- usage unit (JSON of billing::UnitConversion).
    billing_unit    TEXT NOT NULL DEFAULT '',
    unit_conversion TEXT NOT NULL DEFAULT '{"kind":"none"}',
    UNIQUE (version_id, meter_id)
);

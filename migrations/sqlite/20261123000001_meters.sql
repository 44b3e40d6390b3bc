-- SQLite twin of migrations/postgres/20261123000001_meters.sql (see migrations/README.md).
-- The meter catalogue.
--
-- Meter IDs are stored normalised (lower case, hyphenated, 36 characters) so that usage
-- that spells an ID in upper case or without hyphens joins to its meter. The catalogue
-- rows come from the Azure Stack usage FAQ (synchronised by `stackbill migrate`); meters
-- first seen in usage (custom App Service worker tiers, new resource providers) are added
-- with origin 'discovered' instead of the usage being rejected.
CREATE TABLE meters (
    id          TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    name        TEXT NOT NULL,
    unit        TEXT NOT NULL,
    service     TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- 'report_only' meters are shown but never charged (VM size hours would charge
    -- every VM twice next to Base/Windows VM size hours).
    billing     TEXT NOT NULL CHECK (billing IN ('billable', 'report_only')),
    origin      TEXT NOT NULL CHECK (origin IN ('catalogue', 'discovered')),
    created_at  BIGINT NOT NULL
);

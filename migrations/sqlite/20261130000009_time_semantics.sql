-- SQLite twin of migrations/postgres/20261130000009_time_semantics.sql (see migrations/README.md).
-- Billing time semantics.
--
-- Every billing setting that can change — a tenant's customer subscription, a user
-- subscription's owner, a registration's default price sheet and tax rate, a customer's
-- sheet, markup, minimum charge and tax rate, a meter's billable flag — is kept as a log
-- of changes "from day D on, the value is V", folded by day in app/src/billing/dated.rs:
-- the change recorded last for a day replaces the others for that whole day, and every
-- change stays in its log with when and by whom it was recorded. Rating reads every term
-- by usage day, so re-rating a month after a later change gives the same result.

-- The first day billing may be dated on a registration: no mapping, ownership or pricing
-- change may start before it. Existing registrations get no bound.
ALTER TABLE registrations ADD COLUMN active_from TEXT NOT NULL DEFAULT '1970-01-01';

-- Billing periods closed on a registration: invoicing locks a period when it issues its
-- first invoice there and unlocks it when the last one is voided. While locked, no change
-- may be dated inside the period (it would silently alter issued invoices).
CREATE TABLE period_locks (
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    period_start    TEXT NOT NULL,
    locked_at       BIGINT NOT NULL,
    locked_by       TEXT NOT NULL,
    PRIMARY KEY (registration_id, period_start)
);

-- Tenant -> customer subscription changes per registration, as recorded. subscription_id
-- NULL is an unmap (the tenant falls back to the base subscription from that day).
-- Append-only; the intervals in customer_subscriptions are derived from it.
CREATE TABLE mapping_changes (
    id              INTEGER PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    cloud_tenant_id BIGINT NOT NULL REFERENCES cloud_tenants (id),
    subscription_id TEXT CHECK (subscription_id IS NULL OR length(subscription_id) = 36),
    effective_on    TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    -- 'user:12', 'token:3', 'cli' or 'system'; the label keeps the email or name then.
    actor           TEXT NOT NULL,
    actor_label     TEXT NOT NULL DEFAULT '',
    -- Where it came from: 'console', 'api', 'azure', 'csv', 'cli', 'demo', 'migration'.
    source          TEXT NOT NULL
);
-- A tenant's log in recording order (the fold needs that order).
CREATE INDEX mapping_changes_tenant ON mapping_changes (registration_id, cloud_tenant_id, id);

INSERT INTO mapping_changes (registration_id, cloud_tenant_id, subscription_id, effective_on, recorded_at, actor, source)
SELECT registration_id, cloud_tenant_id, subscription_id, effective_on, created_at, 'system', 'migration'
FROM customer_subscriptions ORDER BY id;
INSERT INTO mapping_changes (registration_id, cloud_tenant_id, subscription_id, effective_on, recorded_at, actor, source)
SELECT cs.registration_id, cs.cloud_tenant_id, NULL, cs.ended_on, cs.created_at, 'system', 'migration'
FROM customer_subscriptions cs
WHERE cs.ended_on IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM customer_subscriptions n
    WHERE n.registration_id = cs.registration_id AND n.cloud_tenant_id = cs.cloud_tenant_id
      AND n.effective_on = cs.ended_on);

-- A customer subscription belongs to one cloud tenant on a registration. The mapping
-- intervals reference this row with their tenant, so the schema itself refuses a second
-- tenant on the same subscription. A binding is released when no interval uses it any
-- more (a mistaken mapping replaced the same day). Should older data already share a
-- subscription between tenants, the lowest tenant id keeps it; the others' intervals are
-- not carried over (their changes stay in mapping_changes).
CREATE TABLE customer_subscription_tenants (
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    subscription_id TEXT NOT NULL CHECK (length(subscription_id) = 36),
    cloud_tenant_id BIGINT NOT NULL REFERENCES cloud_tenants (id),
    PRIMARY KEY (registration_id, subscription_id),
    UNIQUE (registration_id, subscription_id, cloud_tenant_id)
);
INSERT INTO customer_subscription_tenants (registration_id, subscription_id, cloud_tenant_id)
SELECT registration_id, subscription_id, MIN(cloud_tenant_id) FROM customer_subscriptions
GROUP BY registration_id, subscription_id;

-- The mapping intervals, now derived from mapping_changes (rewritten for a tenant on every
-- change) and tied to the subscription's tenant. Same columns as before.
CREATE TABLE customer_subscriptions_v2 (
    id              INTEGER PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    cloud_tenant_id BIGINT NOT NULL REFERENCES cloud_tenants (id),
    subscription_id TEXT NOT NULL CHECK (length(subscription_id) = 36),
    effective_on    TEXT NOT NULL,
    ended_on        TEXT,
    created_at      BIGINT NOT NULL,
    CHECK (ended_on IS NULL OR ended_on > effective_on),
    FOREIGN KEY (registration_id, subscription_id, cloud_tenant_id)
        REFERENCES customer_subscription_tenants (registration_id, subscription_id, cloud_tenant_id)
);
INSERT INTO customer_subscriptions_v2 (registration_id, cloud_tenant_id, subscription_id, effective_on, ended_on, created_at)
SELECT cs.registration_id, cs.cloud_tenant_id, cs.subscription_id, cs.effective_on, cs.ended_on, cs.created_at
FROM customer_subscriptions cs
JOIN customer_subscription_tenants b ON b.registration_id = cs.registration_id
    AND b.subscription_id = cs.subscription_id AND b.cloud_tenant_id = cs.cloud_tenant_id;
DROP TABLE customer_subscriptions;
ALTER TABLE customer_subscriptions_v2 RENAME TO customer_subscriptions;
-- One current mapping per tenant per registration.
CREATE UNIQUE INDEX customer_subscriptions_current
    ON customer_subscriptions (registration_id, cloud_tenant_id) WHERE ended_on IS NULL;
-- A tenant's intervals (its customer pages, rating one customer).
CREATE INDEX customer_subscriptions_tenant ON customer_subscriptions (cloud_tenant_id, registration_id, effective_on);
-- A registration's intervals overlapping a period (rating a registration).
CREATE INDEX customer_subscriptions_registration ON customer_subscriptions (registration_id, effective_on);

-- User subscription -> cloud tenant changes, as recorded; cloud_tenant_id NULL means no
-- owner from that day (unassigned). user_subscription_owners holds the derived intervals.
CREATE TABLE ownership_changes (
    id                   INTEGER PRIMARY KEY,
    user_subscription_id BIGINT NOT NULL REFERENCES user_subscriptions (id) ON DELETE CASCADE,
    cloud_tenant_id      BIGINT REFERENCES cloud_tenants (id),
    effective_on         TEXT NOT NULL,
    recorded_at          BIGINT NOT NULL,
    actor                TEXT NOT NULL,
    actor_label          TEXT NOT NULL DEFAULT '',
    -- 'stamp' (learned from the stamp's subscription list), 'console', 'api', 'cli',
    -- 'demo', 'migration'.
    source               TEXT NOT NULL
);
CREATE INDEX ownership_changes_subscription ON ownership_changes (user_subscription_id, id);

INSERT INTO ownership_changes (user_subscription_id, cloud_tenant_id, effective_on, recorded_at, actor, source)
SELECT user_subscription_id, cloud_tenant_id, effective_on, created_at, 'system', 'migration'
FROM user_subscription_owners ORDER BY id;
INSERT INTO ownership_changes (user_subscription_id, cloud_tenant_id, effective_on, recorded_at, actor, source)
SELECT o.user_subscription_id, NULL, o.ended_on, o.created_at, 'system', 'migration'
FROM user_subscription_owners o
WHERE o.ended_on IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM user_subscription_owners n
    WHERE n.user_subscription_id = o.user_subscription_id AND n.effective_on = o.ended_on);

-- A registration's terms from a day on: the default price sheet (NULL: none, every
-- billable meter unpriced) and the tax rate in percent on its base subscription's
-- invoices (exact decimal text). Each row is the whole set, so one change is one row.
CREATE TABLE registration_terms (
    id              INTEGER PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    effective_on    TEXT NOT NULL,
    price_sheet_id  BIGINT REFERENCES price_sheets (id),
    tax_rate        TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    actor_label     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registration_terms_registration ON registration_terms (registration_id, id);
INSERT INTO registration_terms (registration_id, effective_on, price_sheet_id, tax_rate, recorded_at, actor)
SELECT id, '1970-01-01', price_sheet_id, base_tax_rate, created_at, 'system' FROM registrations;

-- A customer's terms from a day on: its own price sheet (NULL: the registration's default
-- sheet with the adjustments), the overall markup (+) or discount (-) in percent on the
-- default sheet (NULL: none), the minimum charge per monthly invoice (NULL: none) and
-- the tax rate in percent; amounts and rates are exact decimal text.
CREATE TABLE customer_terms (
    id                     INTEGER PRIMARY KEY,
    customer_id            BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    effective_on           TEXT NOT NULL,
    price_sheet_id         BIGINT REFERENCES price_sheets (id),
    adjustment_percent     TEXT,
    minimum_monthly_charge TEXT,
    tax_rate               TEXT NOT NULL,
    recorded_at            BIGINT NOT NULL,
    actor                  TEXT NOT NULL,
    actor_label            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX customer_terms_customer ON customer_terms (customer_id, id);
-- Per-meter percentages of one terms row; a meter's own percentage replaces the overall one.
CREATE TABLE customer_terms_meter_adjustments (
    customer_terms_id BIGINT NOT NULL REFERENCES customer_terms (id) ON DELETE CASCADE,
    meter_id          TEXT NOT NULL REFERENCES meters (id),
    percent           TEXT NOT NULL,
    PRIMARY KEY (customer_terms_id, meter_id)
);
INSERT INTO customer_terms (customer_id, effective_on, price_sheet_id, adjustment_percent, minimum_monthly_charge, tax_rate, recorded_at, actor)
SELECT c.id, '1970-01-01', c.price_sheet_id,
       (SELECT a.percent FROM customer_price_adjustments a WHERE a.customer_id = c.id AND a.meter_id IS NULL),
       c.minimum_monthly_charge, c.tax_rate, c.created_at, 'system'
FROM customers c;
INSERT INTO customer_terms_meter_adjustments (customer_terms_id, meter_id, percent)
SELECT t.id, a.meter_id, a.percent FROM customer_price_adjustments a
JOIN customer_terms t ON t.customer_id = a.customer_id WHERE a.meter_id IS NOT NULL;

-- The undated columns those tables replace. SQLite cannot drop a column with a foreign
-- key, so the two sheet columns are emptied and renamed rather than dropped; nothing
-- reads them.
DROP TABLE customer_price_adjustments;
ALTER TABLE customers DROP COLUMN minimum_monthly_charge;
ALTER TABLE customers DROP COLUMN tax_rate;
UPDATE customers SET price_sheet_id = NULL;
ALTER TABLE customers RENAME COLUMN price_sheet_id TO retired_price_sheet_id;
ALTER TABLE registrations DROP COLUMN base_tax_rate;
UPDATE registrations SET price_sheet_id = NULL;
ALTER TABLE registrations RENAME COLUMN price_sheet_id TO retired_price_sheet_id;

-- A meter's billable/report-only mode: the catalogue's default, and the operator's
-- effective-dated changes on top of it.
ALTER TABLE meters RENAME COLUMN billing TO default_billing;
CREATE TABLE meter_billing_changes (
    id           INTEGER PRIMARY KEY,
    meter_id     TEXT NOT NULL REFERENCES meters (id),
    effective_on TEXT NOT NULL,
    billing      TEXT NOT NULL CHECK (billing IN ('billable', 'report_only')),
    recorded_at  BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    actor_label  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX meter_billing_changes_meter ON meter_billing_changes (meter_id, id);

-- The second migration gave unit_conversion a default that is not a UnitConversion
-- ('{"kind":"none"}'), so an entry inserted without one could not be read back. The table
-- is rebuilt with the identity conversion as default (SQLite cannot alter a default) and
-- the rows that took the old default are repaired.
CREATE TABLE price_sheet_entries_v2 (
    id              INTEGER PRIMARY KEY,
    version_id      BIGINT NOT NULL REFERENCES price_sheet_versions (id) ON DELETE CASCADE,
    meter_id        TEXT NOT NULL REFERENCES meters (id),
    pricing         TEXT NOT NULL,
    billing_unit    TEXT NOT NULL DEFAULT '',
    unit_conversion TEXT NOT NULL DEFAULT '{"factor":"1","per_period_hours":false}',
    UNIQUE (version_id, meter_id)
);
INSERT INTO price_sheet_entries_v2 (version_id, meter_id, pricing, billing_unit, unit_conversion)
SELECT version_id, meter_id, pricing, billing_unit,
       CASE WHEN unit_conversion = '{"kind":"none"}' THEN '{"factor":"1","per_period_hours":false}'
            ELSE unit_conversion END
FROM price_sheet_entries ORDER BY id;
DROP TABLE price_sheet_entries;
ALTER TABLE price_sheet_entries_v2 RENAME TO price_sheet_entries;

-- Stale deliveries: records reported earlier than the stored ones, which change nothing.
ALTER TABLE ingest_batches ADD COLUMN stale BIGINT NOT NULL DEFAULT 0;
ALTER TABLE collector_windows ADD COLUMN stale BIGINT NOT NULL DEFAULT 0;

-- Exact rollups. quantity = quantity_whole + quantity_atto / 10^18 + quantity_frac / 10^28:
-- 28 decimal places, every digit a usage quantity can carry, so a rollup is the exact sum
-- of its records however they were batched. The upsert adds each part and carries.
ALTER TABLE usage_daily ADD COLUMN quantity_frac BIGINT NOT NULL DEFAULT 0
    CHECK (quantity_frac >= 0 AND quantity_frac < 10000000000);
ALTER TABLE usage_daily_by_resource ADD COLUMN quantity_frac BIGINT NOT NULL DEFAULT 0
    CHECK (quantity_frac >= 0 AND quantity_frac < 10000000000);
-- The length of the usage buckets of a resource's meter on a day (3600 hourly, 86400
-- daily; 0 before this was recorded). Hourly and daily records of the same resource and
-- meter over the same hours would bill the usage twice: a record whose bucket length
-- differs from the day's is quarantined instead.
ALTER TABLE usage_daily_by_resource ADD COLUMN bucket_secs BIGINT NOT NULL DEFAULT 0;

-- Work the application runs once after migrating (a migration cannot run Rust): the
-- rollups are rebuilt exactly from the records they sum.
CREATE TABLE maintenance_tasks (
    name         TEXT NOT NULL PRIMARY KEY,
    requested_at BIGINT NOT NULL
);
INSERT INTO maintenance_tasks (name, requested_at) VALUES ('rebuild_rollups', 0);

-- One collector run per registration at a time: the scheduler in `serve` and a manual
-- `stackbill pull` take this lease (renewed while they work, expiring if a run dies) so
-- that two runs never interleave and move the watermark backwards.
CREATE TABLE collector_leases (
    registration_id BIGINT NOT NULL PRIMARY KEY REFERENCES registrations (id),
    holder          TEXT NOT NULL,
    acquired_at     BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);

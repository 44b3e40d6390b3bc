-- SQLite twin of migrations/postgres/20261123000003_registrations_customers.sql (see migrations/README.md).
-- Registrations, customers, cloud tenants, and the two effective-dated links of the
-- billing chain: user subscription -> cloud tenant -> customer subscription (or base).

-- A CSP's registration of one Azure Stack Hub stamp. Usage that no customer subscription
-- claims is billed to its base subscription.
CREATE TABLE registrations (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    base_subscription_id TEXT NOT NULL CHECK (length(base_subscription_id) = 36),
    resource_group       TEXT NOT NULL DEFAULT 'azurestack',
    currency             TEXT NOT NULL CHECK (length(currency) = 3),
    -- The default price sheet; NULL leaves every billable meter unpriced (shown as such).
    price_sheet_id       BIGINT REFERENCES price_sheets (id),
    -- Tax rate in percent applied to the base subscription's invoice (exact decimal text).
    base_tax_rate        TEXT NOT NULL DEFAULT '0',
    created_at           BIGINT NOT NULL
);

-- An Azure AD (Entra ID) directory. Tenants exist without a customer when they are only
-- known from the stamp's user subscriptions.
CREATE TABLE cloud_tenants (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL UNIQUE CHECK (length(tenant_id) = 36),
    display_name TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);

-- The party the CSP bills. A customer owns exactly one cloud tenant.
CREATE TABLE customers (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL,
    cloud_tenant_id        BIGINT NOT NULL UNIQUE REFERENCES cloud_tenants (id),
    billing_email          TEXT NOT NULL DEFAULT '',
    billing_address        TEXT NOT NULL DEFAULT '',
    -- Language of the customer's portal and documents (BCP 47: en, fr, nl, zh-TW, zh-CN).
    locale                 TEXT NOT NULL DEFAULT 'en',
    -- Own price sheet; NULL means the registration's default sheet (plus adjustments).
    price_sheet_id         BIGINT REFERENCES price_sheets (id),
    -- Minimum monthly charge in the invoice currency (exact decimal text); NULL = none.
    minimum_monthly_charge TEXT,
    -- Tax rate in percent (exact decimal text), applied once per invoice.
    tax_rate               TEXT NOT NULL DEFAULT '0',
    created_at             BIGINT NOT NULL,
    archived_at            BIGINT
);

-- Markup (positive) or discount (negative) percentages on the default price sheet;
-- meter_id NULL is the customer's overall adjustment.
CREATE TABLE customer_price_adjustments (
    id          INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    meter_id    TEXT REFERENCES meters (id),
    percent     TEXT NOT NULL
);
-- At most one overall and one per-meter adjustment per customer (NULLs are distinct in a
-- plain unique key, hence two partial indexes).
CREATE UNIQUE INDEX customer_price_adjustments_overall
    ON customer_price_adjustments (customer_id) WHERE meter_id IS NULL;
CREATE UNIQUE INDEX customer_price_adjustments_per_meter
    ON customer_price_adjustments (customer_id, meter_id) WHERE meter_id IS NOT NULL;

-- Customer subscription mappings with history: a cloud tenant's CSP subscription on a
-- registration over the half-open day range [effective_on, ended_on). Re-mapping ends the
-- current row and inserts a new one (Azure's PUT replaces the previous subscription).
CREATE TABLE customer_subscriptions (
    id              INTEGER PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    cloud_tenant_id BIGINT NOT NULL REFERENCES cloud_tenants (id),
    subscription_id TEXT NOT NULL CHECK (length(subscription_id) = 36),
    effective_on    TEXT NOT NULL,
    ended_on        TEXT,
    created_at      BIGINT NOT NULL,
    CHECK (ended_on IS NULL OR ended_on > effective_on)
);
-- One current mapping per tenant per registration.
CREATE UNIQUE INDEX customer_subscriptions_current
    ON customer_subscriptions (registration_id, cloud_tenant_id) WHERE ended_on IS NULL;
CREATE INDEX customer_subscriptions_tenant ON customer_subscriptions (cloud_tenant_id);

-- Subscriptions on the stamp, as they appear in usage records. A subscription that usage
-- mentions before anyone knows its owner is created here with no owner: *unassigned*,
-- billed to the base subscription, never dropped.
CREATE TABLE user_subscriptions (
    id              INTEGER PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    subscription_id TEXT NOT NULL CHECK (length(subscription_id) = 36),
    display_name    TEXT NOT NULL DEFAULT '',
    owner_email     TEXT NOT NULL DEFAULT '',
    offer           TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT '',
    first_seen_at   BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (registration_id, subscription_id)
);

-- Which cloud tenant owns a user subscription over [effective_on, ended_on). History is
-- kept because deleted subscriptions disappear from the stamp's list but their usage
-- still has to be billed to the tenant that owned them.
CREATE TABLE user_subscription_owners (
    id                   INTEGER PRIMARY KEY,
    user_subscription_id BIGINT NOT NULL REFERENCES user_subscriptions (id) ON DELETE CASCADE,
    cloud_tenant_id      BIGINT NOT NULL REFERENCES cloud_tenants (id),
    effective_on         TEXT NOT NULL,
    ended_on             TEXT,
    created_at           BIGINT NOT NULL,
    CHECK (ended_on IS NULL OR ended_on > effective_on)
);
CREATE UNIQUE INDEX user_subscription_owners_current
    ON user_subscription_owners (user_subscription_id) WHERE ended_on IS NULL;
CREATE INDEX user_subscription_owners_tenant ON user_subscription_owners (cloud_tenant_id);

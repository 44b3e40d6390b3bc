-- SQLite twin of migrations/postgres/20261201000012_invoices.sql (see migrations/README.md).
-- Invoices: month-end runs make drafts; issuing numbers and freezes them; voiding issues a
-- credit note. An issued invoice or credit note is a document: the triggers at the end make
-- the database itself refuse to change or delete it (or its lines), whatever code asks.

-- Where a registration's invoice numbers start (`{prefix}-{year}-{000001}`); NULL: the
-- installation's STACKBILL_INVOICE_PREFIX.
ALTER TABLE registrations ADD COLUMN invoice_prefix TEXT;

-- One gapless series per prefix and year: a number is taken in the transaction that
-- issues the document, so a rolled-back issue leaves no hole.
CREATE TABLE invoice_sequences (
    prefix     TEXT NOT NULL,
    year       INTEGER NOT NULL,
    last_value BIGINT NOT NULL,
    PRIMARY KEY (prefix, year)
);

-- Each run of a period (CLI, screen or API), for its history and progress.
CREATE TABLE invoice_runs (
    id              INTEGER PRIMARY KEY,
    period_start    TEXT NOT NULL,
    registration_id BIGINT REFERENCES registrations (id),
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    drafts          BIGINT NOT NULL DEFAULT 0,
    actor           TEXT NOT NULL
);

CREATE TABLE invoices (
    id                      INTEGER PRIMARY KEY,
    registration_id         BIGINT NOT NULL REFERENCES registrations (id),
    period_start            TEXT NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    status                  TEXT NOT NULL CHECK (status IN ('draft', 'issued', 'void')),
    number                  TEXT UNIQUE,
    -- 'customer' (a customer subscription's invoice) or 'base' (the registration's base
    -- subscription: fallback tenants and unassigned usage, each in its own section).
    account_kind            TEXT NOT NULL CHECK (account_kind IN ('customer', 'base')),
    billing_subscription_id TEXT NOT NULL CHECK (length(billing_subscription_id) = 36),
    customer_id             BIGINT REFERENCES customers (id),
    -- JSON: name, address, email, tax id, cloud tenant — as they were when issued.
    bill_to                 TEXT NOT NULL,
    locale                  TEXT NOT NULL,
    currency                TEXT NOT NULL,
    subtotal                TEXT NOT NULL,
    tax_rate                TEXT NOT NULL,
    tax                     TEXT NOT NULL,
    total                   TEXT NOT NULL,
    -- JSON list of usage with no price (listed, never charged).
    unpriced                TEXT NOT NULL DEFAULT '[]',
    issued_at               BIGINT,
    due_on                  TEXT,
    credit_for              BIGINT REFERENCES invoices (id),
    voided_by               BIGINT REFERENCES invoices (id),
    run_id                  BIGINT REFERENCES invoice_runs (id),
    created_at              BIGINT NOT NULL,
    CHECK ((status = 'draft') = (number IS NULL)),
    CHECK ((kind = 'credit_note') = (credit_for IS NOT NULL))
);
CREATE INDEX invoices_period ON invoices (period_start, registration_id, status);
CREATE INDEX invoices_customer ON invoices (customer_id, period_start);
-- At most one live (issued) invoice per account and period; drafts are replaced by runs.
CREATE UNIQUE INDEX invoices_one_issued ON invoices (registration_id, period_start, billing_subscription_id)
    WHERE kind = 'invoice' AND status = 'issued';

CREATE TABLE invoice_lines (
    invoice_id         BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position           INTEGER NOT NULL,
    -- 'usage', 'minimum_charge' or 'adjustment'.
    line_kind          TEXT NOT NULL CHECK (line_kind IN ('usage', 'minimum_charge', 'adjustment')),
    -- 'tenant' (cloud_tenant_id says whose), 'unassigned' or '' (invoice-wide lines).
    section_kind       TEXT NOT NULL,
    cloud_tenant_id    TEXT,
    meter_id           TEXT,
    meter_name         TEXT NOT NULL DEFAULT '',
    service            TEXT NOT NULL DEFAULT '',
    quantity           TEXT,
    unit               TEXT NOT NULL DEFAULT '',
    unit_price         TEXT,
    precise_amount     TEXT NOT NULL,
    amount             TEXT NOT NULL,
    price_version_from TEXT,
    adjustment         TEXT,
    -- An adjustment line's original invoice number.
    refers_to          TEXT,
    PRIMARY KEY (invoice_id, position)
);

-- engine: sqlite only
-- The triggers (each engine spells them its own way; migrations/README.md): an issued
-- invoice changes only from issued to void, naming its credit note; a draft is free.
CREATE TRIGGER invoices_frozen_update BEFORE UPDATE ON invoices
WHEN OLD.status <> 'draft' AND NOT (
        OLD.status = 'issued' AND NEW.status = 'void' AND OLD.kind = 'invoice'
        AND OLD.voided_by IS NULL AND NEW.voided_by IS NOT NULL
        AND NEW.id IS OLD.id AND NEW.registration_id IS OLD.registration_id
        AND NEW.period_start IS OLD.period_start AND NEW.kind IS OLD.kind
        AND NEW.number IS OLD.number AND NEW.account_kind IS OLD.account_kind
        AND NEW.billing_subscription_id IS OLD.billing_subscription_id
        AND NEW.customer_id IS OLD.customer_id AND NEW.bill_to IS OLD.bill_to
        AND NEW.locale IS OLD.locale AND NEW.currency IS OLD.currency
        AND NEW.subtotal IS OLD.subtotal AND NEW.tax_rate IS OLD.tax_rate
        AND NEW.tax IS OLD.tax AND NEW.total IS OLD.total AND NEW.unpriced IS OLD.unpriced
        AND NEW.issued_at IS OLD.issued_at AND NEW.due_on IS OLD.due_on
        AND NEW.credit_for IS OLD.credit_for AND NEW.run_id IS OLD.run_id
        AND NEW.created_at IS OLD.created_at
)
BEGIN
    SELECT RAISE(ABORT, 'this invoice is issued and cannot change (void it instead)');
END;
CREATE TRIGGER invoices_frozen_delete BEFORE DELETE ON invoices
WHEN OLD.status <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'this invoice is issued and cannot be deleted');
END;
CREATE TRIGGER invoice_lines_frozen_insert BEFORE INSERT ON invoice_lines
WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'the lines of an issued invoice cannot change');
END;
CREATE TRIGGER invoice_lines_frozen_update BEFORE UPDATE ON invoice_lines
WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'the lines of an issued invoice cannot change');
END;
CREATE TRIGGER invoice_lines_frozen_delete BEFORE DELETE ON invoice_lines
WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'the lines of an issued invoice cannot change');
END;
-- engine: end

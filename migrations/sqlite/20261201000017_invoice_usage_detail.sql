-- SQLite twin of migrations/postgres/20261201000017_invoice_usage_detail.sql (see migrations/README.md).
-- An issued invoice's usage detail: what it charged, broken down by user subscription and
-- resource group, as it was on the day it was issued. Printed on the invoice's optional
-- detail pages; frozen with the invoice (late usage of its month becomes adjustment lines
-- on a later invoice, never a change here).
CREATE TABLE invoice_usage_detail (
    invoice_id           BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position             INTEGER NOT NULL,
    user_subscription_id TEXT NOT NULL,
    resource_group       TEXT NOT NULL,
    meter_id             TEXT NOT NULL,
    meter_name           TEXT NOT NULL,
    quantity             TEXT NOT NULL,
    unit                 TEXT NOT NULL,
    -- The user subscription's share of the money for this meter (on its first resource
    -- group's row; empty on the others), so each subscription's rows add up to its cost.
    amount               TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (invoice_id, position)
);

-- engine: sqlite only
CREATE TRIGGER invoice_usage_detail_frozen_insert BEFORE INSERT ON invoice_usage_detail
WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'the usage detail of an issued invoice cannot change');
END;
CREATE TRIGGER invoice_usage_detail_frozen_update BEFORE UPDATE ON invoice_usage_detail
WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'the usage detail of an issued invoice cannot change');
END;
CREATE TRIGGER invoice_usage_detail_frozen_delete BEFORE DELETE ON invoice_usage_detail
WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'the usage detail of an issued invoice cannot change');
END;
-- engine: end

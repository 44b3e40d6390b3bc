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

-- engine: postgres only
-- One guard for every table of an invoice's rows (its lines, now its usage detail): the
-- lines' function from migration 12, made to name the table it guards.
CREATE OR REPLACE FUNCTION invoice_lines_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        parent := NEW.invoice_id;
    ELSE
        parent := OLD.invoice_id;
    END IF;
    IF EXISTS (SELECT 1 FROM invoices WHERE id = parent AND status <> 'draft') THEN
        RAISE EXCEPTION 'the % of issued invoice % cannot change', TG_TABLE_NAME, parent;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoice_usage_detail_frozen BEFORE INSERT OR UPDATE OR DELETE ON invoice_usage_detail
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_frozen();
-- engine: end

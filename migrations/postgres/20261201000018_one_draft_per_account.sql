-- At most one draft per billing account and month, whatever runs overlap: a run replaces
-- the month's drafts under a lock on its registration, and the schema makes a second set
-- impossible should anything else try.
-- Drafts are disposable (the next run makes them again): should overlapping runs have left
-- two of an account, the older goes.
DELETE FROM invoices WHERE status = 'draft' AND kind = 'invoice' AND id NOT IN (
    SELECT MAX(id) FROM invoices WHERE status = 'draft' AND kind = 'invoice'
    GROUP BY registration_id, period_start, billing_subscription_id
);
CREATE UNIQUE INDEX invoices_one_draft ON invoices (registration_id, period_start, billing_subscription_id)
    WHERE status = 'draft' AND kind = 'invoice';

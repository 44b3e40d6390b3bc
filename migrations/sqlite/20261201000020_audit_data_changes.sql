-- SQLite twin of migrations/postgres/20261201000020_audit_data_changes.sql (see migrations/README.md).
-- The audit entries that can change what a rating gives (mappings, owners, prices, terms,
-- meters, customers, registrations, quarantine): the portal's cache keys its figures on
-- the newest of them (services::cache). Sign-ins, tokens, users, portal visits, budgets
-- and invoices are left out, so they do not throw the cache away. The partial index
-- answers "the newest such entry" from its right edge on both engines; a new kind of
-- entry is in it unless listed here, which is the safe side.
CREATE INDEX audit_log_data_changes ON audit_log (id)
    WHERE action NOT LIKE 'sign_in.%' AND action NOT LIKE 'token.%' AND action NOT LIKE 'user.%'
    AND action NOT LIKE 'portal.%' AND action NOT LIKE 'budget.%' AND action NOT LIKE 'invoice.%';

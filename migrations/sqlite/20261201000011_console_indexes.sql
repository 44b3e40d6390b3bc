-- SQLite twin of migrations/postgres/20261201000011_console_indexes.sql (see migrations/README.md).
-- The operator console's lists page and sort in the database; these indexes let a page be
-- read in index order (and stop after it) instead of sorting every row first.

-- Customers by name or by creation.
CREATE INDEX customers_name ON customers (name, id);
CREATE INDEX customers_created ON customers (created_at, id);

-- A user subscription found by its GUID (or the first characters of it) on any registration.
CREATE INDEX user_subscriptions_subscription ON user_subscriptions (subscription_id);

-- User subscriptions found by the beginning of their display name, without regard to case.
CREATE INDEX user_subscriptions_display_name ON user_subscriptions (LOWER(display_name));

-- SQLite twin of migrations/postgres/20261201000019_budgets.sql (see migrations/README.md).
-- A customer's monthly budget per billing account (its own customer subscription of a
-- registration, or the CSP's base subscription when it is billed through the base). The
-- portal shows the share of it used and warns when the forecast crosses it. Amounts are
-- exact decimal strings in the registration's currency; one budget per account.
CREATE TABLE budgets (
    id                      INTEGER PRIMARY KEY,
    customer_id             BIGINT NOT NULL REFERENCES customers (id),
    registration_id         BIGINT NOT NULL REFERENCES registrations (id),
    billing_subscription_id TEXT NOT NULL,
    amount                  TEXT NOT NULL,
    updated_at              BIGINT NOT NULL,
    UNIQUE (customer_id, registration_id, billing_subscription_id)
);

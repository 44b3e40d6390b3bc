-- SQLite twin of migrations/postgres/20261123000005_users_sessions_tokens.sql (see migrations/README.md).
-- People, their sessions, API tokens for scripts, and sign-in throttling.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    -- Stored lower-cased: the sign-in key.
    email           TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL DEFAULT '',
    -- argon2id PHC string ($argon2id$v=19$...).
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('operator', 'finance', 'customer')),
    -- A customer user is bound to exactly one customer; staff to none.
    customer_id     BIGINT REFERENCES customers (id),
    locale          TEXT NOT NULL DEFAULT 'en',
    created_at      BIGINT NOT NULL,
    disabled_at     BIGINT,
    last_sign_in_at BIGINT,
    CHECK ((role = 'customer') = (customer_id IS NOT NULL))
);

-- Server-side sessions (tower-sessions record as JSON). user_id is copied out of the
-- record so that every session of a user can be ended at once (disable, password change).
CREATE TABLE sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens for scripts and BI tools. Only a SHA-256 of the token is stored: tokens
-- are 256-bit random values, so a fast hash is enough (no dictionary to attack) and it
-- lets every API request find its token with one indexed lookup.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    -- The first characters of the token, shown in lists so people can tell tokens apart.
    token_prefix TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    -- 'ingest' may only push usage.
    role         TEXT NOT NULL CHECK (role IN ('operator', 'finance', 'customer', 'ingest')),
    customer_id  BIGINT REFERENCES customers (id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CHECK ((role = 'customer') = (customer_id IS NOT NULL))
);

-- Failed sign-ins, counted per account key and per client address over a sliding window.
-- The account key is the lower-cased email as typed, whether or not such a user exists,
-- so that throttling does not reveal which accounts exist.
CREATE TABLE sign_in_failures (
    id          INTEGER PRIMARY KEY,
    account_key TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    failed_at   BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account_key, failed_at);
CREATE INDEX sign_in_failures_client ON sign_in_failures (client_addr, failed_at);

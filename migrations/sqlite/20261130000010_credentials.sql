-- SQLite twin of migrations/postgres/20261130000010_credentials.sql (see migrations/README.md).
-- Scoped, expiring and revocable credentials; browsers that signed in before.

-- An `ingest` token names the one registration it may push usage for (tokens created
-- before this have none and push anywhere; `stackbill token list` flags them). NULL for
-- every other role.
ALTER TABLE api_tokens ADD COLUMN registration_id BIGINT REFERENCES registrations (id);
-- When the token stops working (Unix seconds); NULL: never.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- When a session started (Unix seconds): a session ends after an absolute lifetime as well
-- as after inactivity. NULL for sessions from before this (they end at their idle expiry).
ALTER TABLE sessions ADD COLUMN created_at BIGINT;

-- Browsers that signed in to an account successfully before, identified by a random
-- token in a long-lived cookie (only its SHA-256 here). Failed guesses from elsewhere
-- throttle an account for unknown browsers only, so nobody can lock a user out by
-- guessing wrong on purpose.
CREATE TABLE known_devices (
    id           INTEGER PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX known_devices_user ON known_devices (user_id);

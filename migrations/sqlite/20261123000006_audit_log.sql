-- SQLite twin of migrations/postgres/20261123000006_audit_log.sql (see migrations/README.md).
-- Who did what, when: sign-ins, user and token changes, mappings, price sheets, imports,
-- invoices. Append-only; nothing in the application updates or deletes these rows.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    occurred_at   BIGINT NOT NULL,
    -- 'user:12', 'token:3', 'cli' or 'system'; the label keeps the email or token name as
    -- it was at the time.
    actor         TEXT NOT NULL,
    actor_label   TEXT NOT NULL DEFAULT '',
    -- Stable action code such as 'user.created' or 'sign_in.failed'.
    action        TEXT NOT NULL,
    subject       TEXT NOT NULL DEFAULT '',
    -- JSON object with the details of the change (never a secret).
    details       TEXT NOT NULL DEFAULT '{}',
    client_addr   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_occurred_at ON audit_log (occurred_at);

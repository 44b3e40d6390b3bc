-- What each replaced draft came to, so that a new draft shows what changed since the
-- previous run of the same month (drafts themselves are deleted when a run replaces them).
CREATE TABLE invoice_draft_history (
    run_id                  BIGINT NOT NULL REFERENCES invoice_runs (id),
    registration_id         BIGINT NOT NULL REFERENCES registrations (id),
    period_start            DATE NOT NULL,
    billing_subscription_id TEXT NOT NULL,
    total                   TEXT NOT NULL
);
CREATE INDEX invoice_draft_history_account ON invoice_draft_history (registration_id, period_start, billing_subscription_id, run_id);

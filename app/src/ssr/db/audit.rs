//! The append-only audit log.

use super::{sql, AsExecutor, DbResult};
use sqlx::FromRow;

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// `user:12`, `token:3`, `cli`, `system`.
    pub actor: &'a str,
    /// Email or token name at the time.
    pub actor_label: &'a str,
    /// Stable action code (`user.created`).
    pub action: &'a str,
    /// What was acted on (`customer:4`).
    pub subject: &'a str,
    /// JSON details (never secrets).
    pub details: serde_json::Value,
    /// Client address, if the action came over HTTP.
    pub client_addr: &'a str,
}

/// A stored audit row.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    /// Id.
    pub id: i64,
    /// Unix seconds.
    pub occurred_at: i64,
    /// Actor.
    pub actor: String,
    /// Actor label.
    pub actor_label: String,
    /// Action code.
    pub action: String,
    /// Subject.
    pub subject: String,
    /// JSON text.
    pub details: String,
    /// Client address.
    pub client_addr: String,
}

/// Appends an entry.
pub async fn insert_audit(c: &mut impl AsExecutor, entry: &AuditEntry<'_>, now: i64) -> DbResult<()> {
    let q = "INSERT INTO audit_log (occurred_at, actor, actor_label, action, subject, details, client_addr) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
    sql!(c, |e| sqlx::query(q)
        .bind(now)
        .bind(entry.actor)
        .bind(entry.actor_label)
        .bind(entry.action)
        .bind(entry.subject)
        .bind(entry.details.to_string())
        .bind(entry.client_addr)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The newest entries, optionally only one action.
pub async fn list_recent(c: &mut impl AsExecutor, action: Option<&str>, limit: i64) -> DbResult<Vec<AuditRow>> {
    let q = "SELECT id, occurred_at, actor, actor_label, action, subject, details, client_addr FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) ORDER BY id DESC LIMIT $2";
    Ok(sql!(c, |e| sqlx::query_as::<_, AuditRow>(q)
        .bind(action)
        .bind(limit)
        .fetch_all(e)
        .await)?)
}

/// What to read from the log (every part optional; they combine with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// One subject exactly (`customer:12`).
    pub subject_exact: Option<String>,
    /// Subjects starting with this (`customer:`).
    pub subject_prefix: Option<String>,
    /// An actor code, or a label (email, token name) without regard to case.
    pub actor: Option<String>,
    /// One action exactly.
    pub action_exact: Option<String>,
    /// Actions starting with this (`mapping.`).
    pub action_prefix: Option<String>,
    /// From this Unix second on.
    pub since: Option<i64>,
    /// Before this Unix second.
    pub until: Option<i64>,
    /// Entries older than this id (the keyset cursor).
    pub before_id: Option<i64>,
}

/// Entries matching a filter, newest first, at most `limit`.
pub async fn search(c: &mut impl AsExecutor, f: &AuditFilter, limit: i64) -> DbResult<Vec<AuditRow>> {
    // Every placeholder is always bound; a NULL one switches its condition off.
    let q = "SELECT id, occurred_at, actor, actor_label, action, subject, details, client_addr FROM audit_log \
             WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR subject LIKE $2) \
             AND ($3 IS NULL OR actor = $3 OR LOWER(actor_label) = LOWER($3)) \
             AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR action LIKE $5) \
             AND ($6 IS NULL OR occurred_at >= $6) AND ($7 IS NULL OR occurred_at < $7) \
             AND ($8 IS NULL OR id < $8) ORDER BY id DESC LIMIT $9";
    let like = |p: &Option<String>| p.as_ref().map(|p| format!("{}%", p.replace('%', "")));
    Ok(sql!(c, |e| sqlx::query_as::<_, AuditRow>(q)
        .bind(f.subject_exact.as_deref())
        .bind(like(&f.subject_prefix))
        .bind(f.actor.as_deref())
        .bind(f.action_exact.as_deref())
        .bind(like(&f.action_prefix))
        .bind(f.since)
        .bind(f.until)
        .bind(f.before_id)
        .bind(limit)
        .fetch_all(e)
        .await)?)
}

/// The audit entries that cannot change a rating; the partial index
/// `audit_log_data_changes` (migration 20) holds the others, under this same condition.
const DATA_CHANGES: &str = "action NOT LIKE 'sign_in.%' AND action NOT LIKE 'token.%' AND action NOT LIKE 'user.%' \
     AND action NOT LIKE 'portal.%' AND action NOT LIKE 'budget.%' AND action NOT LIKE 'invoice.%'";

/// The newest id of an audit entry that can change a rating, and of a usage batch: together
/// they change with every change a rating depends on (see `services::cache`), and not with
/// sign-ins or portal visits. Both are read from an index's right edge.
pub async fn data_version(c: &mut impl AsExecutor) -> DbResult<(i64, i64)> {
    let q = format!(
        "SELECT CAST(COALESCE((SELECT MAX(id) FROM audit_log WHERE {DATA_CHANGES}), 0) AS BIGINT), \
         CAST(COALESCE((SELECT MAX(id) FROM ingest_batches), 0) AS BIGINT)"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, (i64, i64)>(&q).fetch_one(e).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn audit_entries_are_listed_newest_first_and_filtered_by_action() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            for (i, action) in ["user.created", "sign_in.failed", "user.created"].iter().enumerate() {
                let entry = AuditEntry {
                    actor: "cli",
                    actor_label: "",
                    action,
                    subject: "user:1",
                    details: serde_json::json!({ "n": i, "name": "陳大文" }),
                    client_addr: "",
                };
                insert_audit(&mut c, &entry, i as i64).await.unwrap();
            }
            let all = list_recent(&mut c, None, 10).await.unwrap();
            assert_eq!(all.len(), 3);
            assert_eq!(all[0].occurred_at, 2);
            let created = list_recent(&mut c, Some("user.created"), 10).await.unwrap();
            assert_eq!(created.len(), 2);
            assert!(created[0].details.contains("陳大文"));
        })
        .await;
    }
}

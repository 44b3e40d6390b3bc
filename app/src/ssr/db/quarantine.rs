//! The quarantine: records kept with their raw text and the reason they were refused.

use super::{sql, AsExecutor, DbResult, Params};
use sha2::{Digest, Sha256};
use sqlx::FromRow;

/// A quarantined record to store.
#[derive(Debug, Clone)]
pub struct NewQuarantined<'a> {
    /// Position in its document.
    pub record_index: i64,
    /// `json` or `csv`.
    pub format: &'a str,
    /// Raw text.
    pub raw: &'a str,
    /// Why it was refused.
    pub reason: &'a str,
    /// The reported window it was pulled in (Unix seconds), if any.
    pub reported_at: Option<i64>,
}

/// A `usage_quarantine` row.
#[derive(Debug, Clone, FromRow)]
pub struct QuarantineRow {
    /// Id.
    pub id: i64,
    /// The batch it arrived in.
    pub batch_id: i64,
    /// Registration.
    pub registration_id: i64,
    /// Position in its document.
    pub record_index: i64,
    /// `json` or `csv`.
    pub format: String,
    /// Raw text.
    pub raw: String,
    /// Why it was refused.
    pub reason: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Unix seconds, once resolved.
    pub resolved_at: Option<i64>,
    /// `reprocessed` or `discarded`.
    pub resolution: Option<String>,
    /// The reported window it was pulled in (Unix seconds), if any.
    pub reported_at: Option<i64>,
}

const COLUMNS: &str =
    "id, batch_id, registration_id, record_index, format, raw, reason, received_at, resolved_at, resolution, reported_at";

/// Stores quarantined records of a batch (multi-row, like the records themselves).
pub async fn insert_quarantined(
    c: &mut impl AsExecutor,
    batch_id: i64,
    registration_id: i64,
    rows: &[NewQuarantined<'_>],
    now: i64,
) -> DbResult<()> {
    for chunk in rows.chunks(500) {
        // The same raw text twice in one statement would trip the unique index before
        // ON CONFLICT can apply: keep the first of each.
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<(&NewQuarantined<'_>, Vec<u8>)> = chunk
            .iter()
            .map(|r| (r, Sha256::digest(r.raw.as_bytes()).to_vec()))
            .filter(|(_, h)| seen.insert(h.clone()))
            .collect();
        let values = Params::new(c.engine()).rows(rows.len(), 9);
        // A record already waiting in the quarantine is not added again: re-sending the
        // same data changes nothing.
        let q = format!(
            "INSERT INTO usage_quarantine (batch_id, registration_id, record_index, format, raw, raw_hash, reason, received_at, reported_at) \
             VALUES {values} ON CONFLICT (registration_id, raw_hash) WHERE resolved_at IS NULL DO NOTHING"
        );
        sql!(c, |e| {
            let mut query = sqlx::query(&q);
            for (r, hash) in &rows {
                query = query
                    .bind(batch_id)
                    .bind(registration_id)
                    .bind(r.record_index)
                    .bind(r.format)
                    .bind(r.raw)
                    .bind(hash.as_slice())
                    .bind(r.reason)
                    .bind(now)
                    .bind(r.reported_at);
            }
            query.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Open (unresolved) quarantined records, oldest first.
pub async fn list_open(
    c: &mut impl AsExecutor,
    registration_id: Option<i64>,
    limit: i64,
) -> DbResult<Vec<QuarantineRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM usage_quarantine WHERE resolved_at IS NULL AND ($1 IS NULL OR registration_id = $1) \
         ORDER BY id LIMIT $2"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, QuarantineRow>(&q)
        .bind(registration_id)
        .bind(limit)
        .fetch_all(e)
        .await)?)
}

/// One quarantined record.
pub async fn find_quarantined(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<QuarantineRow>> {
    let q = format!("SELECT {COLUMNS} FROM usage_quarantine WHERE id = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, QuarantineRow>(&q)
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// Number of open quarantined records.
pub async fn count_open(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage_quarantine WHERE resolved_at IS NULL"
    )
    .fetch_one(e)
    .await)?)
}

/// Marks a record resolved (`reprocessed` or `discarded`); `false` if it was already.
pub async fn resolve(c: &mut impl AsExecutor, id: i64, resolution: &str, by: &str, now: i64) -> DbResult<bool> {
    let done = sql!(c, |e| {
        sqlx::query(
        "UPDATE usage_quarantine SET resolved_at = $2, resolution = $3, resolved_by = $4 WHERE id = $1 AND resolved_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .bind(resolution)
    .bind(by)
    .execute(e)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(done == 1)
}

/// Records the raw text a record was finally accepted with (after it was resolved, so the
/// open-records uniqueness does not apply).
pub async fn set_accepted_raw(c: &mut impl AsExecutor, id: i64, raw: &str) -> DbResult<()> {
    let hash = Sha256::digest(raw.as_bytes()).to_vec();
    sql!(c, |e| sqlx::query(
        "UPDATE usage_quarantine SET raw = $2, raw_hash = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(raw)
    .bind(hash.as_slice())
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces the raw text (an operator's fix) and the reason of a still-open record.
pub async fn update_open(c: &mut impl AsExecutor, id: i64, raw: &str, reason: &str) -> DbResult<()> {
    let hash = Sha256::digest(raw.as_bytes()).to_vec();
    sql!(c, |e| sqlx::query(
        "UPDATE usage_quarantine SET raw = $2, raw_hash = $4, reason = $3 WHERE id = $1 AND resolved_at IS NULL"
    )
    .bind(id)
    .bind(raw)
    .bind(reason)
    .bind(hash.as_slice())
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

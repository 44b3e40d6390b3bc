//! The collector's progress per registration.

use super::{sql, AsExecutor, DbResult};
use sqlx::FromRow;

/// A `collector_state` row.
#[derive(Debug, Clone, FromRow)]
pub struct CollectorStateRow {
    /// Registration.
    pub registration_id: i64,
    /// Exclusive end of the last stored reported window (Unix seconds).
    pub watermark_at: i64,
    /// When a window last completed.
    pub last_success_at: Option<i64>,
    /// When the last failure happened.
    pub last_error_at: Option<i64>,
    /// What it was.
    pub last_error: Option<String>,
    /// Records in the last completed window.
    pub last_window_records: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The state of a registration's collector.
pub async fn find_state(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<Option<CollectorStateRow>> {
    Ok(sql!(c, |e| {
        sqlx::query_as::<_, CollectorStateRow>(
        "SELECT registration_id, watermark_at, last_success_at, last_error_at, last_error, last_window_records, updated_at \
         FROM collector_state WHERE registration_id = $1"
    )
    .bind(registration_id)
    .fetch_optional(e)
    .await
    })?)
}

/// Advances the watermark after a window (called inside the window's transaction). It
/// never moves backwards: a re-pulled older window leaves it where it is.
pub async fn advance(
    c: &mut impl AsExecutor,
    registration_id: i64,
    watermark_at: i64,
    records: i64,
    now: i64,
) -> DbResult<()> {
    sql!(c, |e| {
        sqlx::query(
        "INSERT INTO collector_state (registration_id, watermark_at, last_success_at, last_window_records, updated_at) \
         VALUES ($1, $2, $3, $4, $3) ON CONFLICT (registration_id) DO UPDATE SET watermark_at = \
         CASE WHEN collector_state.watermark_at > excluded.watermark_at THEN collector_state.watermark_at \
         ELSE excluded.watermark_at END, \
         last_success_at = excluded.last_success_at, last_window_records = excluded.last_window_records, \
         updated_at = excluded.updated_at"
    )
    .bind(registration_id)
    .bind(watermark_at)
    .bind(now)
    .bind(records)
    .execute(e)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Sets the starting watermark of a registration that has none yet.
pub async fn initialise(c: &mut impl AsExecutor, registration_id: i64, watermark_at: i64, now: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "INSERT INTO collector_state (registration_id, watermark_at, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (registration_id) DO NOTHING"
    )
    .bind(registration_id)
    .bind(watermark_at)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failure (the watermark stays where it is). A registration that has never
/// completed a window gets its state row here, starting at `initial_watermark`, so a
/// failing first run (bad token, wrong endpoint) is visible rather than "never collected".
pub async fn record_error(
    c: &mut impl AsExecutor,
    registration_id: i64,
    error: &str,
    initial_watermark: i64,
    now: i64,
) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "INSERT INTO collector_state (registration_id, watermark_at, last_error, last_error_at, updated_at) \
         VALUES ($1, $4, $2, $3, $3) ON CONFLICT (registration_id) DO UPDATE SET last_error = excluded.last_error, \
         last_error_at = excluded.last_error_at, updated_at = excluded.updated_at"
    )
    .bind(registration_id)
    .bind(error)
    .bind(now)
    .bind(initial_watermark)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// What one collected window brought.
#[derive(Debug, Clone, Default)]
pub struct WindowStats {
    /// Window start (Unix seconds).
    pub start_at: i64,
    /// Window end (Unix seconds).
    pub end_at: i64,
    /// Pages followed.
    pub pages: i64,
    /// Records read.
    pub records: i64,
    /// New records.
    pub accepted: i64,
    /// Already stored.
    pub duplicates: i64,
    /// Corrections.
    pub corrected: i64,
    /// Older than stored (changed nothing).
    pub stale: i64,
    /// Quarantined.
    pub quarantined: i64,
}

/// Stores the statistics of a completed window (inside its transaction). A backfill over
/// a window collected before replaces its row.
pub async fn insert_window(c: &mut impl AsExecutor, registration_id: i64, w: &WindowStats, now: i64) -> DbResult<()> {
    sql!(c, |e| {
        sqlx::query(
        "INSERT INTO collector_windows (registration_id, window_start_at, window_end_at, pages, records, accepted, \
         duplicates, corrected, quarantined, stale, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (registration_id, window_start_at) DO UPDATE SET window_end_at = excluded.window_end_at, \
         pages = excluded.pages, records = excluded.records, accepted = excluded.accepted, \
         duplicates = excluded.duplicates, corrected = excluded.corrected, quarantined = excluded.quarantined, \
         stale = excluded.stale, completed_at = excluded.completed_at"
    )
    .bind(registration_id)
    .bind(w.start_at)
    .bind(w.end_at)
    .bind(w.pages)
    .bind(w.records)
    .bind(w.accepted)
    .bind(w.duplicates)
    .bind(w.corrected)
    .bind(w.quarantined)
    .bind(w.stale)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The most recent windows of a registration.
pub async fn list_windows(
    c: &mut impl AsExecutor,
    registration_id: i64,
    limit: i64,
) -> DbResult<Vec<(i64, i64, i64, i64)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT window_start_at, window_end_at, pages, records FROM collector_windows WHERE registration_id = $1 \
         ORDER BY window_start_at DESC LIMIT $2"
    )
    .bind(registration_id)
    .bind(limit)
    .fetch_all(e)
    .await)?)
}

/// Who holds a registration's collector lease.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LeaseRow {
    /// The run holding it (`serve 1234@host`, `pull 99@host`).
    pub holder: String,
    /// Unix seconds.
    pub acquired_at: i64,
    /// Unix seconds; after this another run may take it over.
    pub expires_at: i64,
}

/// Takes the collector lease of a registration for `holder` until `expires_at`, if nobody
/// holds it or the holder's lease expired (a run that died). Returns the current holder
/// when someone else has it. Works the same on both engines: one upsert whose update
/// only happens when the lease is free.
pub async fn acquire_lease(
    c: &mut impl AsExecutor,
    registration_id: i64,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> DbResult<Result<(), LeaseRow>> {
    let taken: Option<String> = sql!(c, |e| sqlx::query_scalar(
        "INSERT INTO collector_leases (registration_id, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (registration_id) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, \
         expires_at = excluded.expires_at WHERE collector_leases.expires_at <= excluded.acquired_at \
         OR collector_leases.holder = excluded.holder RETURNING holder"
    )
    .bind(registration_id)
    .bind(holder)
    .bind(now)
    .bind(expires_at)
    .fetch_optional(e)
    .await)?;
    if taken.is_some() {
        return Ok(Ok(()));
    }
    let row: LeaseRow = sql!(c, |e| sqlx::query_as::<_, LeaseRow>(
        "SELECT holder, acquired_at, expires_at FROM collector_leases WHERE registration_id = $1"
    )
    .bind(registration_id)
    .fetch_one(e)
    .await)?;
    Ok(Err(row))
}

/// Extends a held lease; `false` if `holder` no longer holds it (it expired and another
/// run took it over: the caller must stop).
pub async fn renew_lease(
    c: &mut impl AsExecutor,
    registration_id: i64,
    holder: &str,
    expires_at: i64,
) -> DbResult<bool> {
    let done = sql!(c, |e| sqlx::query(
        "UPDATE collector_leases SET expires_at = $3 WHERE registration_id = $1 AND holder = $2"
    )
    .bind(registration_id)
    .bind(holder)
    .bind(expires_at)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Gives a lease back.
pub async fn release_lease(c: &mut impl AsExecutor, registration_id: i64, holder: &str) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM collector_leases WHERE registration_id = $1 AND holder = $2"
    )
    .bind(registration_id)
    .bind(holder)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

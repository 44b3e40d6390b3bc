//! Billing periods locked on a registration because invoices were issued for them.

use super::{sql, AsExecutor, DbResult};
use chrono::NaiveDate;

/// Locks a period (its first day) on a registration; `false` if it already was.
pub async fn lock_period(
    c: &mut impl AsExecutor,
    registration_id: i64,
    period_start: NaiveDate,
    by: &str,
    now: i64,
) -> DbResult<bool> {
    let done = sql!(c, |e| sqlx::query(
        "INSERT INTO period_locks (registration_id, period_start, locked_at, locked_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (registration_id, period_start) DO NOTHING"
    )
    .bind(registration_id)
    .bind(period_start)
    .bind(now)
    .bind(by)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Unlocks a period (its last issued invoice was voided).
pub async fn unlock_period(c: &mut impl AsExecutor, registration_id: i64, period_start: NaiveDate) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM period_locks WHERE registration_id = $1 AND period_start = $2"
    )
    .bind(registration_id)
    .bind(period_start)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The first day of the latest locked period of a registration, if any.
pub async fn latest_locked_period(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<Option<NaiveDate>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT MAX(period_start) FROM period_locks WHERE registration_id = $1"
    )
    .bind(registration_id)
    .fetch_one(e)
    .await)?)
}

/// The first day of the latest period locked on any registration, if any.
pub async fn latest_locked_period_anywhere(c: &mut impl AsExecutor) -> DbResult<Option<NaiveDate>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT MAX(period_start) FROM period_locks"
    )
    .fetch_one(e)
    .await)?)
}

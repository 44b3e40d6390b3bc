//! Browsers that signed in to an account successfully before (`known_devices`).

use super::{sql, AsExecutor, DbResult};

/// Remembers a browser for a user (only the SHA-256 of its cookie token is stored).
pub async fn insert_device(c: &mut impl AsExecutor, user_id: i64, token_hash: &[u8], now: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "INSERT INTO known_devices (user_id, token_hash, created_at, last_used_at) VALUES ($1, $2, $3, $3)"
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The user a device token belongs to, if it is known.
pub async fn find_device_user(c: &mut impl AsExecutor, token_hash: &[u8]) -> DbResult<Option<i64>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT user_id FROM known_devices WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(e)
    .await)?)
}

/// Notes that a known device signed in again.
pub async fn touch_device(c: &mut impl AsExecutor, token_hash: &[u8], now: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE known_devices SET last_used_at = $2 WHERE token_hash = $1"
    )
    .bind(token_hash)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Forgets every device of a user (a password reset: the old browsers no longer get past
/// an attack on the account).
pub async fn delete_devices_of_user(c: &mut impl AsExecutor, user_id: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query("DELETE FROM known_devices WHERE user_id = $1")
        .bind(user_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

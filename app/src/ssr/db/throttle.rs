//! Failed sign-in bookkeeping for throttling.

use super::{sql, AsExecutor, DbResult};

/// Records one failed sign-in (or reserves one before the password is checked) and
/// returns its id.
pub async fn insert_failure(c: &mut impl AsExecutor, account_key: &str, client_addr: &str, now: i64) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "INSERT INTO sign_in_failures (account_key, client_addr, failed_at) VALUES ($1, $2, $3) RETURNING id"
    )
    .bind(account_key)
    .bind(client_addr)
    .bind(now)
    .fetch_one(e)
    .await)?)
}

/// Drops one reserved failure (an attempt that was refused before its password was
/// checked does not count against the account).
pub async fn delete_failure(c: &mut impl AsExecutor, id: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
        .bind(id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Failures since `since` for an account key: `(count, oldest failed_at)`.
pub async fn failures_for_account(
    c: &mut impl AsExecutor,
    account_key: &str,
    since: i64,
) -> DbResult<(i64, Option<i64>)> {
    Ok(sql!(c, |e| {
        sqlx::query_as(
            "SELECT COUNT(*), MIN(failed_at) FROM sign_in_failures WHERE account_key = $1 AND failed_at > $2",
        )
        .bind(account_key)
        .bind(since)
        .fetch_one(e)
        .await
    })?)
}

/// Failures since `since` from a client address: `(count, oldest failed_at)`.
pub async fn failures_for_client(
    c: &mut impl AsExecutor,
    client_addr: &str,
    since: i64,
) -> DbResult<(i64, Option<i64>)> {
    Ok(sql!(c, |e| {
        sqlx::query_as(
            "SELECT COUNT(*), MIN(failed_at) FROM sign_in_failures WHERE client_addr = $1 AND failed_at > $2",
        )
        .bind(client_addr)
        .bind(since)
        .fetch_one(e)
        .await
    })?)
}

/// Forgets an account's failures after it signs in successfully.
pub async fn clear_account(c: &mut impl AsExecutor, account_key: &str) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM sign_in_failures WHERE account_key = $1"
    )
    .bind(account_key)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Drops failures older than the window (housekeeping).
pub async fn delete_older_than(c: &mut impl AsExecutor, before: i64) -> DbResult<u64> {
    let done = sql!(c, |e| sqlx::query("DELETE FROM sign_in_failures WHERE failed_at <= $1")
        .bind(before)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn failures_are_counted_per_account_and_per_client_within_the_window() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            insert_failure(&mut c, "a@x.test", "10.0.0.1", 100).await.unwrap();
            insert_failure(&mut c, "a@x.test", "10.0.0.2", 200).await.unwrap();
            let b = insert_failure(&mut c, "b@x.test", "10.0.0.1", 300).await.unwrap();
            assert_eq!(
                failures_for_account(&mut c, "a@x.test", 0).await.unwrap(),
                (2, Some(100))
            );
            assert_eq!(
                failures_for_account(&mut c, "a@x.test", 150).await.unwrap(),
                (1, Some(200))
            );
            assert_eq!(
                failures_for_client(&mut c, "10.0.0.1", 0).await.unwrap(),
                (2, Some(100))
            );
            assert_eq!(failures_for_account(&mut c, "c@x.test", 0).await.unwrap(), (0, None));
            clear_account(&mut c, "a@x.test").await.unwrap();
            assert_eq!(failures_for_account(&mut c, "a@x.test", 0).await.unwrap().0, 0);
            assert_eq!(delete_older_than(&mut c, 300).await.unwrap(), 1);
            delete_failure(&mut c, b).await.unwrap();
            assert_eq!(failures_for_client(&mut c, "10.0.0.1", 0).await.unwrap(), (0, None));
        })
        .await;
    }
}

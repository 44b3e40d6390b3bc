//! API tokens (only their SHA-256 is stored).

use super::{sql, AsExecutor, DbResult};
use sqlx::FromRow;

/// An `api_tokens` row (without the hash).
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// Name given at creation.
    pub name: String,
    /// First characters of the token.
    pub token_prefix: String,
    /// Role code.
    pub role: String,
    /// Customer of a customer token.
    pub customer_id: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub last_used_at: Option<i64>,
    /// Unix seconds; revoked tokens never authenticate.
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, name, token_prefix, role, customer_id, created_at, last_used_at, revoked_at";

/// Inserts a token and returns its id.
pub async fn insert_token(
    c: &mut impl AsExecutor,
    name: &str,
    prefix: &str,
    hash: &[u8],
    role: &str,
    customer_id: Option<i64>,
    now: i64,
) -> DbResult<i64> {
    let q = "INSERT INTO api_tokens (name, token_prefix, token_hash, role, customer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(name)
        .bind(prefix)
        .bind(hash)
        .bind(role)
        .bind(customer_id)
        .bind(now)
        .fetch_one(e)
        .await)?)
}

/// The unrevoked token with this hash.
pub async fn find_active_token_by_hash(c: &mut impl AsExecutor, hash: &[u8]) -> DbResult<Option<TokenRow>> {
    let q = format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL");
    Ok(sql!(c, |e| sqlx::query_as::<_, TokenRow>(&q)
        .bind(hash)
        .fetch_optional(e)
        .await)?)
}

/// Notes that a token was used (at most once a minute per token, to keep API reads from
/// turning into writes on every request).
pub async fn touch_token(c: &mut impl AsExecutor, id: i64, now: i64) -> DbResult<()> {
    sql!(c, |e| {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(id)
        .bind(now)
        .bind(now - 60)
        .execute(e)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Revokes a token.
pub async fn revoke_token(c: &mut impl AsExecutor, id: i64, now: i64) -> DbResult<bool> {
    let done = sql!(c, |e| sqlx::query(
        "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn tokens_are_found_by_hash_until_revoked() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let hash = [7u8; 32];
            let id = insert_token(&mut c, "BI export", "sbk_1234", &hash, "finance", None, 10)
                .await
                .unwrap();
            let found = find_active_token_by_hash(&mut c, &hash).await.unwrap().unwrap();
            assert_eq!((found.id, found.role.as_str()), (id, "finance"));
            assert!(find_active_token_by_hash(&mut c, &[8u8; 32]).await.unwrap().is_none());
            touch_token(&mut c, id, 1000).await.unwrap();
            touch_token(&mut c, id, 1030).await.unwrap(); // within a minute: not written
            let found = find_active_token_by_hash(&mut c, &hash).await.unwrap().unwrap();
            assert_eq!(found.last_used_at, Some(1000));
            assert!(revoke_token(&mut c, id, 2000).await.unwrap());
            assert!(!revoke_token(&mut c, id, 2001).await.unwrap());
            assert!(find_active_token_by_hash(&mut c, &hash).await.unwrap().is_none());
        })
        .await;
    }
}

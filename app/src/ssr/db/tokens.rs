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
    /// The registration an ingest token may push to.
    pub registration_id: Option<i64>,
    /// That registration's name.
    pub registration_name: Option<String>,
    /// Unix seconds; expired tokens never authenticate.
    pub expires_at: Option<i64>,
}

const COLUMNS: &str = "t.id, t.name, t.token_prefix, t.role, t.customer_id, t.created_at, t.last_used_at, \
     t.revoked_at, t.registration_id, r.name AS registration_name, t.expires_at";
const FROM: &str = "api_tokens t LEFT JOIN registrations r ON r.id = t.registration_id";

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// What it is for.
    pub name: &'a str,
    /// Its first characters.
    pub prefix: &'a str,
    /// SHA-256 of the token.
    pub hash: &'a [u8],
    /// Role.
    pub role: &'a str,
    /// The customer of a customer token.
    pub customer_id: Option<i64>,
    /// The registration of an ingest token.
    pub registration_id: Option<i64>,
    /// When it stops working.
    pub expires_at: Option<i64>,
}

/// Stores a token and returns its id.
pub async fn insert_token(c: &mut impl AsExecutor, t: &NewToken<'_>, now: i64) -> DbResult<i64> {
    let q = "INSERT INTO api_tokens (name, token_prefix, token_hash, role, customer_id, registration_id, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(t.name)
        .bind(t.prefix)
        .bind(t.hash)
        .bind(t.role)
        .bind(t.customer_id)
        .bind(t.registration_id)
        .bind(t.expires_at)
        .bind(now)
        .fetch_one(e)
        .await)?)
}

/// The token with this hash, if it is neither revoked nor expired at `now`.
pub async fn find_active_token_by_hash(c: &mut impl AsExecutor, hash: &[u8], now: i64) -> DbResult<Option<TokenRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > $2)"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, TokenRow>(&q)
        .bind(hash)
        .bind(now)
        .fetch_optional(e)
        .await)?)
}

/// Every token, newest first (revoked and expired ones included, marked by their columns).
pub async fn list_tokens(c: &mut impl AsExecutor) -> DbResult<Vec<TokenRow>> {
    let q = format!("SELECT {COLUMNS} FROM {FROM} ORDER BY t.id DESC");
    Ok(sql!(c, |e| sqlx::query_as::<_, TokenRow>(&q).fetch_all(e).await)?)
}

/// One token by id.
pub async fn find_token(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<TokenRow>> {
    let q = format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, TokenRow>(&q)
        .bind(id)
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
            let new = NewToken {
                name: "BI export",
                prefix: "sbk_1234",
                hash: &hash,
                role: "finance",
                customer_id: None,
                registration_id: None,
                expires_at: Some(5000),
            };
            let id = insert_token(&mut c, &new, 10).await.unwrap();
            let found = find_active_token_by_hash(&mut c, &hash, 100).await.unwrap().unwrap();
            assert_eq!((found.id, found.role.as_str()), (id, "finance"));
            assert!(find_active_token_by_hash(&mut c, &[8u8; 32], 100)
                .await
                .unwrap()
                .is_none());
            // It expires at 5000.
            assert!(find_active_token_by_hash(&mut c, &hash, 5000).await.unwrap().is_none());
            touch_token(&mut c, id, 1000).await.unwrap();
            touch_token(&mut c, id, 1030).await.unwrap(); // within a minute: not written
            let found = find_active_token_by_hash(&mut c, &hash, 100).await.unwrap().unwrap();
            assert_eq!(found.last_used_at, Some(1000));
            assert!(revoke_token(&mut c, id, 2000).await.unwrap());
            assert!(!revoke_token(&mut c, id, 2001).await.unwrap());
            assert!(find_active_token_by_hash(&mut c, &hash, 100).await.unwrap().is_none());
            assert_eq!(list_tokens(&mut c).await.unwrap()[0].revoked_at, Some(2000));
        })
        .await;
    }
}

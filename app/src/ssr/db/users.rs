//! People who sign in.

use super::{sql, AsExecutor, DbResult};
use sqlx::FromRow;

/// A `users` row.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Lower-cased email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role code.
    pub role: String,
    /// Customer of a customer user.
    pub customer_id: Option<i64>,
    /// Locale tag.
    pub locale: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; set when the account is disabled.
    pub disabled_at: Option<i64>,
    /// Unix seconds.
    pub last_sign_in_at: Option<i64>,
}

const COLUMNS: &str = "id, email, display_name, password_hash, role, customer_id, locale, \
                       created_at, disabled_at, last_sign_in_at";

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Lower-cased email.
    pub email: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Role code.
    pub role: &'a str,
    /// Customer of a customer user.
    pub customer_id: Option<i64>,
    /// Locale tag.
    pub locale: &'a str,
}

/// Inserts a user and returns its id.
pub async fn insert_user(c: &mut impl AsExecutor, user: &NewUser<'_>, now: i64) -> DbResult<i64> {
    let q = "INSERT INTO users (email, display_name, password_hash, role, customer_id, locale, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    let id: i64 = sql!(c, |e| sqlx::query_scalar(q)
        .bind(user.email)
        .bind(user.display_name)
        .bind(user.password_hash)
        .bind(user.role)
        .bind(user.customer_id)
        .bind(user.locale)
        .bind(now)
        .fetch_one(e)
        .await)?;
    Ok(id)
}

/// Updates everything but the email of an existing user (used by the demo seed to make
/// re-seeding idempotent).
pub async fn update_user(c: &mut impl AsExecutor, id: i64, user: &NewUser<'_>) -> DbResult<()> {
    let q = "UPDATE users SET display_name = $2, password_hash = $3, role = $4, customer_id = $5, \
             locale = $6, disabled_at = NULL WHERE id = $1";
    sql!(c, |e| sqlx::query(q)
        .bind(id)
        .bind(user.display_name)
        .bind(user.password_hash)
        .bind(user.role)
        .bind(user.customer_id)
        .bind(user.locale)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The user with this (lower-cased) email.
pub async fn find_user_by_email(c: &mut impl AsExecutor, email: &str) -> DbResult<Option<UserRow>> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, UserRow>(&q)
        .bind(email)
        .fetch_optional(e)
        .await)?)
}

/// The user with this id.
pub async fn find_user(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<UserRow>> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, UserRow>(&q)
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// Records a successful sign-in.
pub async fn touch_sign_in(c: &mut impl AsExecutor, id: i64, now: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE users SET last_sign_in_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every user by email.
pub async fn list_users(c: &mut impl AsExecutor) -> DbResult<Vec<UserRow>> {
    let q = format!("SELECT {COLUMNS} FROM users ORDER BY email");
    Ok(sql!(c, |e| sqlx::query_as::<_, UserRow>(&q).fetch_all(e).await)?)
}

/// Disables (`Some(now)`) or enables (`None`) a user.
pub async fn set_disabled(c: &mut impl AsExecutor, id: i64, disabled_at: Option<i64>) -> DbResult<()> {
    sql!(c, |e| sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
        .bind(id)
        .bind(disabled_at)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces a user's password hash.
pub async fn set_password_hash(c: &mut impl AsExecutor, id: i64, hash: &str) -> DbResult<()> {
    sql!(c, |e| sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Operators who may sign in.
pub async fn count_enabled_operators(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'operator' AND disabled_at IS NULL"
    )
    .fetch_one(e)
    .await)?)
}

/// Number of users.
pub async fn count_users(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(e)
        .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn users_are_found_by_lower_cased_email_and_id() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let new = NewUser {
                email: "ops@example.test",
                display_name: "Olivia Operator",
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y",
                role: "operator",
                customer_id: None,
                locale: "en",
            };
            let id = insert_user(&mut c, &new, 1_700_000_000).await.unwrap();
            let found = find_user_by_email(&mut c, "ops@example.test").await.unwrap().unwrap();
            assert_eq!(found.id, id);
            assert_eq!(found.display_name, "Olivia Operator");
            assert!(find_user_by_email(&mut c, "nobody@example.test")
                .await
                .unwrap()
                .is_none());
            touch_sign_in(&mut c, id, 1_700_000_100).await.unwrap();
            assert_eq!(
                find_user(&mut c, id).await.unwrap().unwrap().last_sign_in_at,
                Some(1_700_000_100)
            );
            let dup = insert_user(&mut c, &new, 1).await.unwrap_err();
            assert!(dup.is_unique_violation(), "{dup}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_customer_user_without_a_customer_is_refused_by_the_schema() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let new = NewUser {
                email: "c@example.test",
                display_name: "",
                password_hash: "x",
                role: "customer",
                customer_id: None,
                locale: "en",
            };
            assert!(insert_user(&mut c, &new, 1).await.is_err());
            let staff_with_customer = NewUser {
                role: "finance",
                customer_id: Some(1),
                ..new
            };
            assert!(insert_user(&mut c, &staff_with_customer, 1).await.is_err());
            assert_eq!(count_users(&mut c).await.unwrap(), 0);
        })
        .await;
    }
}

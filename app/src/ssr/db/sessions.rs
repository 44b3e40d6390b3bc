//! The session store behind tower-sessions, on either engine.
//!
//! Written here rather than taken from `tower-sessions-sqlx-store` so that the table is
//! part of our own migrations and carries the user id: signing a user out everywhere (or
//! disabling them) is one `DELETE … WHERE user_id = $1`.

use super::{sql, Db, DbResult};
use async_trait::async_trait;
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// Session key holding the signed-in user's id (read by [`DbSessionStore`] to fill the
/// `user_id` column).
pub const USER_ID_KEY: &str = "user_id";

/// A tower-sessions store on the application database.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
    /// Sessions older than this end however active they are (absolute lifetime).
    max_lifetime_secs: Option<i64>,
}

impl DbSessionStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        DbSessionStore {
            db,
            max_lifetime_secs: None,
        }
    }

    /// The same store ending every session `secs` after it started, however active.
    pub fn with_max_lifetime(self, secs: i64) -> Self {
        DbSessionStore {
            max_lifetime_secs: Some(secs),
            ..self
        }
    }
}

fn backend<E: std::fmt::Display>(e: E) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; on the astronomically unlikely collision, draw again.
        let mut c = self.db.conn().await.map_err(backend)?;
        loop {
            let exists: Option<i64> = sql!(&mut c, |e| sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM sessions WHERE id = $1"
            )
            .bind(record.id.to_string())
            .fetch_optional(e)
            .await)
            .map_err(backend)?;
            if exists.is_none() {
                break;
            }
            record.id = Id::default();
        }
        drop(c);
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let user_id = record.data.get(USER_ID_KEY).and_then(|v| v.as_i64());
        // created_at is set once, when the row is first written (a new id at sign-in).
        let q = "INSERT INTO sessions (id, user_id, data, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, \
                 expires_at = excluded.expires_at";
        let mut c = self.db.conn().await.map_err(backend)?;
        sql!(&mut c, |e| sqlx::query(q)
            .bind(record.id.to_string())
            .bind(user_id)
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let q = "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2 \
                 AND (created_at IS NULL OR created_at > $3)";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let started_after = self.max_lifetime_secs.map_or(i64::MIN, |max| now - max);
        let mut c = self.db.conn().await.map_err(backend)?;
        let row: Option<(String, i64)> = sql!(&mut c, |e| sqlx::query_as(q)
            .bind(session_id.to_string())
            .bind(now)
            .bind(started_after)
            .fetch_optional(e)
            .await)
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp(expires_at).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let mut c = self.db.conn().await.map_err(backend)?;
        sql!(&mut c, |e| sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(session_id.to_string())
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut c = self.db.conn().await.map_err(backend)?;
        sql!(&mut c, |e| sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of a user (sign out everywhere, disabled accounts).
pub async fn delete_sessions_of_user(db: &Db, user_id: i64) -> DbResult<u64> {
    let mut c = db.conn().await?;
    let done = sql!(&mut c, |e| sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Whether a session id is stored and unexpired (tests check sign-out with it).
pub async fn session_exists(db: &Db, id: &str) -> DbResult<bool> {
    let mut c = db.conn().await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let row: Option<i64> = sql!(&mut c, |e| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM sessions WHERE id = $1 AND expires_at > $2"
    )
    .bind(id)
    .bind(now)
    .fetch_optional(e)
    .await)?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn sessions_are_saved_loaded_expired_and_deleted() {
        for_each_engine(|db| async move {
            let store = DbSessionStore::new(db.clone());
            let mut record = Record {
                id: Id::default(),
                data: HashMap::from([("note".to_owned(), serde_json::json!("漢字 survive"))]),
                expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
            };
            store.create(&mut record).await.unwrap();
            assert!(session_exists(&db, &record.id.to_string()).await.unwrap());
            let loaded = store.load(&record.id).await.unwrap().unwrap();
            assert_eq!(loaded.data, record.data);
            assert_eq!(loaded.expiry_date.unix_timestamp(), record.expiry_date.unix_timestamp());

            store.delete(&record.id).await.unwrap();
            assert!(store.load(&record.id).await.unwrap().is_none());

            let mut expired = Record {
                id: Id::default(),
                data: HashMap::new(),
                expiry_date: OffsetDateTime::now_utc() - time::Duration::seconds(1),
            };
            store.create(&mut expired).await.unwrap();
            assert!(store.load(&expired.id).await.unwrap().is_none());
            store.delete_expired().await.unwrap();
            assert!(!session_exists(&db, &expired.id.to_string()).await.unwrap());
        })
        .await;
    }
}

//! Fresh, migrated databases for tests, on both engines.
//!
//! SQLite always (a new file per test); PostgreSQL when `STACKBILL_TEST_POSTGRES_URL`
//! points at a database the tests may create schemas in (CI sets it to a database it
//! creates for the run). Each PostgreSQL test gets its own schema, so tests run in
//! parallel without seeing each other's rows.

use super::{Db, PoolSettings};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// Environment variable naming the PostgreSQL database tests may use.
pub const POSTGRES_URL_VAR: &str = "STACKBILL_TEST_POSTGRES_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A fresh database and what is needed to throw it away.
pub struct TestDb {
    /// The migrated database.
    pub db: Db,
    /// The URL it was opened with (for starting a second pool or the real app on it).
    pub url: String,
    /// Settings to open it again (the PostgreSQL schema).
    pub settings: PoolSettings,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { admin_url: String, schema: String },
}

impl TestDb {
    /// A fresh migrated SQLite file.
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join("stackbill-tests");
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("test_{}.db", unique_suffix()));
        let url = format!("sqlite:{}", path.display());
        let settings = PoolSettings::default();
        let db = Db::connect(&url, &settings).await.expect("open test SQLite");
        db.migrate().await.expect("migrate test SQLite");
        TestDb {
            db,
            url,
            settings,
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh migrated PostgreSQL schema, if the test database is configured.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var(POSTGRES_URL_VAR).ok().filter(|u| !u.is_empty())?;
        let schema = format!("t_{}", unique_suffix());
        let admin = Db::connect(
            &admin_url,
            &PoolSettings {
                max_connections: 1,
                ..PoolSettings::default()
            },
        )
        .await
        .expect("connect to STACKBILL_TEST_POSTGRES_URL");
        if let Db::Postgres(pool) = &admin {
            sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                .execute(pool)
                .await
                .expect("create schema");
        }
        admin.close().await;
        let settings = PoolSettings {
            pg_schema: Some(schema.clone()),
            ..PoolSettings::default()
        };
        let db = Db::connect(&admin_url, &settings).await.expect("open test schema");
        db.migrate().await.expect("migrate test PostgreSQL schema");
        Some(TestDb {
            db,
            url: admin_url.clone(),
            settings,
            cleanup: Cleanup::Schema { admin_url, schema },
        })
    }

    /// Every configured engine.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite().await];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    /// Closes the pool and removes the file or schema.
    pub async fn dispose(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { admin_url, schema } => {
                if let Ok(Db::Postgres(pool)) = Db::connect(
                    &admin_url,
                    &PoolSettings {
                        max_connections: 1,
                        ..PoolSettings::default()
                    },
                )
                .await
                {
                    let _ = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            }
        }
    }
}

/// Runs a test body once per configured engine on a fresh database. A panic in the body
/// fails the test (the database is then left behind for inspection).
pub async fn for_each_engine<F, Fut>(body: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    for test_db in TestDb::all().await {
        // Shown with the output of a failing test, so it is clear which engine failed.
        eprintln!("-- engine: {}", test_db.db.engine().name());
        body(test_db.db.clone()).await;
        test_db.dispose().await;
    }
}

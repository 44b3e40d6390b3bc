//! Storage: one SQL dialect, two engines.
//!
//! SQLite (an embedded file, the default) and PostgreSQL are both first-class. The schema
//! is written so that the same SQL text runs on both (`$1` placeholders work on SQLite,
//! instants are Unix seconds, money is integer minor units, quantities are exact decimal
//! text or fixed-point integers), and every query function is written once: the [`sql!`]
//! macro expands its body for each engine, so the Rust types are checked against both.
//!
//! Query functions take `&mut impl AsExecutor`, which is either a pooled connection
//! ([`Db::conn`]) or a transaction ([`Db::begin`]), so the same function serves a plain
//! read and a step inside a use case's transaction.
//!
//! One module per aggregate; functions are named `insert_*`, `find_*` (returns `Option`),
//! `get_*` (must exist), `list_*`, `count_*`.

pub mod aggregates;
pub mod audit;
pub mod budgets;
pub mod collector;
pub mod customers;
pub mod devices;
pub mod fixed;
pub mod invoices;
pub mod mappings;
pub mod meters;
pub mod periods;
pub mod price_sheets;
pub mod quarantine;
pub mod rating_inputs;
pub mod registrations;
pub mod sessions;
pub mod terms;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod user_subscriptions;
pub mod users;

pub mod testing;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Engine {
    /// Lower-case name for logs and `/healthz`.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A connection pool on either engine.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite pool.
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Postgres(PgPool),
}

/// A transaction on either engine. Dropping it without [`Tx::commit`] rolls back.
pub enum Tx {
    /// SQLite transaction (started with `BEGIN IMMEDIATE`).
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A pooled connection on either engine.
pub enum Conn {
    /// SQLite connection.
    Sqlite(PoolConnection<Sqlite>),
    /// PostgreSQL connection.
    Postgres(PoolConnection<Postgres>),
}

/// A borrowed connection, the argument the [`sql!`] macro matches on.
pub enum Executor<'a> {
    /// SQLite.
    Sqlite(&'a mut SqliteConnection),
    /// PostgreSQL.
    Postgres(&'a mut PgConnection),
}

/// Anything a query can run on: a pooled connection or a transaction.
pub trait AsExecutor: Send {
    /// Borrows the underlying connection.
    fn executor(&mut self) -> Executor<'_>;

    /// The engine behind it.
    fn engine(&mut self) -> Engine {
        match self.executor() {
            Executor::Sqlite(_) => Engine::Sqlite,
            Executor::Postgres(_) => Engine::Postgres,
        }
    }
}

/// Placeholders for statements built at run time with many parameters (multi-row
/// inserts, `IN` lists).
///
/// PostgreSQL numbers them (`$1`, `$2`, …). On SQLite they are anonymous `?`, bound in
/// order: sqlx looks up the name of every numbered parameter through
/// `sqlite3_bind_parameter_name`, a linear scan inside SQLite, so a 5,000-parameter
/// statement with `$N` names costs tens of millions of string comparisons per execution —
/// it was most of the time of an import before this.
pub struct Params {
    engine: Engine,
    count: usize,
}

impl Params {
    /// Placeholders for an executor's engine.
    pub fn new(engine: Engine) -> Self {
        Params { engine, count: 0 }
    }

    /// The next placeholder; bind values in the same order.
    pub fn placeholder(&mut self) -> String {
        let mut out = String::new();
        self.push_placeholder(&mut out);
        out
    }

    fn push_placeholder(&mut self, out: &mut String) {
        use std::fmt::Write;
        self.count += 1;
        match self.engine {
            Engine::Sqlite => out.push('?'),
            Engine::Postgres => {
                let _ = write!(out, "${}", self.count);
            }
        }
    }

    fn push_list(&mut self, n: usize, out: &mut String) {
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            self.push_placeholder(out);
        }
    }

    /// `n` placeholders separated by commas.
    pub fn list(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 4);
        self.push_list(n, &mut out);
        out
    }

    /// `rows` groups of `cols` placeholders: `(…), (…)`.
    pub fn rows(&mut self, rows: usize, cols: usize) -> String {
        let mut out = String::with_capacity(rows * (cols * 4 + 4));
        for r in 0..rows {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            self.push_list(cols, &mut out);
            out.push(')');
        }
        out
    }
}

/// The SQL type of a column of rows passed as JSON ([`json_rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonCol {
    /// An integer (`BIGINT` on PostgreSQL; assignment narrows it to `INTEGER` columns).
    Int,
    /// Text, as is.
    Text,
    /// A `YYYY-MM-DD` day (`DATE` on PostgreSQL, text on SQLite as sqlx stores it).
    Date,
}

/// `SELECT <the columns> FROM <the rows of a JSON array bound as $1>`: any number of rows
/// in one statement with one parameter. A use case that writes a run's drafts and lines,
/// or reads the rows of an id list, takes the same number of statements for ten accounts
/// as for ten thousand (placeholder lists would need a statement per few hundred rows).
/// Each row is a JSON array of its columns in order; `null` is NULL.
pub fn json_rows(engine: Engine, cols: &[JsonCol]) -> String {
    let list: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, col)| match (engine, col) {
            (Engine::Sqlite, _) | (Engine::Postgres, JsonCol::Text) => format!("j.value ->> {i}"),
            (Engine::Postgres, JsonCol::Int) => format!("CAST(j.value ->> {i} AS BIGINT)"),
            (Engine::Postgres, JsonCol::Date) => format!("CAST(j.value ->> {i} AS DATE)"),
        })
        .collect();
    match engine {
        Engine::Sqlite => format!("SELECT {} FROM json_each($1) AS j", list.join(", ")),
        Engine::Postgres => format!(
            "SELECT {} FROM jsonb_array_elements(CAST($1 AS JSONB)) AS j(value)",
            list.join(", ")
        ),
    }
}

/// `(SELECT …)`: the integers of a JSON array bound as $1, for `col IN (…)` with any
/// number of ids in one statement.
pub fn json_ids(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "(SELECT value FROM json_each($1))",
        Engine::Postgres => "(SELECT CAST(jsonb_array_elements_text(CAST($1 AS JSONB)) AS BIGINT))",
    }
}

/// `(SELECT …)`: the strings of a JSON array bound as $1, for `col IN (…)`.
pub fn json_texts(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "(SELECT value FROM json_each($1))",
        Engine::Postgres => "(SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))",
    }
}

/// [`json_texts`] for a list known to be short (a customer's subscriptions). PostgreSQL
/// estimates the elements of a JSON array at 100 rows, so where there are about that many
/// subscriptions a prepared statement's generic plan reads every subscription's rows; the
/// elements of an array built from it are estimated at 10, which keeps the plan on the
/// indexes (a year of one customer's resource rollups at 100 customers: 287 ms → 7 ms).
pub fn json_texts_short(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "(SELECT value FROM json_each($1))",
        Engine::Postgres => "(SELECT unnest(ARRAY(SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))))",
    }
}

/// An id list as the JSON parameter of [`json_ids`].
pub fn json_id_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

#[cfg(test)]
mod params_tests {
    use super::*;

    #[test]
    fn placeholders_are_anonymous_on_sqlite_and_numbered_on_postgres() {
        let mut p = Params::new(Engine::Sqlite);
        assert_eq!(p.list(3), "?, ?, ?");
        assert_eq!(p.rows(2, 2), "(?, ?), (?, ?)");
        let mut p = Params::new(Engine::Postgres);
        assert_eq!(p.placeholder(), "$1");
        assert_eq!(p.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(p.list(2), "$6, $7");
    }
}

impl AsExecutor for Tx {
    fn executor(&mut self) -> Executor<'_> {
        match self {
            Tx::Sqlite(t) => Executor::Sqlite(t),
            Tx::Postgres(t) => Executor::Postgres(t),
        }
    }
}

impl AsExecutor for Conn {
    fn executor(&mut self) -> Executor<'_> {
        match self {
            Conn::Sqlite(c) => Executor::Sqlite(c),
            Conn::Postgres(c) => Executor::Postgres(c),
        }
    }
}

/// Runs one body on whichever engine `$c` is connected to. The body is expanded once per
/// engine, so it must compile for both — that is the point.
///
/// ```ignore
/// let row = sql!(c, |e| sqlx::query_as::<_, UserRow>(SQL).bind(id).fetch_optional(e).await)?;
/// ```
#[macro_export]
macro_rules! sql {
    ($c:expr, |$e:ident| $body:expr) => {
        match $crate::ssr::db::AsExecutor::executor($c) {
            $crate::ssr::db::Executor::Sqlite($e) => $body,
            $crate::ssr::db::Executor::Postgres($e) => $body,
        }
    };
}
pub use crate::sql;

/// Errors of the storage layer. Raw SQL errors stay here and in the logs; the server
/// boundary turns them into a generic message.
#[derive(Debug, Error)]
pub enum DbError {
    /// The engine refused or failed a statement.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A stored value does not parse into its domain type (data written by hand, or a bug).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl DbError {
    /// Whether the transaction lost a race the engine resolved by aborting it (PostgreSQL
    /// deadlock or serialization failure): running it again is the remedy.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Sqlx(e) => e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|code| code == "40P01" || code == "40001"),
            DbError::Corrupt(_) => false,
        }
    }

    /// Whether the error is a unique-key violation (a concurrent or repeated insert).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlx(e) => e.as_database_error().is_some_and(|d| d.is_unique_violation()),
            DbError::Corrupt(_) => false,
        }
    }
}

/// Result alias for storage.
pub type DbResult<T> = Result<T, DbError>;

/// Why the database could not be opened; each message fits on one line.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The URL is not one Stackbill understands.
    #[error("DATABASE_URL is malformed: {0}")]
    Malformed(String),
    /// The URL is fine but the database cannot be reached or opened.
    #[error("cannot open the database at {url}: {reason}")]
    Unreachable {
        /// The URL without its password.
        url: String,
        /// The engine's one-line reason.
        reason: String,
    },
    /// A migration failed; the application must not start on a half-migrated schema.
    #[error("database migration failed: {0}")]
    Migration(String),
}

/// Removes the password from a database URL before it is shown anywhere: the one in the
/// user info (`postgres://user:secret@host`) and any `password`/`sslpassword` query
/// parameter (`postgres://host/db?password=secret`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.find("://") {
        Some(scheme_end) => {
            let rest = &base[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => match rest[..at].split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &base[..scheme_end + 3], &rest[at..]),
                    None => base.to_owned(),
                },
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword") => {
                    format!("{k}=***")
                }
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn one_line(e: &sqlx::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// How a pool is opened.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Upper bound of pooled connections.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the schema to use (tests give each test its own).
    pub pg_schema: Option<String>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            pg_schema: None,
        }
    }
}

impl Db {
    /// Opens `sqlite:…` or `postgres://…` and checks that the database answers.
    ///
    /// SQLite runs in WAL mode with `synchronous=FULL` (a committed batch survives a power
    /// cut), foreign keys on and a 5-second busy timeout; the file and its directory are
    /// created when missing.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Db, ConnectError> {
        let redacted = redact_url(url);
        let unreachable = |e: sqlx::Error| ConnectError::Unreachable {
            url: redacted.clone(),
            reason: one_line(&e),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut options = PgConnectOptions::from_str(url)
                .map_err(|e| ConnectError::Malformed(one_line(&e)))?
                .application_name("stackbill");
            if let Some(schema) = &settings.pg_schema {
                options = options.options([("search_path", schema.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(unreachable)?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(|e| ConnectError::Malformed(one_line(&e)))?;
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    std::fs::create_dir_all(dir).map_err(|e| ConnectError::Unreachable {
                        url: redacted.clone(),
                        reason: format!("cannot create directory {}: {e}", dir.display()),
                    })?;
                }
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                // 16 MiB of page cache per connection (SQLite's default is 2 MiB): the hot
                // ends of the usage indexes stay in memory during large imports.
                .pragma("cache_size", "-16384")
                // Checkpoint the WAL every ~16 MiB instead of every 4 MiB: large imports
                // then copy pages back to the database file four times less often.
                .pragma("wal_autocheckpoint", "4000");
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(unreachable)?;
            Ok(Db::Sqlite(pool))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(ConnectError::Malformed(format!(
                "unsupported scheme `{scheme}` (expected sqlite:PATH or postgres://USER@HOST/DB)"
            )))
        }
    }

    /// The engine behind this pool.
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies pending migrations of the engine's tree. Any failure is returned; callers
    /// refuse to start on it.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let result = match self {
            Db::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
        };
        result.map_err(|e| ConnectError::Migration(e.to_string()))
    }

    /// A second pooled connection only if one is free right now (never waits): for reads
    /// that may run beside the caller's connection but must not queue behind it.
    pub fn try_conn(&self) -> Option<Conn> {
        match self {
            Db::Sqlite(pool) => pool.try_acquire().map(Conn::Sqlite),
            Db::Postgres(pool) => pool.try_acquire().map(Conn::Postgres),
        }
    }

    /// A pooled connection for reads and single statements.
    pub async fn conn(&self) -> DbResult<Conn> {
        Ok(match self {
            Db::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
            Db::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
        })
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: taking the write
    /// lock up front avoids the deadlock of two deferred transactions that both try to
    /// upgrade from reading to writing.
    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Checks that the database answers (for `/healthz`).
    pub async fn ping(&self) -> DbResult<()> {
        let mut c = self.conn().await?;
        sql!(&mut c, |e| sqlx::query("SELECT 1")
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Closes the pool (waits for connections to return).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    /// Commits; the work is durable when this returns `Ok`.
    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back explicitly (dropping does the same).
    pub async fn rollback(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// Converts a stored text through a domain parser, reporting corrupt data clearly.
pub fn parse_stored<T, E: std::fmt::Display>(
    what: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> DbResult<T> {
    parse(raw).map_err(|e| DbError::Corrupt(format!("{what} `{raw}`: {e}")))
}

/// Unix seconds to an instant.
pub fn from_unix(secs: i64) -> DbResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(secs, 0).ok_or_else(|| DbError::Corrupt(format!("timestamp {secs} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_shown_urls() {
        assert_eq!(
            redact_url("postgres://billing:s3cret@db.example:5432/stackbill"),
            "postgres://billing:***@db.example:5432/stackbill"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("sqlite:data/stackbill.db"), "sqlite:data/stackbill.db");
        assert_eq!(
            redact_url("postgres://db.example/stackbill?user=billing&password=s3cret&sslmode=require"),
            "postgres://db.example/stackbill?user=billing&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://billing:p@ss@db.example/x?sslpassword=k3y"),
            "postgres://billing:***@db.example/x?sslpassword=***"
        );
    }

    #[tokio::test]
    async fn unsupported_and_unreachable_urls_give_one_line_errors() {
        let err = Db::connect("mysql://x", &PoolSettings::default()).await.unwrap_err();
        assert!(matches!(err, ConnectError::Malformed(_)), "{err}");
        assert!(err.to_string().contains("unsupported scheme `mysql`"));

        let settings = PoolSettings {
            acquire_timeout: Duration::from_secs(2),
            ..PoolSettings::default()
        };
        let err = Db::connect("postgres://nobody:pw@127.0.0.1:1/none", &settings)
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Unreachable { .. }), "{err}");
        assert!(!err.to_string().contains("pw@"), "password leaked: {err}");
        assert_eq!(err.to_string().lines().count(), 1);
    }
}

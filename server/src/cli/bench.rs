//! `stackbill bench ingest` and `stackbill bench generate`: the ingestion benchmark.
//!
//! Generates N synthetic records as usage-API pages of 1,000 (a JSON Lines file of pages,
//! shaped like the recorded Azure Stack responses) and imports them through the same code
//! path as `stackbill import usage` (syntax pass, then parse-and-store in batches), into a
//! fresh database; then imports the same file again (every record a duplicate). In the
//! same run, a baseline inserts the same rows with one prepared `INSERT` per row inside
//! one transaction per page, with plain sqlx and no parsing, and the ratio is reported.

use crate::open_database;
use app::billing::UsageRecord;
use app::ssr::db::{self, registrations::NewRegistration, Db, PoolSettings};
use app::ssr::services::import::{import_file, ImportOptions};
use app::ssr::services::ingest::{identity_key, ingest_batch, prepare_all, Batch, IngestCache, Source};
use app::ssr::{AppState, Clock, Settings};
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Options of the benchmark.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Records to import (measured).
    #[arg(long, default_value_t = 200_000)]
    pub records: u64,
    /// Records per usage-API page.
    #[arg(long, default_value_t = 1_000)]
    pub page_size: u64,
    /// Records per stored batch (transaction); default: what `import` uses.
    #[arg(long, default_value_t = app::ssr::services::import::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Records stored before the measured import (to measure cost at table size).
    #[arg(long, default_value_t = 0)]
    pub prefill: u64,
    /// A PostgreSQL database to benchmark in (a fresh schema is created); default: a new
    /// SQLite file in the temporary directory.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Concurrent batch writers; default: what `import` uses on the engine.
    #[arg(long)]
    pub writers: Option<usize>,
    /// Skip the baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// Keep the database and the generated file.
    #[arg(long)]
    pub keep: bool,
    /// Drop this index after migrating (repeatable): what an index costs ingestion is the
    /// difference between a run with it and one without.
    #[arg(long = "drop-index")]
    pub drop_index: Vec<String>,
}

/// Options of `bench generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Records to write.
    #[arg(long)]
    pub records: u64,
    /// Records per page.
    #[arg(long, default_value_t = 1_000)]
    pub page_size: u64,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// First record number (to generate records not stored yet).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
}

const SUBSCRIPTIONS: u64 = 500;
const RESOURCES_PER_SUB: u64 = 20;
const METERS: [&str; 6] = [
    "FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5",
    "6dab500f-a4fd-49c4-956d-229bb9c8c793",
    "B5C15376-6C94-4FDD-B655-1A69D138ACA3",
    "09f8879e87e94305a5724b7be209f857",
    "d5f7731b-f639-404a-89d0-e46186e22c8d",
    "7ba084ec-ef9c-4d64-a179-7732c6cb5e28",
];

pub(crate) fn start() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().expect("valid time")
}

/// The n-th synthetic record's fields: subscription, resource, meter and hour vary so that
/// every record has its own identity.
fn fields(n: u64) -> (String, String, &'static str, DateTime<Utc>, String) {
    let sub_n = n % SUBSCRIPTIONS;
    let res_n = (n / SUBSCRIPTIONS) % RESOURCES_PER_SUB;
    let meter = METERS[((n / (SUBSCRIPTIONS * RESOURCES_PER_SUB)) % METERS.len() as u64) as usize];
    let hour = n / (SUBSCRIPTIONS * RESOURCES_PER_SUB * METERS.len() as u64);
    let sub = format!("{:08x}-1111-4222-8333-{:012x}", 0x5b00_0000u64 + sub_n, sub_n);
    let uri = format!(
        "/subscriptions/{sub}/resourceGroups/rg{}/providers/Microsoft.Compute/disks/disk{res_n}",
        sub_n % 7
    );
    let start = start() + Duration::hours(hour as i64);
    let quantity = format!("{}", (n % 997 + 1) as f64 / 744.0);
    (sub, uri, meter, start, quantity)
}

fn record_json(n: u64) -> String {
    let (sub, uri, meter, start, quantity) = fields(n);
    let end = start + Duration::hours(1);
    let instance = format!(
        r#"{{\"Microsoft.Resources\":{{\"resourceUri\":\"{uri}\",\"location\":\"northwest\",\"tags\":\"\",\"additionalInfo\":\"\"}}}}"#
    );
    format!(
        r#"{{"id":"/subscriptions/39c82aed-0000-4000-8000-000000000000/providers/Microsoft.Commerce/UsageAggregate/{sub}-{meter}","name":"{sub}-{meter}","type":"Microsoft.Commerce/UsageAggregate","properties":{{"subscriptionId":"{sub}","usageStartTime":"{}","usageEndTime":"{}","instanceData":"{instance}","quantity":{quantity},"meterId":"{meter}","name":"{sub}-{meter}"}}}}"#,
        start.format("%Y-%m-%dT%H:%M:%S+00:00"),
        end.format("%Y-%m-%dT%H:%M:%S+00:00"),
    )
}

/// Writes records `offset..offset+records` as pages, one page per line.
pub fn generate(args: &GenerateArgs) -> Result<u64, String> {
    let file = std::fs::File::create(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut n = args.offset;
    let end = args.offset + args.records;
    while n < end {
        let page_end = (n + args.page_size).min(end);
        let records: Vec<String> = (n..page_end).map(record_json).collect();
        writeln!(out, "{{\"value\":[{}],\"nextLink\":null}}", records.join(",")).map_err(|e| e.to_string())?;
        n = page_end;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0))
}

pub(crate) fn usage_record(n: u64) -> UsageRecord {
    let (sub, uri, meter, start, quantity) = fields(n);
    UsageRecord {
        subscription_id: app::billing::SubscriptionId::parse(&sub).expect("generated"),
        meter_id: app::billing::MeterId::parse(meter).expect("generated"),
        usage_start: start,
        usage_end: start + Duration::hours(1),
        quantity: app::billing::Quantity::parse(&quantity).expect("generated"),
        resource_uri: uri,
        location: "northwest".into(),
        tags: String::new(),
        additional_info: String::new(),
        reported_at: None,
    }
}

pub(crate) struct BenchDb {
    pub(crate) db: Db,
    pub(crate) cleanup: Box<dyn FnOnce() + Send>,
    pub(crate) label: String,
    /// Where it is (the PostgreSQL schema or the SQLite file).
    pub(crate) location: String,
    /// The SQLite database file.
    file: Option<std::path::PathBuf>,
}

impl BenchDb {
    /// Brings the prefilled database to rest before measuring, as a database that has
    /// been in service is: the WAL checkpointed and the data on disk. Measuring straight
    /// after writing gigabytes would measure the kernel still writing them back.
    pub(crate) async fn settle(&self) -> Result<(), String> {
        let mut c = self.db.conn().await.map_err(|e| e.to_string())?;
        let statement = match self.file {
            Some(_) => "PRAGMA wal_checkpoint(TRUNCATE)",
            None => "CHECKPOINT",
        };
        // CHECKPOINT needs a privileged role on PostgreSQL; without one, measure as is.
        let _ = db::sql!(&mut c, |e| sqlx::query(statement)
            .execute(e)
            .await
            .map(|r| r.rows_affected()));
        if self.file.is_none() {
            // Planner statistics, as autovacuum keeps them for a database in service: right
            // after a bulk load PostgreSQL still believes the tables are nearly empty and
            // plans a reported-time page as one index scan per user subscription (1.5 s
            // instead of 6 ms for 1,000 records of 100,000).
            db::sql!(&mut c, |e| sqlx::query("ANALYZE")
                .execute(e)
                .await
                .map(|r| r.rows_affected()))
            .map_err(|e| format!("ANALYZE: {e}"))?;
        }
        if let Some(file) = &self.file {
            std::fs::File::open(file)
                .and_then(|f| f.sync_all())
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        Ok(())
    }
}

pub(crate) async fn fresh_db(postgres: Option<&str>, tag: &str) -> Result<BenchDb, String> {
    let stamp = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    match postgres {
        Some(url) => {
            let schema = format!("bench_{tag}_{stamp}");
            let admin = Db::connect(url, &PoolSettings::default())
                .await
                .map_err(|e| e.to_string())?;
            let mut c = admin.conn().await.map_err(|e| e.to_string())?;
            db::sql!(&mut c, |e| sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                .execute(e)
                .await
                .map(|r| r.rows_affected()))
            .map_err(|e| e.to_string())?;
            drop(c);
            admin.close().await;
            let settings = PoolSettings {
                pg_schema: Some(schema.clone()),
                ..PoolSettings::default()
            };
            let db = Db::connect(url, &settings).await.map_err(|e| e.to_string())?;
            db.migrate().await.map_err(|e| e.to_string())?;
            let url = url.to_owned();
            let schema_name = schema.clone();
            let cleanup = Box::new(move || {
                let _ = std::process::Command::new("psql")
                    .arg(&url)
                    .args(["-qc", &format!("DROP SCHEMA \"{schema}\" CASCADE")])
                    .output();
            });
            Ok(BenchDb {
                db,
                cleanup,
                location: format!("schema {schema_name}"),
                label: "PostgreSQL".into(),
                file: None,
            })
        }
        None => {
            let path = std::env::temp_dir().join(format!("stackbill-bench-{tag}-{stamp}.db"));
            let mut config = crate::config::Config::for_database(&format!("sqlite:{}", path.display()));
            config.db_max_connections = 4;
            let db = open_database(&config, &Clock::system()).await?;
            let file = path.clone();
            let cleanup = Box::new(move || {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            });
            Ok(BenchDb {
                db,
                cleanup,
                location: format!("file {}", file.display()),
                label: "SQLite (file, WAL, synchronous=FULL)".into(),
                file: Some(file),
            })
        }
    }
}

pub(crate) async fn add_registration(db: &Db) -> Result<i64, String> {
    let mut c = db.conn().await.map_err(|e| e.to_string())?;
    app::ssr::services::catalogue::sync_meter_catalogue(db, 0)
        .await
        .map_err(|e| e.to_string())?;
    db::registrations::insert_registration(
        &mut c,
        &NewRegistration {
            name: "bench",
            base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
            resource_group: "azurestack",
            currency: "USD",
            active_from: app::billing::dated::since_always(),
        },
        0,
    )
    .await
    .map_err(|e| e.to_string())
}

/// Runs the benchmark and returns a report.
pub async fn run(args: &BenchArgs) -> Result<String, String> {
    let mut report = String::new();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let file = std::env::temp_dir().join(format!("stackbill-bench-{}.jsonl", std::process::id()));
    let size = generate(&GenerateArgs {
        records: args.records,
        page_size: args.page_size,
        out: file.clone(),
        offset: args.prefill,
    })?;
    report.push_str(&format!(
        "{} records in pages of {} ({:.1} MB of usage-API JSON), {cores} cores\n",
        args.records,
        args.page_size,
        size as f64 / 1e6
    ));

    let target = fresh_db(args.postgres.as_deref(), "ours").await?;
    let writers = args
        .writers
        .unwrap_or_else(|| app::ssr::services::import::default_writers(target.db.engine()))
        .max(1);
    report.push_str(&format!(
        "Database: {}; batches of {} records, {writers} writer(s)\n",
        target.label, args.batch_size,
    ));
    for index in &args.drop_index {
        if !index.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{index}` is not an index name"));
        }
        let mut c = target.db.conn().await.map_err(|e| e.to_string())?;
        db::sql!(&mut c, |e| sqlx::query(&format!("DROP INDEX {index}"))
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| format!("dropping {index}: {e}"))?;
        report.push_str(&format!("Without index {index}\n"));
    }
    let registration_id = add_registration(&target.db).await?;
    let state = AppState::new(target.db.clone(), Settings::default());
    if args.prefill > 0 {
        let started = Instant::now();
        let mut cache = IngestCache::default();
        let mut n = 0;
        while n < args.prefill {
            let end = (n + 5_000).min(args.prefill);
            let records = prepare_all(registration_id, (n..end).map(usage_record).collect());
            let batch = Batch::records(&records, Source::Import, "bench", "prefill");
            ingest_batch(&target.db, registration_id, &batch, &mut cache, 0)
                .await
                .map_err(|e| e.to_string())?;
            n = end;
        }
        target.settle().await?;
        report.push_str(&format!(
            "Prefilled {} records in {:.1} s\n",
            args.prefill,
            started.elapsed().as_secs_f64()
        ));
    }
    // The import's own batch size: this measures `stackbill import usage` as it runs.
    let options = ImportOptions {
        registration_id,
        batch_size: args.batch_size,
        source: Source::Import,
        actor: "bench".into(),
        label: "bench".into(),
        writers: Some(writers),
    };
    let started = Instant::now();
    let first = import_file(&state, &file, &options, None)
        .await
        .map_err(|e| e.to_string())?;
    let first_secs = started.elapsed().as_secs_f64();
    if first.report.accepted != args.records {
        return Err(format!(
            "expected {} new records, stored {}",
            args.records, first.report.accepted
        ));
    }
    let started = Instant::now();
    let second = import_file(&state, &file, &options, None)
        .await
        .map_err(|e| e.to_string())?;
    let second_secs = started.elapsed().as_secs_f64();
    if second.report.duplicates != args.records {
        return Err(format!(
            "expected {} duplicates, found {}",
            args.records, second.report.duplicates
        ));
    }
    let ours = args.records as f64 / first_secs;
    report.push_str(&format!(
        "Stackbill import, first ingest: {:>10.0} records/s ({first_secs:.2} s)\n\
         Stackbill import, re-ingest:    {:>10.0} records/s ({second_secs:.2} s; all duplicates)\n",
        ours,
        args.records as f64 / second_secs,
    ));

    if !args.no_baseline {
        let base_db = fresh_db(args.postgres.as_deref(), "baseline").await?;
        let baseline = baseline(&base_db.db, args).await?;
        report.push_str(&format!(
            "Baseline (prepared INSERT per row, one transaction per page, no parsing): {:>10.0} records/s\n\
             Ours / baseline: {:.2}\n",
            baseline,
            ours / baseline
        ));
        base_db.db.close().await;
        (base_db.cleanup)();
    }
    target.db.close().await;
    if !args.keep {
        (target.cleanup)();
        let _ = std::fs::remove_file(&file);
    }
    Ok(report)
}

/// The same rows, inserted the plain way: per page one transaction, per row one execution
/// of one prepared `INSERT` (sqlx caches the statement), values computed up front.
async fn baseline(db: &Db, args: &BenchArgs) -> Result<f64, String> {
    let create = "CREATE TABLE baseline_usage (id INTEGER PRIMARY KEY, identity_key BLOB NOT NULL UNIQUE, \
                  user_subscription_id BIGINT NOT NULL, meter_id TEXT NOT NULL, resource_id BIGINT NOT NULL, \
                  usage_start_at BIGINT NOT NULL, usage_end_at BIGINT NOT NULL, quantity TEXT NOT NULL, \
                  additional_info TEXT NOT NULL, tags TEXT NOT NULL, reported_at BIGINT NOT NULL, ingested_at BIGINT NOT NULL)";
    let create = match db.engine() {
        db::Engine::Sqlite => create.to_owned(),
        db::Engine::Postgres => create
            .replace(
                "INTEGER PRIMARY KEY",
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            )
            .replace("BLOB", "BYTEA"),
    };
    let mut c = db.conn().await.map_err(|e| e.to_string())?;
    db::sql!(&mut c, |e| sqlx::query(&create)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))
    .map_err(|e| e.to_string())?;
    db::sql!(&mut c, |e| sqlx::query(
        "CREATE INDEX baseline_sub_time ON baseline_usage (user_subscription_id, usage_start_at)"
    )
    .execute(e)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| e.to_string())?;
    drop(c);
    let rows: Vec<_> = (args.prefill..args.prefill + args.records)
        .map(|n| {
            let r = usage_record(n);
            (
                identity_key(1, &r, &r.resource_key()).to_vec(),
                (n % SUBSCRIPTIONS) as i64,
                r.meter_id.to_string(),
                (n % 10_000) as i64,
                r.usage_start.timestamp(),
                r.usage_end.timestamp(),
                r.quantity.canonical(),
            )
        })
        .collect();
    let insert =
        "INSERT INTO baseline_usage (identity_key, user_subscription_id, meter_id, resource_id, usage_start_at, \
                  usage_end_at, quantity, additional_info, tags, reported_at, ingested_at) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', $8, $9)";
    let started = Instant::now();
    for page in rows.chunks(args.page_size as usize) {
        let mut tx = db.begin().await.map_err(|e| e.to_string())?;
        for (key, sub, meter, res, s, e_, q) in page {
            db::sql!(&mut tx, |e| sqlx::query(insert)
                .bind(key.as_slice())
                .bind(*sub)
                .bind(meter)
                .bind(*res)
                .bind(*s)
                .bind(*e_)
                .bind(q)
                .bind(*s)
                .bind(0_i64)
                .execute(e)
                .await
                .map(|r| r.rows_affected()))
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    Ok(args.records as f64 / started.elapsed().as_secs_f64())
}

/// Pages requested under load by one signed-in user.
pub(crate) struct PageLoad<'a> {
    /// The user's role.
    pub role: app::types::Role,
    /// Their customer (customer users).
    pub customer_id: Option<i64>,
    /// The pages, requested in turn.
    pub paths: &'a [&'a str],
    /// What every answer must contain (else the run fails).
    pub marker: &'a str,
    /// Clients at once.
    pub concurrency: usize,
    /// Requests per client.
    pub requests: usize,
}

/// Starts the real server on a loopback port over `state`'s database and signs a new user
/// of `role` in: the server (keep it alive), its base URL and the signed-in client.
pub(crate) async fn serve_signed_in(
    state: &AppState,
    role: app::types::Role,
    customer_id: Option<i64>,
) -> Result<(crate::Running, String, reqwest::Client), String> {
    let password = "bench password, long enough";
    app::ssr::services::accounts::create_user(
        state,
        &app::ssr::auth::Caller::cli(),
        app::ssr::services::accounts::UserInput {
            email: "bench@example.test".into(),
            display_name: None,
            role,
            customer_id,
            password: password.into(),
            locale: app::i18n::Locale::En,
        },
    )
    .await
    .map_err(|e| e.message)?;
    let mut config = crate::config::Config::for_database("sqlite::memory:");
    config.listen = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    config.site_root = std::env::temp_dir().join("stackbill-bench-site").display().to_string();
    let running = crate::spawn(&config, state.clone()).await.map_err(|e| e.to_string())?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let r = client
        .post(format!("{base}/api/fn/sign_in"))
        .header("origin", &base)
        .form(&[("email", "bench@example.test"), ("password", password)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("bench sign-in failed: {}", r.status()));
    }
    Ok((running, base, client))
}

/// Signs a user in on a real server over the bench database and requests the pages from
/// `concurrency` clients at once: every request's time (sorted, ms) and the wall time (s).
pub(crate) async fn page_load(state: &AppState, load: &PageLoad<'_>) -> Result<(Vec<f64>, f64), String> {
    let (_running, base, client) = serve_signed_in(state, load.role, load.customer_id).await?;
    let paths: Vec<String> = load.paths.iter().map(|p| (*p).to_owned()).collect();
    let marker = load.marker.to_owned();
    // Warm-up: the first render of a route builds caches every later one reuses.
    for p in &paths {
        client
            .get(format!("{base}{p}"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..load.concurrency {
        let client = client.clone();
        let base = base.clone();
        let n = load.requests;
        let paths = paths.clone();
        let marker = marker.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(n);
            for i in 0..n {
                let path = &paths[(c + i) % paths.len()];
                let t = Instant::now();
                let r = client
                    .get(format!("{base}{path}"))
                    .header("accept", "text/html")
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status();
                let body = r.text().await.map_err(|e| e.to_string())?;
                if !status.is_success() || !body.contains(marker.as_str()) {
                    return Err(format!("{path}: {status}"));
                }
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, String>(times)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok((all, wall))
}

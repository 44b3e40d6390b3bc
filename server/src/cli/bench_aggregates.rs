//! `stackbill bench aggregates`: paging through a million stored records with the
//! Azure-compatible provider endpoint (`subscriberUsageAggregates`, Hourly) over HTTP on
//! loopback, following `nextLink` as a downstream collector does — records per second end
//! to end, and the time of the first pages against pages deep into the window (keyset
//! continuation: a page costs the same wherever it starts).

use super::bench::{add_registration, fresh_db, serve_signed_in, start, usage_record};
use super::bench_rating::percentile;
use app::ssr::services::ingest::{ingest_batch, prepare_all, Batch, IngestCache, Source};
use app::ssr::{AppState, Clock, Settings};
use chrono::Duration;
use clap::Args;
use std::fmt::Write as _;
use std::time::Instant;

/// Options of `bench aggregates`.
#[derive(Debug, Clone, Args)]
pub struct AggregatesBenchArgs {
    /// Records stored and paged through.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// A PostgreSQL database to benchmark in (a fresh schema); default: a new SQLite file.
    #[arg(long)]
    pub postgres: Option<String>,
}

/// A page as a client reads it.
#[derive(serde::Deserialize)]
struct Page {
    value: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

/// The base subscription `bench` registrations get (their provider subscription here).
const PROVIDER: &str = "dd8597b4-8739-4467-8b10-f8679f62bfbf";

/// Runs the benchmark and returns its report.
pub async fn run(args: &AggregatesBenchArgs) -> Result<String, String> {
    let target = fresh_db(args.postgres.as_deref(), "aggregates").await?;
    let registration = add_registration(&target.db).await?;
    // The records are reported over one day, in 24 hourly windows (as the collector stores
    // pulled windows), the day after the usage.
    let reported = start() + Duration::days(1);
    let built = Instant::now();
    let mut cache = IngestCache::default();
    let mut n = 0;
    while n < args.records {
        let end = (n + 5_000).min(args.records);
        let records = (n..end)
            .map(|i| {
                let mut r = usage_record(i);
                r.reported_at = Some(reported + Duration::hours((i * 24 / args.records) as i64));
                r
            })
            .collect();
        let records = prepare_all(registration, records);
        let batch = Batch::records(&records, Source::Import, "bench", "aggregates");
        ingest_batch(&target.db, registration, &batch, &mut cache, 0)
            .await
            .map_err(|e| e.to_string())?;
        n = end;
    }
    let store_secs = built.elapsed().as_secs_f64();
    target.settle().await?;
    let state = AppState {
        clock: Clock::fixed(reported + Duration::days(2)),
        ..AppState::new(target.db.clone(), Settings::default())
    };
    let (_server, base, client) = serve_signed_in(&state, app::types::Role::Operator, None).await?;
    let mut next = Some(format!(
        "/subscriptions/{PROVIDER}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates\
         ?api-version=2015-06-01-preview&aggregationGranularity=Hourly&reportedStartTime={}&reportedEndTime={}",
        reported.format("%Y-%m-%dT%H:%M:%SZ"),
        (reported + Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
    ));
    let (mut pages, mut served) = (Vec::new(), 0usize);
    let started = Instant::now();
    while let Some(path) = next {
        let t = Instant::now();
        let r = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let bytes = r.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        }
        // Read as a collector's typed client does: the whole document parsed, each record
        // checked to be an object.
        let page: Page = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        served += page.value.len();
        pages.push(t.elapsed().as_secs_f64() * 1000.0);
        // The link carries the configured public address; follow its path here.
        next = page
            .next_link
            .and_then(|l| l.find("/subscriptions/").map(|at| l[at..].to_owned()));
    }
    let wall = started.elapsed().as_secs_f64();
    if served as u64 != args.records {
        return Err(format!("served {served} records of {}", args.records));
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let around = |at: usize| {
        let lo = at.saturating_sub(5).min(pages.len().saturating_sub(10));
        let mut w: Vec<f64> = pages[lo..(lo + 10).min(pages.len())].to_vec();
        w.sort_by(f64::total_cmp);
        percentile(&w, 50.0)
    };
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Azure-compatible paging on {} ({cores} cores): {} records stored in {:.0} s, reported over 24 hourly windows.",
        target.label, args.records, store_secs
    );
    let _ = writeln!(
        report,
        "Paged Hourly over HTTP, 1,000 a page: {} pages, {served} records in {:.1} s = {:.0} records/s (target ≥ 50,000).",
        pages.len(),
        wall,
        served as f64 / wall
    );
    let _ = writeln!(
        report,
        "Page time: page 1 {:.1} ms, page {} {:.1} ms; median of pages 1–10 {:.1} ms, around page 900 {:.1} ms.",
        pages[0],
        pages.len().min(900),
        pages[pages.len().min(900) - 1],
        around(5),
        around(900)
    );
    (target.cleanup)();
    Ok(report)
}

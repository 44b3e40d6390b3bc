//! `stackbill bench portal`: the customer portal's functions on a year of daily usage —
//! the overview, the explorer and the charts for a month and for a year, and a year's CSV
//! — timed customer by customer, p50 and p95 per function. Run it at 100 and at 1,000
//! customers to see that one customer's figures do not depend on how many others there are.

use super::bench_rating::{guid, peak_rss_kb, percentile, populate, reset_peak_rss, store, Populated, Population};
use app::billing::{BillingPeriod, Quantity, SubscriptionId, UsageRecord};
use app::ssr::services::ingest::IngestCache;
use app::ssr::services::{overview, usage};
use app::types::UsageQuery;
use clap::Args;
use std::fmt::Write as _;
use std::time::Instant;

/// Options of `bench portal`.
#[derive(Debug, Clone, Args)]
pub struct PortalBenchArgs {
    /// Customers (one user subscription each).
    #[arg(long, default_value_t = 1_000)]
    pub customers: u64,
    /// Meters with usage on every day, per customer.
    #[arg(long, default_value_t = 10)]
    pub meters: usize,
    /// Months of daily usage (ending with January 2026).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=12))]
    pub months: u32,
    /// Every how many customers one falls back to the base subscription.
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u64).range(1..))]
    pub base_every: u64,
    /// Customers timed (each function once per customer; p50 and p95 are reported).
    #[arg(long, default_value_t = 40)]
    pub samples: u64,
    /// Concurrent clients loading the overview page.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Overview page requests per client.
    #[arg(long, default_value_t = 40)]
    pub requests: usize,
    /// Resources of the first customer with a year of hourly records on two meters (the
    /// hourly CSV's measurement); 0 skips it.
    #[arg(long, default_value_t = 20)]
    pub hourly_resources: u64,
    /// A PostgreSQL database to benchmark in (a fresh schema); default: a new SQLite file.
    #[arg(long)]
    pub postgres: Option<String>,
}

/// Runs the benchmark and returns its report.
pub async fn run(args: &PortalBenchArgs) -> Result<String, String> {
    let e = |x: app::error::AppError| x.message;
    let last = BillingPeriod::parse("2026-01").map_err(|x| x.to_string())?;
    let mut first = last;
    for _ in 1..args.months {
        first = first.previous();
    }
    let p = populate(&Population {
        customers: args.customers,
        meters: args.meters,
        base_every: args.base_every,
        from: first,
        months: args.months,
        postgres: args.postgres.clone(),
        tag: "portal",
    })
    .await?;
    let state = &p.state;
    let month = UsageQuery {
        from: last.to_string(),
        ..UsageQuery::default()
    };
    let year = UsageQuery {
        from: first.to_string(),
        to: last.to_string(),
        ..UsageQuery::default()
    };
    let fine = UsageQuery {
        group_by: "day,service,meter,subscription,resource_group,resource".into(),
        page_size: Some(1000),
        ..year.clone()
    };
    // Each function twice per customer: cold (an empty cache: everything rated) and warm
    // (the same question again, the data unchanged).
    const FUNCTIONS: [&str; 6] = [
        "customer_overview (this and last month)",
        "portal_usage, a month",
        "portal_usage, a year",
        "portal_charts, a month",
        "portal_charts, a year",
        "usage CSV, a year by day × resource",
    ];
    let mut cold: Vec<Vec<f64>> = vec![Vec::new(); FUNCTIONS.len()];
    let mut warm: Vec<Vec<f64>> = vec![Vec::new(); FUNCTIONS.len()];
    let (mut csv_bytes, mut csv_rows, mut peak_kb) = (0usize, 0usize, 0u64);
    let stride = (args.customers / args.samples.max(1)).max(1);
    for k in 0..args.samples.min(args.customers) {
        let id = p.customer_ids[((k * stride) % args.customers) as usize];
        for f in 0..FUNCTIONS.len() {
            let fresh = app::ssr::AppState {
                caches: Default::default(),
                ..state.clone()
            };
            for (pass, st) in [(&mut cold, &fresh), (&mut warm, &fresh)] {
                let t = Instant::now();
                match f {
                    0 => drop(overview::customer_overview(st, id).await.map_err(e)?),
                    1 => drop(usage::explore(st, id, &month).await.map_err(e)?),
                    2 => drop(usage::explore(st, id, &year).await.map_err(e)?),
                    3 => drop(usage::charts(st, id, &month.from, "", None).await.map_err(e)?),
                    4 => drop(usage::charts(st, id, &year.from, &year.to, None).await.map_err(e)?),
                    _ => {
                        // A year's finest rows as CSV, as the download writes them.
                        reset_peak_rss();
                        let before = peak_rss_kb().unwrap_or_default();
                        let data = usage::load(st, id, first, last).await.map_err(e)?;
                        let rows = data.all_rows(&usage::select(&data, &fine).map_err(e)?);
                        drop(data);
                        let mut bytes = 0;
                        for (i, chunk) in rows.chunks(1000).enumerate() {
                            bytes += usage::csv_chunk(chunk, i == 0).map_err(e)?.len();
                        }
                        csv_bytes = bytes;
                        csv_rows = rows.len();
                        peak_kb = peak_kb.max(peak_rss_kb().unwrap_or_default().saturating_sub(before));
                    }
                }
                pass[f].push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    // The overview page rendered by the real server for one customer's user, under load.
    let load = super::bench::PageLoad {
        role: app::types::Role::Customer,
        customer_id: Some(p.customer_ids[0]),
        paths: &["/portal"],
        marker: "portal-cost",
        concurrency: args.concurrency,
        requests: args.requests,
    };
    let (pages, wall) = super::bench::page_load(state, &load).await?;
    let hourly = if args.hourly_resources > 0 {
        Some(hourly_csv(&p, args.hourly_resources, first, last).await?)
    } else {
        None
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Portal benchmark on {} ({cores} cores): {} customers × {} meters × {} months of days = {} daily rollups \
         (built in {:.0} s); {} customers timed.",
        p.target.label,
        args.customers,
        args.meters,
        args.months,
        p.records,
        p.build_secs,
        args.samples.min(args.customers)
    );
    let _ = writeln!(
        report,
        "{:<40} {:>10} {:>10} {:>10} {:>10}",
        "function", "cold p50", "cold p95", "warm p50", "warm p95"
    );
    for (f, name) in FUNCTIONS.iter().enumerate() {
        cold[f].sort_by(f64::total_cmp);
        warm[f].sort_by(f64::total_cmp);
        let _ = writeln!(
            report,
            "{name:<40} {:>7.1} ms {:>7.1} ms {:>7.1} ms {:>7.1} ms",
            percentile(&cold[f], 50.0),
            percentile(&cold[f], 95.0),
            percentile(&warm[f], 50.0),
            percentile(&warm[f], 95.0)
        );
    }
    let _ = writeln!(
        report,
        "Overview page (SSR, {} clients, {} requests, no errors): {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms \
         (targets ≥ 500/s, p99 ≤ 100 ms).",
        args.concurrency,
        pages.len(),
        pages.len() as f64 / wall,
        percentile(&pages, 50.0),
        percentile(&pages, 99.0)
    );
    let _ = writeln!(
        report,
        "A year's CSV: {csv_rows} rows, {:.1} MB; peak memory growth while building it {:.1} MB.",
        csv_bytes as f64 / 1e6,
        peak_kb as f64 / 1024.0
    );
    if let Some(h) = hourly {
        let _ =
            writeln!(
            report,
            "A year's hourly CSV of one customer ({} records stored for it in {:.0} s): {} rows, {:.1} MB in {:.1} s; \
             peak memory growth while streaming it {:.1} MB (target < 64 MB).",
            h.stored, h.store_secs, h.rows, h.bytes as f64 / 1e6, h.secs, h.peak_kb as f64 / 1024.0
        );
    }
    (p.target.cleanup)();
    Ok(report)
}

/// What the hourly CSV measurement found.
struct Hourly {
    stored: u64,
    store_secs: f64,
    rows: usize,
    bytes: usize,
    secs: f64,
    peak_kb: u64,
}

/// Stores a year of hourly records of `resources` resources on two meters for the first
/// customer, then streams its hourly CSV for the year as the download does, counting rows
/// and bytes and watching the process's peak memory.
async fn hourly_csv(
    p: &Populated,
    resources: u64,
    first: BillingPeriod,
    last: BillingPeriod,
) -> Result<Hourly, String> {
    let e = |x: app::error::AppError| x.message;
    let sub = SubscriptionId::from_u128(guid(0x05e2_0000, 0));
    let started = Instant::now();
    let mut cache = IngestCache::default();
    let mut batch = Vec::with_capacity(10_000);
    let mut stored = 0;
    let mut day = first.first_day();
    while day < last.end_day() {
        for hour in 0..24 {
            let start = day.and_hms_opt(hour, 0, 0).expect("an hour").and_utc();
            for r in 0..resources {
                for (i, meter) in p.meters.iter().take(2).enumerate() {
                    batch.push(UsageRecord {
                        subscription_id: sub,
                        meter_id: *meter,
                        usage_start: start,
                        usage_end: start + chrono::Duration::hours(1),
                        quantity: Quantity::parse(&format!("{}.25", 1 + (r + i as u64) % 4)).map_err(|x| x.to_string())?,
                        resource_uri: format!(
                            "/subscriptions/{sub}/resourceGroups/rg-hourly/providers/Microsoft.Compute/virtualMachines/vm{r}"
                        ),
                        location: "local".into(),
                        tags: format!(r#"{{"env":"prod","costCenter":"CC-{}"}}"#, 100 + r % 3),
                        additional_info: String::new(),
                        reported_at: None,
                    });
                    if batch.len() == 10_000 {
                        stored += store(&p.state, p.reg, &mut batch, &mut cache).await?;
                    }
                }
            }
        }
        day += chrono::Duration::days(1);
    }
    stored += store(&p.state, p.reg, &mut batch, &mut cache).await?;
    let store_secs = started.elapsed().as_secs_f64();
    p.target.settle().await?;

    let state = app::ssr::AppState {
        caches: Default::default(),
        ..p.state.clone()
    };
    reset_peak_rss();
    let before = peak_rss_kb().unwrap_or_default();
    let t = Instant::now();
    let q = UsageQuery {
        from: first.to_string(),
        to: last.to_string(),
        granularity: "hourly".into(),
        ..UsageQuery::default()
    };
    let data = usage::load(&state, p.customer_ids[0], first, last).await.map_err(e)?;
    let selection = usage::select_in(&state, &data, &q).await.map_err(e)?;
    let mut rx = usage::hourly_csv(state.clone(), data, selection);
    let (mut rows, mut bytes) = (0usize, 0usize);
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.map_err(e)?;
        rows += chunk.iter().filter(|b| **b == b'\n').count();
        bytes += chunk.len();
    }
    Ok(Hourly {
        stored,
        store_secs,
        rows: rows.saturating_sub(1),
        bytes,
        secs: t.elapsed().as_secs_f64(),
        peak_kb: peak_rss_kb().unwrap_or_default().saturating_sub(before),
    })
}

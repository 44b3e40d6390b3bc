//! `stackbill bench rating`: the rating service on a month of daily rollups.
//!
//! Builds, through the product's own services, a registration with N customers (all but
//! every `--base-every`th mapped to its own customer subscription, the rest on the base), one user
//! subscription each, a price sheet for M meters (a fifth of them tiered), and one usage
//! record per customer, meter and day of January 2026 — N × M × 31 daily rollup rows. Then
//! measures `rate_period` for all accounts (end to end, loading included; several runs,
//! with the statement count and the process's peak memory) and for single customers (p50
//! and p95 over a sample).

use super::bench::fresh_db;
use app::billing::{
    BillingPeriod, CloudTenantId, MeterBilling, MeterId, PriceEntry, PricingModel, Quantity, SubscriptionId, Tier,
    UnitConversion, UnitPrice, UsageRecord,
};
use app::i18n::Locale;
use app::ssr::auth::Caller;
use app::ssr::services::rating::{rate_period, Detail, Scope};
use app::ssr::services::{
    customers, ingest, invoice_pdf, invoicing, mappings, ownership, price_sheets, registrations, terms,
};
use app::ssr::{AppState, Clock, Settings};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Args;
use std::fmt::Write as _;
use std::time::Instant;

/// Options of `bench rating`.
#[derive(Debug, Clone, Args)]
pub struct RatingBenchArgs {
    /// Customers (one user subscription each).
    #[arg(long, default_value_t = 1_000)]
    pub customers: u64,
    /// Meters with usage on every day, per customer.
    #[arg(long, default_value_t = 30)]
    pub meters: usize,
    /// Runs of the all-accounts rating (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Every how many customers one falls back to the base subscription (the others have
    /// their own customer subscription): 2 gives N/2 + 1 billing accounts, 11 with
    /// 1,100 customers gives 1,001.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub base_every: u64,
    /// Customers rated one by one (p50 and p95 are reported).
    #[arg(long, default_value_t = 200)]
    pub samples: u64,
    /// A PostgreSQL database to benchmark in (a fresh schema is created); default: a new
    /// SQLite file in the temporary directory.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Keep the database (its schema or file is printed) to look at it afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub(crate) fn guid(kind: u32, n: u64) -> u128 {
    (u128::from(kind) << 96) | (0x4000_8000_0000_0000u128 + u128::from(n))
}

/// The process's peak resident memory (kB) since the last reset, and a reset (Linux).
pub(crate) fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Builds the dataset and measures; returns the report.
pub async fn run(args: &RatingBenchArgs) -> Result<String, String> {
    let e = |x: app::error::AppError| x.message;
    let jan = BillingPeriod::parse("2026-01").map_err(|x| x.to_string())?;
    let Populated {
        target,
        state,
        reg,
        customer_ids,
        records,
        build_secs,
        ..
    } = populate(&Population {
        customers: args.customers,
        meters: args.meters,
        base_every: args.base_every,
        from: jan,
        months: 1,
        postgres: args.postgres.clone(),
        tag: "rating",
    })
    .await?;
    let by = Caller::cli();

    // All accounts, end to end.
    let as_of = state.clock.now();
    let mut all_ms = Vec::new();
    let mut peaks = Vec::new();
    let mut statements = 0;
    let mut accounts = 0;
    for _ in 0..args.runs.max(1) {
        reset_peak_rss();
        let before = peak_rss_kb().unwrap_or_default();
        let t = Instant::now();
        let rated = rate_period(&state.db, Scope::Everything, jan, as_of, Detail::Lines)
            .await
            .map_err(e)?;
        all_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        statements = rated.statements;
        accounts = rated
            .registrations
            .iter()
            .map(|r| r.rating.accounts.len())
            .sum::<usize>();
        drop(rated);
        let peak = peak_rss_kb().unwrap_or_default();
        peaks.push((peak.saturating_sub(before), peak));
    }
    all_ms.sort_by(f64::total_cmp);
    peaks.sort();
    // How much of it is reading the month's rollups (and nothing else).
    let mut load_ms = Vec::new();
    for _ in 0..args.runs.max(1) {
        let mut c = state.db.conn().await.map_err(|x| x.to_string())?;
        let t = Instant::now();
        let days = app::ssr::db::rating_inputs::registration_usage(&mut c, reg, jan.first_day(), jan.end_day())
            .await
            .map_err(|x| x.to_string())?;
        load_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(days);
    }
    load_ms.sort_by(f64::total_cmp);

    // One customer at a time.
    let mut one_ms = Vec::new();
    let mut one_statements = 0;
    let stride = (args.customers / args.samples.max(1)).max(1);
    for k in 0..args.samples.min(args.customers) {
        let id = customer_ids[((k * stride) % args.customers) as usize];
        let t = Instant::now();
        let rated = rate_period(&state.db, Scope::Customer(id), jan, as_of, Detail::Lines)
            .await
            .map_err(e)?;
        one_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        one_statements = rated.statements;
    }
    one_ms.sort_by(f64::total_cmp);

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Rating benchmark on {} ({cores} cores): {} customers × {} meters × 31 days = {records} daily rollups, \
         {accounts} billing accounts (built in {build_secs:.0} s).",
        target.label, args.customers, args.meters
    );
    let _ = writeln!(
        report,
        "  all accounts, end to end: median {:.0} ms (min {:.0}, max {:.0}; {} runs), {statements} SQL statements, \
         peak memory +{:.0} MB over the {:.0} MB the process held before (peak {:.0} MB); \
         reading the rollups alone: median {:.0} ms",
        percentile(&all_ms, 50.0),
        all_ms.first().copied().unwrap_or_default(),
        all_ms.last().copied().unwrap_or_default(),
        all_ms.len(),
        peaks[peaks.len() / 2].0 as f64 / 1024.0,
        (peaks[peaks.len() / 2].1 - peaks[peaks.len() / 2].0) as f64 / 1024.0,
        peaks[peaks.len() / 2].1 as f64 / 1024.0,
        percentile(&load_ms, 50.0),
    );
    let _ = writeln!(
        report,
        "  one customer: p50 {:.1} ms, p95 {:.1} ms over {} customers, {one_statements} SQL statements each",
        percentile(&one_ms, 50.0),
        percentile(&one_ms, 95.0),
        one_ms.len()
    );

    // Invoicing the same month: runs (each replaces the drafts of the one before), then the
    // PDFs of one customer invoice, of the base subscription invoice, and of every draft.
    let mut run_ms = Vec::new();
    let mut run = None;
    for _ in 0..args.runs.clamp(1, 3) {
        let t = Instant::now();
        run = Some(invoicing::run(&state, &by, "2026-01", None, None).await.map_err(e)?);
        run_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    run_ms.sort_by(f64::total_cmp);
    let run = run.ok_or("no invoice run")?;
    // Once more, untimed, with the driver's statements counted (its log events, which cost
    // time while someone listens).
    let (counted, sql) = crate::telemetry::count_statements(invoicing::run(&state, &by, "2026-01", None, None)).await;
    counted.map_err(e)?;
    let _ = writeln!(
        report,
        "  invoice run: {} drafts, median {:.0} ms over {} runs, {sql} SQL statements counted by the driver \
         ({} as the run counts them)",
        run.drafts,
        percentile(&run_ms, 50.0),
        run_ms.len(),
        run.statements
    );
    let list = invoicing::list(&state, &by, Some("2026-01"), None).await.map_err(e)?;
    let fonts = invoice_pdf::Fonts::load(std::path::Path::new(invoice_pdf::DEFAULT_FONT))?;
    let company = invoice_pdf::Company {
        name: "Bench CSP".into(),
        ..Default::default()
    };
    let pages = |pdf: &[u8]| {
        let text = String::from_utf8_lossy(pdf);
        let n = |p: &str| text.matches(p).count();
        n("/Type/Page") + n("/Type /Page") - n("/Type/Pages") - n("/Type /Pages")
    };
    let render = |key: String| {
        let state = &state;
        let by = &by;
        async move { invoicing::detail(state, by, &key).await.map_err(|x| x.message) }
    };
    // Renders a document `runs` times: (median ms, pages, KB).
    let timed = |d: &app::types::InvoiceDetail, runs: usize| -> Result<(f64, usize, f64), String> {
        let mut ms = Vec::new();
        let mut last = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            last = invoice_pdf::render(d, &company, &fonts).map_err(e)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        Ok((percentile(&ms, 50.0), pages(&last), last.len() as f64 / 1024.0))
    };
    if let Some(one) = list.iter().find(|i| i.account_kind == "customer") {
        let d = render(one.id.to_string()).await?;
        let (ms, n_pages, kb) = timed(&d, 20)?;
        let _ = writeln!(
            report,
            "  customer invoice PDF ({} lines, {n_pages} page(s)): median {ms:.1} ms, {kb:.0} KB with the CJK font subset",
            d.lines.len(),
        );
        // The same invoice with the lines that fit one page.
        let mut one_page = d.clone();
        one_page.lines.truncate(15);
        let (ms, n_pages, kb) = timed(&one_page, 20)?;
        let _ = writeln!(
            report,
            "  its first 15 lines ({n_pages} page): median {ms:.1} ms, {kb:.0} KB"
        );
    }
    if let Some(base) = list.iter().find(|i| i.account_kind == "base") {
        let d = render(base.id.to_string()).await?;
        let t = Instant::now();
        let pdf = invoice_pdf::render(&d, &company, &fonts).map_err(e)?;
        let _ = writeln!(
            report,
            "  base subscription invoice PDF ({} lines in sections, {} pages): {:.0} ms, {:.0} KB",
            d.lines.len(),
            pages(&pdf),
            t.elapsed().as_secs_f64() * 1000.0,
            pdf.len() as f64 / 1024.0
        );
    }
    let t = Instant::now();
    let mut total = 0usize;
    for i in list.iter().filter(|i| i.account_kind == "customer") {
        let d = render(i.id.to_string()).await?;
        total += invoice_pdf::render(&d, &company, &fonts).map_err(e)?.len();
    }
    let _ = writeln!(
        report,
        "  every customer invoice as PDF ({} documents, {:.1} MB): {:.1} s",
        list.iter().filter(|i| i.account_kind == "customer").count(),
        total as f64 / 1024.0 / 1024.0,
        t.elapsed().as_secs_f64()
    );
    // Issue them all (unpriced usage waived), then the month's documents as one zip.
    let t = Instant::now();
    let numbers = invoicing::issue_all(&state, &by, "2026-01", None, true)
        .await
        .map_err(e)?
        .issued;
    let issue_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, zip) = invoicing::period_zip(&state, &by, "2026-01").await.map_err(e)?;
    let _ = writeln!(
        report,
        "  issuing {} invoices one by one: {:.1} s; the month's PDFs as one zip: {:.1} s, {:.1} MB",
        numbers.len(),
        issue_s,
        t.elapsed().as_secs_f64(),
        zip.len() as f64 / 1024.0 / 1024.0
    );
    // Usage detail pages: the base subscription invoice's (every fallback tenant's user
    // subscriptions) through the service, and a 20-page one rendered alone.
    let issued = invoicing::list(&state, &by, Some("2026-01"), None).await.map_err(e)?;
    if let Some(base) = issued.iter().find(|i| i.account_kind == "base" && i.number.is_some()) {
        let number = base.number.clone().unwrap_or_default();
        let t = Instant::now();
        let (_, pdf) = invoicing::pdf(&state, &by, &number, true).await.map_err(e)?;
        let _ = writeln!(
            report,
            "  base subscription invoice with usage detail ({} pages): {:.0} ms through the service, {:.1} MB",
            pages(&pdf),
            t.elapsed().as_secs_f64() * 1000.0,
            pdf.len() as f64 / 1024.0 / 1024.0
        );
    }
    if let Some(one) = issued
        .iter()
        .find(|i| i.account_kind == "customer" && i.number.is_some())
    {
        let mut d = render(one.id.to_string()).await?;
        let mut c = state.db.conn().await.map_err(|x| x.to_string())?;
        let stored = app::ssr::db::invoices::list_usage_detail(&mut c, one.id)
            .await
            .map_err(|x| x.to_string())?;
        drop(c);
        let rows = app::ssr::services::invoice_detail::view(&stored).map_err(e)?;
        // The customer's real rows, as if it had 31 user subscriptions like its one.
        let mut detail = Vec::new();
        for k in 0..31u64 {
            let sub = SubscriptionId::from_u128(guid(0x05e2_1000, k)).to_string();
            detail.extend(rows.iter().cloned().map(|mut r| {
                r.user_subscription_id = sub.clone();
                r.resource_group = format!("rg-{}", k % 4);
                r
            }));
        }
        d.usage_detail = detail;
        let (ms, n_pages, kb) = timed(&d, 10)?;
        let _ = writeln!(
            report,
            "  detail invoice PDF ({} detail rows, {n_pages} pages): median {ms:.1} ms, {kb:.0} KB",
            d.usage_detail.len(),
        );
    }
    if args.keep {
        let _ = writeln!(report, "  kept: {}", target.location);
    } else {
        (target.cleanup)();
    }
    Ok(report)
}

/// What [`populate`] builds: customers (every `base_every`-th on the base subscription),
/// a price sheet of `meters` billable meters (a fifth tiered), and one usage record per
/// customer, meter and day of `months` months from `from`.
pub(crate) struct Population {
    pub customers: u64,
    pub meters: usize,
    pub base_every: u64,
    pub from: BillingPeriod,
    pub months: u32,
    pub postgres: Option<String>,
    pub tag: &'static str,
}

/// A populated benchmark database.
pub(crate) struct Populated {
    pub target: super::bench::BenchDb,
    pub state: AppState,
    pub reg: i64,
    pub customer_ids: Vec<i64>,
    /// The priced meters.
    pub meters: Vec<MeterId>,
    pub records: u64,
    pub build_secs: f64,
}

/// Builds a benchmark database (see [`Population`]); the clock stands ten days after the
/// last month.
pub(crate) async fn populate(args: &Population) -> Result<Populated, String> {
    let e = |x: app::error::AppError| x.message;
    let target = fresh_db(args.postgres.as_deref(), args.tag).await?;
    let jan = args.from;
    let mut last = jan;
    for _ in 1..args.months.max(1) {
        last = last.next();
    }
    let state = AppState {
        clock: Clock::fixed(day_start(last.end_day() + Duration::days(9))),
        ..AppState::new(target.db.clone(), Settings::default())
    };
    let by = Caller::cli();
    let built = Instant::now();
    app::ssr::services::catalogue::sync_meter_catalogue(&state.db, 0)
        .await
        .map_err(|x| x.to_string())?;
    let reg = registrations::add_registration(
        &state,
        &by,
        registrations::RegistrationInput {
            name: "bench".into(),
            base_subscription: "dd8597b4-8739-4467-8b10-f8679f62bfbf".into(),
            resource_group: "azurestack".into(),
            currency: "USD".into(),
            active_from: Some(jan.first_day()),
            collector: Default::default(),
        },
    )
    .await
    .map_err(e)?;

    // The price sheet: the first M billable catalogue meters, a fifth of them tiered.
    let mut meters: Vec<MeterId> = app::ssr::services::overview::list_meters(&state)
        .await
        .map_err(e)?
        .into_iter()
        .filter(|m| m.billing == MeterBilling::Billable)
        .filter_map(|m| MeterId::parse(&m.id).ok())
        .collect();
    meters.sort();
    meters.truncate(args.meters);
    if meters.len() < args.meters {
        return Err(format!("the catalogue has only {} billable meters", meters.len()));
    }
    let price = |s: &str| UnitPrice::parse(s).map_err(|x| x.to_string());
    let mut entries = Vec::new();
    for (i, m) in meters.iter().enumerate() {
        let model = if i % 5 == 0 {
            PricingModel::Graduated {
                tiers: vec![
                    Tier {
                        from: 0.into(),
                        unit_price: price("0.012")?,
                    },
                    Tier {
                        from: 500.into(),
                        unit_price: price("0.009")?,
                    },
                ],
            }
        } else {
            PricingModel::PerUnit {
                unit_price: price(&format!("0.0{}", 10 + i))?,
            }
        };
        entries.push(PriceEntry {
            meter_id: *m,
            model,
            billing_unit: "unit".into(),
            conversion: UnitConversion::default(),
        });
    }
    let sheet = price_sheets::create_price_sheet(&state, &by, "bench list", "USD", "")
        .await
        .map_err(e)?;
    price_sheets::add_version(&state, &by, sheet, jan.first_day(), "", entries)
        .await
        .map_err(e)?;
    terms::set_registration_terms(
        &state,
        &by,
        reg,
        terms::RegistrationTermsChange {
            effective_on: Some(jan.first_day()),
            price_sheet: Some(Some(sheet)),
            tax_rate: None,
        },
    )
    .await
    .map_err(e)?;

    // Customers, their tenants and (every other one) a customer subscription.
    let mut customer_ids = Vec::new();
    let mut stamp = Vec::new();
    for n in 0..args.customers {
        let tenant = CloudTenantId::from_u128(guid(0x7e4a_0000, n));
        let saved = customers::save_customer(
            &state,
            &by,
            customers::CustomerInput {
                name: format!("Customer {n:04} 客户"),
                cloud_tenant: tenant,
                tenant_display_name: format!("c{n}.onmicrosoft.com"),
                billing_email: format!("billing{n}@example.test"),
                billing_address: String::new(),
                locale: Locale::En,
                tax_id: format!("GB{n:09}"),
                payment_terms_days: None,
            },
        )
        .await
        .map_err(e)?;
        customer_ids.push(saved.id);
        if n % args.base_every != args.base_every - 1 {
            mappings::change_mapping(
                &state,
                &by,
                mappings::MappingChange {
                    registration_id: reg,
                    cloud_tenant: tenant,
                    subscription: Some(SubscriptionId::from_u128(guid(0x5c5b_0000, n))),
                    effective_on: Some(jan.first_day()),
                    source: mappings::ChangeSource::Api,
                },
            )
            .await
            .map_err(e)?;
        }
        stamp.push(ownership::StampSubscription {
            subscription_id: SubscriptionId::from_u128(guid(0x05e2_0000, n)),
            display_name: format!("sub {n}"),
            owner_email: String::new(),
            offer: "bench".into(),
            state: "Enabled".into(),
            tenant: Some(tenant),
        });
    }

    // One record per customer, meter and day: N × M × days rollup rows.
    let mut days = Vec::new();
    let mut month = jan;
    loop {
        days.extend(month.days_iter());
        if month >= last {
            break;
        }
        month = month.next();
    }
    let mut cache = ingest::IngestCache::default();
    let mut batch: Vec<UsageRecord> = Vec::with_capacity(10_000);
    let mut records = 0u64;
    for n in 0..args.customers {
        let sub = SubscriptionId::from_u128(guid(0x05e2_0000, n));
        for (i, m) in meters.iter().enumerate() {
            for day in days.iter().copied() {
                let start = day_start(day);
                let q = (n % 13 + i as u64 % 7 + 1) * 3;
                batch.push(UsageRecord {
                    subscription_id: sub,
                    meter_id: *m,
                    usage_start: start,
                    usage_end: start + Duration::hours(1),
                    quantity: Quantity::parse(&q.to_string()).map_err(|x| x.to_string())?,
                    resource_uri: format!(
                        "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/disks/d{i}"
                    ),
                    location: "local".into(),
                    tags: String::new(),
                    additional_info: String::new(),
                    reported_at: None,
                });
                if batch.len() == 10_000 {
                    records += store(&state, reg, &mut batch, &mut cache).await?;
                }
            }
        }
    }
    records += store(&state, reg, &mut batch, &mut cache).await?;
    let reg_row = app::ssr::services::lookup::registration_by_id(&state.db, reg)
        .await
        .map_err(e)?;
    ownership::record_stamp_subscriptions(&state, &reg_row, &stamp)
        .await
        .map_err(e)?;
    let build_secs = built.elapsed().as_secs_f64();
    // As a database in service is: PostgreSQL's statistics gathered (autovacuum would have
    // analysed a table that just grew by a million rows), the SQLite WAL checkpointed.
    if args.postgres.is_some() {
        let mut c = state.db.conn().await.map_err(|x| x.to_string())?;
        app::ssr::db::sql!(&mut c, |e| sqlx::query("ANALYZE")
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|x| x.to_string())?;
    }
    target.settle().await?;
    Ok(Populated {
        target,
        state,
        reg,
        customer_ids,
        meters,
        records,
        build_secs,
    })
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(10, 0, 0).expect("valid hour").and_utc()
}

pub(crate) async fn store(
    state: &AppState,
    reg: i64,
    batch: &mut Vec<UsageRecord>,
    cache: &mut ingest::IngestCache,
) -> Result<u64, String> {
    if batch.is_empty() {
        return Ok(0);
    }
    let prepared = ingest::prepare_all(reg, std::mem::take(batch));
    let report = ingest::ingest_batch(
        &state.db,
        reg,
        &ingest::Batch::records(&prepared, ingest::Source::Import, "bench", "rating bench"),
        cache,
        0,
    )
    .await
    .map_err(|x| x.to_string())?;
    Ok(report.accepted)
}

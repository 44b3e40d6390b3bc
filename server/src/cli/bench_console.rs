//! `stackbill bench console`: the operator console at the size the issue names — 10,000
//! customers, 100,000 user subscriptions, 3 registrations.
//!
//! The dataset is written with plain multi-row INSERTs (building it through the services
//! would take longer than the measurement and measure nothing of interest): every customer
//! with its cloud tenant, three in five mapped on one registration, ten user subscriptions
//! per customer spread over the registrations (one in ten without an owner), one daily
//! rollup row each this month, and an audit log of 20,000 entries. Then it measures, on
//! the services the server functions and `/api/v1` call:
//!
//! - every list (customers, user subscriptions, mappings, audit) over pages, sorts and
//!   filters: p50 and p95 per variant;
//! - a mapping change with its audit entry: p50 and p95;
//! - the customers page rendered by the real server under 16 concurrent requests: p50,
//!   p95 and p99.

use super::bench::fresh_db;
use app::ssr::auth::Caller;
use app::ssr::db::{self, Db};
use app::ssr::services::{audit_log, customers, mappings, price_sheets, user_subscriptions};
use app::ssr::{AppState, Clock, Settings};
use app::types::{AuditQuery, BilledToFilter, CustomerQuery, CustomerSort, UserSubscriptionQuery};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use std::fmt::Write as _;
use std::future::Future;
use std::time::Instant;

/// Options of `bench console`.
#[derive(Debug, Clone, Args)]
pub struct ConsoleBenchArgs {
    /// Customers (each with its own cloud tenant).
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,
    /// User subscriptions per customer.
    #[arg(long, default_value_t = 10)]
    pub subscriptions_per_customer: u64,
    /// Registrations.
    #[arg(long, default_value_t = 3)]
    pub registrations: u64,
    /// Calls per measured variant.
    #[arg(long, default_value_t = 60)]
    pub samples: usize,
    /// Concurrent page requests.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Page requests per concurrent client.
    #[arg(long, default_value_t = 25)]
    pub requests: usize,
    /// A PostgreSQL database to benchmark in (a fresh schema); default: a SQLite file.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Keep the database afterwards.
    #[arg(long)]
    pub keep: bool,
}

fn guid(kind: u32, n: u64) -> String {
    let v = (u128::from(kind) << 96) | (0x4000_8000_0000_0000u128 + u128::from(n));
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs `f` `n` times; the sorted durations in milliseconds.
async fn time_n<F, Fut>(n: usize, mut f: F) -> Result<Vec<f64>, String>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// Inserts rows in batches of multi-row VALUES.
async fn insert_rows(db: &Db, head: &str, rows: impl Iterator<Item = String>) -> Result<(), String> {
    let mut rows = rows.peekable();
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    while rows.peek().is_some() {
        let chunk: Vec<String> = rows.by_ref().take(1000).collect();
        let q = format!("{head} VALUES {}", chunk.join(","));
        db::sql!(&mut tx, |e| sqlx::query(&q).execute(e).await.map(|r| r.rows_affected()))
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

/// Builds the dataset and measures; returns the report.
pub async fn run(args: &ConsoleBenchArgs) -> Result<String, String> {
    let target = fresh_db(args.postgres.as_deref(), "console").await?;
    let now: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().map_err(|e| format!("{e}"))?;
    let state = AppState {
        clock: Clock::fixed(now),
        ..AppState::new(target.db.clone(), Settings::default())
    };
    let db = &state.db;
    let today = now.date_naive();
    let month_start = NaiveDate::from_ymd_opt(2026, 11, 1).ok_or("date")?;
    let built = Instant::now();
    app::ssr::services::catalogue::sync_meter_catalogue(db, 0)
        .await
        .map_err(|e| e.to_string())?;
    let meter = app::billing::meter::BASE_VM_SIZE_HOURS.to_string();
    let n = args.customers;
    let regs = args.registrations.max(1);
    let per = args.subscriptions_per_customer;
    insert_rows(
        db,
        "INSERT INTO registrations (id, name, base_subscription_id, resource_group, currency, created_at)",
        (1..=regs).map(|r| format!("({r}, 'azs-{r}', '{}', 'azurestack', 'USD', 0)", guid(9, r))),
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO cloud_tenants (id, tenant_id, display_name, created_at)",
        (1..=n).map(|i| format!("({i}, '{}', 'tenant{i}.onmicrosoft.com', 0)", guid(1, i))),
    )
    .await?;
    // Names in several scripts, as customers have them.
    let name = |i: u64| match i % 4 {
        0 => format!("Contoso {i} B.V."),
        1 => format!("台灣雲端 {i} 股份有限公司"),
        2 => format!("Société {i} SAS"),
        _ => format!("Fabrikam {i} Ltd"),
    };
    insert_rows(
        db,
        "INSERT INTO customers (id, name, cloud_tenant_id, billing_email, billing_address, locale, created_at)",
        (1..=n).map(|i| format!("({i}, '{}', {i}, 'billing{i}@example.test', '', 'en', {i})", name(i))),
    )
    .await?;
    // Three in five tenants mapped on one registration since 1 October.
    let mapped: Vec<u64> = (1..=n).filter(|i| i % 5 < 3).collect();
    // The binding of each customer subscription to its tenant first: the intervals
    // reference it.
    insert_rows(
        db,
        "INSERT INTO customer_subscription_tenants (registration_id, subscription_id, cloud_tenant_id)",
        mapped
            .iter()
            .map(|i| format!("({}, '{}', {i})", i % regs + 1, guid(2, *i))),
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO customer_subscriptions (registration_id, cloud_tenant_id, subscription_id, effective_on, ended_on, created_at)",
        mapped.iter().map(|i| format!("({}, {i}, '{}', '2026-10-01', NULL, 0)", i % regs + 1, guid(2, *i))),
    )
    .await?;
    let subs = n * per;
    insert_rows(
        db,
        "INSERT INTO user_subscriptions (id, registration_id, subscription_id, display_name, owner_email, offer, state, first_seen_at, updated_at)",
        (1..=subs).map(|s| format!("({s}, {}, '{}', 'sub {s}', 'owner{s}@example.test', 'base', 'Enabled', 0, 0)", s % regs + 1, guid(3, s))),
    )
    .await?;
    // One in ten has no known owner.
    insert_rows(
        db,
        "INSERT INTO user_subscription_owners (user_subscription_id, cloud_tenant_id, effective_on, ended_on, created_at)",
        (1..=subs).filter(|s| s % 10 != 0).map(|s| format!("({s}, {}, '2026-10-01', NULL, 0)", (s - 1) / per + 1)),
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO usage_daily (usage_on, user_subscription_id, meter_id, quantity_whole, quantity_atto, record_count)",
        (1..=subs).map(|s| format!("('{}', {s}, '{meter}', 24, 0, 24)", month_start + chrono::Duration::days((s % 19) as i64))),
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO audit_log (occurred_at, actor, actor_label, action, subject, details, client_addr)",
        (1..=20_000u64).map(|i| {
            format!(
                "({}, 'user:{}', 'ops{}@example.test', '{}', 'customer:{}', '{{\"before\":null,\"after\":{{\"name\":\"x\"}}}}', '')",
                1_760_000_000 + i as i64 * 60,
                i % 5,
                i % 5,
                if i % 3 == 0 { "mapping.set" } else { "customer.updated" },
                i % n.max(1) + 1
            )
        }),
    )
    .await?;
    // Price sheets: five sheets of three versions with 60 prices each; the first is every
    // registration's default, one customer in ten has its own sheet, the others a markup.
    insert_rows(
        db,
        "INSERT INTO price_sheets (id, name, currency, description, created_at)",
        (1..=5u64).map(|s| format!("({s}, 'Sheet {s}', 'USD', '', 0)")),
    )
    .await?;
    let spans = [
        ("'2026-01-01'", "'2026-06-01'"),
        ("'2026-06-01'", "'2026-10-01'"),
        ("'2026-10-01'", "NULL"),
    ];
    insert_rows(
        db,
        "INSERT INTO price_sheet_versions (id, price_sheet_id, effective_on, ended_on, note, created_at)",
        (0..15u64).map(|v| {
            let (from, to) = spans[(v % 3) as usize];
            format!("({}, {}, {from}, {to}, '', 0)", v + 1, v / 3 + 1)
        }),
    )
    .await?;
    let priced: Vec<String> = {
        let mut c = db.conn().await.map_err(|e| e.to_string())?;
        let mut ids = db::meters::known_meter_ids(&mut c).await.map_err(|e| e.to_string())?;
        ids.sort();
        ids.truncate(60);
        ids
    };
    insert_rows(
        db,
        "INSERT INTO price_sheet_entries (version_id, meter_id, pricing, billing_unit, unit_conversion)",
        (1..=15u64).flat_map(|v| {
            priced.iter().map(move |m| {
                format!("({v}, '{m}', '{{\"model\":\"per_unit\",\"unit_price\":\"0.01\"}}', 'unit', '{{\"factor\":\"1\"}}')")
            })
        }),
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO registration_terms (registration_id, effective_on, price_sheet_id, tax_rate, recorded_at, actor)",
        (1..=regs).map(|r| format!("({r}, '1970-01-01', 1, '0', 0, 'system')")),
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO customer_terms (customer_id, effective_on, price_sheet_id, adjustment_percent, tax_rate, recorded_at, actor)",
        (1..=n).map(|i| {
            if i % 10 == 0 {
                format!("({i}, '1970-01-01', {}, NULL, '0', 0, 'system')", i % 4 + 2)
            } else {
                format!("({i}, '1970-01-01', NULL, '5', '0', 0, 'system')")
            }
        }),
    )
    .await?;
    if target.label == "PostgreSQL" {
        // Explicit ids above were written past the identity sequences; move them on, and
        // give the planner statistics as autovacuum would.
        let mut c = db.conn().await.map_err(|e| e.to_string())?;
        for table in [
            "registrations",
            "cloud_tenants",
            "customers",
            "user_subscriptions",
            "price_sheets",
            "price_sheet_versions",
        ] {
            let q = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))");
            db::sql!(&mut c, |e| sqlx::query(&q).execute(e).await.map(|r| r.rows_affected()))
                .map_err(|e| e.to_string())?;
        }
        db::sql!(&mut c, |e| sqlx::query("ANALYZE")
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| e.to_string())?;
    } else {
        let mut c = db.conn().await.map_err(|e| e.to_string())?;
        db::sql!(&mut c, |e| sqlx::query("ANALYZE")
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| e.to_string())?;
    }
    let build_secs = built.elapsed().as_secs_f64();

    let by = Caller::cli();
    let mut report = String::new();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let _ = writeln!(
        report,
        "Console benchmark on {} ({}): {n} customers, {subs} user subscriptions, {regs} registrations, 20,000 audit entries; {cores} cores; built in {build_secs:.1} s.\n",
        target.label, target.location
    );
    let _ = writeln!(
        report,
        "{:<58} {:>8} {:>8}",
        "list (service call, one page)", "p50 ms", "p95 ms"
    );
    let mut worst_list: f64 = 0.0;
    let last_page = (n.saturating_sub(1) / 50 * 50) as i64;
    let customer_variants: Vec<(&str, CustomerQuery)> = vec![
        ("customers: first page by name", CustomerQuery::default()),
        (
            "customers: page 100 by name",
            CustomerQuery {
                offset: 4_950,
                ..Default::default()
            },
        ),
        (
            "customers: last page by name, descending",
            CustomerQuery {
                offset: last_page,
                desc: true,
                ..Default::default()
            },
        ),
        (
            "customers: by tenant",
            CustomerQuery {
                sort: CustomerSort::Tenant,
                offset: 2_500,
                ..Default::default()
            },
        ),
        (
            "customers: newest first",
            CustomerQuery {
                sort: CustomerSort::Created,
                desc: true,
                ..Default::default()
            },
        ),
        (
            "customers: search by name words",
            CustomerQuery {
                q: "contoso 12".into(),
                ..Default::default()
            },
        ),
        (
            "customers: search by tenant GUID beginning",
            CustomerQuery {
                q: guid(1, 4321)[..13].to_owned(),
                ..Default::default()
            },
        ),
        (
            "customers: mapped only, page 20",
            CustomerQuery {
                billed_to: Some(BilledToFilter::Mapped),
                offset: 950,
                ..Default::default()
            },
        ),
        (
            "customers: on the base only",
            CustomerQuery {
                billed_to: Some(BilledToFilter::Base),
                ..Default::default()
            },
        ),
    ];
    for (label, q) in &customer_variants {
        let t = time_n(args.samples, |_| async {
            customers::list_customers(&state, &by, q)
                .await
                .map(|_| ())
                .map_err(|e| e.message)
        })
        .await?;
        worst_list = worst_list.max(percentile(&t, 95.0));
        let _ = writeln!(
            report,
            "{label:<58} {:>8.2} {:>8.2}",
            percentile(&t, 50.0),
            percentile(&t, 95.0)
        );
    }
    let us_variants: Vec<(&str, UserSubscriptionQuery)> = vec![
        ("user subscriptions: first page", UserSubscriptionQuery::default()),
        (
            "user subscriptions: page 1,000",
            UserSubscriptionQuery {
                offset: 49_950,
                ..Default::default()
            },
        ),
        (
            "user subscriptions: one registration, assigned",
            UserSubscriptionQuery {
                registration: "azs-2".into(),
                status: "assigned".into(),
                ..Default::default()
            },
        ),
        (
            "user subscriptions: search by GUID",
            UserSubscriptionQuery {
                q: guid(3, 77_777),
                ..Default::default()
            },
        ),
        (
            "user subscriptions: search by name",
            UserSubscriptionQuery {
                q: "sub 7777".into(),
                ..Default::default()
            },
        ),
    ];
    for (label, q) in &us_variants {
        let t = time_n(args.samples, |_| async {
            user_subscriptions::list_user_subscriptions(&state, &by, q)
                .await
                .map(|_| ())
                .map_err(|e| e.message)
        })
        .await?;
        worst_list = worst_list.max(percentile(&t, 95.0));
        let _ = writeln!(
            report,
            "{label:<58} {:>8.2} {:>8.2}",
            percentile(&t, 50.0),
            percentile(&t, 95.0)
        );
    }
    let mapping_variants: Vec<(&str, Option<&str>, Option<&str>, i64)> = vec![
        ("mappings: in effect today, first page", None, None, 0),
        (
            "mappings: one registration on a past day, page 50",
            Some("azs-1"),
            Some("2026-10-15"),
            2_450,
        ),
    ];
    for (label, reg, at, offset) in &mapping_variants {
        let t = time_n(args.samples, |_| async {
            mappings::list_mappings(&state, &by, *reg, *at, *offset, 50)
                .await
                .map(|_| ())
                .map_err(|e| e.message)
        })
        .await?;
        worst_list = worst_list.max(percentile(&t, 95.0));
        let _ = writeln!(
            report,
            "{label:<58} {:>8.2} {:>8.2}",
            percentile(&t, 50.0),
            percentile(&t, 95.0)
        );
    }
    let audit_variants: Vec<(&str, AuditQuery)> = vec![
        ("audit: newest page", AuditQuery::default()),
        (
            "audit: one customer",
            AuditQuery {
                entity: "customer:17".into(),
                ..Default::default()
            },
        ),
        (
            "audit: one actor and action family",
            AuditQuery {
                actor: "ops3@example.test".into(),
                action: "mapping".into(),
                ..Default::default()
            },
        ),
        (
            "audit: a day",
            AuditQuery {
                since: "2025-10-10".into(),
                until: "2025-10-10".into(),
                ..Default::default()
            },
        ),
    ];
    for (label, q) in &audit_variants {
        let t = time_n(args.samples, |_| async {
            audit_log::list_audit(&state, &by, q)
                .await
                .map(|_| ())
                .map_err(|e| e.message)
        })
        .await?;
        worst_list = worst_list.max(percentile(&t, 95.0));
        let _ = writeln!(
            report,
            "{label:<58} {:>8.2} {:>8.2}",
            percentile(&t, 50.0),
            percentile(&t, 95.0)
        );
    }
    // Price sheets: the list (where each is in use: every customer's terms) and a sheet's
    // page (its 60 prices and the meters with usage this month and no price).
    let t = time_n(args.samples, |_| async {
        price_sheets::list(&state, &by).await.map(|_| ()).map_err(|e| e.message)
    })
    .await?;
    worst_list = worst_list.max(percentile(&t, 95.0));
    let _ = writeln!(
        report,
        "{:<58} {:>8.2} {:>8.2}",
        "price sheets: list with where each is in use",
        percentile(&t, 50.0),
        percentile(&t, 95.0)
    );
    let t = time_n(args.samples, |_| async {
        price_sheets::detail(&state, &by, 1, None)
            .await
            .map(|_| ())
            .map_err(|e| e.message)
    })
    .await?;
    worst_list = worst_list.max(percentile(&t, 95.0));
    let _ = writeln!(
        report,
        "{:<58} {:>8.2} {:>8.2}",
        "price sheet: 60 prices, uses, unpriced meters",
        percentile(&t, 50.0),
        percentile(&t, 95.0)
    );
    // The unassigned queue rates each registration's base account for the amounts it shows.
    let q = UserSubscriptionQuery {
        status: "unassigned".into(),
        ..Default::default()
    };
    let t = time_n(args.samples.min(20), |_| async {
        user_subscriptions::list_user_subscriptions(&state, &by, &q)
            .await
            .map(|_| ())
            .map_err(|e| e.message)
    })
    .await?;
    let _ = writeln!(
        report,
        "{:<58} {:>8.2} {:>8.2}",
        "unassigned queue with base amounts (rates the base)",
        percentile(&t, 50.0),
        percentile(&t, 95.0)
    );
    let _ = writeln!(report, "worst list p95 (target ≤ 20 ms): {worst_list:.2} ms\n");

    // A mapping change with its audit entry: re-map a mapped tenant from today.
    let t = time_n(args.samples, |i| {
        let state = &state;
        let by = &by;
        let tenant_n = mapped[(i * 7919) % mapped.len()];
        async move {
            let change = mappings::MappingChange {
                registration_id: (tenant_n % regs + 1) as i64,
                cloud_tenant: app::billing::CloudTenantId::parse(&guid(1, tenant_n)).map_err(|e| e.to_string())?,
                subscription: Some(app::billing::SubscriptionId::parse(&guid(4, i as u64)).map_err(|e| e.to_string())?),
                effective_on: Some(today),
                source: mappings::ChangeSource::Api,
            };
            mappings::change_mapping(state, by, change)
                .await
                .map(|_| ())
                .map_err(|e| e.message)
        }
    })
    .await?;
    let _ = writeln!(
        report,
        "mapping change with its audit entry: p50 {:.2} ms, p95 {:.2} ms (target ≤ 20 ms)\n",
        percentile(&t, 50.0),
        percentile(&t, 95.0)
    );

    // The customers page, server-rendered by the real application, 16 at a time.
    let pages = page_load(&state, args).await?;
    let _ = writeln!(
        report,
        "customers page (SSR, {} concurrent, {} requests): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms (target p99 ≤ 100 ms)",
        args.concurrency,
        pages.len(),
        percentile(&pages, 50.0),
        percentile(&pages, 95.0),
        percentile(&pages, 99.0)
    );
    if args.keep {
        let _ = writeln!(report, "kept: {}", target.location);
        std::mem::forget(target);
    }
    Ok(report)
}

/// Signs an operator in on a real server over the bench database and requests customer
/// list pages (varied page, sort and search) from `concurrency` clients at once.
async fn page_load(state: &AppState, args: &ConsoleBenchArgs) -> Result<Vec<f64>, String> {
    let load = super::bench::PageLoad {
        role: app::types::Role::Operator,
        customer_id: None,
        paths: &[
            "/operator/customers",
            "/operator/customers?page=100",
            "/operator/customers?sort=tenant&desc=1&page=37",
            "/operator/customers?q=contoso",
            "/operator/customers?billed_to=base&page=5",
        ],
        marker: "customers-table",
        concurrency: args.concurrency,
        requests: args.requests,
    };
    Ok(super::bench::page_load(state, &load).await?.0)
}

//! Money on the demo's data: the rating service against an independent computation, and
//! `stackbill cost` agreeing with the API.

use crate::cli::{stackbill, stderr};
use app::billing::{BillingPeriod, Currency, PricingModel, UnitConversion};
use app::ssr::db::fixed::ExactSum;
use app::ssr::db::testing::TestDb;
use app::ssr::db::{self, Db};
use app::ssr::services::costs;
use app::ssr::services::rating::Scope;
use app::ssr::{AppState, Clock, Settings};
use rust_decimal::Decimal;
use server::demo::{seed, DemoArgs};
use std::collections::{BTreeMap, HashMap};

const UNTIL: &str = "2026-11-15T00:00:00Z";

pub(crate) fn october() -> BillingPeriod {
    BillingPeriod::parse("2026-10").unwrap()
}

/// October 2026 in full (45 days back from 15 November), with one tenant mapped on
/// 10 October: its usage before that day is on the base subscription, after it on its own.
pub(crate) async fn demo_october(db: &Db) -> AppState {
    let state = AppState {
        clock: Clock::fixed(UNTIL.parse().unwrap()),
        ..AppState::new(db.clone(), Settings::default())
    };
    // What `stackbill migrate` does after the schema: the meter catalogue.
    app::ssr::services::catalogue::sync_meter_catalogue(db, 0)
        .await
        .unwrap();
    seed(
        &state,
        &DemoArgs {
            days: 45,
            until: Some(UNTIL.parse().unwrap()),
            ..DemoArgs::default()
        },
    )
    .await
    .unwrap();
    state
}

/// Each day's rollup with the account and section SQL resolves for it: the customer
/// subscription its owner's tenant was mapped to that day, else the base; the owner's
/// tenant, else `unassigned`. Report-only meters are left out.
const RESOLVED: &str = "SELECT COALESCE(cs.subscription_id, r.base_subscription_id) AS account, \
     CASE WHEN cs.subscription_id IS NULL THEN 'base' ELSE 'customer' END AS kind, \
     COALESCE(t.tenant_id, 'unassigned') AS section, d.meter_id, \
     d.quantity_whole, d.quantity_atto, d.quantity_frac \
     FROM usage_daily d \
     JOIN user_subscriptions us ON us.id = d.user_subscription_id \
     JOIN registrations r ON r.id = us.registration_id \
     JOIN meters m ON m.id = d.meter_id \
     LEFT JOIN user_subscription_owners o ON o.user_subscription_id = us.id \
          AND o.effective_on <= d.usage_on AND (o.ended_on IS NULL OR o.ended_on > d.usage_on) \
     LEFT JOIN cloud_tenants t ON t.id = o.cloud_tenant_id \
     LEFT JOIN customer_subscriptions cs ON cs.registration_id = us.registration_id \
          AND cs.cloud_tenant_id = o.cloud_tenant_id \
          AND cs.effective_on <= d.usage_on AND (cs.ended_on IS NULL OR cs.ended_on > d.usage_on) \
     WHERE d.usage_on >= $1 AND d.usage_on < $2 AND m.default_billing = 'billable'";

type Resolved = (String, String, String, String, i64, i64, i64);

/// `(tenant, overall percent, meter, per-meter percent)`.
type Markup = (String, Option<String>, Option<String>, Option<String>);

/// The list prices of the registration's sheet for the whole period (one version).
const PRICES: &str = "SELECT e.meter_id, e.pricing, e.unit_conversion FROM price_sheet_entries e \
     JOIN price_sheet_versions v ON v.id = e.version_id \
     WHERE v.effective_on <= $1 AND (v.ended_on IS NULL OR v.ended_on >= $2)";

/// Every customer's markups: overall and per meter.
const MARKUPS: &str = "SELECT t.tenant_id, ct.adjustment_percent, a.meter_id, a.percent FROM customers c \
     JOIN cloud_tenants t ON t.id = c.cloud_tenant_id JOIN customer_terms ct ON ct.customer_id = c.id \
     LEFT JOIN customer_terms_meter_adjustments a ON a.customer_terms_id = ct.id";

/// Quantity × list price ÷ usage units per billing unit × (1 + the customer's markup, on
/// its own customer subscription only), summed per account, section and meter and rounded
/// there (as invoice lines are), then summed per account.
async fn independent_totals(db: &Db, period: BillingPeriod) -> BTreeMap<String, Decimal> {
    let (from, to) = (period.first_day(), period.end_day());
    let mut c = db.conn().await.unwrap();
    let rows: Vec<Resolved> = db::sql!(&mut c, |e| sqlx::query_as::<_, Resolved>(RESOLVED)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)
    .unwrap();
    let prices: Vec<(String, String, String)> =
        db::sql!(&mut c, |e| sqlx::query_as::<_, (String, String, String)>(PRICES)
            .bind(from)
            .bind(to)
            .fetch_all(e)
            .await)
        .unwrap();
    let markups: Vec<Markup> = db::sql!(&mut c, |e| sqlx::query_as::<
        _,
        (String, Option<String>, Option<String>, Option<String>),
    >(MARKUPS)
    .fetch_all(e)
    .await)
    .unwrap();
    let mut price_of: HashMap<String, (Decimal, Decimal)> = HashMap::new();
    for (meter, pricing, conversion) in prices {
        let PricingModel::PerUnit { unit_price } = serde_json::from_str(&pricing).unwrap() else {
            panic!("the demo's list prices are per unit");
        };
        let conversion: UnitConversion = serde_json::from_str(&conversion).unwrap();
        price_of.insert(
            meter,
            (
                unit_price.value(),
                conversion.usage_units_per_billing_unit(period.hours()),
            ),
        );
    }
    let mut overall: HashMap<String, Decimal> = HashMap::new();
    let mut per_meter: HashMap<(String, String), Decimal> = HashMap::new();
    for (tenant, all, meter, pct) in markups {
        if let Some(all) = all {
            overall.insert(tenant.clone(), all.parse().unwrap());
        }
        if let (Some(meter), Some(pct)) = (meter, pct) {
            per_meter.insert((tenant, meter), pct.parse().unwrap());
        }
    }
    // Σ quantity per (account, kind, section, meter).
    let mut groups: BTreeMap<(String, String, String, String), Decimal> = BTreeMap::new();
    for (account, kind, section, meter, whole, atto, frac) in rows {
        *groups.entry((account, kind, section, meter)).or_default() +=
            ExactSum::from_parts(whole, atto, frac).to_decimal();
    }
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for ((account, kind, section, meter), quantity) in groups {
        let Some((price, per_billing_unit)) = price_of.get(&meter) else {
            continue; // unpriced: listed, not charged
        };
        let mut amount = quantity * price / per_billing_unit;
        if kind == "customer" {
            let pct = per_meter
                .get(&(section.clone(), meter.clone()))
                .or_else(|| overall.get(&section))
                .copied()
                .unwrap_or_default();
            amount *= Decimal::ONE + pct / Decimal::ONE_HUNDRED;
        }
        *totals.entry(account).or_default() += Currency::USD.round(amount);
    }
    totals.retain(|_, v| !v.is_zero());
    totals
}

#[tokio::test]
async fn on_demo_data_every_accounts_month_equals_an_independent_computation_to_the_cent() {
    for t in TestDb::all().await {
        eprintln!("-- engine: {}", t.db.engine().name());
        let state = demo_october(&t.db).await;
        let rated = costs::period_cost(&t.db, Scope::Everything, october(), state.clock.now())
            .await
            .unwrap();
        let ours: BTreeMap<String, Decimal> = rated
            .accounts
            .iter()
            .filter(|a| !a.total.is_zero())
            .map(|a| (a.billing_account.clone(), a.total))
            .collect();
        let expected = independent_totals(&t.db, october()).await;
        assert_eq!(ours, expected);
        // Four customer subscriptions and the base, every one with money on it.
        assert_eq!(ours.len(), 5, "{ours:?}");
        // Each customer's own figures add up to its part of the accounts.
        for a in rated.accounts.iter().filter(|a| a.customer_id.is_some()) {
            let id = a.customer_id.unwrap();
            let own = costs::customer_cost(&t.db, id, october(), state.clock.now())
                .await
                .unwrap();
            let account = own
                .accounts
                .iter()
                .find(|x| x.billing_account == a.billing_account)
                .unwrap();
            assert_eq!(account.total, a.total, "customer {id}");
        }
        t.dispose().await;
    }
}

#[tokio::test]
async fn stackbill_cost_prints_every_account_and_a_customers_api_total_is_the_sum_of_its_parts() {
    let t = TestDb::sqlite().await;
    let state = demo_october(&t.db).await;
    let out = stackbill(&t.url, &["cost", "--period", "2026-10", "--format", "json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["period"], "2026-10");
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 5);
    let base: Vec<_> = accounts.iter().filter(|a| a["kind"] == "base").collect();
    assert_eq!(base.len(), 1);
    assert!(base[0]["customer_id"].is_null());
    for a in accounts {
        assert_eq!(a["currency"], "USD");
        let total: Decimal = a["total"].as_str().unwrap().parse().unwrap();
        assert!(total > Decimal::ZERO);
        assert_eq!(a["total"].as_str().unwrap().split('.').nth(1).map(str::len), Some(2));
    }
    // One customer's API figures: its parts of the accounts (its own subscription, and its
    // section of the base before it was mapped), the same amounts `cost --customer` prints.
    let customer_ids: Vec<i64> = accounts.iter().filter_map(|a| a["customer_id"].as_i64()).collect();
    for id in customer_ids {
        let api = costs::customer_cost(&t.db, id, october(), state.clock.now())
            .await
            .unwrap();
        let out = stackbill(
            &t.url,
            &[
                "cost",
                "--period",
                "2026-10",
                "--customer",
                &id.to_string(),
                "--format",
                "json",
            ],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let mine: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let sum: Decimal = mine["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["total"].as_str().unwrap().parse::<Decimal>().unwrap())
            .sum();
        assert_eq!(api.total, Some(sum), "customer {id}");
    }
    // CSV and the table.
    let out = stackbill(&t.url, &["cost", "--period", "2026-10", "--format", "csv"], None);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(
        csv.contains("台灣雲端股份有限公司") || csv.contains("北京数据科技有限公司"),
        "{csv}"
    );
    let out = stackbill(&t.url, &["cost", "--period", "2026-13"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--period"), "{}", stderr(&out));
    t.dispose().await;
}

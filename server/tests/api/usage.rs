//! The customer portal's usage and cost: the explorer, its CSV and the charts agree with
//! the rating to the cent; filters, paging and sorting; bad input is a clear 4xx; and one
//! customer never reads another's usage.

use crate::cost::{demo_october, october};
use crate::helpers::{for_each_app, usage_json, TestApp, PASSWORD};
use crate::invoices::{dec, guid, push, setup, BASE_VM, VM, WINDOWS_VM};
use app::billing::BillingPeriod;
use app::ssr::auth::Caller;
use app::ssr::db::testing::TestDb;
use app::ssr::services::{costs, price_sheets, usage};
use app::types::{PriceEntryForm, Role, UsageQuery};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::HashSet;

const ALL_DIMS: &str = "day,service,meter,subscription,resource_group,resource";

/// Σ of a CSV's `cost` column, checking its header.
fn csv_cost(csv: &str) -> (Decimal, usize) {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, usage::CSV_COLUMNS.map(str::to_owned).to_vec());
    let cost = header.iter().position(|h| h == "cost").unwrap();
    let mut sum = Decimal::ZERO;
    let mut n = 0;
    for row in r.records() {
        let row = row.unwrap();
        sum += row[cost].parse::<Decimal>().unwrap();
        n += 1;
    }
    (sum, n)
}

/// The hourly CSV of a query, whole.
async fn hourly_csv(state: &app::ssr::AppState, data: &usage::CustomerUsage, q: &UsageQuery) -> String {
    let q = UsageQuery {
        granularity: "hourly".into(),
        ..q.clone()
    };
    let selection = usage::select_in(state, data, &q).await.unwrap();
    let mut rx = usage::hourly_csv(state.clone(), data.clone(), selection);
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend(chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

/// An hourly CSV's rows as maps from column to value, checking its header.
fn hourly_rows(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, usage::HOURLY_CSV_COLUMNS.map(str::to_owned).to_vec());
    r.records()
        .map(|row| {
            header
                .iter()
                .cloned()
                .zip(row.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Prices Base VM hours on the demo's list price sheet from a day on.
async fn set_base_vm_price(state: &app::ssr::AppState, price: &str, from: &str) {
    let sheet = price_sheets::find_by_name(&state.db, "Azure Stack Hub list prices (USD)")
        .await
        .unwrap()
        .unwrap();
    let form = PriceEntryForm {
        meter_id: BASE_VM.into(),
        model: "per_unit".into(),
        unit_price: price.into(),
        effective_on: from.into(),
        ..PriceEntryForm::default()
    };
    price_sheets::set_entry(state, &Caller::cli(), sheet.id, &form)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_customers_explorer_rows_and_csv_add_up_to_its_rated_month_to_the_cent_across_a_remap_and_a_price_change() {
    for t in TestDb::all().await {
        eprintln!("-- engine: {}", t.db.engine().name());
        let state = demo_october(&t.db).await;
        // Base VM hours cost more from 20 October: two price versions in the month.
        set_base_vm_price(&state, "0.0377", "2026-10-20").await;
        let now = state.clock.now();
        let rated = costs::period_cost(&t.db, app::ssr::services::rating::Scope::Everything, october(), now)
            .await
            .unwrap();
        let customers: HashSet<i64> = rated.accounts.iter().filter_map(|a| a.customer_id).collect();
        assert!(customers.len() >= 4, "{customers:?}");
        let mut remapped_seen = false;
        for id in customers {
            let cost = costs::customer_cost(&t.db, id, october(), now).await.unwrap();
            let total = cost.total.unwrap();
            // The customer mapped on 10 October pays on two accounts this month.
            remapped_seen |= cost.accounts.len() > 1;
            let data = usage::load(&state, id, october(), october()).await.unwrap();
            for group_by in ["", ALL_DIMS, "service", "resource", "subscription,day"] {
                let mut q = UsageQuery {
                    group_by: group_by.into(),
                    page_size: Some(50),
                    ..UsageQuery::default()
                };
                let mut sum = Decimal::ZERO;
                let mut rows = 0;
                loop {
                    let page = data.page(&usage::select(&data, &q).unwrap()).unwrap();
                    sum += page.value.iter().map(|r| r.cost).sum::<Decimal>();
                    rows += page.value.len();
                    assert_eq!(page.totals.len(), 1);
                    assert_eq!(
                        page.totals[0].cost, total,
                        "customer {id}, {group_by}: the selection's total"
                    );
                    match page.next_cursor {
                        Some(c) => q.cursor = c,
                        None => {
                            assert_eq!(rows, page.total_rows);
                            break;
                        }
                    }
                }
                assert_eq!(
                    sum, total,
                    "customer {id}: the explorer by {group_by:?} adds up to the month"
                );
                let all = data.all_rows(&usage::select(&data, &q).unwrap());
                let csv = String::from_utf8(usage::csv_chunk(&all, true).unwrap()).unwrap();
                let (csv_sum, csv_rows) = csv_cost(&csv);
                assert_eq!(
                    (csv_sum, csv_rows),
                    (total, rows),
                    "customer {id}: the CSV by {group_by:?}"
                );
            }
            // The hourly CSV: one row per record, in October, adding up to the month.
            let rows = hourly_rows(&hourly_csv(&state, &data, &UsageQuery::default()).await);
            let hourly: Decimal = rows.iter().map(|r| r["cost"].parse::<Decimal>().unwrap()).sum();
            assert_eq!(hourly, total, "customer {id}: the hourly CSV");
            assert!(rows.len() > 31 * 24, "customer {id}: {} hourly rows", rows.len());
            assert!(rows
                .iter()
                .all(|r| r["usage_start"].starts_with("2026-10-") && r["usage_end"].ends_with(":00:00Z")));
            // Every demo resource is tagged prod or test: the two filters split the month,
            // by day and by hour, and each row carries its tag.
            let mut by_tag = Decimal::ZERO;
            for tag in ["env:prod", "ENV=test"] {
                let q = UsageQuery {
                    tag: tag.into(),
                    page_size: Some(1000),
                    group_by: ALL_DIMS.into(),
                    ..UsageQuery::default()
                };
                let page = data.page(&usage::select_in(&state, &data, &q).await.unwrap()).unwrap();
                let daily: Decimal = page.value.iter().map(|r| r.cost).sum();
                let rows = hourly_rows(&hourly_csv(&state, &data, &q).await);
                let hourly: Decimal = rows.iter().map(|r| r["cost"].parse::<Decimal>().unwrap()).sum();
                assert_eq!(daily, hourly, "customer {id}, {tag}: daily and hourly agree");
                let value = tag.rsplit(['=', ':']).next().unwrap();
                assert!(rows.iter().all(|r| r["tags"].contains(&format!("\"env\":\"{value}\""))));
                by_tag += daily;
            }
            assert_eq!(by_tag, total, "customer {id}: prod + test is everything");
            // The charts: the daily stacks and the meters add up to it too.
            let charts = data.charts(None).unwrap();
            let daily: Decimal = charts.daily_by_service.iter().flat_map(|s| s.values.iter()).sum();
            assert_eq!(daily, total, "customer {id}: daily chart");
            assert_eq!(charts.days.len(), 31);
        }
        assert!(remapped_seen, "a customer re-mapped mid-month is among them");
        t.dispose().await;
    }
}

/// Five days of two VMs in two resource groups for customer 0's user subscription, on top
/// of [`setup`]'s usage.
async fn more_usage(app: &TestApp, period: BillingPeriod) {
    let vm2 = "/subscriptions/x/resourceGroups/RG-Two/providers/Microsoft.Compute/virtualMachines/vm2";
    let mut records = Vec::new();
    for day in 10..15 {
        let at = format!("{}T03:00:00+00:00", period.first_day() + chrono::Duration::days(day));
        records.push(usage_json(&guid(3, 0), BASE_VM, &at, "3", VM));
        records.push(usage_json(&guid(3, 0), BASE_VM, &at, "1.5", vm2));
        records.push(usage_json(&guid(3, 0), WINDOWS_VM, &at, "2", vm2));
    }
    push(app, &records).await;
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app.get_with_token(path, Some(token)).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_usage_api_pages_sorts_filters_and_streams_csv_of_only_the_callers_own_usage() {
    for_each_app(|app| async move {
        let (period, ids) = setup(&app, 2).await;
        more_usage(&app, period).await;
        let (a, b) = (ids[0], ids[1]);
        let token = app.add_token(Role::Customer, Some(a)).await;
        let (s, cost) = get(&app, &token, &format!("/api/v1/customers/{a}/cost?period={period}")).await;
        assert_eq!(s, 200, "{cost}");
        let total = dec(&cost["total"]);
        // 10 + 5 × 4.5 Base VM hours at 0.50; the Windows VM hours have no price.
        assert_eq!(total, Decimal::new(1625, 2));

        // Paging by nextLink: no row twice, all of them, adding up to the month.
        let mut next = Some(format!(
            "/api/v1/customers/{a}/usage?period={period}&group_by={ALL_DIMS}&page_size=4"
        ));
        let mut seen = HashSet::new();
        let mut sum = Decimal::ZERO;
        let mut total_rows = 0;
        while let Some(path) = next {
            let (s, page) = get(&app, &token, &path).await;
            assert_eq!(s, 200, "{page}");
            assert!(page["value"].as_array().unwrap().len() <= 4);
            for r in page["value"].as_array().unwrap() {
                assert!(seen.insert(r.to_string()), "row twice: {r}");
                sum += dec(&r["cost"]);
                assert_eq!(r["subscription_id"], guid(3, 0));
            }
            total_rows = page["total_rows"].as_u64().unwrap();
            next = page["nextLink"].as_str().map(str::to_owned);
        }
        assert_eq!(seen.len() as u64, total_rows);
        assert_eq!(total_rows, 1 + 5 * 3, "a row per day, meter and resource");
        assert_eq!(sum, total);

        // Sorting, both ways.
        let (_, page) = get(
            &app,
            &token,
            &format!("/api/v1/customers/{a}/usage?period={period}&group_by=resource&sort=-cost"),
        )
        .await;
        let costs: Vec<Decimal> = page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| dec(&r["cost"]))
            .collect();
        assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
        assert_eq!(costs.len(), 2);
        let (_, page) = get(
            &app,
            &token,
            &format!("/api/v1/customers/{a}/usage?period={period}&group_by=day&sort=day"),
        )
        .await;
        let days: Vec<String> = page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["day"].as_str().unwrap().to_owned())
            .collect();
        let mut sorted = days.clone();
        sorted.sort();
        assert_eq!(days, sorted);
        assert_eq!(days.len(), 6);

        // Filters: a resource group (any case), a meter, a service.
        let (_, page) = get(
            &app,
            &token,
            &format!("/api/v1/customers/{a}/usage?period={period}&group_by=resource_group,meter&resource_group=rg-two"),
        )
        .await;
        let rows = page["value"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{page}");
        assert!(rows.iter().all(|r| r["resource_group"] == "RG-Two"));
        let windows = rows
            .iter()
            .find(|r| r["meter_id"].as_str().unwrap().eq_ignore_ascii_case(WINDOWS_VM))
            .unwrap();
        assert_eq!(
            (windows["unpriced"].as_bool(), dec(&windows["quantity"])),
            (Some(true), Decimal::from(10))
        );
        assert_eq!(dec(&page["totals"][0]["cost"]), Decimal::new(375, 2));
        let (_, page) = get(
            &app,
            &token,
            &format!("/api/v1/customers/{a}/usage?period={period}&group_by=meter&meter={BASE_VM}"),
        )
        .await;
        assert_eq!(page["value"].as_array().unwrap().len(), 1);
        assert_eq!(dec(&page["value"][0]["quantity"]), Decimal::new(325, 1));
        let (_, page) = get(
            &app,
            &token,
            &format!("/api/v1/customers/{a}/usage?period={period}&group_by=service&service=compute"),
        )
        .await;
        assert_eq!(dec(&page["totals"][0]["cost"]), total);

        // The CSV: the same rows, streamed, with the stable header.
        let r = app
            .client
            .get(app.url(&format!(
                "/api/v1/customers/{a}/usage?period={period}&group_by={ALL_DIMS}"
            )))
            .bearer_auth(&token)
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let (csv_sum, csv_rows) = csv_cost(&r.text().await.unwrap());
        assert_eq!((csv_sum, csv_rows as u64), (total, total_rows));
        let (s, _) = get(
            &app,
            &token,
            &format!("/api/v1/customers/{a}/usage.csv?period={period}"),
        )
        .await;
        assert_eq!(s, 200);

        // The hourly CSV: one row per pushed record (each record's own hour), streamed.
        let r = app
            .client
            .get(app.url(&format!(
                "/api/v1/customers/{a}/usage.csv?period={period}&granularity=Hourly&resource_group=RG-TWO"
            )))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rows = hourly_rows(&r.text().await.unwrap());
        assert_eq!(rows.len(), 10, "two records a day in RG-Two for five days");
        assert!(rows
            .iter()
            .all(|r| r["usage_start"].ends_with("T03:00:00Z") && r["resource_group"] == "RG-Two"));
        let hourly: Decimal = rows.iter().map(|r| r["cost"].parse::<Decimal>().unwrap()).sum();
        assert_eq!(hourly, Decimal::new(375, 2));

        // Bad input: a clear 422 naming the field, never a 500.
        for (query, field) in [
            ("from=2026-13", "from"),
            ("from=October", "from"),
            ("from=2026-10&to=2026-09", "to"),
            ("from=2025-01&to=2026-10", "to"),
            ("group_by=day,colour", "group_by"),
            ("cursor=abc", "cursor"),
            ("cursor=99999", "cursor"),
            ("page_size=0", "page_size"),
            ("page_size=lots", "page_size"),
            ("meter=not-a-guid", "meter"),
            ("meter=00000000-0000-4000-8000-000000000000", "meter"),
            ("sort=price", "sort"),
            ("granularity=weekly", "granularity"),
            ("granularity=hourly", "granularity"),
            ("tag=:prod", "tag"),
        ] {
            // `period` stands for both months; the month cases name them instead.
            let path = if query.starts_with("from=") {
                format!("/api/v1/customers/{a}/usage?{query}")
            } else {
                format!("/api/v1/customers/{a}/usage?period={period}&{query}")
            };
            let r = app.get_with_token(&path, Some(&token)).await;
            assert_eq!(r.status(), 422, "{query}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "invalid_input", "{query}");
            assert_eq!(body["error"]["field"], field, "{query}");
        }

        // Another customer's usage: 404 by its id, by its subscription, and no byte of it.
        let b_sub = guid(3, 1);
        for path in [
            format!("/api/v1/customers/{b}/usage?period={period}"),
            format!("/api/v1/customers/{b}/usage.csv?period={period}"),
            format!("/api/v1/customers/{a}/usage?period={period}&subscription={b_sub}"),
            format!("/api/v1/customers/999999/usage?period={period}"),
        ] {
            let r = app.get_with_token(&path, Some(&token)).await;
            assert_eq!(r.status(), 404, "{path}");
            let body = r.text().await.unwrap();
            assert!(
                !body.contains("Générale") && !body.contains(&guid(2, 1)),
                "{path}: {body}"
            );
        }
        // Staff read anyone's; nobody signed in reads nothing.
        let staff = app.add_token(Role::Finance, None).await;
        let (s, page) = get(&app, &staff, &format!("/api/v1/customers/{b}/usage?period={period}")).await;
        assert_eq!(s, 200);
        assert_eq!(dec(&page["totals"][0]["cost"]), Decimal::new(500, 2));
        let r = app.get_with_token(&format!("/api/v1/customers/{a}/usage"), None).await;
        assert_eq!(r.status(), 401);
        app
    })
    .await;
}

/// Posts a portal server function as a form.
async fn portal_fn(app: &TestApp, name: &str, form: &[(&str, String)]) -> (u16, String) {
    let r = app
        .client
        .post(app.url(&format!("/api/fn/{name}")))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_portal_functions_answer_the_callers_own_usage_and_staff_view_as_a_customer() {
    for_each_app(|app| async move {
        let (period, ids) = setup(&app, 2).await;
        let (a, b) = (ids[0], ids[1]);
        app.add_user("it@a.test", Role::Customer, Some(a)).await;
        assert_eq!(app.sign_in("it@a.test", PASSWORD).await.status(), 200);
        let p = period.to_string();
        let (s, body) = portal_fn(
            &app,
            "portal_usage",
            &[("query[from]", p.clone()), ("query[group_by]", "subscription".into())],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["customer_id"], a);
        assert_eq!(dec(&page["totals"][0]["cost"]), Decimal::from(5));
        assert!(!body.contains(&guid(3, 1)));
        let (s, body) = portal_fn(&app, "portal_charts", &[("from", p.clone()), ("to", p.clone())]).await;
        assert_eq!(s, 200, "{body}");
        let charts: Value = serde_json::from_str(&body).unwrap();
        let daily: Decimal = charts["daily_by_service"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["values"].as_array().unwrap().iter().map(dec))
            .sum();
        assert_eq!(daily, Decimal::from(5));
        // Asking for the other customer, by any parameter: 404, nothing of it.
        for (name, form) in [
            (
                "portal_usage",
                vec![("customer", b.to_string()), ("query[from]", p.clone())],
            ),
            (
                "portal_usage",
                vec![("query[from]", p.clone()), ("query[subscription]", guid(3, 1))],
            ),
            (
                "portal_charts",
                vec![("customer", b.to_string()), ("from", p.clone()), ("to", p.clone())],
            ),
            ("customer_overview", vec![("customer", b.to_string())]),
            ("my_invoices", vec![("customer", b.to_string())]),
            (
                "set_budget",
                vec![
                    ("customer", b.to_string()),
                    ("registration", "stamp-1".into()),
                    ("billing_account", guid(2, 1)),
                    ("amount", "10".into()),
                ],
            ),
        ] {
            // The same table with the signed-in user's session and with a customer token.
            let token = app.add_token(Role::Customer, Some(a)).await;
            let by_token = reqwest::Client::new()
                .post(app.url(&format!("/api/fn/{name}")))
                .bearer_auth(&token)
                .form(&form)
                .send()
                .await
                .unwrap();
            let token_answer = (by_token.status().as_u16(), by_token.text().await.unwrap());
            for (s, body) in [portal_fn(&app, name, &form).await, token_answer] {
                assert_eq!(s, 404, "{name} {form:?}: {body}");
                assert!(!body.contains(&guid(3, 1)) && !body.contains("Générale"), "{body}");
            }
        }
        // Its own budget call with the other customer's billing account: 404 too.
        let (s, body) = portal_fn(
            &app,
            "set_budget",
            &[
                ("registration", "stamp-1".into()),
                ("billing_account", guid(2, 1)),
                ("amount", "10".into()),
            ],
        )
        .await;
        assert_eq!(
            (s, error_code_of(&body)),
            (404, "billing_account_not_found".to_owned()),
            "{body}"
        );
        // Bad input through the function too.
        let (s, body) = portal_fn(
            &app,
            "portal_charts",
            &[("from", "2026-13".into()), ("to", String::new())],
        )
        .await;
        assert_eq!((s, error_code_of(&body)), (422, "invalid_input".to_owned()));
        // Finance views as customer B (and must say which).
        app.sign_out().await;
        app.add_user("fin@example.test", Role::Finance, None).await;
        assert_eq!(app.sign_in("fin@example.test", PASSWORD).await.status(), 200);
        let (s, body) = portal_fn(
            &app,
            "portal_usage",
            &[("customer", b.to_string()), ("query[from]", p.clone())],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert!(body.contains(&guid(3, 1)));
        let (s, body) = portal_fn(&app, "portal_usage", &[("query[from]", p.clone())]).await;
        assert_eq!(
            (s, error_code_of(&body)),
            (403, "customer_users_only".to_owned()),
            "staff name a customer"
        );
        let page = app.page(&format!("/portal/usage?customer={b}&from={p}")).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("data-testid=\"chart-daily-cost\"") && html.contains("<svg"),
            "server-rendered chart"
        );
        assert!(html.contains("data-testid=\"usage-table\""));
        app
    })
    .await;
}

fn error_code_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v.get("error").unwrap_or(&v)["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn customer_caller(customer_id: i64) -> Caller {
    Caller {
        role: Role::Customer,
        customer_id: Some(customer_id),
        registration_id: None,
        actor: app::ssr::auth::Actor::User {
            id: 1,
            email: "it@customer.test".into(),
        },
        locale: app::i18n::Locale::En,
    }
}

#[tokio::test]
async fn a_budget_shows_its_share_used_warns_when_the_forecast_crosses_it_and_refuses_bad_amounts() {
    use app::ssr::services::{budgets, overview};
    use app::types::BudgetState;
    for t in TestDb::all().await {
        eprintln!("-- engine: {}", t.db.engine().name());
        // 15 November 2026, half of November used.
        let state = demo_october(&t.db).await;
        let now = state.clock.now();
        let november = BillingPeriod::containing(now);
        let rated = costs::period_cost(&t.db, app::ssr::services::rating::Scope::Everything, november, now)
            .await
            .unwrap();
        let account = rated
            .accounts
            .iter()
            .find(|a| a.customer_id.is_some() && !a.total.is_zero())
            .unwrap()
            .clone();
        let id = account.customer_id.unwrap();
        let forecast = account.forecast.unwrap();
        assert!(forecast > account.total);
        let me = customer_caller(id);
        let set = |amount: String| {
            let (state, me, reg, acc) = (
                state.clone(),
                me.clone(),
                account.registration.clone(),
                account.billing_account.clone(),
            );
            async move { budgets::set_budget(&state, &me, id, &reg, &acc, &amount).await }
        };
        let budget_of = || async {
            overview::customer_overview(&state, id)
                .await
                .unwrap()
                .budgets
                .into_iter()
                .find(|b| b.billing_account == account.billing_account)
                .unwrap()
        };
        assert_eq!(budget_of().await.amount, None);
        // Its subscriptions' month so far add up to its month so far, each with its groups.
        let o = overview::customer_overview(&state, id).await.unwrap();
        let subs: Decimal = o
            .user_subscriptions
            .iter()
            .filter_map(|s| s.month_to_date.as_ref().map(|c| c.cost))
            .sum();
        assert_eq!(Some(subs), o.cost.as_ref().and_then(|c| c.this_month.total));
        for s in o.user_subscriptions.iter().filter(|s| s.month_to_date.is_some()) {
            let groups: Decimal = s.resource_groups.iter().map(|g| g.value).sum();
            assert_eq!(groups, s.month_to_date.as_ref().unwrap().cost, "{}", s.subscription_id);
        }
        // Between what is spent and the forecast: a warning.
        let between = ((account.total + forecast) / Decimal::TWO).round_dp(2);
        set(between.to_string()).await.unwrap();
        let b = budget_of().await;
        assert_eq!((b.amount, b.state), (Some(between), BudgetState::ForecastOver));
        assert_eq!(
            b.used_percent,
            Some((account.total / between * Decimal::ONE_HUNDRED).round())
        );
        // Above the forecast: within; below what is spent: over.
        set((forecast + Decimal::ONE).to_string()).await.unwrap();
        assert_eq!(budget_of().await.state, BudgetState::Within);
        set("0.01".into()).await.unwrap();
        assert_eq!(budget_of().await.state, BudgetState::Over);
        // Bad amounts change nothing.
        for bad in ["-100", "0", "ten", "12.345", ""] {
            let r = set(bad.into()).await;
            if bad.is_empty() {
                r.unwrap();
                assert_eq!(budget_of().await.amount, None, "an empty amount removes it");
                continue;
            }
            let e = r.unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.field.as_deref()),
                ("invalid_input", Some("amount")),
                "{bad}"
            );
        }
        // Another customer's account, another customer, staff viewing as: refused.
        let other = rated
            .accounts
            .iter()
            .find(|a| a.customer_id.is_some_and(|c| c != id))
            .unwrap();
        let e = budgets::set_budget(&state, &me, id, &other.registration, &other.billing_account, "10")
            .await
            .unwrap_err();
        assert_eq!(e.code, "billing_account_not_found");
        let e = budgets::set_budget(
            &state,
            &me,
            other.customer_id.unwrap(),
            &other.registration,
            &other.billing_account,
            "10",
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "view_as_read_only");
        let e = budgets::set_budget(
            &state,
            &Caller::cli(),
            id,
            &account.registration,
            &account.billing_account,
            "10",
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "view_as_read_only");
        t.dispose().await;
    }
}

/// Every route path registered in the router's source files.
fn registered_routes() -> std::collections::BTreeSet<String> {
    let sources = [
        include_str!("../../src/routes/api.rs"),
        include_str!("../../src/routes/ingest.rs"),
        include_str!("../../src/routes/health.rs"),
        include_str!("../../src/routes/azure.rs"),
        include_str!("../../src/lib.rs"),
    ];
    sources
        .into_iter()
        .flat_map(crate::helpers::routes_in)
        .map(|(path, _)| path)
        .collect()
}

/// Routes a customer's users and tokens may call, each given a case below asking for
/// another customer's data by every id it takes.
const CUSTOMER_ROUTES: [&str; 9] = [
    "/me",
    "/subscriptions/{*rest}",
    "/customers/{id}",
    "/customers/{id}/cost",
    "/customers/{id}/usage",
    "/customers/{id}/usage.csv",
    "/invoices",
    "/invoices/{key}",
    "/invoices/{file}",
];
/// Everything else: staff, ingestion or health (a customer is refused; see `access`).
const OTHER_ROUTES: [&str; 39] = [
    "/healthz",
    // The API's OpenAPI document: public, it holds no data.
    "/api/openapi.json",
    "/meters",
    "/meters/{id}",
    "/meters/{id}/billing",
    "/registrations",
    "/registrations/{id}",
    "/customers",
    "/customers/{id}/details",
    "/customers/{id}/pricing",
    "/mappings",
    "/mappings/export",
    "/mappings/import",
    "/mappings/{cloud_tenant_id}",
    "/mappings/{cloud_tenant_id}/history",
    "/user-subscriptions",
    "/user-subscriptions/{id}/owner",
    "/audit",
    "/invoice-runs",
    "/invoices.zip",
    "/invoice-lines",
    "/invoice-lines.csv",
    "/invoices/{key}/issue",
    "/invoices/{key}/void",
    "/price-sheets",
    "/price-sheets/{id}",
    "/price-sheets/{id}/default",
    "/price-sheets/{id}/versions",
    "/price-sheets/{id}/versions/{version}",
    "/price-sheets/{id}/entries/{meter}",
    "/users",
    "/users/{id}/{action}",
    "/tokens",
    "/tokens/{id}/revoke",
    "/usage",
    "/quarantine",
    "/quarantine/{id}/reprocess",
    "/quarantine/{id}/discard",
    "/collector",
];

#[tokio::test]
async fn every_route_is_classified_and_a_customer_reads_no_other_customers_data_through_any_of_them() {
    let registered = registered_routes();
    let listed: std::collections::BTreeSet<String> = CUSTOMER_ROUTES
        .iter()
        .chain(OTHER_ROUTES.iter())
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        registered, listed,
        "every route needs a line here (and a case below when customers may call it)"
    );
    crate::helpers::for_each_app_with(
        |c| c.invoice_grace_days = 0,
        |app| async move {
            let (period, ids) = setup(&app, 2).await;
            let (a, b) = (ids[0], ids[1]);
            let (s, _) = crate::invoices::run_month(&app, period).await;
            assert_eq!(s, 201);
            let mut numbers = std::collections::HashMap::new();
            for i in crate::invoices::invoices(&app, period).await {
                let (s, issued) =
                    crate::invoices::issue_draft(&app, &i["id"], Some(serde_json::json!({"waive_unpriced": true})))
                        .await;
                assert_eq!(s, 200, "{issued}");
                if let Some(c) = i["customer_id"].as_i64() {
                    numbers.insert(c, issued["number"].as_str().unwrap().to_owned());
                }
            }
            let (own, other) = (&numbers[&a], &numbers[&b]);
            let token = app.add_token(Role::Customer, Some(a)).await;
            app.sign_out().await;
            app.add_user("it@a.test", Role::Customer, Some(a)).await;
            assert_eq!(app.sign_in("it@a.test", PASSWORD).await.status(), 200);
            // B's name and subscriptions (its invoice's number is in the question, so an answer
            // may repeat it: "there is no invoice …", the same as for a number never issued).
            let b_data =
                |body: &str| body.contains("Générale") || body.contains(&guid(3, 1)) || body.contains(&guid(2, 1));
            // (path, what answers): another customer's ids are 404; lists hold only A's.
            let cases: Vec<(String, u16)> = vec![
                ("/api/v1/me".into(), 200),
                (format!("/api/v1/customers/{b}"), 404),
                (format!("/api/v1/customers/{b}/cost?period={period}"), 404),
                (format!("/api/v1/customers/{b}/usage?period={period}"), 404),
                (format!("/api/v1/customers/{b}/usage.csv?period={period}"), 404),
                (
                    format!(
                        "/api/v1/customers/{a}/usage?period={period}&subscription={}",
                        guid(3, 1)
                    ),
                    404,
                ),
                (format!("/api/v1/invoices?period={period}"), 200),
                (format!("/api/v1/invoices/{other}"), 404),
                (format!("/api/v1/invoices/{other}.pdf"), 404),
                (format!("/invoices/{other}.pdf"), 404),
                (format!("/invoices/{other}.pdf?detail=true"), 404),
            ];
            // The Azure-compatible paths: B's user subscription is as unknown as none, the
            // provider's view and the registration mapping are staff only.
            let window = format!(
                "api-version=2015-06-01-preview&reportedStartTime={}T00:00:00Z&reportedEndTime={}T00:00:00Z",
                period.first_day(),
                period.end_day()
            );
            let registration = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/azurestack/providers/Microsoft.AzureStack/registrations/r";
            let cases: Vec<(String, u16)> = cases
                .into_iter()
                .chain([
                    (
                        format!("/subscriptions/{}/providers/Microsoft.Commerce/UsageAggregates?{window}", guid(3, 0)),
                        200,
                    ),
                    (
                        format!("/subscriptions/{}/providers/Microsoft.Commerce/UsageAggregates?{window}", guid(3, 1)),
                        404,
                    ),
                    (
                        format!(
                            "/subscriptions/{}/providers/Microsoft.Commerce/usageAggregates?{window}&aggregationGranularity=Hourly",
                            guid(3, 1).to_uppercase()
                        ),
                        404,
                    ),
                    (
                        format!(
                            "/subscriptions/{}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?{window}&subscriberId={}",
                            guid(3, 0),
                            guid(3, 1)
                        ),
                        403,
                    ),
                    (format!("{registration}/customerSubscriptions?api-version=2017-06-01"), 403),
                    (
                        format!("{registration}/customerSubscriptions/{}?api-version=2017-06-01", guid(2, 1)),
                        403,
                    ),
                ])
                .collect();
            for (path, status) in &cases {
                let session = app.client.get(app.url(path)).send().await.unwrap();
                let with_token = app.get_with_token(path, Some(&token)).await;
                for (how, r) in [("session", session), ("token", with_token)] {
                    // The browser route `/invoices/…` is for sessions; tokens use /api/v1.
                    if how == "token" && path.starts_with("/invoices/") {
                        continue;
                    }
                    assert_eq!(r.status().as_u16(), *status, "{how} {path}");
                    let body = String::from_utf8_lossy(&r.bytes().await.unwrap()).into_owned();
                    assert!(!b_data(&body), "{how} {path} shows another customer's data: {body}");
                }
            }
            // And its own invoice is there.
            let r = app
                .get_with_token(&format!("/api/v1/invoices/{own}"), Some(&token))
                .await;
            assert_eq!(r.status(), 200);
            app
        },
    )
    .await;
}

#[tokio::test]
async fn cached_portal_figures_follow_a_price_change_and_new_usage_at_once() {
    use app::ssr::services::overview;
    for t in TestDb::all().await {
        eprintln!("-- engine: {}", t.db.engine().name());
        let state = demo_october(&t.db).await;
        let now = state.clock.now();
        let november = BillingPeriod::containing(now);
        let rated = costs::period_cost(&t.db, app::ssr::services::rating::Scope::Everything, october(), now)
            .await
            .unwrap();
        let id = rated.accounts.iter().find_map(|a| a.customer_id).unwrap();
        let month_total = |p: BillingPeriod| {
            let state = state.clone();
            async move {
                let data = usage::load(&state, id, p, p).await.unwrap();
                let q = UsageQuery {
                    group_by: "meter".into(),
                    ..UsageQuery::default()
                };
                data.page(&usage::select(&data, &q).unwrap()).unwrap().totals[0].cost
            }
        };
        let before = month_total(october()).await;
        let overview_before = overview::customer_overview(&state, id).await.unwrap();
        // Cached now; a price change must show at once.
        set_base_vm_price(&state, "0.5", "2026-10-01").await;
        let after = month_total(october()).await;
        assert_ne!(before, after, "the new price is in the explorer");
        // Sign-ins, portal visits, budgets and invoices change no rating: the data's version
        // stays; a price, mapping or terms entry moves it.
        let db = t.db.clone();
        let version = || {
            let db = db.clone();
            async move {
                app::ssr::db::audit::data_version(&mut db.conn().await.unwrap())
                    .await
                    .unwrap()
            }
        };
        let entry = |action: &'static str| {
            let db = db.clone();
            async move {
                let e = app::ssr::db::audit::AuditEntry {
                    actor: "cli",
                    actor_label: "",
                    action,
                    subject: "test",
                    details: serde_json::json!({}),
                    client_addr: "",
                };
                app::ssr::db::audit::insert_audit(&mut db.conn().await.unwrap(), &e, now.timestamp())
                    .await
                    .unwrap();
            }
        };
        let v = version().await;
        for action in [
            "sign_in.succeeded",
            "sign_in.failed",
            "portal.viewed_as_customer",
            "budget.set",
            "invoice.issued",
            "user.created",
            "token.created",
        ] {
            entry(action).await;
        }
        assert_eq!(version().await, v, "nothing a rating reads changed");
        entry("user_subscription.owner_assigned").await;
        assert_ne!(version().await, v);
        let fresh = costs::customer_cost(&t.db, id, october(), now).await.unwrap();
        assert_eq!(Some(after), fresh.total);
        let overview_after = overview::customer_overview(&state, id).await.unwrap();
        let last = |o: &app::types::CustomerOverview| o.cost.as_ref().unwrap().last_month.total;
        assert_eq!(last(&overview_after), fresh.total, "the overview's last month too");
        assert_ne!(last(&overview_before), last(&overview_after));
        // New usage this month: the month so far moves.
        let this_before = month_total(november).await;
        let sub = overview_after
            .user_subscriptions
            .iter()
            .find(|s| s.month_to_date.is_some())
            .unwrap()
            .subscription_id
            .clone();
        let reg = app::ssr::services::lookup::registration_by_key(&t.db, "azs-northwest", "registration")
            .await
            .unwrap();
        let record = app::billing::UsageRecord {
            subscription_id: app::billing::SubscriptionId::parse(&sub).unwrap(),
            meter_id: app::billing::MeterId::parse(BASE_VM).unwrap(),
            usage_start: "2026-11-14T01:00:00Z".parse().unwrap(),
            usage_end: "2026-11-14T02:00:00Z".parse().unwrap(),
            quantity: app::billing::Quantity::parse("1000").unwrap(),
            resource_uri: VM.into(),
            location: "local".into(),
            tags: String::new(),
            additional_info: "{\"cache test\":1}".into(),
            reported_at: None,
        };
        let prepared = app::ssr::services::ingest::prepare_all(reg.id, vec![record]);
        app::ssr::services::ingest::ingest_batch(
            &t.db,
            reg.id,
            &app::ssr::services::ingest::Batch::records(
                &prepared,
                app::ssr::services::ingest::Source::Import,
                "test",
                "cache",
            ),
            &mut app::ssr::services::ingest::IngestCache::default(),
            now.timestamp(),
        )
        .await
        .unwrap();
        assert_eq!(month_total(november).await, this_before + Decimal::from(500));
        t.dispose().await;
    }
}

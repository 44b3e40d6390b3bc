//! The Azure-compatible endpoints over HTTP: usage aggregates (tenant and provider style)
//! read back exactly what was ingested, page by keyset through inserts, answer Azure's
//! errors, keep customers to their own subscriptions; the CSP customer-subscription
//! mapping works as the console's, with its history and billing effect.

use crate::helpers::{for_each_app, usage_json, TestApp};
use crate::invoices::{call, guid, push, setup, BASE_VM, VM, WINDOWS_VM};
use app::ingest::record::parse_json_record;
use app::types::Role;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::Value;
use std::collections::HashSet;

/// The demo registration's base subscription (also its provider subscription here).
const PROVIDER: &str = "dd8597b4-8739-4467-8b10-f8679f62bfbf";
const API: &str = "api-version=2015-06-01-preview";

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A record in the usage API's shape, reported at `reported` (as a pulled window gives it).
fn reported_record(
    sub: &str,
    meter: &str,
    start: DateTime<Utc>,
    quantity: &str,
    resource: &str,
    reported: DateTime<Utc>,
) -> String {
    let r = usage_json(sub, meter, &start.to_rfc3339(), quantity, resource);
    let cut = r.len() - 2;
    format!(
        "{},\"reportedTime\":\"{}\"{}",
        &r[..cut],
        reported.to_rfc3339(),
        &r[cut..]
    )
}

/// A record as the readers see it, without its report time (the endpoints do not serve it).
fn parsed(raw: &str) -> app::billing::UsageRecord {
    app::billing::UsageRecord {
        reported_at: None,
        ..parse_json_record(raw).unwrap()
    }
}

/// GET with a token: status, the raw records of `value`, `nextLink`, the body.
async fn aggregates(app: &TestApp, token: Option<&str>, path: &str) -> (u16, Vec<String>, Option<String>, Value) {
    let r = app.get_with_token(path, token).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    #[derive(serde::Deserialize)]
    struct Page {
        value: Vec<Box<serde_json::value::RawValue>>,
        #[serde(rename = "nextLink")]
        next_link: Option<String>,
    }
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match serde_json::from_str::<Page>(&text) {
        Ok(p) if status == 200 => (
            status,
            p.value.into_iter().map(|v| v.get().to_owned()).collect(),
            p.next_link,
            body,
        ),
        _ => (status, Vec::new(), None, body),
    }
}

fn tenant_path(sub: &str, from: DateTime<Utc>, to: DateTime<Utc>, granularity: &str) -> String {
    format!(
        "/subscriptions/{sub}/providers/Microsoft.Commerce/UsageAggregates?{API}&reportedStartTime={}&reportedEndTime={}&aggregationGranularity={granularity}",
        iso(from),
        iso(to)
    )
}

fn provider_path(from: DateTime<Utc>, to: DateTime<Utc>, granularity: &str) -> String {
    format!(
        "/subscriptions/{PROVIDER}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?{API}&reportedStartTime={}&reportedEndTime={}&aggregationGranularity={granularity}",
        iso(from),
        iso(to)
    )
}

/// The path and query of a `nextLink` (it carries the server's public address).
fn local(link: &str) -> String {
    let at = link.find("/subscriptions/").unwrap();
    link[at..].to_owned()
}

#[tokio::test]
async fn ingested_records_read_back_exactly_through_both_usage_endpoints_by_reported_window() {
    for_each_app(|app| async move {
        let (_, ids) = setup(&app, 2).await;
        let operator = app.add_token(Role::Operator, None).await;
        let customer = app.add_token(Role::Customer, Some(ids[0])).await;
        let yesterday = Utc::now().duration_trunc(Duration::days(1)).unwrap() - Duration::days(1);
        let window = yesterday + Duration::hours(10);
        let (a, b) = (guid(3, 0), guid(3, 1));
        let vm2 = "/subscriptions/x/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/台北-vm";
        // A window as Azure Stack reports it: the last hours, and a late record of the day
        // before yesterday.
        let pushed = vec![
            reported_record(
                &a,
                BASE_VM,
                yesterday + Duration::hours(8),
                "0.0013440860215053762",
                VM,
                window,
            ),
            reported_record(&a, BASE_VM, yesterday + Duration::hours(9), "2", VM, window),
            reported_record(&a, WINDOWS_VM, yesterday + Duration::hours(9), "1.25", vm2, window),
            reported_record(&a, BASE_VM, yesterday - Duration::hours(5), "4", VM, window),
            reported_record(&b, BASE_VM, yesterday + Duration::hours(9), "3", VM, window),
        ];
        push(&app, &pushed).await;
        let hour = (window, window + Duration::hours(1));

        // Provider style: every record of the window, each exactly as ingested.
        let (s, value, next, body) = aggregates(&app, Some(&operator), &provider_path(hour.0, hour.1, "Hourly")).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(next, None);
        let expected: HashSet<String> = pushed.iter().map(|r| format!("{:?}", parsed(r))).collect();
        let served: HashSet<String> = value.iter().map(|r| format!("{:?}", parsed(r))).collect();
        assert_eq!(served, expected);
        assert!(value.iter().any(|r| r.contains("\"quantity\":0.0013440860215053762")));
        let first: Value = serde_json::from_str(&value[0]).unwrap();
        assert!(first["properties"]["instanceData"].is_string());
        assert_eq!(first["type"], "Microsoft.Commerce/UsageAggregate");
        assert!(first["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/subscriptions/{PROVIDER}/")));

        // One subscriber; the tenant style for its own subscription, with a customer's
        // token and an operator's; nothing outside the window.
        let (_, only_b, _, _) = aggregates(
            &app,
            Some(&operator),
            &format!(
                "{}&subscriberId={}",
                provider_path(hour.0, hour.1, "Hourly"),
                b.to_uppercase()
            ),
        )
        .await;
        assert_eq!(only_b.len(), 1);
        for token in [&customer, &operator] {
            let (s, own, _, body) = aggregates(&app, Some(token), &tenant_path(&a, hour.0, hour.1, "hourly")).await;
            assert_eq!((s, own.len()), (200, 4), "{body}");
            assert!(own.iter().all(|r| parsed(r).subscription_id.to_string() == a));
        }
        let (_, before, _, _) = aggregates(
            &app,
            Some(&operator),
            &provider_path(hour.0 - Duration::hours(1), hour.0, "Hourly"),
        )
        .await;
        assert!(before.is_empty());

        // Daily: the window's records summed per usage day, subscription, meter and resource.
        let day = (yesterday, yesterday + Duration::days(1));
        let (s, daily, _, body) = aggregates(&app, Some(&customer), &tenant_path(&a, day.0, day.1, "Daily")).await;
        assert_eq!(s, 200, "{body}");
        let mut rows: Vec<(String, String, String)> = daily
            .iter()
            .map(|r| {
                let p = parsed(r);
                (iso(p.usage_start), p.meter_id.to_string(), p.quantity.canonical())
            })
            .collect();
        rows.sort();
        let mut want = vec![
            (iso(yesterday - Duration::days(1)), BASE_VM.to_owned(), "4".to_owned()),
            (iso(yesterday), BASE_VM.to_owned(), "2.0013440860215053762".to_owned()),
            (iso(yesterday), WINDOWS_VM.to_owned(), "1.25".to_owned()),
        ];
        want.sort();
        assert_eq!(rows, want);
        assert!(daily.iter().all(|r| r.contains(&format!(
            "\"usageEndTime\":\"{}",
            (parsed(r).usage_start + Duration::days(1)).format("%Y-%m-%dT%H:%M:%S")
        ))));

        // A correction reported later moves to its own window with the new quantity.
        let later = window + Duration::hours(3);
        push(
            &app,
            &[reported_record(
                &b,
                BASE_VM,
                yesterday + Duration::hours(9),
                "3.5",
                VM,
                later,
            )],
        )
        .await;
        let (_, old, _, _) = aggregates(&app, Some(&operator), &provider_path(hour.0, hour.1, "Hourly")).await;
        assert_eq!(old.len(), 4, "the corrected record left its first window");
        let (_, new, _, _) = aggregates(
            &app,
            Some(&operator),
            &provider_path(later, later + Duration::hours(1), "Hourly"),
        )
        .await;
        assert_eq!(new.len(), 1);
        assert_eq!(parsed(&new[0]).quantity.canonical(), "3.5");
        app
    })
    .await;
}

#[tokio::test]
async fn paging_by_continuation_token_loses_and_repeats_nothing_while_records_arrive() {
    for_each_app(|app| async move {
        setup(&app, 1).await;
        let operator = app.add_token(Role::Operator, None).await;
        let yesterday = Utc::now().duration_trunc(Duration::days(1)).unwrap() - Duration::days(1);
        let window = yesterday + Duration::hours(12);
        let records = |from: usize, n: usize, reported: DateTime<Utc>| -> Vec<String> {
            (from..from + n)
                .map(|i| {
                    let vm =
                        format!("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm{i}");
                    reported_record(&guid(3, 0), BASE_VM, yesterday + Duration::hours(9), "1", &vm, reported)
                })
                .collect()
        };
        for chunk in records(0, 2_500, window).chunks(1_000) {
            push(&app, chunk).await;
        }
        let mut seen = HashSet::new();
        let mut pages = 0;
        let mut next = Some(provider_path(window, window + Duration::hours(1), "Hourly"));
        while let Some(path) = next {
            let (s, value, link, body) = aggregates(&app, Some(&operator), &path).await;
            assert_eq!(s, 200, "{body}");
            assert!(value.len() <= 1_000);
            for r in &value {
                assert!(seen.insert(parsed(r).resource_uri), "served twice: {r}");
            }
            pages += 1;
            if pages == 1 {
                // Records arriving between pages: 300 in this window, 50 in an earlier one.
                push(&app, &records(2_500, 300, window)).await;
                push(&app, &records(3_000, 50, window - Duration::hours(2))).await;
            }
            next = link.map(|l| local(&l));
        }
        assert_eq!(
            seen.len(),
            2_800,
            "every record of the window once, the late arrivals included"
        );
        assert_eq!(pages, 3);

        // Daily pages too.
        let day = (yesterday, yesterday + Duration::days(1));
        let mut daily = 0;
        let mut next = Some(provider_path(day.0, day.1, "daily"));
        while let Some(path) = next {
            let (s, value, link, body) = aggregates(&app, Some(&operator), &path).await;
            assert_eq!(s, 200, "{body}");
            daily += value.len();
            next = link.map(|l| local(&l));
        }
        assert_eq!(daily, 2_850, "one row per resource and day");
        app
    })
    .await;
}

#[tokio::test]
async fn the_usage_endpoints_answer_azures_error_codes() {
    for_each_app(|app| async move {
        let (_, ids) = setup(&app, 2).await;
        let operator = app.add_token(Role::Operator, None).await;
        let ingest = app.add_token(Role::Ingest, None).await;
        let customer = app.add_token(Role::Customer, Some(ids[0])).await;
        let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
        let day = (today - Duration::days(1), today);
        let ok = provider_path(day.0, day.1, "Daily");
        let cases: Vec<(String, Option<&str>, u16, &str)> = vec![
            (ok.replace(&format!("{API}&"), ""), Some(&operator), 400, "NoApiVersion"),
            (
                ok.replace("2015-06-01-preview", "2020-01-01"),
                Some(&operator),
                400,
                "InvalidApiVersionParameter",
            ),
            (
                ok.replace("Daily", "Weekly"),
                Some(&operator),
                400,
                "InvalidAggregationGranularity",
            ),
            (
                provider_path(day.0 + Duration::minutes(30), day.1, "Hourly"),
                Some(&operator),
                400,
                "InvalidProperty",
            ),
            (
                provider_path(day.0 + Duration::hours(3), day.1, "Daily"),
                Some(&operator),
                400,
                "InvalidProperty",
            ),
            (
                provider_path(day.1, day.0, "Daily"),
                Some(&operator),
                400,
                "InvalidProperty",
            ),
            (
                provider_path(day.0, day.1 + Duration::days(1), "Daily"),
                Some(&operator),
                400,
                "RequestEndTimeIsInFuture",
            ),
            (
                format!("{ok}&continuationToken=not-a-token"),
                Some(&operator),
                400,
                "InvalidProperty",
            ),
            (
                format!("{ok}&subscriberId={}", guid(9, 9)),
                Some(&operator),
                400,
                "SubscriberIdIsNotDirectTenant",
            ),
            (
                ok.replace(PROVIDER, &guid(8, 8)),
                Some(&operator),
                404,
                "SubscriptionNotFound",
            ),
            (
                tenant_path(&guid(3, 999_999), day.0, day.1, "Daily"),
                Some(&operator),
                404,
                "SubscriptionNotFound",
            ),
            (
                tenant_path(&guid(3, 1), day.0, day.1, "Daily"),
                Some(&customer),
                404,
                "SubscriptionNotFound",
            ),
            (ok.clone(), Some(&customer), 403, "AuthorizationFailed"),
            (ok.clone(), Some(&ingest), 403, "AuthorizationFailed"),
            (ok.clone(), None, 401, "AuthenticationFailed"),
            // A token Stackbill never issued (or one revoked) is Azure's invalid token.
            (
                ok.clone(),
                Some("not-a-stackbill-token"),
                401,
                "InvalidAuthenticationToken",
            ),
        ];
        for (path, token, status, code) in cases {
            let r = reqwest::Client::new().get(app.url(&path));
            let r = match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            };
            let r = r.send().await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{path}: {body}");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        app
    })
    .await;
}

/// The accounts a customer's month has money on (the operator's session reads them).
async fn billed_accounts(app: &TestApp, customer: i64, period: &str) -> Vec<String> {
    let (s, body) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/v1/customers/{customer}/cost?period={period}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !crate::invoices::dec(&a["total"]).is_zero())
        .map(|a| a["billing_account"].as_str().unwrap().to_owned())
        .collect()
}

/// `…/registrations/stamp-1/customerSubscriptions[/{id}]`, in any case.
fn registration_path(rest: &str) -> String {
    format!("/subscriptions/{PROVIDER}/resourcegroups/AzureStack/providers/Microsoft.AzureStack/registrations/stamp-1/customerSubscriptions{rest}")
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn customer_subscriptions_map_replace_and_unmap_a_tenant_as_the_console_does() {
    for_each_app(|app| async move {
        let (_, ids) = setup(&app, 2).await;
        let operator = app.add_token(Role::Operator, None).await;
        let finance = app.add_token(Role::Finance, None).await;
        let customer = app.add_token(Role::Customer, Some(ids[0])).await;
        let (tenant, first, second) = (guid(1, 0), guid(2, 50), guid(2, 51));
        let put = |sub: String| {
            let app = &app;
            let operator = operator.clone();
            let tenant = tenant.clone();
            async move {
                send(
                    app,
                    reqwest::Method::PUT,
                    Some(&operator),
                    &registration_path(&format!("/{sub}?api-version=2017-06-01")),
                    Some(serde_json::json!({"properties": {"tenantId": tenant}})),
                )
                .await
            }
        };
        let get = |sub: String, version: &'static str| {
            let app = &app;
            let finance = finance.clone();
            async move {
                send(
                    app,
                    reqwest::Method::GET,
                    Some(&finance),
                    &registration_path(&format!("/{sub}?api-version={version}")),
                    None,
                )
                .await
            }
        };
        // PUT: the tenant's subscription is replaced from today.
        let (s, body) = put(first.to_uppercase()).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["properties"]["tenantId"], tenant);
        assert_eq!(body["name"], format!("stamp-1/{first}"));
        assert_eq!(body["type"], "Microsoft.AzureStack/registrations/customerSubscriptions");
        assert!(body["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/registrations/stamp-1/customerSubscriptions/{first}")));
        let (s, got) = get(first.clone(), "2022-06-01").await;
        assert_eq!((s, &got), (200, &body));
        let (s, list) = send(
            &app,
            reqwest::Method::GET,
            Some(&operator),
            &registration_path("?api-version=2020-06-01-preview"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{list}");
        let listed: Vec<&str> = list["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert!(listed.contains(&format!("stamp-1/{first}").as_str()), "{listed:?}");
        assert!(listed.contains(&format!("stamp-1/{}", guid(2, 1)).as_str()));
        assert!(
            !listed.contains(&format!("stamp-1/{}", guid(2, 0)).as_str()),
            "replaced"
        );

        // The console sees it, with its origin; the customer's month is billed to it.
        let (_, history) = call(
            &app,
            reqwest::Method::GET,
            &format!("/api/v1/mappings/{tenant}/history"),
            None,
        )
        .await;
        let entries = history.as_array().or(history["value"].as_array()).unwrap().clone();
        assert!(
            entries
                .iter()
                .any(|e| e["source"] == "azure" && e["subscription"] == first.as_str()),
            "{history}"
        );
        // Usage of today's first hour (once it is over) is billed to the new subscription.
        let today = Utc::now().duration_trunc(Duration::days(1)).unwrap();
        let billing = Utc::now() >= today + Duration::hours(1);
        let period = today.format("%Y-%m").to_string();
        if billing {
            push(&app, &[usage_json(&guid(3, 0), BASE_VM, &today.to_rfc3339(), "2", VM)]).await;
            assert_eq!(billed_accounts(&app, ids[0], &period).await, vec![first.clone()]);
        }

        // PUT again the same day: the new one replaces it; the first is no longer registered.
        assert_eq!(put(second.clone()).await.0, 200);
        assert_eq!(
            get(first.clone(), "2017-06-01").await.1["error"]["code"],
            "CustomerSubscriptionNotFound"
        );
        assert_eq!(get(second.clone(), "2017-06-01").await.0, 200);

        // DELETE: the tenant falls back to the base subscription.
        let (s, _) = send(
            &app,
            reqwest::Method::DELETE,
            Some(&operator),
            &registration_path(&format!("/{second}?api-version=2017-06-01")),
            None,
        )
        .await;
        assert_eq!(s, 200);
        let (s, body) = get(second.clone(), "2017-06-01").await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (404, Some("CustomerSubscriptionNotFound"))
        );
        if billing {
            assert_eq!(billed_accounts(&app, ids[0], &period).await, vec![PROVIDER.to_owned()]);
        }

        // Errors, as Azure names them.
        let unknown = registration_path(&format!("/{first}?api-version=2017-06-01")).replace("stamp-1", "nope");
        let cases: Vec<(reqwest::Method, Option<&str>, String, u16, &str)> = vec![
            (
                reqwest::Method::GET,
                Some(&operator),
                unknown,
                404,
                "RegistrationNotFound",
            ),
            (
                reqwest::Method::GET,
                Some(&operator),
                registration_path("/not-a-guid?api-version=2017-06-01"),
                400,
                "InvalidCustomerSubscriptionId",
            ),
            (
                reqwest::Method::GET,
                Some(&operator),
                registration_path(&format!("/{first}")),
                400,
                "MissingApiVersionParameter",
            ),
            (
                reqwest::Method::GET,
                Some(&operator),
                registration_path(&format!("/{first}?api-version=2016-01-01")),
                400,
                "InvalidApiVersionParameter",
            ),
            (
                reqwest::Method::DELETE,
                Some(&operator),
                registration_path(&format!("/{second}?api-version=2017-06-01")),
                404,
                "CustomerSubscriptionNotFound",
            ),
            (
                reqwest::Method::PUT,
                Some(&finance),
                registration_path(&format!("/{first}?api-version=2017-06-01")),
                403,
                "AuthorizationFailed",
            ),
            (
                reqwest::Method::GET,
                Some(&customer),
                registration_path("?api-version=2017-06-01"),
                403,
                "AuthorizationFailed",
            ),
            (
                reqwest::Method::GET,
                None,
                registration_path("?api-version=2017-06-01"),
                401,
                "AuthenticationFailed",
            ),
        ];
        for (method, token, path, status, code) in cases {
            let (s, body) = send(&app, method.clone(), token, &path, None).await;
            assert_eq!(
                (s, body["error"]["code"].as_str()),
                (status, Some(code)),
                "{method} {path}: {body}"
            );
        }
        let (s, body) = send(
            &app,
            reqwest::Method::PUT,
            Some(&operator),
            &registration_path(&format!("/{first}?api-version=2017-06-01")),
            Some(serde_json::json!({"properties": {"tenantId": "nobody"}})),
        )
        .await;
        assert_eq!((s, body["error"]["code"].as_str()), (400, Some("InvalidProperty")));
        app
    })
    .await;
}

//! The collector against a fake Azure Stack admin endpoint started on 127.0.0.1:0:
//! paged windows with nextLink, 504 GatewayTimeout and 503 answers, late records, the
//! same record delivered twice, and a process stopped in the middle of a window.

use crate::helpers::{for_each_app, spawn_app, usage_json, TestApp};
use app::ssr::db::{self, registrations::CollectorConfig};
use app::ssr::{AppState, Clock};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use server::collector::{Collector, Range, RetryPolicy, Timing};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const PROVIDER: &str = "20ff7fc3-e762-44dd-bd96-b71116dcdc23";
const SUB_A: &str = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4";
const SUB_B: &str = "5144634d-7e4d-443b-a304-d27e44220fc6";
const SUB_UNKNOWN: &str = "ad7e95b8-cb96-472e-b48d-46411ddce350";
const TENANT: &str = "d9b782d5-d098-4374-8f2c-3907cc34611c";
const VM: &str = "FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5";
const DISK: &str = "d5f7731b-f639-404a-89d0-e46186e22c8d";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// What the fake stamp serves and what it saw.
#[derive(Default)]
struct Fake {
    /// Reported window start → pages of record JSON.
    windows: HashMap<i64, Vec<Vec<String>>>,
    /// (window, page) → statuses to answer before the real page.
    faults: Mutex<HashMap<(i64, usize), VecDeque<u16>>>,
    /// (window, page) that never answers (a stamp that hangs while we are stopped).
    hang: Mutex<Option<(i64, usize)>>,
    hung: tokio::sync::Notify,
    requests: AtomicUsize,
    unauthorised_once: Mutex<bool>,
    base: Mutex<String>,
    foreign_next_link: Mutex<bool>,
    /// The subscriptions list answers 400 (an API version the stamp refuses, say).
    subscriptions_broken: Mutex<bool>,
    /// Windows that replace `windows` once set (records the stamp committed late).
    extra: Mutex<Option<HashMap<i64, Vec<Vec<String>>>>>,
}

async fn usage(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-token") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    {
        let mut once = fake.unauthorised_once.lock().unwrap();
        if *once {
            *once = false;
            return (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}})),
            )
                .into_response();
        }
    }
    assert_eq!(q.get("aggregationGranularity").map(String::as_str), Some("Hourly"));
    assert_eq!(q.get("api-version").map(String::as_str), Some("2015-06-01-preview"));
    let start = t(&q["reportedStartTime"]).timestamp();
    let end = t(&q["reportedEndTime"]).timestamp();
    assert_eq!(end - start, 3600, "windows are one hour");
    let page: usize = q.get("continuationToken").map(|c| c.parse().unwrap()).unwrap_or(0);
    let hang = *fake.hang.lock().unwrap();
    if hang == Some((start, page)) {
        fake.hung.notify_one();
        std::future::pending::<()>().await;
    }
    if let Some(status) = fake
        .faults
        .lock()
        .unwrap()
        .get_mut(&(start, page))
        .and_then(VecDeque::pop_front)
    {
        let body = match status {
            504 => include_str!(
                "../../../app/tests/fixtures/azure-stack/provider-usage-aggregates.recorded-error-504.json"
            )
            .to_owned(),
            _ => r#"{"error":{"code":"ServiceUnavailable","message":"busy"}}"#.to_owned(),
        };
        return (StatusCode::from_u16(status).unwrap(), body).into_response();
    }
    let windows = fake
        .extra
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| fake.windows.clone());
    let pages = windows.get(&start).cloned().unwrap_or_else(|| vec![vec![]]);
    let records = pages.get(page).cloned().unwrap_or_default();
    let next = if page + 1 < pages.len() {
        let base = if *fake.foreign_next_link.lock().unwrap() {
            "http://evil.example".to_owned()
        } else {
            fake.base.lock().unwrap().clone()
        };
        format!(
            "\"{base}/subscriptions/{PROVIDER}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?reportedStartTime={}&reportedEndTime={}&aggregationGranularity=Hourly&api-version=2015-06-01-preview&continuationToken={}\"",
            q["reportedStartTime"], q["reportedEndTime"], page + 1
        )
    } else {
        "null".to_owned()
    };
    (
        [("content-type", "application/json")],
        format!("{{\"value\":[{}],\"nextLink\":{next}}}", records.join(",")),
    )
        .into_response()
}

async fn subscriptions(State(fake): State<Arc<Fake>>) -> Response {
    if *fake.subscriptions_broken.lock().unwrap() {
        let body =
            r#"{"error":{"code":"NoRegisteredProviderFound","message":"No registered resource provider found"}}"#;
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    Json(serde_json::json!({
        "value": [
            {"id": "x", "subscriptionId": SUB_A, "displayName": "Production", "owner": "admin@contoso.test", "tenantId": TENANT,
             "offerId": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Subscriptions.Admin/offers/gold", "state": "Enabled"},
            {"id": "y", "subscriptionId": SUB_B, "displayName": "Dev", "owner": "admin@contoso.test", "tenantId": TENANT,
             "offerId": "", "state": "Enabled"}
        ]
    }))
    .into_response()
}

async fn start_fake(fake: Fake) -> (Arc<Fake>, String) {
    let fake = Arc::new(fake);
    let app = Router::new()
        .route(
            "/subscriptions/{provider}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates",
            get(usage),
        )
        .route(
            "/subscriptions/{provider}/providers/Microsoft.Subscriptions.Admin/subscriptions",
            get(subscriptions),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *fake.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, base)
}

/// Five windows from 00:00 to 05:00 on 2026-01-01 (the fixed clock says 05:30, the
/// first run starts at the beginning of the month, 00:00). Window 00 has three pages; window 03 brings a late record
/// (usage at 01:00) and a record already delivered in window 01.
fn stamp() -> Fake {
    let mut f = Fake::default();
    let w = |h: i64| t("2026-01-01T00:00:00Z").timestamp() + h * 3600;
    let rec = |sub: &str, meter: &str, hour: u32, q: &str, res: &str| {
        usage_json(sub, meter, &format!("2026-01-01T{hour:02}:00:00Z"), q, res)
    };
    f.windows.insert(
        w(0),
        vec![
            vec![
                rec(SUB_A, VM, 0, "4", "/a/vm1"),
                rec(SUB_A, DISK, 0, "0.0013440860215053762", "/a/disk1"),
            ],
            vec![rec(SUB_B, VM, 0, "2", "/b/vm1")],
            vec![rec(SUB_UNKNOWN, VM, 0, "1", "/u/vm1")],
        ],
    );
    f.windows.insert(
        w(1),
        vec![vec![rec(SUB_A, VM, 1, "4", "/a/vm1"), rec(SUB_B, VM, 1, "2", "/b/vm1")]],
    );
    f.windows.insert(
        w(2),
        vec![
            vec![rec(SUB_A, VM, 2, "4", "/a/vm1")],
            vec![rec(SUB_B, VM, 2, "2", "/b/vm1")],
        ],
    );
    f.windows.insert(
        w(3),
        vec![vec![
            rec(SUB_A, VM, 3, "4", "/a/vm1"),
            rec(SUB_A, DISK, 1, "0.0013440860215053762", "/a/disk1"),
            rec(SUB_B, VM, 1, "2", "/b/vm1"),
        ]],
    );
    f.windows.insert(w(4), vec![vec![]]);
    f
}

/// Distinct records the stamp holds: 4 + 2 + 2 + 2 (the late one is new, the repeat is not).
const DISTINCT: i64 = 10;

async fn configure(app: &TestApp, base: &str, command: &str) -> AppState {
    let reg = app.add_registration("azs-1").await;
    let mut c = app.state.db.conn().await.unwrap();
    let cfg = CollectorConfig {
        usage_endpoint: Some(base),
        provider_subscription_id: Some(PROVIDER),
        token_env: None,
        token_command: Some(command),
    };
    db::registrations::set_collector_config(&mut c, reg, &cfg)
        .await
        .unwrap();
    AppState {
        clock: Clock::fixed(t("2026-01-01T05:30:00Z")),
        ..app.state.clone()
    }
}

async fn registration(state: &AppState) -> db::registrations::RegistrationRow {
    let mut c = state.db.conn().await.unwrap();
    db::registrations::find_registration_by_name(&mut c, "azs-1")
        .await
        .unwrap()
        .unwrap()
}

fn collector() -> Collector {
    Collector::with_retry(RetryPolicy {
        max_attempts: 4,
        base: std::time::Duration::from_millis(5),
        cap: std::time::Duration::from_millis(20),
    })
}

/// The same without re-pulling closed windows, for tests about resuming exactly.
fn exact_collector() -> Collector {
    collector().with_timing(Timing::new(15, 0).unwrap())
}

async fn watermark(state: &AppState, reg: i64) -> Option<DateTime<Utc>> {
    let mut c = state.db.conn().await.unwrap();
    db::collector::find_state(&mut c, reg)
        .await
        .unwrap()
        .and_then(|s| DateTime::from_timestamp(s.watermark_at, 0))
}

#[tokio::test]
async fn the_collector_walks_every_window_from_the_watermark_following_next_links() {
    for_each_app(|app| async move {
        let (fake, base) = start_fake(stamp()).await;
        let state = configure(&app, &base, "echo test-token").await;
        let reg = registration(&state).await;
        let report = collector().pull(&state, &reg, Range::default()).await.unwrap();
        assert_eq!(report.windows, 5);
        assert_eq!(report.pages, 3 + 1 + 2 + 1 + 1);
        assert_eq!(report.records, 11);
        assert_eq!((report.report.accepted, report.report.duplicates), (DISTINCT as u64, 1));
        assert_eq!(report.watermark, Some(t("2026-01-01T05:00:00Z")));
        assert_eq!(app.count("usage_records").await, DISTINCT);
        assert_eq!(app.count("collector_windows").await, 5);
        // Each record remembers the reported window it came from; the late one keeps its
        // own usage hour (01:00) and went into that day's rollup.
        let mut c = state.db.conn().await.unwrap();
        let late: (i64, i64) = db::sql!(&mut c, |e| {
            sqlx::query_as(
        "SELECT usage_start_at, reported_at FROM usage_records WHERE meter_id = 'd5f7731b-f639-404a-89d0-e46186e22c8d' \
         ORDER BY usage_start_at DESC LIMIT 1"
    )
    .fetch_one(e)
    .await
        })
        .unwrap();
        assert_eq!(
            late,
            (
                t("2026-01-01T01:00:00Z").timestamp(),
                t("2026-01-01T03:00:00Z").timestamp()
            )
        );
        // The stamp's subscription list made the tenant the owner of both known subscriptions;
        // the third one stays unassigned (billed to the base subscription).
        assert_eq!(
            db::user_subscriptions::count_user_subscriptions(&mut c).await.unwrap(),
            (3, 1)
        );
        drop(c);
        // Nothing new until the next hour closes: the second run only pulls the last two
        // closed windows again (for records the stamp committed late), which bring nothing
        // new and leave the watermark where it is.
        let again = collector().pull(&state, &reg, Range::default()).await.unwrap();
        assert_eq!((again.windows, again.report.accepted, again.watermark), (2, 0, None));
        assert_eq!(watermark(&state, reg.id).await, Some(t("2026-01-01T05:00:00Z")));
        // 8 pages in the first pull; the re-pull read windows 03 and 04 (one page each).
        assert_eq!(fake.requests.load(Ordering::SeqCst), 10);
        app
    })
    .await;
}

#[tokio::test]
async fn gateway_timeouts_and_busy_answers_are_retried_and_nothing_is_lost() {
    let app = spawn_app().await;
    let fake = stamp();
    let w1 = t("2026-01-01T01:00:00Z").timestamp();
    let w2 = t("2026-01-01T02:00:00Z").timestamp();
    fake.faults.lock().unwrap().insert((w1, 0), VecDeque::from([504, 504]));
    fake.faults.lock().unwrap().insert((w2, 1), VecDeque::from([503]));
    *fake.unauthorised_once.lock().unwrap() = true;
    let (_fake, base) = start_fake(fake).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    let report = collector().pull(&state, &reg, Range::default()).await.unwrap();
    assert_eq!((report.windows, report.report.accepted), (5, DISTINCT as u64));
    assert_eq!(app.count("usage_records").await, DISTINCT);
    app.dispose().await;
}

#[tokio::test]
async fn bounded_retries_give_up_record_the_error_and_the_next_run_resumes() {
    let app = spawn_app().await;
    let fake = stamp();
    let w2 = t("2026-01-01T02:00:00Z").timestamp();
    fake.faults
        .lock()
        .unwrap()
        .insert((w2, 1), VecDeque::from([504, 504, 504, 504]));
    let (fake, base) = start_fake(fake).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    let err = collector().pull(&state, &reg, Range::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("504") && err.to_string().contains("GatewayTimeout"),
        "{err}"
    );
    // Windows 00 and 01 are stored; window 02 is not (not even its first page).
    assert_eq!(watermark(&state, reg.id).await, Some(t("2026-01-01T02:00:00Z")));
    assert_eq!(app.count("usage_records").await, 6);
    let mut c = state.db.conn().await.unwrap();
    let s = db::collector::find_state(&mut c, reg.id).await.unwrap().unwrap();
    assert!(s.last_error.unwrap().contains("GatewayTimeout"));
    drop(c);
    assert!(fake.faults.lock().unwrap()[&(w2, 1)].is_empty());
    let report = exact_collector().pull(&state, &reg, Range::default()).await.unwrap();
    assert_eq!(report.windows, 3);
    assert_eq!(app.count("usage_records").await, DISTINCT);
    app.dispose().await;
}

#[tokio::test]
async fn a_process_stopped_in_the_middle_of_a_window_resumes_with_no_gap_and_no_duplicate() {
    for_each_app(|app| async move {
        let fake = stamp();
        let w2 = t("2026-01-01T02:00:00Z").timestamp();
        *fake.hang.lock().unwrap() = Some((w2, 1));
        let (fake, base) = start_fake(fake).await;
        let state = configure(&app, &base, "echo test-token").await;
        let reg = registration(&state).await;
        let running = {
            let (state, reg) = (state.clone(), reg.clone());
            tokio::spawn(async move { collector().pull(&state, &reg, Range::default()).await })
        };
        // The first page of window 02 has been served; the second never answers. Stop the
        // process there, as a crash or a restart would.
        fake.hung.notified().await;
        running.abort();
        let _ = running.await;
        assert_eq!(watermark(&state, reg.id).await, Some(t("2026-01-01T02:00:00Z")));
        assert_eq!(
            app.count("usage_records").await,
            6,
            "nothing of the interrupted window is stored"
        );
        *fake.hang.lock().unwrap() = None;
        let report = exact_collector().pull(&state, &reg, Range::default()).await.unwrap();
        assert_eq!(report.windows, 3);
        assert_eq!(report.watermark, Some(t("2026-01-01T05:00:00Z")));
        assert_eq!(app.count("usage_records").await, DISTINCT);
        let records = db::usage::count_records(&mut state.db.conn().await.unwrap())
            .await
            .unwrap();
        assert_eq!(records, DISTINCT, "the rollups count each record once");
        app
    })
    .await;
}

#[tokio::test]
async fn a_backfill_leaves_the_watermark_alone_and_stores_nothing_twice() {
    let app = spawn_app().await;
    let (_fake, base) = start_fake(stamp()).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    collector().pull(&state, &reg, Range::default()).await.unwrap();
    let range = Range {
        from: Some(t("2026-01-01T00:00:00Z")),
        to: Some(t("2026-01-01T03:00:00Z")),
    };
    let report = collector().pull(&state, &reg, range).await.unwrap();
    assert_eq!((report.windows, report.report.accepted, report.watermark), (3, 0, None));
    assert_eq!(watermark(&state, reg.id).await, Some(t("2026-01-01T05:00:00Z")));
    assert_eq!(app.count("usage_records").await, DISTINCT);
    app.dispose().await;
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed_with_our_token() {
    let app = spawn_app().await;
    let fake = stamp();
    *fake.foreign_next_link.lock().unwrap() = true;
    let (_fake, base) = start_fake(fake).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    let err = collector().pull(&state, &reg, Range::default()).await.unwrap_err();
    assert!(err.to_string().contains("another host"), "{err}");
    assert_eq!(app.count("usage_records").await, 0);
    app.dispose().await;
}

#[tokio::test]
async fn a_failing_token_command_is_a_clear_error() {
    let app = spawn_app().await;
    let (_fake, base) = start_fake(stamp()).await;
    // A command that fails and prints a secret on the way: the error shown to operators
    // and finance says it failed, never what it printed.
    let state = configure(
        &app,
        &base,
        r#"["sh","-c","echo 'no credentials, token=eyJhbGciOi' >&2; exit 3"]"#,
    )
    .await;
    let reg = registration(&state).await;
    let err = collector().pull(&state, &reg, Range::default()).await.unwrap_err();
    assert!(err.to_string().contains("token command `sh` failed"), "{err}");
    assert!(!err.to_string().contains("eyJhbGciOi"), "{err}");
    // A first run that fails is visible to operators, not "never collected".
    let mut c = state.db.conn().await.unwrap();
    let s = db::collector::find_state(&mut c, reg.id)
        .await
        .unwrap()
        .expect("a state row");
    let last_error = s.last_error.unwrap();
    assert!(last_error.contains("exit status: 3"), "{last_error}");
    assert!(!last_error.contains("eyJhbGciOi"), "{last_error}");
    assert_eq!(s.last_success_at, None);
    assert_eq!(s.watermark_at, t("2026-01-01T00:00:00Z").timestamp());
    drop(c);
    app.dispose().await;
}

#[tokio::test]
async fn usage_is_collected_even_when_the_subscriptions_list_fails() {
    let app = spawn_app().await;
    let fake = stamp();
    *fake.subscriptions_broken.lock().unwrap() = true;
    let (_fake, base) = start_fake(fake).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    let report = collector().pull(&state, &reg, Range::default()).await.unwrap();
    assert!(report
        .subscriptions_error
        .unwrap()
        .contains("No registered resource provider"));
    assert_eq!((report.windows, report.report.accepted), (5, DISTINCT as u64));
    // No owners learned: every subscription is unassigned (billed to the base) for now.
    let mut c = state.db.conn().await.unwrap();
    assert_eq!(
        db::user_subscriptions::count_user_subscriptions(&mut c).await.unwrap(),
        (3, 3)
    );
    drop(c);
    app.dispose().await;
}

#[tokio::test]
async fn a_quarantined_pulled_record_keeps_its_reported_window_when_reprocessed() {
    let app = spawn_app().await;
    let mut fake = stamp();
    // Window 02 also brings a record with a negative quantity (usage hour 01:00).
    let w2 = t("2026-01-01T02:00:00Z").timestamp();
    let bad = usage_json(SUB_A, DISK, "2026-01-01T01:00:00Z", "-0.5", "/a/disk9");
    fake.windows.get_mut(&w2).unwrap()[0].push(bad);
    let (_fake, base) = start_fake(fake).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    let report = collector().pull(&state, &reg, Range::default()).await.unwrap();
    assert_eq!(report.report.quarantined, 1);
    let mut c = state.db.conn().await.unwrap();
    let open = db::quarantine::list_open(&mut c, Some(reg.id), 10).await.unwrap();
    drop(c);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].reported_at, Some(w2));
    // Fixed later (the stamp's figure was 0.5): stored with window 02 as its reported time,
    // not the moment it was reprocessed.
    let fixed = open[0].raw.replace("-0.5", "0.5");
    let later = AppState {
        clock: Clock::fixed(t("2026-01-09T12:00:00Z")),
        ..state.clone()
    };
    let outcome =
        app::ssr::services::quarantine::reprocess(&later, &app::ssr::auth::Caller::cli(), open[0].id, Some(fixed))
            .await
            .unwrap();
    assert!(matches!(
        outcome,
        app::ssr::services::quarantine::Reprocessed::Accepted(r) if r.accepted == 1
    ));
    let mut c = state.db.conn().await.unwrap();
    let reported: i64 = db::sql!(&mut c, |e| sqlx::query_scalar(
        "SELECT r.reported_at FROM usage_records r JOIN usage_resources u ON u.id = r.resource_id \
         WHERE u.resource_uri = '/a/disk9'"
    )
    .fetch_one(e)
    .await)
    .unwrap();
    assert_eq!(reported, w2);
    drop(c);
    app.dispose().await;
}

#[tokio::test]
async fn a_window_is_pulled_only_after_the_settle_lag_and_late_commits_are_caught_by_the_re_pull() {
    for_each_app(|app| async move {
        let fake = stamp();
        let (fake, base) = start_fake(fake).await;
        let state = configure(&app, &base, "echo test-token").await;
        // 05:10: window 04:00–05:00 closed ten minutes ago — not settled yet.
        let early = AppState {
            clock: Clock::fixed(t("2026-01-01T05:10:00Z")),
            ..state.clone()
        };
        let reg = registration(&state).await;
        let report = collector().pull(&early, &reg, Range::default()).await.unwrap();
        assert_eq!(report.windows, 4);
        assert_eq!(report.watermark, Some(t("2026-01-01T04:00:00Z")));
        // The stamp then commits a late record into window 03 (already pulled).
        let late = usage_json(SUB_B, DISK, "2026-01-01T03:00:00Z", "0.5", "/b/disk1");
        let w3 = t("2026-01-01T03:00:00Z").timestamp();
        let mut windows = fake_windows(&fake);
        windows.get_mut(&w3).unwrap()[0].push(late);
        set_fake_windows(&fake, windows);
        // 05:30: window 04 has settled; windows 02 and 03 are pulled again and the late
        // record is found; nothing is stored twice.
        let report = collector().pull(&state, &reg, Range::default()).await.unwrap();
        assert_eq!(report.windows, 3);
        assert_eq!(report.report.accepted, 1);
        assert_eq!(report.watermark, Some(t("2026-01-01T05:00:00Z")));
        assert_eq!(app.count("usage_records").await, DISTINCT + 1);
        app
    })
    .await;
}

#[tokio::test]
async fn one_run_at_a_time_per_registration_and_the_watermark_never_moves_back() {
    let app = spawn_app().await;
    let (_fake, base) = start_fake(stamp()).await;
    let state = configure(&app, &base, "echo test-token").await;
    let reg = registration(&state).await;
    // Another run (the scheduler in `serve`) holds the lease.
    let mut c = state.db.conn().await.unwrap();
    let now = state.now_secs();
    assert!(
        db::collector::acquire_lease(&mut c, reg.id, "serve pid 1", now, now + 600)
            .await
            .unwrap()
            .is_ok()
    );
    drop(c);
    let err = collector().pull(&state, &reg, Range::default()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("being collected by another run (serve pid 1"), "{text}");
    assert_eq!(app.count("usage_records").await, 0);
    // Nothing was recorded as a collector failure: nothing ran.
    let mut c = state.db.conn().await.unwrap();
    assert!(db::collector::find_state(&mut c, reg.id).await.unwrap().is_none());
    // Once released (or expired) the run goes ahead and gives the lease back.
    db::collector::release_lease(&mut c, reg.id, "serve pid 1")
        .await
        .unwrap();
    drop(c);
    collector().pull(&state, &reg, Range::default()).await.unwrap();
    assert_eq!(watermark(&state, reg.id).await, Some(t("2026-01-01T05:00:00Z")));
    let mut c = state.db.conn().await.unwrap();
    let now = state.now_secs();
    assert!(db::collector::acquire_lease(&mut c, reg.id, "other", now, now + 600)
        .await
        .unwrap()
        .is_ok());
    db::collector::release_lease(&mut c, reg.id, "other").await.unwrap();
    // An expired lease is taken over.
    db::collector::acquire_lease(&mut c, reg.id, "dead run", now - 900, now - 300)
        .await
        .unwrap()
        .unwrap();
    assert!(db::collector::acquire_lease(&mut c, reg.id, "next", now, now + 600)
        .await
        .unwrap()
        .is_ok());
    db::collector::release_lease(&mut c, reg.id, "next").await.unwrap();
    // A watermark update for an older window leaves it where it is.
    db::collector::advance(&mut c, reg.id, t("2026-01-01T02:00:00Z").timestamp(), 0, now)
        .await
        .unwrap();
    drop(c);
    assert_eq!(watermark(&state, reg.id).await, Some(t("2026-01-01T05:00:00Z")));
    // A backfill reaching into the future is refused before anything runs.
    let future = Range {
        from: Some(t("2026-01-01T04:00:00Z")),
        to: Some(t("2026-01-01T07:00:00Z")),
    };
    let err = collector().pull(&state, &reg, future).await.unwrap_err();
    assert!(err.to_string().contains("reaches into the future"), "{err}");
    app.dispose().await;
}

fn fake_windows(fake: &Arc<Fake>) -> HashMap<i64, Vec<Vec<String>>> {
    fake.extra
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| fake.windows.clone())
}

fn set_fake_windows(fake: &Arc<Fake>, windows: HashMap<i64, Vec<Vec<String>>>) {
    *fake.extra.lock().unwrap() = Some(windows);
}

//! Attacks on the real router, as an attacker would try them: forged cross-site writes and
//! sign-ins, bodies sent before authentication, tokens used beyond their scope or life,
//! account lockout as a weapon, address rotation inside an IPv6 /64, the demo seed run on
//! a live database, and the headers every answer carries.

use crate::cli::{stackbill, stderr};
use crate::helpers::{error_code, for_each_app, spawn_app, spawn_app_with, usage_json, TestApp, PASSWORD};
use app::ssr::auth::Caller;
use app::ssr::db::testing::TestDb;
use app::ssr::services::accounts::{self, TokenInput};
use app::types::Role;
use std::time::Duration;

const VM: &str = "9CD92D4C-BAFD-4492-B278-BEDC2DE8232A";
const SUB: &str = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4";

fn page(records: &[String]) -> String {
    format!("{{\"value\":[{}],\"nextLink\":null}}", records.join(","))
}

/// A client without our `Origin` (another site's page, or a bare script) that sends the
/// given cookie header.
fn foreign(cookie: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(c) = cookie {
        headers.insert(reqwest::header::COOKIE, c.parse().unwrap());
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn signed_in_operator(app: &TestApp) -> String {
    app.add_user("ops@example.test", Role::Operator, None).await;
    let r = app.sign_in("ops@example.test", PASSWORD).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    format!("stackbill_session={}", app.session_cookie().expect("a session"))
}

#[tokio::test]
async fn a_cross_site_form_post_with_the_victims_cookie_is_refused_and_changes_nothing() {
    for_each_app(|app| async move {
        app.add_registration("azs-1").await;
        let cookie = signed_in_operator(&app).await;
        let body = page(&[usage_json(SUB, VM, "2026-01-10T10:00:00Z", "8", "/x/vm1")]);
        // A page on another site submitting a text/plain form to the push endpoint.
        for origin in [Some("https://evil.example"), Some("null"), None] {
            let mut req = foreign(Some(&cookie))
                .post(app.url("/api/v1/usage"))
                .header("content-type", "text/plain")
                .body(body.clone());
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 403, "origin {origin:?}");
            assert_eq!(error_code(r).await, "cross_site_request");
        }
        // Sec-Fetch-Site says where it came from when Origin is missing.
        let r = foreign(Some(&cookie))
            .post(app.url("/api/v1/usage"))
            .header("sec-fetch-site", "cross-site")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        // A server function (quarantine discard, sign-out…) is refused the same way.
        let r = foreign(Some(&cookie))
            .post(app.url("/api/fn/sign_out"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(app.count("usage_records").await, 0);
        assert_eq!(app.count("ingest_batches").await, 0);
        // The session still works, from our own pages.
        let ok = app
            .client
            .post(app.url("/api/v1/usage"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(app.count("usage_records").await, 1);
        app
    })
    .await;
}

#[tokio::test]
async fn a_forged_sign_in_from_another_site_sets_no_session() {
    let app = spawn_app().await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    let r = foreign(None)
        .post(app.url("/api/fn/sign_in"))
        .header("origin", "https://evil.example")
        .form(&[("email", "ops@example.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(app.count("sessions").await, 0);
    app.dispose().await;
}

/// Sends the head of a POST that declares an 8 MiB body and then only 64 KiB of it,
/// keeping the connection open; returns the status the server answers with.
async fn partial_upload(app: &TestApp, authorization: Option<&str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /api/v1/usage HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 8388608\r\n{auth}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut chunk = b"{\"value\":[".to_vec();
    chunk.resize(64 * 1024, b' ');
    stream.write_all(&chunk).await.unwrap();
    // The rest never comes. The answer must not wait for it.
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("answered without reading the body")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn an_anonymous_upload_is_refused_before_its_body_is_read() {
    let app = spawn_app().await;
    app.add_registration("azs-1").await;
    assert_eq!(partial_upload(&app, None).await, 401);
    let finance = app.add_token(Role::Finance, None).await;
    assert_eq!(partial_upload(&app, Some(&format!("Bearer {finance}"))).await, 403);
    // A body above the limit is refused by its declared length, before it is read.
    let small = spawn_app_with(|c| c.ingest_max_bytes = 1024 * 1024).await;
    small.add_registration("azs-1").await;
    let operator = small.add_token(Role::Operator, None).await;
    assert_eq!(partial_upload(&small, Some(&format!("Bearer {operator}"))).await, 413);
    small.dispose().await;
    app.dispose().await;
}

#[tokio::test]
async fn an_ingest_token_pushes_only_to_its_registration_and_dies_when_revoked_or_expired() {
    for_each_app(|app| async move {
        let a = app.add_registration("azs-a").await;
        app.add_registration("azs-b").await;
        let token = app.add_token(Role::Ingest, None).await; // scoped to azs-a
        let body = page(&[usage_json(SUB, VM, "2026-01-10T10:00:00Z", "8", "/x/vm1")]);
        let push = |reg: Option<&str>, token: String| {
            let url = match reg {
                Some(r) => app.url(&format!("/api/v1/usage?registration={r}")),
                None => app.url("/api/v1/usage"),
            };
            let body = body.clone();
            async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let r = push(Some("azs-b"), token.clone()).await;
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(r).await, "registration_not_allowed");
        assert_eq!(app.count("usage_records").await, 0);
        // Without ?registration it goes to its own, even with two registrations.
        let r = push(None, token.clone()).await;
        assert_eq!(r.status(), 200);
        let report: serde_json::Value = r.json().await.unwrap();
        assert_eq!(report["registration"], "azs-a");
        // Revoked: 401 at once.
        let mut c = app.state.db.conn().await.unwrap();
        let id = app::ssr::db::tokens::list_tokens(&mut c).await.unwrap()[0].id;
        drop(c);
        accounts::revoke_token(&app.state, &Caller::cli(), id).await.unwrap();
        assert_eq!(push(None, token).await.status(), 401);
        // Expired: 401 too.
        let (_, short) = accounts::create_token(
            &app.state,
            &Caller::cli(),
            TokenInput {
                name: "short-lived".into(),
                role: Role::Ingest,
                customer_id: None,
                registration_id: Some(a),
                expires_in: Some(chrono::Duration::hours(1)),
            },
        )
        .await
        .unwrap();
        assert_eq!(app.get_with_token("/api/v1/me", Some(&short)).await.status(), 200);
        // An hour later (moved into the past rather than waited for).
        let mut c = app.state.db.conn().await.unwrap();
        app::ssr::db::sql!(&mut c, |e| sqlx::query(
            "UPDATE api_tokens SET expires_at = $1 WHERE name = 'short-lived'"
        )
        .bind(app.state.now_secs() - 1)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
        drop(c);
        assert_eq!(app.get_with_token("/api/v1/me", Some(&short)).await.status(), 401);
        app
    })
    .await;
}

/// Signs in from a client with its own cookie jar and forwarded address.
async fn sign_in_from(
    app: &TestApp,
    jar: &std::sync::Arc<reqwest::cookie::Jar>,
    addr: &str,
    email: &str,
    password: &str,
) -> u16 {
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .default_headers(crate::helpers::own_origin(&app.base))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .post(app.url("/api/fn/sign_in"))
        .header("x-forwarded-for", addr)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_guesses_by_anyone_cannot_lock_the_real_user_out() {
    let app = spawn_app_with(|c| c.trust_proxy = true).await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    // The operator signed in from this browser yesterday: it holds a device cookie.
    let operator_browser = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let ok = sign_in_from(&app, &operator_browser, "198.51.100.7", "ops@example.test", PASSWORD).await;
    assert!(ok < 400, "{ok}");
    // An attacker guesses from many addresses (never more than a few from each).
    let attacker = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let mut throttled = false;
    for i in 0..12 {
        let status = sign_in_from(
            &app,
            &attacker,
            &format!("203.0.113.{i}"),
            "ops@example.test",
            "wrong guess",
        )
        .await;
        throttled |= status == 429;
    }
    assert!(throttled, "unknown browsers are slowed down after five failures");
    // A browser that never signed in to the account waits like the attacker does…
    let fresh = std::sync::Arc::new(reqwest::cookie::Jar::default());
    assert_eq!(
        sign_in_from(&app, &fresh, "198.51.100.8", "ops@example.test", PASSWORD).await,
        429
    );
    // …but the real operator, from their browser, gets in at once.
    let ok = sign_in_from(&app, &operator_browser, "198.51.100.7", "ops@example.test", PASSWORD).await;
    assert!(ok < 400, "the operator was locked out: {ok}");
    // What an attacker typed as an email is not stored anywhere.
    sign_in_from(&app, &attacker, "203.0.113.99", "not-a-user@evil.example", "x").await;
    let mut c = app.state.db.conn().await.unwrap();
    let typed: i64 = app::ssr::db::sql!(&mut c, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor_label LIKE '%evil.example%' OR details LIKE '%evil.example%'"
    )
    .fetch_one(e)
    .await)
    .unwrap();
    let stored: i64 = app::ssr::db::sql!(&mut c, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM sign_in_failures WHERE account_key LIKE '%evil.example%'"
    )
    .fetch_one(e)
    .await)
    .unwrap();
    assert_eq!((typed, stored), (0, 0));
    drop(c);
    app.dispose().await;
}

#[tokio::test]
async fn rotating_addresses_inside_one_ipv6_64_does_not_escape_throttling() {
    let app = spawn_app_with(|c| c.trust_proxy = true).await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let mut statuses = Vec::new();
    for i in 1..=24 {
        // Another address and another account each time: only the /64 is common.
        let addr = format!("2001:db8:1:2:{i:x}::1");
        statuses.push(sign_in_from(&app, &jar, &addr, &format!("user{i}@example.test"), "guess").await);
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another /64 is not affected.
    assert_eq!(
        sign_in_from(&app, &jar, "2001:db8:1:3::1", "x@example.test", "guess").await,
        401
    );
    app.dispose().await;
}

#[tokio::test]
async fn security_headers_are_on_pages_api_answers_and_static_files() {
    let app = spawn_app().await;
    let page = app.page("/sign-in").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(
        page.headers().get("strict-transport-security").is_none(),
        "plain http: no HSTS"
    );
    let html = page.text().await.unwrap();
    // Every inline script carries this response's nonce.
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        if !tag.contains("src=") {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "inline script without the nonce: <script{tag}>"
            );
        }
    }
    let api = app.get_with_token("/api/v1/me", None).await;
    assert_eq!(api.status(), 401);
    assert_eq!(api.headers()["cache-control"], "no-store");
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert!(api.headers().contains_key("content-security-policy"));
    let asset = app.client.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(asset.headers()["x-content-type-options"], "nosniff");
    assert!(asset.headers().get("cache-control").is_none_or(|v| v != "no-store"));
    app.dispose().await;

    let https = spawn_app_with(|c| c.public_url = "https://billing.example.com".into()).await;
    let r = https.page("/sign-in").await;
    assert!(r.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
    https.dispose().await;
}

#[tokio::test]
async fn health_tells_anonymous_callers_only_ok() {
    let app = spawn_app().await;
    let anonymous: serde_json::Value = app.get_with_token("/healthz", None).await.json().await.unwrap();
    assert_eq!(anonymous, serde_json::json!({ "status": "ok" }));
    let staff = app.add_token(Role::Finance, None).await;
    let detailed: serde_json::Value = app.get_with_token("/healthz", Some(&staff)).await.json().await.unwrap();
    assert_eq!(detailed["database"]["status"], "ok");
    app.dispose().await;
}

#[tokio::test]
async fn credentials_can_be_listed_revoked_disabled_and_reset_but_not_the_last_operator() {
    let app = spawn_app().await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    app.add_user("fin@example.test", Role::Finance, None).await;
    let by = Caller::cli();
    // The last operator cannot be disabled; nothing changes.
    let err = accounts::set_user_enabled(&app.state, &by, "ops@example.test", false)
        .await
        .unwrap_err();
    assert_eq!(err.code, "last_operator");
    // Disabling ends the user's sessions at once.
    let fin = app.client_with_cookie("none");
    let _ = fin;
    let r = app.sign_in("fin@example.test", PASSWORD).await;
    assert!(r.status().as_u16() < 400);
    assert_eq!(app.count("sessions").await, 1);
    accounts::set_user_enabled(&app.state, &by, "fin@example.test", false)
        .await
        .unwrap();
    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(app.sign_in("fin@example.test", PASSWORD).await.status(), 401);
    accounts::set_user_enabled(&app.state, &by, "fin@example.test", true)
        .await
        .unwrap();
    // A reset password replaces the old one and is returned once.
    let new = accounts::reset_password(&app.state, &by, "fin@example.test", None)
        .await
        .unwrap();
    assert_eq!(app.sign_in("fin@example.test", PASSWORD).await.status(), 401);
    assert!(app.sign_in("fin@example.test", &new).await.status().as_u16() < 400);
    // Token lifetimes: bad values are refused by name; the defaults are shown in the list.
    for bad in ["-5d", "0d", "ten days", "5m", ""] {
        assert_eq!(
            accounts::parse_expires_in(bad).unwrap_err().field.as_deref(),
            Some("expires-in"),
            "{bad}"
        );
    }
    assert_eq!(
        accounts::parse_expires_in("90d").unwrap(),
        Some(chrono::Duration::days(90))
    );
    assert_eq!(accounts::parse_expires_in("never").unwrap(), None);
    let err = accounts::create_token(
        &app.state,
        &by,
        TokenInput {
            name: "collector".into(),
            role: Role::Ingest,
            customer_id: None,
            registration_id: Some(999),
            expires_in: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("registration"));
    let err = accounts::create_token(
        &app.state,
        &by,
        TokenInput {
            name: "collector".into(),
            role: Role::Ingest,
            customer_id: None,
            registration_id: None,
            expires_in: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("registration"));
    app.dispose().await;
}

#[tokio::test]
async fn the_demo_seed_never_resets_a_user_and_refuses_a_real_installation() {
    let t = TestDb::sqlite().await;
    let url = t.url.clone();
    let dir = std::env::temp_dir().join(format!("stackbill-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let creds = dir.join("credentials.json");
    let creds_arg = creds.display().to_string();
    let seed = || {
        stackbill(
            &url,
            &["demo-seed", "--days", "2", "--credentials-file", &creds_arg],
            None,
        )
    };
    let first = seed();
    assert!(first.status.success(), "{}", stderr(&first));
    let before: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    let operator_password = before
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "operator")
        .unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not derived from the public default seed: two fresh databases get different passwords.
    assert!(operator_password.len() >= 20, "{operator_password}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let disabled = stackbill(
        &url,
        &["user", "disable", "--email", "finance@demo.stackbill.test"],
        None,
    );
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    let second = seed();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(String::from_utf8_lossy(&second.stdout).contains("password is unchanged"));
    let mut c = t.db.conn().await.unwrap();
    let finance = app::ssr::db::users::find_user_by_email(&mut c, "finance@demo.stackbill.test")
        .await
        .unwrap()
        .unwrap();
    assert!(
        finance.disabled_at.is_some(),
        "re-seeding re-enabled a disabled account"
    );
    let operator = app::ssr::db::users::find_user_by_email(&mut c, "operator@demo.stackbill.test")
        .await
        .unwrap()
        .unwrap();
    drop(c);
    assert!(app::ssr::auth::verify_password(operator.password_hash, operator_password).await);
    // Somebody's real user: demo-seed refuses and changes nothing.
    let added = stackbill(
        &url,
        &[
            "user",
            "add",
            "--email",
            "real@csp.example",
            "--role",
            "finance",
            "--password-stdin",
        ],
        Some("a real password here\n"),
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let refused = seed();
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("not the demo's"), "{}", stderr(&refused));
    let _ = std::fs::remove_dir_all(&dir);
    t.dispose().await;
}

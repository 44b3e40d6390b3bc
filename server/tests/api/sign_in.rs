use crate::helpers::{error_code, for_each_app, spawn_app, spawn_app_with, PASSWORD};
use app::ssr::db::sessions::session_exists;
use app::types::Role;

#[tokio::test]
async fn signing_in_with_the_right_password_starts_a_session_and_points_to_the_role_home() {
    for_each_app(|app| async move {
        app.add_user("ops@example.test", Role::Operator, None).await;
        let response = app.sign_in("OPS@example.test", PASSWORD).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["location"], "/operator");
        let session = app.session_cookie().expect("a session cookie");
        assert!(session_exists(&app.state.db, &session).await.unwrap());
        let me: serde_json::Value = app
            .client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], "operator");
        assert_eq!(me["name"], "ops@example.test");
        app
    })
    .await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    let response = app.sign_in("ops@example.test", PASSWORD).await;
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("stackbill_session="))
        .unwrap()
        .clone();
    // The browser is remembered for this account by a device cookie, as protected.
    let device = cookies.iter().find(|c| c.starts_with("stackbill_device=")).unwrap();
    assert!(
        device.contains("HttpOnly") && device.contains("SameSite=Lax"),
        "{device}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // The public URL is http:// in tests, so the cookie is not marked Secure here; the
    // configuration tests cover https.
    assert!(!cookie.contains("Secure"), "{cookie}");
    app.dispose().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    for_each_app(|app| async move {
        app.add_user("fin@example.test", Role::Finance, None).await;
        let wrong = app.sign_in("fin@example.test", "not the password").await;
        let unknown = app.sign_in("nobody@example.test", "not the password").await;
        assert_eq!(wrong.status(), 401);
        assert_eq!(unknown.status(), 401);
        let wrong_body = wrong.text().await.unwrap();
        let unknown_body = unknown.text().await.unwrap();
        assert_eq!(wrong_body, unknown_body);
        assert!(wrong_body.contains("invalid_credentials"), "{wrong_body}");
        assert!(app.session_cookie().is_none(), "no session for a failed sign-in");
        app
    })
    .await;
}

#[tokio::test]
async fn five_failures_throttle_the_account_with_retry_after() {
    for_each_app(|app| async move {
        app.add_user("ops@example.test", Role::Operator, None).await;
        for _ in 0..5 {
            assert_eq!(app.sign_in("ops@example.test", "guess guess guess").await.status(), 401);
        }
        let limited = app.sign_in("ops@example.test", PASSWORD).await;
        assert_eq!(limited.status(), 429);
        let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 0 && retry <= 15 * 60, "{retry}");
        assert_eq!(error_code(limited).await, "too_many_attempts");
        // Unknown accounts are throttled the same way, so throttling reveals nothing.
        for _ in 0..5 {
            app.sign_in("ghost@example.test", "guess guess guess").await;
        }
        assert_eq!(app.sign_in("ghost@example.test", "guess").await.status(), 429);
        app
    })
    .await;
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    for_each_app(|app| async move {
        app.add_user("ops@example.test", Role::Operator, None).await;
        // 15 guesses at once: the password hash is slow, but each attempt is counted
        // before it is checked, so no more than 5 are ever checked.
        let mut guesses = tokio::task::JoinSet::new();
        for i in 0..15 {
            let client = app.client.clone();
            let url = app.url("/api/fn/sign_in");
            guesses.spawn(async move {
                let password = format!("guess number {i}");
                let form = [("email", "ops@example.test"), ("password", password.as_str())];
                client.post(url).form(&form).send().await.unwrap().status().as_u16()
            });
        }
        let mut statuses = Vec::new();
        while let Some(status) = guesses.join_next().await {
            statuses.push(status.unwrap());
        }
        let checked = statuses.iter().filter(|&&s| s == 401).count();
        let refused = statuses.iter().filter(|&&s| s == 429).count();
        assert!(checked <= 5, "{statuses:?}");
        assert_eq!(checked + refused, 15, "{statuses:?}");
        // Exactly the checked guesses are remembered as failures; refused ones are not.
        let mut c = app.state.db.conn().await.unwrap();
        let key = app::ssr::services::accounts::throttle_account_key("ops@example.test");
        let (failures, _) = app::ssr::db::throttle::failures_for_account(&mut c, &key, 0)
            .await
            .unwrap();
        assert_eq!(failures, checked as i64, "{statuses:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn one_client_guessing_across_many_accounts_is_throttled_by_address() {
    let app = spawn_app().await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    // 20 failures from one address, each on a different account (never 5 on one).
    for i in 0..20 {
        let status = app
            .sign_in(&format!("user{i}@example.test"), "guess guess")
            .await
            .status();
        assert_eq!(status, 401);
    }
    let limited = app.sign_in("ops@example.test", PASSWORD).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    app.dispose().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_is_the_hop_the_proxy_added() {
    let app = spawn_app_with(|c| c.trust_proxy = true).await;
    // A client rotating a forged first hop is still one client: the proxy appends the
    // address it saw (203.0.113.7) last.
    let guess = |i: usize| {
        let form = [
            ("email", format!("user{i}@example.test")),
            ("password", "guess guess".to_owned()),
        ];
        app.client
            .post(app.url("/api/fn/sign_in"))
            .header("x-forwarded-for", format!("198.51.100.{i}, 203.0.113.7"))
            .form(&form)
            .send()
    };
    for i in 0..20 {
        assert_eq!(guess(i).await.unwrap().status(), 401);
    }
    assert_eq!(guess(20).await.unwrap().status(), 429);
    // Another address behind the same proxy is not affected.
    let other = app
        .client
        .post(app.url("/api/fn/sign_in"))
        .header("x-forwarded-for", "203.0.113.8")
        .form(&[("email", "someone@example.test"), ("password", "guess guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    app.dispose().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|c| {
        c.public_url = "https://billing.example.test".into();
        c.cookie_secure = true;
    })
    .await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    let response = app.sign_in("ops@example.test", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    app.dispose().await;
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    for_each_app(|app| async move {
        app.add_user("a@example.test", Role::Operator, None).await;
        app.add_user("b@example.test", Role::Finance, None).await;
        assert_eq!(app.sign_in("a@example.test", PASSWORD).await.status(), 200);
        let first = app.session_cookie().unwrap();
        // Signing in again with the same browser must not keep the old id.
        assert_eq!(app.sign_in("b@example.test", PASSWORD).await.status(), 200);
        let second = app.session_cookie().unwrap();
        assert_ne!(first, second);
        assert!(
            !session_exists(&app.state.db, &first).await.unwrap(),
            "the old id is gone"
        );
        let me: serde_json::Value = app
            .client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], "finance");
        app
    })
    .await;
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    for_each_app(|app| async move {
        app.add_user("ops@example.test", Role::Operator, None).await;
        app.sign_in("ops@example.test", PASSWORD).await;
        let session = app.session_cookie().unwrap();
        let response = app.sign_out().await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["location"], "/sign-in");
        assert!(!session_exists(&app.state.db, &session).await.unwrap());
        // Replaying the old cookie gets nothing.
        let replay = app.client_with_cookie(&session);
        let response = replay.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let response = replay
            .get(app.url("/operator"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        app
    })
    .await;
}

#[tokio::test]
async fn oversized_or_malformed_sign_in_requests_are_4xx_never_500() {
    let app = spawn_app().await;
    let huge = "x".repeat(200 * 1024);
    let response = app
        .client
        .post(app.url("/api/fn/sign_in"))
        .form(&[("email", huge.as_str()), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let missing = app
        .client
        .post(app.url("/api/fn/sign_in"))
        .form(&[("email", "a@b.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(error_code(missing).await, "bad_request");

    let garbage = app
        .client
        .post(app.url("/api/fn/sign_in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%%%=&&&=\u{0}")
        .send()
        .await
        .unwrap();
    assert!(garbage.status().is_client_error(), "{}", garbage.status());

    let long_password = "p".repeat(2000);
    let response = app.sign_in("a@b.test", &long_password).await;
    assert_eq!(response.status(), 401);
    app.dispose().await;
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_and_loses_existing_sessions() {
    let app = spawn_app().await;
    let id = app.add_user("ops@example.test", Role::Operator, None).await;
    app.sign_in("ops@example.test", PASSWORD).await;
    let session = app.session_cookie().unwrap();
    let mut c = app.state.db.conn().await.unwrap();
    app::ssr::db::sql!(&mut c, |e| sqlx::query(
        "UPDATE users SET disabled_at = 1 WHERE id = $1"
    )
    .bind(id)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    drop(c);
    let response = app
        .client_with_cookie(&session)
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(app.sign_in("ops@example.test", PASSWORD).await.status(), 401);
    app.dispose().await;
}

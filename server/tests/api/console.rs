//! The operator console's customers and mappings: the same services through `/api/v1`,
//! the server functions the screens post to (with and without JavaScript), the pages,
//! authorisation by role, the audit entry of every write, and bad input.

use crate::helpers::{error_code, for_each_app, spawn_app, TestApp, PASSWORD};
use app::ssr::db;
use app::types::Role;
use serde_json::{json, Value};

const TENANT_A: &str = "dbab3982-796f-4d03-9908-044c08aef8a2";
const TENANT_B: &str = "d9b782d5-d098-4374-8f2c-3907cc34611c";
const SUB_X: &str = "e09a4e93-29a7-4eba-a6d4-76202383f07f";
const SUB_Y: &str = "5144634d-7e4d-443b-a304-d27e44220fc6";
const BASE: &str = "dd8597b4-8739-4467-8b10-f8679f62bfbf";

async fn send_json(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Audit entries with an action, oldest first: `(subject, details)`.
async fn audit_entries(app: &TestApp, action: &str) -> Vec<(String, Value)> {
    let mut c = app.state.db.conn().await.unwrap();
    let rows = db::audit::list_recent(&mut c, Some(action), 100).await.unwrap();
    let mut out: Vec<(String, Value)> = rows
        .into_iter()
        .map(|r| (r.subject, serde_json::from_str(&r.details).unwrap()))
        .collect();
    out.reverse();
    out
}

/// Audit entries of customer and mapping changes (sign-ins are audited too).
async fn console_audit(app: &TestApp) -> usize {
    let mut n = 0;
    for action in ["customer.created", "customer.updated", "mapping.set", "mapping.removed"] {
        n += audit_entries(app, action).await.len();
    }
    n
}

async fn operator(app: &TestApp) {
    app.add_user("ops@example.test", Role::Operator, None).await;
    assert_eq!(app.sign_in("ops@example.test", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn operators_create_find_and_edit_customers_with_an_audit_entry_for_each_write() {
    for_each_app(|app| async move {
        operator(&app).await;
        // Any GUID form is accepted and stored canonical; the name keeps its script.
        let r = send_json(
            &app,
            reqwest::Method::POST,
            "/api/v1/customers",
            json!({"name": "台灣雲端股份有限公司", "cloud_tenant_id": "{DBAB3982796F4D039908044C08AEF8A2}",
                   "billing_email": "AP@Example.TW", "billing_address": "台北市信義區\r\n松仁路 100 號", "locale": "zh-tw"}),
        )
        .await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.unwrap();
        let id = created["id"].as_i64().unwrap();
        assert_eq!(created["cloud_tenant_id"], TENANT_A);
        assert_eq!(created["billing_email"], "ap@example.tw");
        assert_eq!(created["billing_address"], "台北市信義區\n松仁路 100 號");
        assert_eq!(created["locale"], "zh-TW");
        let r = send_json(
            &app,
            reqwest::Method::POST,
            "/api/v1/customers",
            json!({"name": "Contoso", "cloud_tenant_id": TENANT_B}),
        )
        .await;
        assert_eq!(r.status(), 201);

        // Bad input: named field, clear reason, nothing saved.
        let before = app.count("customers").await;
        let audit_before = app.count("audit_log").await;
        for (body, status, code, field) in [
            (json!({"name": "contoso ", "cloud_tenant_id": "11111111-2222-4333-8444-555555555555"}), 409, "customer_name_taken", "name"),
            (json!({"name": "Other", "cloud_tenant_id": TENANT_B.to_uppercase()}), 409, "cloud_tenant_taken", "cloud_tenant_id"),
            (json!({"name": "Other", "cloud_tenant_id": "not-a-guid"}), 422, "invalid_input", "cloud_tenant_id"),
            (json!({"name": "", "cloud_tenant_id": "11111111-2222-4333-8444-555555555555"}), 422, "invalid_input", "name"),
            (json!({"name": "Other", "cloud_tenant_id": "11111111-2222-4333-8444-555555555555", "locale": "de"}), 422, "invalid_input", "locale"),
            (json!({"name": "Other", "cloud_tenant_id": "11111111-2222-4333-8444-555555555555", "billing_email": "nobody"}), 422, "invalid_input", "billing_email"),
        ] {
            let r = send_json(&app, reqwest::Method::POST, "/api/v1/customers", body.clone()).await;
            assert_eq!(r.status(), status, "{body}");
            let err: Value = r.json().await.unwrap();
            assert_eq!((err["error"]["code"].as_str(), err["error"]["field"].as_str()), (Some(code), Some(field)), "{body}");
        }
        let r = app
            .client
            .post(app.url("/api/v1/customers"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(app.count("customers").await, before);
        assert_eq!(app.count("audit_log").await, audit_before);

        // Edit: before and after in the audit entry.
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/customers/{id}"),
            json!({"name": "台灣雲端", "cloud_tenant_id": TENANT_A, "locale": "zh-TW"}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let updated = audit_entries(&app, "customer.updated").await;
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].0, format!("customer:{id}"));
        assert_eq!(updated[0].1["before"]["name"], "台灣雲端股份有限公司");
        assert_eq!(updated[0].1["after"]["name"], "台灣雲端");
        let created_entries = audit_entries(&app, "customer.created").await;
        assert_eq!(created_entries.len(), 2);
        assert_eq!(created_entries[0].1["after"]["cloud_tenant"], TENANT_A);
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            "/api/v1/customers/999999",
            json!({"name": "X", "cloud_tenant_id": TENANT_A}),
        )
        .await;
        assert_eq!(r.status(), 404);

        // Search, sort and pages on the server.
        let (status, page) = get_json(&app, "/api/v1/customers?q=%E5%8F%B0%E7%81%A3").await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], 1);
        assert_eq!(page["value"][0]["name"], "台灣雲端");
        let (_, page) = get_json(&app, "/api/v1/customers?q=DBAB3982").await;
        assert_eq!(page["value"][0]["id"], id, "a GUID's beginning finds its tenant");
        let (_, page) = get_json(&app, "/api/v1/customers?limit=1&sort=name").await;
        assert_eq!((page["total"].as_i64(), page["value"][0]["name"].as_str()), (Some(2), Some("Contoso")));
        let next = page["nextLink"].as_str().unwrap().to_owned();
        let (_, page2) = get_json(&app, &next).await;
        assert_eq!(page2["value"][0]["name"], "台灣雲端");
        assert!(page2.get("nextLink").is_none());
        let (_, desc) = get_json(&app, "/api/v1/customers?sort=name&desc=true").await;
        assert_eq!(desc["value"][0]["name"], "台灣雲端");
        let (_, base) = get_json(&app, "/api/v1/customers?billed_to=base").await;
        assert_eq!(base["total"], 2);
        for bad in ["sort=size", "billed_to=nobody", "cursor=xyz", "limit=0", "limit=100000"] {
            let (status, _) = get_json(&app, &format!("/api/v1/customers?{bad}")).await;
            assert_eq!(status, 422, "{bad}");
        }
        app
    })
    .await;
}

#[tokio::test]
async fn mappings_map_remap_and_unmap_through_the_api_with_history_badges_and_audit() {
    for_each_app(|app| async move {
        operator(&app).await;
        app.add_registration("stamp-1").await;
        let customer = app.add_customer("Contoso", TENANT_A).await;
        app.add_customer("Fabrikam", TENANT_B).await;
        let put = |tenant: &'static str, sub: &'static str, on: &'static str| {
            let app = &app;
            async move {
                send_json(
                    app,
                    reqwest::Method::PUT,
                    &format!("/api/v1/mappings/{tenant}"),
                    json!({"registration": "stamp-1", "customer_subscription_id": sub, "effective_on": on}),
                )
                .await
            }
        };
        let r = put(TENANT_A, SUB_X, "2026-10-01").await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (body["before"].clone(), body["after"].clone()),
            (Value::Null, json!(SUB_X))
        );
        let (_, mapped) = get_json(&app, "/api/v1/customers?billed_to=mapped").await;
        assert_eq!(mapped["value"][0]["id"], customer);
        assert_eq!(mapped["value"][0]["mapped_registrations"], 1);

        // Re-map from a chosen day: the earlier interval ends there.
        let body: Value = put(TENANT_A, SUB_Y, "2026-10-15").await.json().await.unwrap();
        assert_eq!(
            (body["before"].as_str(), body["after"].as_str()),
            (Some(SUB_X), Some(SUB_Y))
        );
        let (_, on_10th) = get_json(&app, "/api/v1/mappings?registration=stamp-1&at=2026-10-10").await;
        assert_eq!(on_10th["value"][0]["customer_subscription_id"], SUB_X);
        assert_eq!(on_10th["value"][0]["customer"], "Contoso");
        let (_, on_20th) = get_json(&app, "/api/v1/mappings?at=2026-10-20").await;
        assert_eq!(on_20th["value"][0]["customer_subscription_id"], SUB_Y);
        assert_eq!(on_20th["value"][0]["effective_on"], "2026-10-15");

        // Refusals name the field and change nothing.
        let changes = app.count("mapping_changes").await;
        for (tenant, body, status, field) in [
            (
                TENANT_B,
                json!({"registration": "stamp-1", "customer_subscription_id": "nope"}),
                422,
                Some("customer_subscription_id"),
            ),
            (
                TENANT_B,
                json!({"registration": "stamp-9", "customer_subscription_id": SUB_X}),
                422,
                Some("registration"),
            ),
            (
                TENANT_B,
                json!({"registration": "stamp-1", "customer_subscription_id": SUB_Y}),
                409,
                Some("customer_subscription_id"),
            ),
            (
                TENANT_B,
                json!({"registration": "stamp-1", "customer_subscription_id": BASE}),
                422,
                Some("customer_subscription_id"),
            ),
            (
                TENANT_B,
                json!({"registration": "stamp-1", "customer_subscription_id": SUB_X, "effective_on": "15/10/2026"}),
                422,
                Some("effective_on"),
            ),
            (
                "not-a-tenant",
                json!({"registration": "stamp-1", "customer_subscription_id": SUB_X}),
                422,
                Some("cloud_tenant_id"),
            ),
            (
                TENANT_B,
                json!({"registration": "stamp-1"}),
                422,
                Some("customer_subscription_id"),
            ),
        ] {
            let r = send_json(
                &app,
                reqwest::Method::PUT,
                &format!("/api/v1/mappings/{tenant}"),
                body.clone(),
            )
            .await;
            assert_eq!(r.status(), status, "{body}");
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["error"]["field"].as_str(), field, "{body}: {err}");
        }
        let r = app
            .client
            .delete(app.url(&format!("/api/v1/mappings/{TENANT_B}?registration=stamp-1")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "mapping_not_found");
        assert_eq!(app.count("mapping_changes").await, changes);

        // Unmap: back to the base from that day.
        let r = app
            .client
            .delete(app.url(&format!(
                "/api/v1/mappings/{TENANT_A}?registration=stamp-1&effective_on=2026-10-25"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!((body["before"].as_str(), body["after"].as_str()), (Some(SUB_Y), None));
        let (_, after) = get_json(&app, "/api/v1/mappings?at=2026-10-26").await;
        assert_eq!(after["total"], 0);
        let (_, base) = get_json(&app, "/api/v1/customers?billed_to=base").await;
        assert_eq!(base["total"], 2);

        // The history keeps every change; the audit log has each with before and after.
        let (_, history) = get_json(&app, &format!("/api/v1/mappings/{}/history", TENANT_A.to_uppercase())).await;
        let history = history["value"].as_array().unwrap().clone();
        assert_eq!(history.len(), 3);
        assert_eq!(history[0]["subscription"], Value::Null);
        assert_eq!(history[2]["subscription"], SUB_X);
        assert!(history
            .iter()
            .all(|h| h["source"] == "api" && h["actor_label"] == "ops@example.test"));
        let set = audit_entries(&app, "mapping.set").await;
        assert_eq!(set.len(), 2);
        assert_eq!(
            (set[1].1["before"].as_str(), set[1].1["after"].as_str()),
            (Some(SUB_X), Some(SUB_Y))
        );
        let removed = audit_entries(&app, "mapping.removed").await;
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].0, format!("cloud_tenant:{TENANT_A}"));

        // The customer's page in the API: intervals and history together.
        let (status, detail) = get_json(&app, &format!("/api/v1/customers/{customer}/details")).await;
        assert_eq!(status, 200);
        assert_eq!(detail["intervals"].as_array().unwrap().len(), 2);
        assert_eq!(detail["mappings"][0]["current"], Value::Null);
        app
    })
    .await;
}

#[tokio::test]
async fn finance_reads_the_console_but_every_write_is_refused_as_for_customers_and_ingest_tokens() {
    let app = spawn_app().await;
    app.add_registration("stamp-1").await;
    let customer = app.add_customer("Contoso", TENANT_A).await;
    app.add_user("fin@example.test", Role::Finance, None).await;
    app.add_user("it@contoso.test", Role::Customer, Some(customer)).await;
    let ingest = app.add_token(Role::Ingest, None).await;
    let finance_token = app.add_token(Role::Finance, None).await;
    let (customers, changes, audit) = (
        app.count("customers").await,
        app.count("mapping_changes").await,
        console_audit(&app).await,
    );
    let new_customer = json!({"name": "New", "cloud_tenant_id": TENANT_B});
    let mapping = json!({"registration": "stamp-1", "customer_subscription_id": SUB_X});

    app.sign_in("fin@example.test", PASSWORD).await;
    for path in [
        "/api/v1/customers".to_owned(),
        format!("/api/v1/customers/{customer}/details"),
        "/api/v1/mappings".to_owned(),
        format!("/api/v1/mappings/{TENANT_A}/history"),
    ] {
        assert_eq!(get_json(&app, &path).await.0, 200, "finance reads {path}");
    }
    let r = app.client.get(app.url("/api/v1/mappings/export")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.page("/operator/customers").await.status(), 200);
    let html = app
        .page(&format!("/operator/customers/{customer}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("mappings-table"));
    assert!(
        !html.contains("map-form") && !html.contains("edit-customer"),
        "finance sees no write controls"
    );
    let writes = |app: &TestApp| {
        let client = app.client.clone();
        let base = app.base.clone();
        let (new_customer, mapping) = (new_customer.clone(), mapping.clone());
        async move {
            vec![
                client
                    .post(format!("{base}/api/v1/customers"))
                    .json(&new_customer)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                client
                    .put(format!("{base}/api/v1/customers/{customer}"))
                    .json(&new_customer)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                client
                    .put(format!("{base}/api/v1/mappings/{TENANT_A}"))
                    .json(&mapping)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                client
                    .delete(format!("{base}/api/v1/mappings/{TENANT_A}?registration=stamp-1"))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                client
                    .post(format!("{base}/api/v1/mappings/import?dry_run=false"))
                    .body(format!(
                        "cloud_tenant_id,registration,customer_subscription_id\n{TENANT_A},stamp-1,{SUB_X}\n"
                    ))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                client
                    .post(format!("{base}/api/fn/create_customer"))
                    .form(&[("form[name]", "New"), ("form[cloud_tenant_id]", TENANT_B)])
                    .send()
                    .await
                    .unwrap()
                    .status(),
                client
                    .post(format!("{base}/api/fn/apply_mapping"))
                    .form(&[
                        ("customer_id", customer.to_string().as_str()),
                        ("form[registration]", "stamp-1"),
                        ("form[customer_subscription_id]", SUB_X),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status(),
            ]
        }
    };
    assert!(
        writes(&app).await.iter().all(|s| s.as_u16() == 403),
        "finance writes refused"
    );
    // Finance's token reads too and is refused writes the same way.
    assert_eq!(
        app.get_with_token("/api/v1/customers", Some(&finance_token))
            .await
            .status(),
        200
    );
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/customers"))
        .bearer_auth(&finance_token)
        .json(&new_customer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A customer user sees none of it.
    app.sign_in("it@contoso.test", PASSWORD).await;
    for path in [
        "/api/v1/customers".to_owned(),
        format!("/api/v1/customers/{customer}/details"),
        "/api/v1/mappings".to_owned(),
    ] {
        assert_eq!(get_json(&app, &path).await.0, 403, "customer reads {path}");
    }
    assert_eq!(app.page("/operator/customers").await.status(), 403);
    assert!(
        writes(&app).await.iter().all(|s| s.as_u16() == 403),
        "customer writes refused"
    );
    // An ingest token neither.
    assert_eq!(
        app.get_with_token("/api/v1/customers", Some(&ingest)).await.status(),
        403
    );
    let r = reqwest::Client::new()
        .put(app.url(&format!("/api/v1/mappings/{TENANT_A}")))
        .bearer_auth(&ingest)
        .json(&mapping)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    assert_eq!(app.count("customers").await, customers);
    assert_eq!(app.count("mapping_changes").await, changes);
    assert_eq!(console_audit(&app).await, audit, "refused writes leave no entry");
    app.dispose().await;
}

#[tokio::test]
async fn the_console_pages_work_before_hydration_and_a_forged_cross_site_post_changes_nothing() {
    let app = spawn_app().await;
    operator(&app).await;
    let reg = app.add_registration("stamp-1").await;

    // A plain form post (no JavaScript) creates the customer and lands on its page.
    let new_page = app.url("/operator/customers/new");
    let r = app
        .client
        .post(app.url("/api/fn/create_customer"))
        .header("accept", "text/html")
        .header("referer", &new_page)
        .form(&[
            ("form[name]", "Fabrikam Nederland B.V."),
            ("form[cloud_tenant_id]", TENANT_B),
            ("form[locale]", "nl"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/operator/customers/"), "{location}");
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();

    // A refused post comes back to the form with the error next to its field.
    let r = app
        .client
        .post(app.url("/api/fn/create_customer"))
        .header("accept", "text/html")
        .header("referer", &new_page)
        .form(&[("form[name]", "Other"), ("form[cloud_tenant_id]", "12345")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.contains("__err="), "{back}");
    let html = app
        .client
        .get(&back)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field_error = html.split("data-testid=\"error-cloud_tenant_id\"").nth(1).unwrap();
    assert!(
        field_error[..400].contains("is not a directory"),
        "the error sits with its field"
    );

    // The list and the customer's page, with its badge.
    let html = app.page("/operator/customers?q=fabrikam").await.text().await.unwrap();
    assert!(html.contains("Fabrikam Nederland B.V.") && html.contains("badge-base"));
    let html = app
        .page(&format!("/operator/customers/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("map-form"));

    // The confirmation step shows before and after without saving anything…
    let confirm = format!(
        "/operator/customers/{id}/mapping?registration={reg}&customer_subscription_id={SUB_X}&effective_on=2026-10-01"
    );
    let r = app.page(&confirm).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("preview-after") && html.contains(SUB_X));
    assert_eq!(app.count("mapping_changes").await, 0);
    // …and a refused one says why, with the field.
    let r = app
        .page(&format!(
            "/operator/customers/{id}/mapping?registration={reg}&customer_subscription_id={BASE}"
        ))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("mapping-refused"));

    // A forged cross-site post with the operator's cookie is refused and changes nothing.
    let session = app.session_cookie().unwrap();
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, form) in [
        (
            "/api/fn/apply_mapping",
            vec![
                ("customer_id", id.to_string()),
                ("form[registration]", reg.to_string()),
                ("form[customer_subscription_id]", SUB_X.to_owned()),
            ],
        ),
        (
            "/api/fn/create_customer",
            vec![
                ("form[name]", "Evil".to_owned()),
                ("form[cloud_tenant_id]", TENANT_A.to_owned()),
            ],
        ),
    ] {
        let r = forged
            .post(app.url(path))
            .header("origin", "https://evil.example")
            .header("cookie", format!("stackbill_session={session}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = forged
        .put(app.url(&format!("/api/v1/mappings/{TENANT_B}")))
        .header("origin", "https://evil.example")
        .header("cookie", format!("stackbill_session={session}"))
        .json(&json!({"registration": "stamp-1", "customer_subscription_id": SUB_X}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("mapping_changes").await, 0);
    assert_eq!(app.count("customers").await, 1);

    // Confirmed from the same origin, without JavaScript: mapped, and the badge says so.
    let r = app
        .client
        .post(app.url("/api/fn/apply_mapping"))
        .header("accept", "text/html")
        .header("referer", app.url(&confirm))
        .form(&[
            ("customer_id", id.to_string()),
            ("form[registration]", reg.to_string()),
            ("form[customer_subscription_id]", SUB_X.to_owned()),
            ("form[effective_on]", "2026-10-01".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], format!("/operator/customers/{id}").as_str());
    let html = app
        .page(&format!("/operator/customers/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("badge-mapped") && html.contains(SUB_X));
    let entries = audit_entries(&app, "mapping.set").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1["source"], "console");
    app.dispose().await;
}

#[tokio::test]
async fn the_audit_log_filters_by_entity_actor_action_and_time_pages_by_keyset_and_exports_csv() {
    for_each_app(|app| async move {
        operator(&app).await;
        app.add_registration("stamp-1").await;
        for (name, tenant) in [
            ("台灣雲端", TENANT_A),
            ("Contoso, Ltd.", TENANT_B),
            ("Third", "33333333-3333-4333-8333-333333333333"),
        ] {
            let r = send_json(
                &app,
                reqwest::Method::POST,
                "/api/v1/customers",
                json!({"name": name, "cloud_tenant_id": tenant}),
            )
            .await;
            assert_eq!(r.status(), 201);
        }
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/mappings/{TENANT_A}"),
            json!({"registration": "stamp-1", "customer_subscription_id": SUB_X}),
        )
        .await;
        assert_eq!(r.status(), 200);

        let (status, customers) = get_json(&app, "/api/v1/audit?entity=customer").await;
        assert_eq!(status, 200);
        let names: Vec<&str> = customers["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["after"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Third", "Contoso, Ltd.", "台灣雲端"], "newest first");
        let (_, mapping) = get_json(&app, "/api/v1/audit?action=mapping").await;
        assert_eq!(mapping["value"].as_array().unwrap().len(), 1);
        assert_eq!(mapping["value"][0]["after"], SUB_X);
        assert_eq!(mapping["value"][0]["subject"], format!("cloud_tenant:{TENANT_A}"));
        let (_, one) = get_json(&app, &format!("/api/v1/audit?entity=cloud_tenant:{TENANT_A}")).await;
        assert_eq!(one["value"].as_array().unwrap().len(), 1);
        let (_, by_ops) = get_json(&app, "/api/v1/audit?actor=OPS@example.test&action=customer.created").await;
        assert_eq!(by_ops["value"].as_array().unwrap().len(), 3);
        let (_, by_cli) = get_json(&app, "/api/v1/audit?actor=cli&action=customer").await;
        assert_eq!(by_cli["value"].as_array().unwrap().len(), 0);
        let (_, future) = get_json(&app, "/api/v1/audit?since=2999-01-01").await;
        assert_eq!(future["value"].as_array().unwrap().len(), 0);
        let (_, today) = get_json(&app, "/api/v1/audit?entity=customer&since=2000-01-01&until=2999-12-31").await;
        assert_eq!(today["value"].as_array().unwrap().len(), 3);

        // Keyset pages: every entry once, in order.
        let (_, all) = get_json(&app, "/api/v1/audit?limit=500").await;
        let every: Vec<i64> = all["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        let mut paged = Vec::new();
        let mut next = Some("/api/v1/audit?limit=2".to_owned());
        while let Some(link) = next {
            let (_, page) = get_json(&app, &link).await;
            paged.extend(
                page["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_i64().unwrap()),
            );
            next = page["nextLink"].as_str().map(str::to_owned);
        }
        assert_eq!(paged, every);
        assert!(every.len() >= 5);

        for bad in ["since=yesterday", "until=2026-01-01&since=2026-02-01", "cursor=zzz"] {
            assert_eq!(get_json(&app, &format!("/api/v1/audit?{bad}")).await.0, 422, "{bad}");
        }

        // CSV: the same filter, every entry, names intact, commas quoted.
        let r = app
            .client
            .get(app.url("/api/v1/audit?entity=customer"))
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = r.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            [
                "id",
                "occurred_at",
                "actor",
                "actor_label",
                "action",
                "subject",
                "before",
                "after",
                "details",
                "client_addr"
            ]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1][7].contains("Contoso, Ltd."));
        assert!(rows[2][7].contains("台灣雲端"));
        app
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_is_append_only_no_code_updates_or_deletes_an_entry() {
    // Every SQL statement lives in the sources; none of them may change an entry.
    fn scan(dir: &std::path::Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, hits);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "sql") {
                let text = std::fs::read_to_string(&path)
                    .unwrap()
                    .to_lowercase()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                for forbidden in [
                    "update audit_log",
                    "delete from audit_log",
                    "truncate audit_log",
                    "drop table audit_log",
                ] {
                    if text.contains(forbidden) {
                        hits.push(format!("{}: {forbidden}", path.display()));
                    }
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut hits = Vec::new();
    for dir in ["app/src", "server/src", "migrations"] {
        scan(&root.join(dir), &mut hits);
    }
    assert!(hits.is_empty(), "{hits:?}");
}

#[tokio::test]
async fn user_subscriptions_are_staff_reading_and_only_operators_assign_owners() {
    let app = spawn_app().await;
    app.add_registration("stamp-1").await;
    let customer = app.add_customer("Contoso", TENANT_A).await;
    app.add_user("fin@example.test", Role::Finance, None).await;
    app.add_user("it@contoso.test", Role::Customer, Some(customer)).await;
    operator(&app).await;
    // Usage from a subscription nobody owns: it queues as unassigned.
    let ingest = app.add_token(Role::Ingest, None).await;
    let us = "4a9f7696-6dce-4fe9-9b9f-2f5b2bfa7fd7";
    let us2 = "5b0a8707-7edf-4a0a-8caa-3a6c3cab8ae8";
    let record = |sub: &str| {
        crate::helpers::usage_json(
            sub,
            "6dab500f-a4fd-49c4-956d-229bb9c8c793",
            "2026-11-10T10:00:00+00:00",
            "2",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        )
    };
    let body = format!("{{\"value\":[{},{}]}}", record(us), record(us2));
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .bearer_auth(&ingest)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (status, queue) = get_json(&app, "/api/v1/user-subscriptions?status=unassigned").await;
    assert_eq!(status, 200);
    assert_eq!(queue["total"], 2);
    let id = queue["value"][0]["id"].as_i64().unwrap();
    let id2 = queue["value"][1]["id"].as_i64().unwrap();
    assert_eq!(queue["value"][0]["subscription_id"], us);
    assert_eq!(get_json(&app, "/api/v1/user-subscriptions?status=lost").await.0, 422);
    let html = app
        .page("/operator/user-subscriptions?status=unassigned")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("assign-form") && html.contains(us));

    let assign = |client: reqwest::Client, tenant: &'static str| {
        let url = app.url(&format!("/api/v1/user-subscriptions/{id}/owner"));
        async move {
            client
                .post(url)
                .json(&json!({"cloud_tenant_id": tenant}))
                .send()
                .await
                .unwrap()
        }
    };
    app.sign_in("fin@example.test", PASSWORD).await;
    assert_eq!(get_json(&app, "/api/v1/user-subscriptions").await.0, 200);
    assert_eq!(assign(app.client.clone(), TENANT_A).await.status(), 403);
    let html = app
        .page("/operator/user-subscriptions?status=unassigned")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("assign-form"), "finance sees no assign control");
    app.sign_in("it@contoso.test", PASSWORD).await;
    assert_eq!(get_json(&app, "/api/v1/user-subscriptions").await.0, 403);
    assert_eq!(assign(app.client.clone(), TENANT_A).await.status(), 403);

    app.sign_in("ops@example.test", PASSWORD).await;
    let r = assign(app.client.clone(), "nope").await;
    assert_eq!(r.status(), 422);
    let r = assign(app.client.clone(), TENANT_A).await;
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["effective_on"], "2026-11-10", "from its first usage");
    let (_, queue) = get_json(&app, "/api/v1/user-subscriptions?status=unassigned").await;
    assert_eq!(queue["total"], 1);
    // The queue's form: only the ticked rows are posted, each under its row's index.
    let r = app
        .client
        .post(app.url("/api/fn/assign_owner"))
        .form(&[
            ("form[cloud_tenant_id]", TENANT_A.to_uppercase()),
            ("form[subscriptions][1]", id2.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (_, queue) = get_json(&app, "/api/v1/user-subscriptions?status=unassigned").await;
    assert_eq!(queue["total"], 0);
    let (_, owned) = get_json(&app, "/api/v1/user-subscriptions?status=assigned").await;
    assert_eq!(owned["value"][0]["customer"], "Contoso");
    let entries = audit_entries(&app, "user_subscription.owner_assigned").await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].1["after"], TENANT_A);
    app.dispose().await;
}

async fn import(app: &TestApp, csv: impl Into<reqwest::Body>, dry_run: bool) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/mappings/import?dry_run={dry_run}")))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn mappings_import_from_csv_after_a_dry_run_all_or_nothing_with_every_bad_row_named() {
    for_each_app(|app| async move {
        operator(&app).await;
        app.add_registration("stamp-1").await;
        app.add_customer("Contoso", TENANT_A).await;
        app.add_customer("台灣雲端", TENANT_B).await;
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/mappings/{TENANT_A}"),
            json!({"registration": "stamp-1", "customer_subscription_id": SUB_X, "effective_on": "2026-10-01"}),
        )
        .await;
        assert_eq!(r.status(), 200);

        // Export: the header and what is mapped; importing it again changes no interval.
        let r = app.client.get(app.url("/api/v1/mappings/export")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let exported = r.text().await.unwrap();
        assert_eq!(
            exported,
            format!("cloud_tenant_id,customer,registration,customer_subscription_id,effective_on\n{TENANT_A},Contoso,stamp-1,{SUB_X},2026-10-01\n")
        );
        let (status, report) = import(&app, exported.clone(), true).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!((report["rows"][0]["before"].as_str(), report["rows"][0]["after"].as_str()), (Some(SUB_X), Some(SUB_X)));

        // A real change, previewed first: nothing saved until applied.
        let csv = format!(
            "\u{feff}Cloud_Tenant_ID,customer,registration,customer_subscription_id,effective_on\n\
             {TENANT_B},台灣雲端,stamp-1,{SUB_Y},2026-10-05\n\
             {},,stamp-1,,2026-10-20\n",
            TENANT_A.to_uppercase()
        );
        let changes = app.count("mapping_changes").await;
        let (status, report) = import(&app, csv.clone(), true).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["dry_run"], true);
        let rows = report["rows"].as_array().unwrap();
        assert_eq!((rows[0]["row"].as_i64(), rows[0]["after"].as_str()), (Some(2), Some(SUB_Y)));
        assert_eq!((rows[1]["row"].as_i64(), rows[1]["before"].as_str(), rows[1]["after"].as_str()), (Some(3), Some(SUB_X), None));
        assert_eq!(app.count("mapping_changes").await, changes);
        let (status, report) = import(&app, csv, false).await;
        assert_eq!((status, report["applied"].as_bool()), (200, Some(true)));
        assert_eq!(app.count("mapping_changes").await, changes + 2);
        let (_, on_21st) = get_json(&app, "/api/v1/mappings?at=2026-10-21").await;
        assert_eq!(on_21st["total"], 1);
        assert_eq!(on_21st["value"][0]["customer"], "台灣雲端");
        let entries = audit_entries(&app, "mapping.set").await;
        assert_eq!(entries.last().unwrap().1["source"], "csv");

        // Refusals: every bad row with its number, column and reason; nothing applied.
        let changes = app.count("mapping_changes").await;
        let header = "cloud_tenant_id,customer,registration,customer_subscription_id,effective_on";
        let cases: Vec<(String, Vec<(i64, &str)>)> = vec![
            ("tenant,registration\nx,y\n".into(), vec![(1, "tenant"), (1, "cloud_tenant_id"), (1, "customer_subscription_id")]),
            (
                format!("{header}\n{TENANT_B},,stamp-1,{SUB_Y},2026-10-06\nnot-a-guid,,stamp-1,{SUB_Y},\n{TENANT_B},,stamp-9,{SUB_Y},2026-10-32\n{TENANT_B},Contoso,stamp-1,,\n"),
                vec![(3, "cloud_tenant_id"), (4, "registration"), (4, "effective_on"), (5, "customer")],
            ),
            // Well-formed, but row 3 takes a subscription another tenant holds: named, and row 2 is undone too.
            (
                format!("{header}\n{TENANT_B},,stamp-1,{SUB_Y},2026-10-07\n{TENANT_A},,stamp-1,{SUB_Y},2026-10-08\n"),
                vec![(3, "customer_subscription_id")],
            ),
            (format!("{header}\n"), vec![(2, "")]),
        ];
        for (csv, expected) in cases {
            let (status, body) = import(&app, csv.clone(), false).await;
            assert_eq!(status, 422, "{csv}: {body}");
            let got: Vec<(i64, String)> = body["error"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["row"].as_i64().unwrap(), r["column"].as_str().unwrap().to_owned()))
                .collect();
            let want: Vec<(i64, String)> = expected.iter().map(|(r, c)| (*r, c.to_string())).collect();
            assert_eq!(got, want, "{csv}: {body}");
            assert_eq!(body["error"]["code"], "invalid_csv");
        }
        let (status, body) = import(&app, vec![b'c', b',', 0xff, 0xfe, b'\n'], false).await;
        assert_eq!(status, 422);
        assert!(body["error"]["rows"][0]["message"].as_str().unwrap().contains("UTF-8"));
        let big = format!("{header}\n{}", format!("{TENANT_B},,stamp-1,{SUB_Y},2026-10-06\n").repeat(100_000));
        let (status, body) = import(&app, big, false).await;
        assert_eq!(status, 422);
        let message = body["error"]["rows"][0]["message"].as_str().unwrap();
        assert!(message.contains("split"), "{message}");
        assert_eq!(app.count("mapping_changes").await, changes);

        // The console's server function lists the problems instead of failing.
        let r = app
            .client
            .post(app.url("/api/fn/import_mappings"))
            .form(&[("csv", "nope\n1\n"), ("dry_run", "true")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let outcome: Value = r.json().await.unwrap();
        assert_eq!(outcome["Refused"]["rows"][0]["row"], 1);
        app
    })
    .await;
}

#[tokio::test]
async fn meters_are_made_report_only_from_a_day_and_discovered_meters_are_named_by_operators_only() {
    for_each_app(|app| async move {
        app.add_registration("stamp-1").await;
        app.add_user("fin@example.test", Role::Finance, None).await;
        operator(&app).await;
        // A meter nobody has heard of arrives in usage: discovered.
        let ingest = app.add_token(Role::Ingest, None).await;
        let unknown = "0c2a7f6e-8d4b-4f2a-9b1c-3e5d7f9a1b2c";
        let body = format!(
            "{{\"value\":[{}]}}",
            crate::helpers::usage_json(
                "4a9f7696-6dce-4fe9-9b9f-2f5b2bfa7fd7",
                unknown,
                "2026-11-10T10:00:00+00:00",
                "3",
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
            )
        );
        let r = reqwest::Client::new()
            .post(app.url("/api/v1/usage"))
            .bearer_auth(&ingest)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let r = app
            .client
            .post(app.url("/api/fn/meter_catalogue"))
            .form(&[("query[origin]", "discovered")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let discovered: Value = r.json().await.unwrap();
        assert_eq!(discovered["items"].as_array().unwrap().len(), 1);
        assert_eq!(discovered["items"][0]["id"], unknown);
        assert_eq!(discovered["items"][0]["records"], 1);
        assert!(discovered["items"][0]["first_seen"].is_string());
        let html = app
            .page(&format!("/meters?q={}", &unknown[..8].to_uppercase()))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("discovered-table") && html.contains("meter-describe-form"));

        // Named, with a unit and a service; a catalogue meter is refused.
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/meters/{unknown}"),
            json!({"name": "Custom worker tier 1", "unit": "Hours", "service": "App Service"}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let base_vm = "6dab500f-a4fd-49c4-956d-229bb9c8c793";
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/meters/{base_vm}"),
            json!({"name": "x", "unit": "y", "service": "z"}),
        )
        .await;
        assert_eq!(r.status(), 409);
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/meters/{unknown}"),
            json!({"name": "", "unit": "Hours", "service": "App Service"}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let (_, meters) = get_json(&app, "/api/v1/meters").await;
        let named = meters["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == unknown)
            .unwrap()
            .clone();
        assert_eq!(
            (named["name"].as_str(), named["unit"].as_str()),
            (Some("Custom worker tier 1"), Some("Hours"))
        );

        // Report-only from a day: today's catalogue shows it; bad input names its field.
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/meters/{}/billing", base_vm.to_uppercase()),
            json!({"billing": "billable"}),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let (_, meters) = get_json(&app, "/api/v1/meters").await;
        let vm = meters["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == base_vm)
            .unwrap()
            .clone();
        assert_eq!(vm["billing"], "billable");
        for (body, field) in [
            (json!({"billing": "free"}), "billing"),
            (
                json!({"billing": "billable", "effective_on": "tomorrow"}),
                "effective_on",
            ),
        ] {
            let r = send_json(
                &app,
                reqwest::Method::PUT,
                &format!("/api/v1/meters/{base_vm}/billing"),
                body,
            )
            .await;
            assert_eq!(r.status(), 422);
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["error"]["field"], field);
        }
        let set = audit_entries(&app, "meter.billing_set").await;
        assert_eq!(
            (set.len(), set[0].1["before"].as_str(), set[0].1["after"].as_str()),
            (1, Some("report_only"), Some("billable"))
        );
        let described = audit_entries(&app, "meter.described").await;
        assert_eq!(described[0].1["after"]["unit"], "Hours");

        // Finance reads, and is refused both changes.
        app.sign_in("fin@example.test", PASSWORD).await;
        let html = app.page("/meters").await.text().await.unwrap();
        assert!(html.contains("meters-table") && !html.contains("meter-billing-form"));
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/meters/{base_vm}/billing"),
            json!({"billing": "report_only"}),
        )
        .await;
        assert_eq!(r.status(), 403);
        let r = send_json(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/meters/{unknown}"),
            json!({"name": "a", "unit": "b", "service": "c"}),
        )
        .await;
        assert_eq!(r.status(), 403);
        app
    })
    .await;
}

#[tokio::test]
async fn operators_manage_users_and_tokens_with_secrets_shown_once_and_finance_only_reads() {
    for_each_app(|app| async move {
        app.add_registration("stamp-1").await;
        let customer = app.add_customer("台灣雲端", TENANT_A).await;
        app.add_user("fin@example.test", Role::Finance, None).await;
        operator(&app).await;

        // A user with a generated password, shown once; it signs in.
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/users", json!({"email": "New.Person@Example.test", "role": "finance"})).await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.unwrap();
        let id = created["id"].as_i64().unwrap();
        let password = created["password"].as_str().unwrap().to_owned();
        let other = crate::helpers::spawn_client(&app);
        let signed_in = other.post(app.url("/api/fn/sign_in")).form(&[("email", "new.person@example.test"), ("password", password.as_str())]).send().await.unwrap();
        assert_eq!(signed_in.status(), 200);
        for (body, status, field) in [
            (json!({"email": "x@example.test", "role": "customer"}), 422, "customer"),
            (json!({"email": "x@example.test", "role": "finance", "customer": customer.to_string()}), 422, "customer"),
            (json!({"email": "nope", "role": "finance"}), 422, "email"),
            (json!({"email": "x@example.test", "role": "boss"}), 422, "role"),
            (json!({"email": "x@example.test", "role": "finance", "password": "short"}), 422, "password"),
        ] {
            let r = send_json(&app, reqwest::Method::POST, "/api/v1/users", body.clone()).await;
            assert_eq!(r.status(), status, "{body}");
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["error"]["field"], field, "{body}");
        }
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/users", json!({"email": "new.person@example.test", "role": "finance"})).await;
        assert_eq!(r.status(), 409);
        // A customer user by the customer's tenant GUID.
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/users", json!({"email": "it@tw.example", "role": "customer", "customer": TENANT_A, "password": PASSWORD, "locale": "zh-TW"})).await;
        assert_eq!(r.status(), 201);
        let (_, users) = get_json(&app, "/api/v1/users").await;
        let it = users["value"].as_array().unwrap().iter().find(|u| u["email"] == "it@tw.example").unwrap().clone();
        assert_eq!((it["customer"].as_str(), it["locale"].as_str()), (Some("台灣雲端"), Some("zh-TW")));
        assert!(!users.to_string().contains("argon2"), "never a password hash");

        // Disabled: its session ends and it cannot sign in; enabled again.
        let r = app.client.post(app.url(&format!("/api/v1/users/{id}/disable"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(other.post(app.url("/api/fn/visitor")).send().await.unwrap().json::<Value>().await.unwrap()["user"], Value::Null);
        let again = other.post(app.url("/api/fn/sign_in")).form(&[("email", "new.person@example.test"), ("password", password.as_str())]).send().await.unwrap();
        assert_ne!(again.status(), 200);
        assert_eq!(app.client.post(app.url(&format!("/api/v1/users/{id}/enable"))).send().await.unwrap().status(), 200);
        // Reset: a generated password, once; the old one no longer works.
        let r = app.client.post(app.url(&format!("/api/v1/users/{id}/reset-password"))).send().await.unwrap();
        let reset: Value = r.json().await.unwrap();
        let fresh = reset["password"].as_str().unwrap().to_owned();
        assert_ne!(fresh, password);
        let old = other.post(app.url("/api/fn/sign_in")).form(&[("email", "new.person@example.test"), ("password", password.as_str())]).send().await.unwrap();
        assert_ne!(old.status(), 200);
        // The last operator cannot be disabled.
        let (_, users) = get_json(&app, "/api/v1/users").await;
        let ops = users["value"].as_array().unwrap().iter().find(|u| u["email"] == "ops@example.test").unwrap()["id"].as_i64().unwrap();
        let r = app.client.post(app.url(&format!("/api/v1/users/{ops}/disable"))).send().await.unwrap();
        assert_eq!(r.status(), 409);

        // A token: shown once, works, listed by its first characters only, revoked → 401.
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/tokens", json!({"name": "BI export", "role": "finance", "expires_in": "90d"})).await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.unwrap();
        let token = created["token"].as_str().unwrap().to_owned();
        let token_id = created["id"].as_i64().unwrap();
        assert_eq!(app.get_with_token("/api/v1/me", Some(&token)).await.status(), 200);
        let (_, tokens) = get_json(&app, "/api/v1/tokens").await;
        assert!(!tokens.to_string().contains(&token), "never the secret");
        assert!(tokens["value"][0]["expires_at"].is_string());
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/tokens", json!({"name": "push", "role": "ingest"})).await;
        assert_eq!(r.status(), 422, "an ingest token needs its registration");
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/tokens", json!({"name": "push", "role": "ingest", "registration": "stamp-1", "expires_in": "soon"})).await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "expires_in");
        assert_eq!(app.client.post(app.url(&format!("/api/v1/tokens/{token_id}/revoke"))).send().await.unwrap().status(), 200);
        assert_eq!(app.get_with_token("/api/v1/me", Some(&token)).await.status(), 401);
        assert_eq!(app.client.post(app.url(&format!("/api/v1/tokens/{token_id}/revoke"))).send().await.unwrap().status(), 409);

        // The console's server functions: the same services, the secret once.
        let r = app.client.post(app.url("/api/fn/add_token")).form(&[("form[name]", "nightly"), ("form[role]", "operator")]).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let shown: Value = r.json().await.unwrap();
        assert_eq!(shown["of"], "nightly");
        assert!(shown["secret"].as_str().unwrap().len() > 20);
        let html = app.page("/operator/users").await.text().await.unwrap();
        assert!(html.contains("users-table") && html.contains("add-user-form") && html.contains("BI export"));

        for action in ["user.created", "user.disabled", "user.enabled", "user.password_reset", "token.created", "token.revoked"] {
            assert!(!audit_entries(&app, action).await.is_empty(), "{action} audited");
        }

        // Finance reads both lists; every change is refused.
        app.sign_in("fin@example.test", PASSWORD).await;
        assert_eq!(get_json(&app, "/api/v1/users").await.0, 200);
        assert_eq!(get_json(&app, "/api/v1/tokens").await.0, 200);
        let html = app.page("/operator/users").await.text().await.unwrap();
        assert!(html.contains("users-table") && !html.contains("add-user-form") && !html.contains("user-toggle"));
        let r = send_json(&app, reqwest::Method::POST, "/api/v1/users", json!({"email": "y@example.test", "role": "finance"})).await;
        assert_eq!(r.status(), 403);
        assert_eq!(app.client.post(app.url(&format!("/api/v1/users/{id}/disable"))).send().await.unwrap().status(), 403);
        assert_eq!(app.client.post(app.url("/api/fn/add_token")).form(&[("form[name]", "x"), ("form[role]", "operator")]).send().await.unwrap().status(), 403);
        app
    })
    .await;
}

#[tokio::test]
async fn registrations_are_listed_with_their_collector_and_daily_records_and_added_by_operators_only() {
    for_each_app(|app| async move {
        app.add_user("fin@example.test", Role::Finance, None).await;
        operator(&app).await;
        let form = [
            ("form[name]", "azurestack-北區"),
            ("form[base_subscription_id]", "{DD8597B4-8739-4467-8B10-F8679F62BFBF}"),
            ("form[currency]", "twd"),
            ("form[active_from]", "2026-10-01"),
            ("form[usage_endpoint]", "https://adminmanagement.north.example.test"),
            ("form[provider_subscription_id]", "5144634d-7e4d-443b-a304-d27e44220fc6"),
            ("form[token_env]", "AZS_NORTH_TOKEN"),
        ];
        let r = app
            .client
            .post(app.url("/api/fn/add_registration"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let id: i64 = r.json().await.unwrap();
        let r = app
            .client
            .post(app.url("/api/fn/registration_detail"))
            .form(&[("id", id.to_string())])
            .send()
            .await
            .unwrap();
        let detail: Value = r.json().await.unwrap();
        assert_eq!(detail["summary"]["name"], "azurestack-北區");
        assert_eq!(detail["summary"]["base_subscription_id"], BASE);
        assert_eq!(detail["summary"]["currency"], "TWD");
        assert_eq!(detail["token_source"], "environment variable AZS_NORTH_TOKEN");
        assert_eq!(detail["days"].as_array().unwrap().len(), 30);
        let html = app
            .page(&format!("/operator/registrations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("collector-panel") && html.contains("AZS_NORTH_TOKEN") && html.contains("registration-days")
        );
        // Bad input names its field; nothing is added.
        for (field, value, expected) in [
            ("form[base_subscription_id]", "nope", "base_subscription_id"),
            ("form[currency]", "ZZZ", "currency"),
            ("form[usage_endpoint]", "http://stamp.example.test", "usage_endpoint"),
            ("form[active_from]", "yesterday", "active_from"),
        ] {
            let mut bad: Vec<(&str, &str)> = form.iter().copied().filter(|(k, _)| *k != field).collect();
            bad.push((field, value));
            bad.retain(|(k, _)| *k != "form[name]");
            bad.push(("form[name]", "azurestack-other"));
            let r = app
                .client
                .post(app.url("/api/fn/add_registration"))
                .form(&bad)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 422, "{field}");
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["field"], expected, "{field}: {err}");
        }
        let r = app
            .client
            .post(app.url("/api/fn/add_registration"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "the same name twice");
        assert_eq!(app.count("registrations").await, 1);
        assert_eq!(audit_entries(&app, "registration.created").await.len(), 1);

        // Edited through the API (the same service): resource group and collector change,
        // the name stays; before usage arrives the currency may change too.
        let edit = json!({"name": "ignored", "base_subscription_id": BASE, "resource_group": "azs-rg",
                          "currency": "USD", "usage_endpoint": "https://adminmanagement.north2.example.test/",
                          "provider_subscription_id": "5144634d-7e4d-443b-a304-d27e44220fc6", "token_env": "AZS_NORTH2"});
        let r = send_json(&app, reqwest::Method::PUT, &format!("/api/v1/registrations/{id}"), edit.clone()).await;
        assert_eq!(r.status(), 200);
        let detail: Value = r.json().await.unwrap();
        assert_eq!(
            (&detail["summary"]["name"], &detail["resource_group"], &detail["summary"]["currency"], &detail["usage_endpoint"], &detail["token_env"]),
            (&json!("azurestack-北區"), &json!("azs-rg"), &json!("USD"), &json!("https://adminmanagement.north2.example.test"), &json!("AZS_NORTH2"))
        );
        let updated = audit_entries(&app, "registration.updated").await;
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].1["before"]["currency"], "TWD");
        assert_eq!(updated[0].1["after"]["resource_group"], "azs-rg");
        let mut bad = edit.clone();
        bad["usage_endpoint"] = json!("http://stamp.example.test");
        let r = send_json(&app, reqwest::Method::PUT, &format!("/api/v1/registrations/{id}"), bad).await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "usage_endpoint");
        // Once usage has arrived, the base subscription and the currency are fixed.
        let ingest = app.add_token(Role::Ingest, None).await;
        let body = format!(
            "{{\"value\":[{}]}}",
            crate::helpers::usage_json(SUB_X, "fab6eb84-500b-4a09-a8ca-7358f8bbaea5", "2026-11-10T10:00:00+00:00", "1",
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1")
        );
        let r = reqwest::Client::new()
            .post(app.url("/api/v1/usage"))
            .bearer_auth(&ingest)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let mut later = edit.clone();
        later["currency"] = json!("EUR");
        let r = send_json(&app, reqwest::Method::PUT, &format!("/api/v1/registrations/{id}"), later).await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "currency");
        let html = app.page(&format!("/operator/registrations/{id}")).await.text().await.unwrap();
        assert!(html.contains("registration-edit-form"));
        // Finance reads; adding is refused and the form is not shown.
        app.sign_in("fin@example.test", PASSWORD).await;
        let html = app.page("/operator/registrations").await.text().await.unwrap();
        assert!(html.contains("registrations-list") && !html.contains("registration-form"));
        let html = app.page(&format!("/operator/registrations/{id}")).await.text().await.unwrap();
        assert!(!html.contains("registration-edit-form"));
        assert_eq!(send_json(&app, reqwest::Method::PUT, &format!("/api/v1/registrations/{id}"), edit).await.status(), 403);
        let r = app
            .client
            .post(app.url("/api/fn/add_registration"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        app
    })
    .await;
}

#[tokio::test]
async fn the_ingestion_screen_lists_batches_and_the_quarantine_which_operators_reprocess_or_discard() {
    for_each_app(|app| async move {
        app.add_registration("stamp-1").await;
        app.add_user("fin@example.test", Role::Finance, None).await;
        operator(&app).await;
        let ingest = app.add_token(Role::Ingest, None).await;
        let vm = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
        let meter = "6dab500f-a4fd-49c4-956d-229bb9c8c793";
        let us = "4a9f7696-6dce-4fe9-9b9f-2f5b2bfa7fd7";
        let records = [
            crate::helpers::usage_json(us, meter, "2026-11-10T10:00:00+00:00", "2", vm),
            crate::helpers::usage_json(us, meter, "2026-11-10T11:00:00+00:00", "-1", vm),
            crate::helpers::usage_json("not-a-subscription", meter, "2026-11-10T12:00:00+00:00", "1", vm),
        ];
        let r = reqwest::Client::new()
            .post(app.url("/api/v1/usage"))
            .bearer_auth(&ingest)
            .header("content-type", "application/json")
            .body(format!("{{\"value\":[{}]}}", records.join(",")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let r = app.client.post(app.url("/api/fn/ingestion")).send().await.unwrap();
        let o: Value = r.json().await.unwrap();
        assert_eq!(
            (o["quarantine_open"].as_i64(), o["batches"][0]["accepted"].as_i64()),
            (Some(2), Some(1))
        );
        assert_eq!(o["batches"][0]["registration"], "stamp-1");
        let html = app.page("/operator/ingestion").await.text().await.unwrap();
        assert!(html.contains("quarantine-table") && html.contains("negative") && html.contains("reprocess-open"));
        let q = o["quarantine"].as_array().unwrap().clone();
        let negative = q
            .iter()
            .find(|x| x["reason"].as_str().unwrap().contains("negative"))
            .unwrap();
        let bad_sub = q
            .iter()
            .find(|x| x["reason"].as_str().unwrap().contains("subscriptionId"))
            .unwrap();

        // Reprocessed unchanged: still refused, with the reason; corrected: stored.
        let id = negative["id"].as_i64().unwrap().to_string();
        let r = app
            .client
            .post(app.url("/api/fn/reprocess_quarantined"))
            .form(&[("id", id.as_str()), ("raw", "")])
            .send()
            .await
            .unwrap();
        let still: Value = r.json().await.unwrap();
        assert!(still.as_str().unwrap().contains("negative"));
        let fixed = negative["raw"]
            .as_str()
            .unwrap()
            .replace("\"quantity\":-1", "\"quantity\":1");
        let r = app
            .client
            .post(app.url("/api/fn/reprocess_quarantined"))
            .form(&[("id", id.as_str()), ("raw", fixed.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap(), Value::Null, "stored");
        assert_eq!(app.count("usage_records").await, 2);

        // Finance reads the screen; reprocess and discard are refused.
        app.sign_in("fin@example.test", PASSWORD).await;
        let html = app.page("/operator/ingestion").await.text().await.unwrap();
        assert!(html.contains("quarantine-table") && !html.contains("reprocess-open"));
        let other = bad_sub["id"].as_i64().unwrap().to_string();
        let r = app
            .client
            .post(app.url("/api/fn/discard_quarantined"))
            .form(&[("id", other.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        app.sign_in("ops@example.test", PASSWORD).await;
        let r = app
            .client
            .post(app.url("/api/fn/discard_quarantined"))
            .form(&[("id", other.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let o: Value = app
            .client
            .post(app.url("/api/fn/ingestion"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(o["quarantine_open"], 0);
        app
    })
    .await;
}

use crate::helpers::{error_code, for_each_app, spawn_app, PASSWORD};
use app::types::Role;

const TENANT_A: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
const TENANT_B: &str = "22222222-bbbb-4bbb-8bbb-222222222222";

#[tokio::test]
async fn a_customer_user_gets_403_on_operator_and_finance_server_functions_and_pages() {
    for_each_app(|app| async move {
        let customer = app.add_customer("Contoso", TENANT_A).await;
        app.add_user("it@contoso.test", Role::Customer, Some(customer)).await;
        assert_eq!(app.sign_in("it@contoso.test", PASSWORD).await.status(), 200);

        for function in ["operator_overview", "finance_overview", "list_meters", "price_sheets"] {
            let response = app.call(function).await;
            assert_eq!(response.status(), 403, "{function}");
            assert_eq!(error_code(response).await, "forbidden", "{function}");
        }
        // The invoicing functions, each with the arguments its form sends (a missing one would
        // be refused before the function decides who may call it).
        for (function, form) in [
            ("run_invoices", vec![("period", "2026-10")]),
            ("invoice_run_progress", vec![("run", "1")]),
            ("issue_invoice", vec![("id", "1")]),
            ("issue_all_invoices", vec![("period", "2026-10")]),
            ("void_invoice", vec![("number", "SB-2026-000001")]),
        ] {
            let response = app
                .client
                .post(app.url(&format!("/api/fn/{function}")))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{function}");
            assert_eq!(error_code(response).await, "forbidden", "{function}");
        }
        for page in ["/operator", "/finance", "/meters", "/operator/price-sheets"] {
            let response = app.page(page).await;
            assert_eq!(response.status(), 403, "{page}");
            let html = response.text().await.unwrap();
            assert!(html.contains("data-testid=\"error-panel\""), "{page}");
            assert!(!html.contains("registrations-table"), "{page} leaked operator data");
        }
        for path in [
            "/api/v1/meters",
            "/api/v1/registrations",
            "/api/v1/customers",
            "/api/v1/price-sheets",
            "/api/v1/invoice-lines?period=2026-10",
            "/api/v1/invoices.zip?period=2026-10",
        ] {
            assert_eq!(
                app.client.get(app.url(path)).send().await.unwrap().status(),
                403,
                "{path}"
            );
        }
        // Their own portal works.
        let response = app.call("customer_overview").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["name"], "Contoso");
        assert_eq!(app.page("/portal").await.status(), 200);
        app
    })
    .await;
}

#[tokio::test]
async fn staff_pages_answer_200_for_their_roles() {
    for_each_app(|app| async move {
        app.add_user("ops@example.test", Role::Operator, None).await;
        app.add_user("fin@example.test", Role::Finance, None).await;
        app.sign_in("ops@example.test", PASSWORD).await;
        for page in ["/operator", "/finance", "/meters", "/operator/price-sheets"] {
            assert_eq!(app.page(page).await.status(), 200, "operator {page}");
        }
        // Staff have no customer portal of their own.
        assert_eq!(app.page("/portal").await.status(), 403);
        app.sign_in("fin@example.test", PASSWORD).await;
        assert_eq!(app.page("/operator").await.status(), 403);
        for page in ["/finance", "/meters"] {
            assert_eq!(app.page(page).await.status(), 200, "finance {page}");
        }
        app
    })
    .await;
}

#[tokio::test]
async fn nobody_signed_in_gets_401_from_functions_and_a_redirect_from_pages() {
    let app = spawn_app().await;
    for function in [
        "operator_overview",
        "finance_overview",
        "customer_overview",
        "list_meters",
    ] {
        let response = app.call(function).await;
        assert_eq!(response.status(), 401, "{function}");
        assert_eq!(error_code(response).await, "unauthenticated");
    }
    let response = app.page("/operator").await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/sign-in?next=/operator");
    assert_eq!(app.page("/no-such-page").await.status(), 404);
    app.dispose().await;
}

#[tokio::test]
async fn api_tokens_are_checked_for_presence_validity_and_role() {
    for_each_app(|app| async move {
        let customer = app.add_customer("Contoso", TENANT_A).await;
        let operator = app.add_token(Role::Operator, None).await;
        let finance = app.add_token(Role::Finance, None).await;
        let cust = app.add_token(Role::Customer, Some(customer)).await;
        app.add_registration("azs-1").await;
        let ingest = app.add_token(Role::Ingest, None).await;

        let none = app.get_with_token("/api/v1/meters", None).await;
        assert_eq!(none.status(), 401);
        assert_eq!(none.headers()["www-authenticate"], "Bearer");
        let bogus = app.get_with_token("/api/v1/meters", Some("sbk_0000")).await;
        assert_eq!(bogus.status(), 401);
        assert_eq!(error_code(bogus).await, "invalid_token");

        assert_eq!(
            app.get_with_token("/api/v1/meters", Some(&operator)).await.status(),
            200
        );
        assert_eq!(app.get_with_token("/api/v1/meters", Some(&finance)).await.status(), 200);
        assert_eq!(app.get_with_token("/api/v1/meters", Some(&cust)).await.status(), 403);
        assert_eq!(app.get_with_token("/api/v1/meters", Some(&ingest)).await.status(), 403);
        assert_eq!(app.get_with_token("/api/v1/customers", Some(&cust)).await.status(), 403);

        let me: serde_json::Value = app
            .get_with_token("/api/v1/me", Some(&ingest))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], "ingest");

        // Tokens work for server functions too.
        let response = app
            .client
            .post(app.url("/api/fn/operator_overview"))
            .bearer_auth(&finance)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let response = app
            .client
            .post(app.url("/api/fn/operator_overview"))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        // A revoked token stops working at once.
        let mut c = app.state.db.conn().await.unwrap();
        let hash = app::ssr::auth::hash_token(&operator);
        let row = app::ssr::db::tokens::find_active_token_by_hash(&mut c, &hash, 0)
            .await
            .unwrap()
            .unwrap();
        app::ssr::db::tokens::revoke_token(&mut c, row.id, 1).await.unwrap();
        drop(c);
        assert_eq!(
            app.get_with_token("/api/v1/meters", Some(&operator)).await.status(),
            401
        );
        app
    })
    .await;
}

#[tokio::test]
async fn a_customer_never_reads_another_customers_data() {
    for_each_app(|app| async move {
        let a = app.add_customer("Contoso", TENANT_A).await;
        let b = app.add_customer("北京数据科技有限公司", TENANT_B).await;
        let token_a = app.add_token(Role::Customer, Some(a)).await;
        app.add_user("it@contoso.test", Role::Customer, Some(a)).await;

        let own = app
            .get_with_token(&format!("/api/v1/customers/{a}"), Some(&token_a))
            .await;
        assert_eq!(own.status(), 200);
        let other = app
            .get_with_token(&format!("/api/v1/customers/{b}"), Some(&token_a))
            .await;
        assert_eq!(other.status(), 404, "another customer's id is not even confirmed");
        let missing = app.get_with_token("/api/v1/customers/999999", Some(&token_a)).await;
        assert_eq!(missing.status(), 404);

        // The portal function takes no customer id at all: it is the caller's own.
        app.sign_in("it@contoso.test", PASSWORD).await;
        let body: serde_json::Value = app.call("customer_overview").await.json().await.unwrap();
        assert_eq!(body["name"], "Contoso");
        let response = app
            .client
            .get(app.url(&format!("/api/v1/customers/{b}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);

        // Staff can read both.
        let staff = app.add_token(Role::Finance, None).await;
        let body: serde_json::Value = app
            .get_with_token(&format!("/api/v1/customers/{b}"), Some(&staff))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["customer"]["name"], "北京数据科技有限公司");
        app
    })
    .await;
}

#[tokio::test]
async fn cost_is_readable_by_staff_and_the_customers_own_users_and_tokens_and_404_for_anyone_else() {
    for_each_app(|app| async move {
        let a = app.add_customer("Contoso", TENANT_A).await;
        let b = app.add_customer("北京数据科技有限公司", TENANT_B).await;
        let token_a = app.add_token(Role::Customer, Some(a)).await;
        app.add_user("it@contoso.test", Role::Customer, Some(a)).await;

        let own = app
            .get_with_token(&format!("/api/v1/customers/{a}/cost?period=2026-10"), Some(&token_a))
            .await;
        assert_eq!(own.status(), 200);
        let body: serde_json::Value = own.json().await.unwrap();
        assert_eq!(body["customer_id"], a);
        assert_eq!(body["period"], "2026-10");
        assert!(body["accounts"].as_array().unwrap().is_empty());
        assert!(body["unpriced"].as_array().unwrap().is_empty());
        for path in [
            format!("/api/v1/customers/{b}/cost?period=2026-10"),
            "/api/v1/customers/999999/cost".to_owned(),
        ] {
            let response = app.get_with_token(&path, Some(&token_a)).await;
            assert_eq!(response.status(), 404, "{path}");
        }
        // The customer's signed-in user, by session.
        app.sign_in("it@contoso.test", PASSWORD).await;
        let response = app
            .client
            .get(app.url(&format!("/api/v1/customers/{a}/cost")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let response = app
            .client
            .get(app.url(&format!("/api/v1/customers/{b}/cost")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        // Staff read any customer's; a period that is not one is a clear 422.
        let staff = app.add_token(Role::Finance, None).await;
        let response = app
            .get_with_token(&format!("/api/v1/customers/{b}/cost?period=2026-10"), Some(&staff))
            .await;
        assert_eq!(response.status(), 200);
        let response = app
            .get_with_token(&format!("/api/v1/customers/{b}/cost?period=October"), Some(&staff))
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(error_code(response).await, "invalid_input");
        // Nobody signed in: 401.
        let response = app.get_with_token(&format!("/api/v1/customers/{a}/cost"), None).await;
        assert_eq!(response.status(), 401);
        app
    })
    .await;
}

/// Every registered server function, by who may call it. A new function fails
/// [`every_server_function_is_classified_and_a_customer_gets_nothing_from_staff_ones`]
/// until it is added here — and a customer-facing one needs its isolation case (its test
/// asks for another customer's data by every parameter it takes).
/// (`api_reference` describes the API, like the public `/api/openapi.json`; no data.)
const ANYONE: [&str; 4] = ["visitor", "sign_in", "sign_out", "api_reference"];
/// Customer-facing: the caller's own customer only (staff name one to view as). Their
/// isolation cases: `access::a_customer_never_reads_another_customers_data` (overview),
/// `invoices` (my_invoices and the PDFs), `usage::the_portal_functions_…` (portal_*,
/// set_budget).
const CUSTOMER_FACING: [&str; 5] = [
    "customer_overview",
    "my_invoices",
    "portal_usage",
    "portal_charts",
    "set_budget",
];
const STAFF_ONLY: [&str; 44] = [
    "list_customers",
    "customer_detail",
    "create_customer",
    "update_customer",
    "preview_mapping",
    "apply_mapping",
    "list_user_subscriptions",
    "assign_owner",
    "list_audit",
    "list_mappings",
    "import_mappings",
    "meter_catalogue",
    "set_meter_billing",
    "describe_meter",
    "people",
    "add_user",
    "set_user_enabled",
    "reset_user_password",
    "end_user_sessions",
    "add_token",
    "revoke_api_token",
    "registrations",
    "registration_detail",
    "add_registration",
    "update_registration",
    "ingestion",
    "reprocess_quarantined",
    "discard_quarantined",
    "price_sheets",
    "price_sheet",
    "create_price_sheet",
    "upload_price_version",
    "set_price_entry",
    "make_default_sheet",
    "set_customer_pricing",
    "operator_overview",
    "finance_overview",
    "list_meters",
    "invoices",
    "run_invoices",
    "invoice_run_progress",
    "issue_invoice",
    "issue_all_invoices",
    "void_invoice",
];

#[tokio::test]
async fn every_server_function_is_classified_and_a_customer_gets_nothing_from_staff_ones() {
    let registered: std::collections::BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/fn/").to_owned())
        .collect();
    let classified: std::collections::BTreeSet<String> = ANYONE
        .iter()
        .chain(CUSTOMER_FACING.iter())
        .chain(STAFF_ONLY.iter())
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        registered, classified,
        "a server function is registered without a case here (or listed without existing)"
    );
    for_each_app(|app| async move {
        let a = app.add_customer("Contoso", TENANT_A).await;
        app.add_user("it@contoso.test", Role::Customer, Some(a)).await;
        assert_eq!(app.sign_in("it@contoso.test", PASSWORD).await.status(), 200);
        for function in STAFF_ONLY {
            // Without its arguments a function is refused before it runs (400); with or
            // without, a customer never gets a 2xx.
            let response = app
                .client
                .post(app.url(&format!("/api/fn/{function}")))
                .form(&[("id", "1")])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(status == 403 || status == 400, "{function}: {status}");
        }
        app
    })
    .await;
}

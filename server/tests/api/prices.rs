//! Price sheets through `/api/v1` and the screens: a version uploaded as CSV is checked
//! whole (every bad row by row and column, nothing saved), previewed against last month
//! through the rating service, saved, downloaded again; one meter's price set from a day;
//! a registration's default; finance reads, customers are refused; every write audited.

use crate::helpers::{for_each_app, TestApp, PASSWORD};
use app::billing::BillingPeriod;
use app::ssr::db;
use app::types::{Role, PRICE_CSV_HEADER};
use serde_json::{json, Value};

const TENANT: &str = "dbab3982-796f-4d03-9908-044c08aef8a2";
const USER_SUB: &str = "4a9f7696-6dce-4fe9-9b9f-2f5b2bfa7fd7";
const BASE_VM: &str = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";
const WINDOWS_VM: &str = "9cd92d4c-bafd-4492-b278-bedc2de8232a";

async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .request(method, app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post_csv(app: &TestApp, path: &str, csv: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn audited(app: &TestApp, action: &str) -> usize {
    let mut c = app.state.db.conn().await.unwrap();
    db::audit::list_recent(&mut c, Some(action), 100).await.unwrap().len()
}

/// Ten Base VM hours and five Windows VM hours on the tenth of last month, owned by the
/// customer's tenant.
async fn last_month_usage(app: &TestApp) -> BillingPeriod {
    let last = BillingPeriod::containing(chrono::Utc::now()).previous();
    let at = format!("{}T10:00:00+00:00", last.first_day() + chrono::Duration::days(9));
    let vm = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
    let body = format!(
        "{{\"value\":[{},{}]}}",
        crate::helpers::usage_json(USER_SUB, BASE_VM, &at, "10", vm),
        crate::helpers::usage_json(USER_SUB, WINDOWS_VM, &at, "5", vm)
    );
    let ingest = app.add_token(Role::Ingest, None).await;
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .bearer_auth(&ingest)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (_, queue) = get(app, "/api/v1/user-subscriptions?status=unassigned").await;
    let id = queue["value"][0]["id"].as_i64().unwrap();
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/user-subscriptions/{id}/owner"),
        json!({ "cloud_tenant_id": TENANT }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    last
}

#[tokio::test]
async fn a_price_csv_is_checked_whole_previewed_against_last_month_saved_and_downloaded_again() {
    for_each_app(|app| async move {
        let reg = app.add_registration("stamp-1").await;
        let customer = app.add_customer("Contoso 台灣", TENANT).await;
        app.add_user("ops@example.test", Role::Operator, None).await;
        assert_eq!(app.sign_in("ops@example.test", PASSWORD).await.status(), 200);
        let last = last_month_usage(&app).await;
        let from = last.first_day().to_string();

        // A sheet; a taken name and an unknown currency are refused by field.
        let (status, sheet) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/price-sheets",
            json!({"name": "List 2026", "currency": "usd"}),
        )
        .await;
        assert_eq!(status, 201, "{sheet}");
        let id = sheet["summary"]["id"].as_i64().unwrap();
        assert_eq!(sheet["summary"]["currency"], "USD");
        let (status, err) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/price-sheets",
            json!({"name": "List 2026", "currency": "USD"}),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (409, Some("price_sheet_exists"))
        );
        let (status, err) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/price-sheets",
            json!({"name": "Other", "currency": "XYZ"}),
        )
        .await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some("currency")));
        // The registration's default from the first day of last month.
        let (status, body) = send(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/price-sheets/{id}/default"),
            json!({"registration_id": reg, "effective_on": from}),
        )
        .await;
        assert_eq!(status, 200, "{body}");

        // One negative price, one unknown meter, one tier out of order: every row named,
        // nothing saved.
        let versions = format!("/api/v1/price-sheets/{id}/versions?effective_on={from}");
        let bad = format!(
            "{PRICE_CSV_HEADER}\n\
             {BASE_VM},Base VM,per_unit,,0.5,vCPU-hour,,,\n\
             {WINDOWS_VM},,per_unit,,-1,,,,\n\
             00000000-0000-4000-8000-000000000001,,per_unit,,1,,,,\n"
        );
        let audit_before = app.count("audit_log").await;
        let (status, err) = post_csv(&app, &versions, &bad).await;
        assert_eq!(status, 422, "{err}");
        let rows: Vec<(i64, &str)> = err["error"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["row"].as_i64().unwrap(), r["column"].as_str().unwrap()))
            .collect();
        assert_eq!(rows, vec![(3, "unit_price"), (4, "meter_id")]);
        assert!(err["error"]["rows"][0]["message"]
            .as_str()
            .unwrap()
            .contains("negative"));
        let (status, err) = post_csv(&app, &versions, "meter,price\nx,1\n").await;
        assert_eq!((status, err["error"]["rows"][0]["row"].as_i64()), (422, Some(1)));
        let r = app
            .client
            .post(app.url(&versions))
            .body(b"meter_id,model,unit_price\n\xe9t\xe9,per_unit,1\n".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "Latin-1 is refused, not mangled");
        assert_eq!(app.count("price_sheet_versions").await, 0);
        assert_eq!(app.count("audit_log").await, audit_before);

        // Fixed: a dry run previews last month (nothing was priced: 0 → 10 h × 0.50 = 5.00)
        // and names the meter still without a price; nothing is saved.
        let good = format!("{PRICE_CSV_HEADER}\n{BASE_VM},Base VM,per_unit,,0.5,vCPU-hour,,,\n");
        let (status, dry) = post_csv(&app, &format!("{versions}&dry_run=true"), &good).await;
        assert_eq!(status, 200, "{dry}");
        let preview = &dry["preview"];
        assert_eq!(preview["period"], last.to_string());
        assert_eq!(preview["changed"].as_array().unwrap().len(), 1, "{preview}");
        let row = &preview["changed"][0];
        assert_eq!(
            row["subject"],
            json!({"kind": "customer", "id": customer, "name": "Contoso 台灣"})
        );
        assert_eq!(
            (row["current"].as_str(), row["draft"].as_str()),
            (Some("0.00"), Some("5.00"))
        );
        assert_eq!(preview["unpriced"][0]["meter_id"], WINDOWS_VM);
        assert_eq!(app.count("price_sheet_versions").await, 0);

        // Saved: 201, the version listed, the CSV back with the same prices.
        let (status, saved) = post_csv(&app, &versions, &good).await;
        assert_eq!(status, 201, "{saved}");
        let version = saved["version_id"].as_i64().unwrap();
        assert_eq!(saved["effective_on"], from);
        let (_, list) = get(&app, &format!("/api/v1/price-sheets/{id}/versions")).await;
        assert_eq!(list["value"].as_array().unwrap().len(), 1);
        assert_eq!(list["value"][0]["entries"], 1);
        let r = app
            .client
            .get(app.url(&format!("/api/v1/price-sheets/{id}/versions/{version}.csv")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("list-2026-"));
        let csv = r.text().await.unwrap();
        assert!(csv.starts_with(PRICE_CSV_HEADER), "{csv}");
        assert!(
            csv.contains(&format!(
                "{BASE_VM},Base VM Size Hours,per_unit,,0.5,vCPU-hour,1,false,"
            )),
            "{csv}"
        );
        // The same prices again change nothing; a higher one shows the difference.
        let (_, again) = post_csv(&app, &format!("{versions}&dry_run=true"), &csv).await;
        assert_eq!(again["preview"]["changed"].as_array().unwrap().len(), 0, "{again}");
        let (_, dearer) = post_csv(
            &app,
            &format!("{versions}&dry_run=true"),
            &csv.replace(",0.5,", ",0.6,"),
        )
        .await;
        assert_eq!(dearer["preview"]["changed"][0]["difference"], "1.00");

        // One meter's price from a day: tiers out of order are refused on the field; in
        // order they join the version in effect that day (same-day replace).
        let entry = format!("/api/v1/price-sheets/{id}/entries/{WINDOWS_VM}");
        let (status, err) = send(
            &app,
            reqwest::Method::PUT,
            &entry,
            json!({"model": "graduated", "tiers": "0 1\n3 0.5\n2 0.4", "effective_on": from}),
        )
        .await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some("tiers")), "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("Tier line 3"),
            "{err}"
        );
        let (status, body) = send(
            &app,
            reqwest::Method::PUT,
            &entry,
            json!({"model": "graduated", "tiers": "0 1\n3 0.5", "effective_on": from}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (_, detail) = get(&app, &format!("/api/v1/price-sheets/{id}")).await;
        assert_eq!(detail["versions"].as_array().unwrap().len(), 1, "same-day replace");
        let windows = detail["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["meter_id"] == WINDOWS_VM)
            .unwrap()
            .clone();
        assert_eq!(windows["model"], "graduated");
        assert_eq!(windows["tiers"][1], json!({"from": "3", "unit_price": "0.5"}));
        assert_eq!(detail["entries"].as_array().unwrap().len(), 2);
        assert_eq!(detail["unpriced"], json!([]), "every meter with usage is priced now");
        assert_eq!(detail["default_for"][0]["name"], "stamp-1");

        // The screens show it.
        let html = app
            .page(&format!("/operator/price-sheets/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("entries-table")
                && html.contains("price-upload-form")
                && html.contains("Windows VM Size Hours")
        );
        let html = app.page("/operator/price-sheets").await.text().await.unwrap();
        assert!(html.contains("List 2026"));

        // A customer's pricing: its own sheet, or a markup on the defaults, from a day.
        let (_, euro) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/price-sheets",
            json!({"name": "Liste EUR", "currency": "EUR"}),
        )
        .await;
        let euro = euro["summary"]["id"].as_i64().unwrap();
        let pricing = format!("/api/v1/customers/{customer}/pricing");
        for (body, field) in [
            (json!({"price_sheet": euro.to_string()}), "price_sheet"),
            (json!({"markup": "lots"}), "markup"),
            (json!({"markup": "-101"}), "markup"),
            (json!({"price_sheet": id.to_string(), "markup": "10"}), "markup"),
            (json!({"markup": "10", "effective_on": "2026-13-01"}), "effective_on"),
        ] {
            let (status, err) = send(&app, reqwest::Method::PUT, &pricing, body.clone()).await;
            assert_eq!(
                (status, err["error"]["field"].as_str()),
                (422, Some(field)),
                "{body}: {err}"
            );
        }
        let (status, set) = send(
            &app,
            reqwest::Method::PUT,
            &pricing,
            json!({"markup": "15", "effective_on": from}),
        )
        .await;
        assert_eq!(status, 200, "{set}");
        assert_eq!(set["pricing"]["markup"], "15");
        assert_eq!(set["pricing"]["own_sheet"], Value::Null);
        let (status, set) = send(
            &app,
            reqwest::Method::PUT,
            &pricing,
            json!({"price_sheet": id.to_string()}),
        )
        .await;
        assert_eq!(status, 200, "{set}");
        assert_eq!(set["pricing"]["own_sheet"]["name"], "List 2026");
        assert_eq!(set["pricing"]["markup"], Value::Null);
        assert_eq!(set["pricing"]["changes"].as_array().unwrap().len(), 2, "{set}");
        let html = app
            .page(&format!("/operator/customers/{customer}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("pricing-panel") && html.contains("pricing-form"));
        assert_eq!(audited(&app, "customer.terms_set").await, 2);

        // Audited: the sheet, the default, two versions.
        assert_eq!(audited(&app, "price_sheet.created").await, 2);
        assert_eq!(audited(&app, "registration.terms_set").await, 1);
        assert_eq!(audited(&app, "price_sheet.version_added").await, 2);
        app
    })
    .await;
}

#[tokio::test]
async fn finance_reads_price_sheets_and_every_write_is_refused_as_for_customers() {
    let app = crate::helpers::spawn_app().await;
    app.add_registration("stamp-1").await;
    let customer = app.add_customer("Contoso", TENANT).await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    app.add_user("fin@example.test", Role::Finance, None).await;
    assert_eq!(app.sign_in("ops@example.test", PASSWORD).await.status(), 200);
    let (_, sheet) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/price-sheets",
        json!({"name": "List", "currency": "USD"}),
    )
    .await;
    let id = sheet["summary"]["id"].as_i64().unwrap();
    app.sign_out().await;
    assert_eq!(app.sign_in("fin@example.test", PASSWORD).await.status(), 200);
    assert_eq!(get(&app, "/api/v1/price-sheets").await.0, 200);
    assert_eq!(get(&app, &format!("/api/v1/price-sheets/{id}")).await.0, 200);
    let csv = format!("{PRICE_CSV_HEADER}\n{BASE_VM},,per_unit,,1,,,,\n");
    assert_eq!(
        post_csv(&app, &format!("/api/v1/price-sheets/{id}/versions"), &csv)
            .await
            .0,
        403
    );
    assert_eq!(
        send(
            &app,
            reqwest::Method::POST,
            "/api/v1/price-sheets",
            json!({"name": "X", "currency": "USD"})
        )
        .await
        .0,
        403
    );
    let html = app
        .page(&format!("/operator/price-sheets/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("versions-table") && !html.contains("price-upload-form"),
        "finance sees no write controls"
    );
    let token = app.add_token(Role::Customer, Some(customer)).await;
    assert_eq!(
        app.get_with_token("/api/v1/price-sheets", Some(&token)).await.status(),
        403
    );
    assert_eq!(app.count("price_sheet_versions").await, 0);
    app.dispose().await;
}

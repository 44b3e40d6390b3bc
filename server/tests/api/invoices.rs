//! Invoicing through `/api/v1`, on both engines: a run drafts one invoice per billing
//! account from the rating service (a customer's, the base subscription's with its
//! sections); issuing numbers them gaplessly even when attempts race; an issued invoice
//! cannot change by any SQL; voiding issues a credit note that cancels it to the cent; a
//! re-run replaces drafts only; a customer sees its own issued documents and nothing else.

use crate::helpers::{for_each_app_with, usage_json, TestApp, PASSWORD};
use app::billing::BillingPeriod;
use app::ssr::db;
use app::types::{Role, PRICE_CSV_HEADER};
use rust_decimal::Decimal;
use serde_json::{json, Value};

pub(crate) const BASE_VM: &str = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";
pub(crate) const WINDOWS_VM: &str = "9cd92d4c-bafd-4492-b278-bedc2de8232a";
pub(crate) const VM: &str = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

pub(crate) fn guid(kind: u32, n: u32) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

pub(crate) async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = app.client.request(method, app.url(path));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

pub(crate) fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .unwrap()
}

/// A registration priced at 0.50 a Base VM hour (Windows VM hours unpriced) from the first
/// day of last month; `customers` customers, each mapped with one user subscription of
/// 10 Base VM hours last month; one unowned subscription with 4 Base VM hours and 5 Windows
/// VM hours (the base subscription's unassigned section).
pub(crate) async fn setup(app: &TestApp, customers: u32) -> (BillingPeriod, Vec<i64>) {
    setup_at(app, customers, 1).await
}

/// [`setup`] with everything from the first day of the month `months_back` months ago, and
/// the usage in that month.
pub(crate) async fn setup_at(app: &TestApp, customers: u32, months_back: u32) -> (BillingPeriod, Vec<i64>) {
    let mut last = BillingPeriod::containing(chrono::Utc::now());
    for _ in 0..months_back {
        last = last.previous();
    }
    let from = last.first_day().to_string();
    let reg = app.add_registration("stamp-1").await;
    app.add_user("ops@example.test", Role::Operator, None).await;
    assert_eq!(app.sign_in("ops@example.test", PASSWORD).await.status(), 200);
    let (_, sheet) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/price-sheets",
        Some(json!({"name": "List", "currency": "USD"})),
    )
    .await;
    let sheet = sheet["summary"]["id"].as_i64().unwrap();
    let (s, _) = call(
        app,
        reqwest::Method::PUT,
        &format!("/api/v1/price-sheets/{sheet}/default"),
        Some(json!({"registration_id": reg, "effective_on": from})),
    )
    .await;
    assert_eq!(s, 200);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/price-sheets/{sheet}/versions?effective_on={from}")))
        .body(format!("{PRICE_CSV_HEADER}\n{BASE_VM},,per_unit,,0.5,vCPU-hour,,,\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let at = format!("{}T10:00:00+00:00", last.first_day() + chrono::Duration::days(4));
    let mut records = vec![
        usage_json(&guid(3, 999), BASE_VM, &at, "4", VM),
        usage_json(&guid(3, 999), WINDOWS_VM, &at, "5", VM),
    ];
    let mut ids = Vec::new();
    let names = [
        "台北雲端股份有限公司",
        "Société Générale d'Hébergement",
        "Nederlandse Cloud B.V.",
    ];
    for i in 0..customers {
        let name = format!("{} {i}", names[i as usize % 3]);
        ids.push(app.add_customer(&name, &guid(1, i)).await);
        let (s, body) = call(
            app,
            reqwest::Method::PUT,
            &format!("/api/v1/mappings/{}", guid(1, i)),
            Some(json!({"registration": "stamp-1", "customer_subscription_id": guid(2, i), "effective_on": from})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        records.push(usage_json(&guid(3, i), BASE_VM, &at, "10", VM));
    }
    let ingest = app.add_token(Role::Ingest, None).await;
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .bearer_auth(&ingest)
        .header("content-type", "application/json")
        .body(format!("{{\"value\":[{}]}}", records.join(",")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for i in 0..customers {
        let (_, found) = call(
            app,
            reqwest::Method::GET,
            &format!("/api/v1/user-subscriptions?q={}", guid(3, i)),
            None,
        )
        .await;
        let id = found["value"][0]["id"].as_i64().unwrap();
        let (s, body) = call(
            app,
            reqwest::Method::POST,
            &format!("/api/v1/user-subscriptions/{id}/owner"),
            Some(json!({"cloud_tenant_id": guid(1, i)})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    (last, ids)
}

pub(crate) async fn invoices(app: &TestApp, period: BillingPeriod) -> Vec<Value> {
    let (s, list) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/v1/invoices?period={period}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    list["value"].as_array().unwrap().clone()
}

/// Runs a month through `POST /api/v1/invoice-runs`: `(status, body)`.
pub(crate) async fn run_month(app: &TestApp, period: impl std::fmt::Display) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        "/api/v1/invoice-runs",
        Some(json!({"period": period.to_string()})),
    )
    .await
}

/// Issues a draft by its id through `POST /api/v1/invoices/{id}/issue`: `(status, body)`.
pub(crate) async fn issue_draft(app: &TestApp, id: &Value, body: Option<Value>) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/invoices/{id}/issue"),
        body,
    )
    .await
}

async fn sql_fails(app: &TestApp, q: &str) -> bool {
    let mut c = app.state.db.conn().await.unwrap();
    db::sql!(&mut c, |e| sqlx::query(q).execute(e).await.map(|r| r.rows_affected())).is_err()
}

#[tokio::test]
async fn a_period_is_drafted_issued_gaplessly_frozen_and_voided_with_a_credit_note() {
    for_each_app_with(
        |c| c.invoice_grace_days = 0,
        |app| async move {
            let (period, customers) = setup(&app, 2).await;
            let year = chrono::Utc::now().format("%Y").to_string();

            // A run: one draft per customer subscription and the base subscription's.
            let (s, run) = run_month(&app, period.to_string()).await;
            assert_eq!(s, 201, "{run}");
            assert_eq!((run["drafts"].as_u64(), run["with_unpriced"].as_u64()), (Some(3), Some(1)), "{run}");
            let drafts = invoices(&app, period).await;
            let base = drafts.iter().find(|i| i["account_kind"] == "base").unwrap().clone();
            let first = drafts.iter().find(|i| i["customer_id"] == customers[0]).unwrap().clone();
            assert_eq!(dec(&first["total"]), Decimal::new(500, 2), "10 h × 0.50");
            assert_eq!(first["bill_to"]["name"], "台北雲端股份有限公司 0");
            assert_eq!(dec(&base["total"]), Decimal::new(200, 2), "4 unassigned hours × 0.50");
            let (_, detail) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoices/{}", base["id"]), None).await;
            assert_eq!(detail["lines"][0]["section_kind"], "unassigned");
            assert_eq!(detail["unpriced"][0]["meter_id"], WINDOWS_VM);
            // Bad input: a month that has not begun, a malformed one.
            let next = BillingPeriod::containing(chrono::Utc::now()).next().to_string();
            for bad in [next.as_str(), "2026-13", "last month"] {
                let (s, err) = run_month(&app, bad).await;
                assert_eq!((s, err["error"]["field"].as_str()), (422, Some("period")), "{bad}: {err}");
            }

            // Issue: gapless numbers; unpriced usage needs an explicit waiver (audited).
            let (s, issued) = issue_draft(&app, &first["id"], None).await;
            assert_eq!(s, 200, "{issued}");
            assert_eq!(issued["number"], format!("SB-{year}-000001"));
            let (s, err) = issue_draft(&app, &base["id"], None).await;
            assert_eq!((s, err["error"]["code"].as_str()), (409, Some("unpriced_usage")), "{err}");
            assert!(err["error"]["message"].as_str().unwrap().contains("Windows VM Size Hours"));
            let (s, waived) = issue_draft(&app, &base["id"], Some(json!({"waive_unpriced": true}))).await;
            assert_eq!((s, waived["number"].as_str()), (200, Some(format!("SB-{year}-000002").as_str())));
            let (s, _) = issue_draft(&app, &first["id"], None).await;
            assert_eq!(s, 409, "an issued invoice is not issued again");

            // Frozen: no SQL the application could send changes an issued invoice or its lines.
            let id = first["id"].as_i64().unwrap();
            for q in [
                format!("UPDATE invoices SET total = '0' WHERE id = {id}"),
                format!("UPDATE invoices SET bill_to = '{{}}' WHERE id = {id}"),
                format!("UPDATE invoices SET status = 'draft', number = NULL WHERE id = {id}"),
                format!("DELETE FROM invoices WHERE id = {id}"),
                format!("UPDATE invoice_lines SET amount = '0' WHERE invoice_id = {id}"),
                format!("DELETE FROM invoice_lines WHERE invoice_id = {id}"),
                format!("INSERT INTO invoice_lines (invoice_id, position, line_kind, section_kind, precise_amount, amount) VALUES ({id}, 99, 'usage', '', '1', '1')"),
            ] {
                assert!(sql_fails(&app, &q).await, "{q} must be refused");
            }
            // Nor do later price or customer edits.
            let (s, _) = call(&app, reqwest::Method::PUT, &format!("/api/v1/customers/{}", customers[0]), Some(json!({"name": "Renamed", "cloud_tenant_id": guid(1, 0)}))).await;
            assert_eq!(s, 200);
            let (_, again) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoices/SB-{year}-000001"), None).await;
            assert_eq!((again["summary"]["bill_to"]["name"].as_str(), dec(&again["summary"]["total"])), (Some("台北雲端股份有限公司 0"), Decimal::new(500, 2)));

            // A re-run replaces drafts only.
            let (_, rerun) = run_month(&app, period.to_string()).await;
            assert_eq!((rerun["drafts"].as_u64(), rerun["replaced"].as_u64(), rerun["already_issued"].as_u64()), (Some(1), Some(1), Some(2)), "{rerun}");
            let redrafted = invoices(&app, period).await.into_iter().find(|i| i["status"] == "draft").unwrap();
            assert_eq!(dec(&redrafted["previous_run_total"]), dec(&redrafted["total"]), "a draft shows what it came to in the run before");

            // Void: a credit note with the next number reverses every line to zero.
            let (s, voided) = call(&app, reqwest::Method::POST, &format!("/api/v1/invoices/SB-{year}-000001/void"), None).await;
            assert_eq!((s, voided["credit_note"].as_str()), (200, Some(format!("SB-{year}-000003").as_str())), "{voided}");
            let (_, original) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoices/SB-{year}-000001"), None).await;
            let (_, credit) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoices/SB-{year}-000003"), None).await;
            assert_eq!((original["summary"]["status"].as_str(), original["summary"]["voided_by"].as_str()), (Some("void"), Some(format!("SB-{year}-000003").as_str())));
            assert_eq!((credit["summary"]["kind"].as_str(), credit["summary"]["credit_for"].as_str()), (Some("credit_note"), Some(format!("SB-{year}-000001").as_str())));
            let sum = |d: &Value| d["lines"].as_array().unwrap().iter().map(|l| dec(&l["amount"])).sum::<Decimal>();
            assert_eq!(sum(&original) + sum(&credit), Decimal::ZERO);
            assert_eq!(dec(&original["summary"]["total"]) + dec(&credit["summary"]["total"]), Decimal::ZERO);
            for (number, code) in [(format!("SB-{year}-000001"), "invoice_not_issued"), (format!("SB-{year}-000003"), "invoice_not_issued")] {
                let (s, err) = call(&app, reqwest::Method::POST, &format!("/api/v1/invoices/{number}/void"), None).await;
                assert_eq!((s, err["error"]["code"].as_str()), (409, Some(code)), "{number}");
            }
            // The exports agree with the documents to the cent: every numbered document's lines
            // add up to its subtotal, in JSON and in CSV.
            let (s, export) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoice-lines?period={period}"), None).await;
            assert_eq!(s, 200, "{export}");
            let columns: Vec<&str> = export["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            let (num, amount) = (columns.iter().position(|c| *c == "invoice_number").unwrap(), columns.iter().position(|c| *c == "amount").unwrap());
            let mut sums: std::collections::BTreeMap<String, Decimal> = Default::default();
            for row in export["value"].as_array().unwrap() {
                *sums.entry(row[num].as_str().unwrap().to_owned()).or_default() += dec(&row[amount]);
            }
            assert_eq!(sums.len(), 3, "two invoices and a credit note, no drafts: {sums:?}");
            for doc in invoices(&app, period).await.iter().filter(|i| i["status"] != "draft") {
                assert_eq!(sums[doc["number"].as_str().unwrap()], dec(&doc["subtotal"]), "{doc}");
            }
            let r = app.client.get(app.url(&format!("/api/v1/invoice-lines.csv?period={period}"))).send().await.unwrap();
            assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
            let csv = r.text().await.unwrap();
            assert!(csv.starts_with("invoice_number,kind,status,registration,period,"), "{csv}");
            assert_eq!(csv.lines().count(), 1 + export["value"].as_array().unwrap().len());
            assert!(csv.contains("台北雲端股份有限公司 0"), "names keep their script in the CSV");
            let r = app.client.get(app.url(&format!("/api/v1/invoices?period={period}&format=csv"))).send().await.unwrap();
            let list_csv = r.text().await.unwrap();
            assert!(list_csv.starts_with("invoice_number,kind,status,registration,period,account_kind,"), "{list_csv}");
            assert!(list_csv.contains(&format!("SB-{year}-000003,credit_note,issued,")), "{list_csv}");

            // The voided account is drafted again by the next run, for a corrected invoice.
            let (_, rerun) = run_month(&app, period.to_string()).await;
            assert_eq!(rerun["drafts"].as_u64(), Some(2), "{rerun}");

            // A customer sees its own issued documents, nothing else (404, never 403).
            app.add_user("it@c0.test", Role::Customer, Some(customers[0])).await;
            app.sign_out().await;
            assert_eq!(app.sign_in("it@c0.test", PASSWORD).await.status(), 200);
            let mine: Vec<String> = invoices(&app, period).await.iter().map(|i| i["number"].as_str().unwrap_or("draft").to_owned()).collect();
            assert_eq!(mine, vec![format!("SB-{year}-000001"), format!("SB-{year}-000003")]);
            let (s, _) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoices/SB-{year}-000002"), None).await;
            assert_eq!(s, 404, "the base invoice is not theirs");
            let (s, _) = run_month(&app, period.to_string()).await;
            assert_eq!(s, 403);
            let mut c = app.state.db.conn().await.unwrap();
            let actions = db::audit::list_recent(&mut c, Some("invoice.issued"), 100).await.unwrap();
            let waived = actions.iter().find(|a| a.action == "invoice.issued" && a.details.contains("waived_unpriced\":[")).is_some();
            assert!(waived, "the waiver is in the audit log");
            drop(c);
            app
        },
    )
    .await;
}

/// POSTs to every path at once: `(status, body)` of each, in order.
async fn post_all(app: &TestApp, paths: impl Iterator<Item = String>) -> Vec<(u16, Value)> {
    let calls = paths.map(|path| {
        let request = app.client.post(app.url(&path));
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    futures_util::future::join_all(calls).await
}

#[tokio::test]
async fn sixteen_racing_issue_attempts_give_unique_gapless_numbers() {
    for_each_app_with(
        |c| c.invoice_grace_days = 0,
        |app| async move {
            let (period, _) = setup(&app, 8).await;
            let (s, run) = run_month(&app, period.to_string()).await;
            assert_eq!(s, 201, "{run}");
            let drafts: Vec<i64> = invoices(&app, period)
                .await
                .iter()
                .filter(|i| i["account_kind"] == "customer")
                .map(|i| i["id"].as_i64().unwrap())
                .collect();
            assert_eq!(drafts.len(), 8);
            // Every draft twice, all at once.
            let paths = drafts
                .iter()
                .chain(drafts.iter())
                .map(|id| format!("/api/v1/invoices/{id}/issue"));
            let results = post_all(&app, paths).await;
            let mut numbers: Vec<String> = results
                .iter()
                .filter(|(s, _)| *s == 200)
                .map(|(_, b)| b["number"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(numbers.len(), 8, "{results:?}");
            assert!(results.iter().all(|(s, _)| *s == 200 || *s == 409), "{results:?}");
            numbers.sort();
            let year = chrono::Utc::now().format("%Y").to_string();
            let expected: Vec<String> = (1..=8).map(|n| format!("SB-{year}-{n:06}")).collect();
            assert_eq!(numbers, expected, "unique and without a gap");
            // Every invoice voided twice, all at once: one credit note each, numbers go on.
            let paths = numbers
                .iter()
                .chain(numbers.iter())
                .map(|n| format!("/api/v1/invoices/{n}/void"));
            let results = post_all(&app, paths).await;
            assert!(results.iter().all(|(s, _)| *s == 200 || *s == 409), "{results:?}");
            let mut credits: Vec<String> = results
                .iter()
                .filter(|(s, _)| *s == 200)
                .map(|(_, b)| b["credit_note"].as_str().unwrap().to_owned())
                .collect();
            credits.sort();
            let expected: Vec<String> = (9..=16).map(|n| format!("SB-{year}-{n:06}")).collect();
            assert_eq!(credits, expected, "one credit note per invoice, gapless");
            app
        },
    )
    .await;
}

/// `pdftotext -layout` of a PDF.
/// A 4 × 2 pixel PNG, written by hand (the company logo of a test).
const TINY_PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 2, 8, 2, 0, 0, 0, 240, 202, 234,
    52, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 80, 9, 185, 6, 71, 12, 200, 28, 0, 130, 58, 10, 113, 113, 232, 136,
    44, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

fn pdf_text(bytes: &[u8]) -> String {
    // To look at them: STACKBILL_TEST_PDF_DIR=/some/dir, then pdftoppm -png.
    if let Ok(dir) = std::env::var("STACKBILL_TEST_PDF_DIR") {
        let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{}.pdf", rand_suffix())), bytes);
    }
    let dir = std::env::temp_dir().join(format!("stackbill-pdf-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by .ci/setup)");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout).unwrap()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn invoice_pdfs_carry_every_line_and_name_in_any_script_byte_for_byte_the_same_each_time() {
    for_each_app_with(
        |c| {
            c.invoice_grace_days = 0;
            c.company.name = "Northwind Cloud 服務".into();
            let logo = std::env::temp_dir().join(format!("stackbill-logo-{}.png", rand_suffix()));
            std::fs::write(&logo, TINY_PNG).unwrap();
            c.company.logo = Some(std::sync::Arc::new(
                app::ssr::services::invoice_pdf::Logo::load(&logo).unwrap(),
            ));
        },
        |app| async move {
            let (period, customers) = setup(&app, 3).await;
            // The first customer's tax id and negotiated payment terms reach its invoice;
            // terms outside 0–365 days are refused by field, and nothing changes.
            let form = |terms: Value| {
                json!({"name": "台北雲端股份有限公司 0", "cloud_tenant_id": guid(1, 0), "locale": "en",
                       "tax_id": "24536806", "payment_terms_days": terms})
            };
            let (s, body) = call(
                &app,
                reqwest::Method::PUT,
                &format!("/api/v1/customers/{}", customers[0]),
                Some(form(json!(400))),
            )
            .await;
            assert_eq!(
                (s, body["error"]["field"].as_str()),
                (422, Some("payment_terms_days")),
                "{body}"
            );
            let (s, body) = call(
                &app,
                reqwest::Method::PUT,
                &format!("/api/v1/customers/{}", customers[0]),
                Some(form(json!(14))),
            )
            .await;
            assert_eq!(s, 200, "{body}");
            let (s, _) = run_month(&app, period.to_string()).await;
            assert_eq!(s, 201);
            let drafts = invoices(&app, period).await;
            // A draft renders too, marked as such.
            let draft = drafts.iter().find(|i| i["account_kind"] == "base").unwrap();
            let r = app
                .client
                .get(app.url(&format!("/api/v1/invoices/{}.pdf", draft["id"])))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let text = pdf_text(&r.bytes().await.unwrap());
            assert!(text.contains("DRAFT") && text.contains("Unassigned usage"), "{text}");
            for d in &drafts {
                let (s, body) = issue_draft(&app, &d["id"], Some(json!({"waive_unpriced": true}))).await;
                assert_eq!(s, 200, "{body}");
            }
            let issued = invoices(&app, period).await;
            for (i, name) in [
                "台北雲端股份有限公司 0",
                "Société Générale d'Hébergement 1",
                "Nederlandse Cloud B.V. 2",
            ]
            .iter()
            .enumerate()
            {
                let inv = issued.iter().find(|x| x["customer_id"] == customers[i]).unwrap();
                let number = inv["number"].as_str().unwrap();
                let r = app
                    .client
                    .get(app.url(&format!("/invoices/{number}.pdf")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert_eq!(r.headers()["content-type"], "application/pdf");
                let bytes = r.bytes().await.unwrap();
                assert!(
                    bytes.len() < 100 * 1024,
                    "{} bytes: the font is embedded as a subset",
                    bytes.len()
                );
                let text = pdf_text(&bytes);
                for needle in [
                    number,
                    name,
                    "Base VM Size Hours",
                    "Northwind Cloud 服務",
                    "Page 1 of 1",
                ] {
                    assert!(
                        text.contains(needle),
                        "`{needle}` missing from the PDF of {number}:\n{text}"
                    );
                }
                assert!(text.contains("5.00"), "the line and the total:\n{text}");
                // The logo is embedded as an image.
                assert!(
                    bytes.windows(12).any(|w| w == b"/Subtype /Im" || w == b"/Subtype/Ima"),
                    "no image in the PDF of {number}"
                );
                if i == 0 {
                    assert!(text.contains("24536806"), "the customer's tax id:\n{text}");
                    // With its usage detail: the user subscription, its resource group, the
                    // meter and what the subscription was charged.
                    let r = app
                        .client
                        .get(app.url(&format!("/invoices/{number}.pdf?detail=true")))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    assert!(r.headers()["content-disposition"]
                        .to_str()
                        .unwrap()
                        .contains("-detail.pdf"));
                    let detailed = pdf_text(&r.bytes().await.unwrap());
                    for needle in [
                        "Usage detail",
                        "Resource group",
                        &guid(3, 0),
                        "rg",
                        "Base VM Size Hours",
                        "Page 2 of 2",
                    ] {
                        assert!(
                            detailed.contains(needle),
                            "`{needle}` missing from the detail pages:\n{detailed}"
                        );
                    }
                    let r = app
                        .client
                        .get(app.url(&format!("/invoices/{number}.pdf?detail=maybe")))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 422);
                    // The detail was stored when the invoice was issued, and is frozen with it.
                    assert!(sql_fails(&app, "UPDATE invoice_usage_detail SET quantity = '0'").await);
                    assert!(sql_fails(&app, "DELETE FROM invoice_usage_detail").await);
                    let issued_on = chrono::DateTime::from_timestamp(inv["issued_at"].as_i64().unwrap(), 0)
                        .unwrap()
                        .date_naive();
                    assert_eq!(
                        inv["due_on"].as_str().unwrap(),
                        (issued_on + chrono::Duration::days(14)).to_string(),
                        "due after the customer's own terms"
                    );
                    assert_eq!(inv["bill_to"]["tax_id"], "24536806");
                } else {
                    let issued_on = chrono::DateTime::from_timestamp(inv["issued_at"].as_i64().unwrap(), 0)
                        .unwrap()
                        .date_naive();
                    assert_eq!(
                        inv["due_on"].as_str().unwrap(),
                        (issued_on + chrono::Duration::days(30)).to_string(),
                        "due after the default terms"
                    );
                }
                // The same invoice, the same bytes.
                let again = app
                    .client
                    .get(app.url(&format!("/invoices/{number}.pdf")))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert!(bytes == again, "rendering {number} twice gave different bytes");
            }
            // The base invoice lists the unassigned section with its subtotal and the unpriced usage.
            let base = issued.iter().find(|x| x["account_kind"] == "base").unwrap();
            let bytes = app
                .client
                .get(app.url(&format!("/invoices/{}.pdf", base["number"].as_str().unwrap())))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let text = pdf_text(&bytes);
            for needle in [
                "Unassigned usage",
                "Subtotal",
                "Windows VM Size Hours",
                "Usage without a price",
            ] {
                assert!(
                    text.contains(needle),
                    "`{needle}` missing from the base invoice:\n{text}"
                );
            }
            // Finance downloads the month's documents in one zip, the same bytes each time.
            let zip_url = app.url(&format!("/api/v1/invoices.zip?period={period}"));
            let r = app.client.get(&zip_url).send().await.unwrap();
            assert_eq!(
                (r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()),
                (200, "application/zip")
            );
            let zip = r.bytes().await.unwrap();
            assert_eq!(&zip[..2], b"PK");
            let listing = String::from_utf8_lossy(&zip).into_owned();
            for doc in &issued {
                assert!(listing.contains(&format!("{}.pdf", doc["number"].as_str().unwrap())));
            }
            assert!(zip == app.client.get(&zip_url).send().await.unwrap().bytes().await.unwrap());
            // A customer gets its own PDF and 404 for any other number.
            app.add_user("it@c1.test", Role::Customer, Some(customers[1])).await;
            app.sign_out().await;
            assert_eq!(app.sign_in("it@c1.test", PASSWORD).await.status(), 200);
            let own = issued.iter().find(|x| x["customer_id"] == customers[1]).unwrap()["number"]
                .as_str()
                .unwrap()
                .to_owned();
            let other = issued.iter().find(|x| x["customer_id"] == customers[0]).unwrap()["number"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                app.client
                    .get(app.url(&format!("/invoices/{own}.pdf")))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                200
            );
            let r = app
                .client
                .get(app.url(&format!("/invoices/{other}.pdf")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
            assert_eq!(
                app.client
                    .get(app.url("/invoices/SB-1999-000001.pdf"))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                404
            );
            assert_eq!(
                app.client.get(&zip_url).send().await.unwrap().status(),
                403,
                "the zip is finance's"
            );
            app
        },
    )
    .await;
}

pub(crate) async fn push(app: &TestApp, records: &[String]) {
    let ingest = app.add_token(Role::Ingest, None).await;
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .bearer_auth(&ingest)
        .header("content-type", "application/json")
        .body(format!("{{\"value\":[{}]}}", records.join(",")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn late_usage_of_an_issued_month_becomes_adjustment_lines_on_the_next_months_draft() {
    for_each_app_with(
        |c| c.invoice_grace_days = 0,
        |app| async move {
            let (earlier, customers) = setup_at(&app, 2, 2).await;
            let later = earlier.next();
            let (s, _) = run_month(&app, earlier.to_string()).await;
            assert_eq!(s, 201);
            let draft = invoices(&app, earlier)
                .await
                .into_iter()
                .find(|i| i["customer_id"] == customers[0])
                .unwrap();
            let (_, issued) = issue_draft(&app, &draft["id"], None).await;
            let number = issued["number"].as_str().unwrap().to_owned();
            // The second customer's month is issued too; it has no usage the month after.
            let second = invoices(&app, earlier)
                .await
                .into_iter()
                .find(|i| i["customer_id"] == customers[1])
                .unwrap();
            let (_, issued) = issue_draft(&app, &second["id"], None).await;
            let second_number = issued["number"].as_str().unwrap().to_owned();
            push(
                &app,
                &[usage_json(
                    &guid(3, 1),
                    BASE_VM,
                    &format!("{}T16:00:00+00:00", earlier.first_day() + chrono::Duration::days(8)),
                    "4",
                    VM,
                )],
            )
            .await;
            // Six more hours of the issued month arrive late; two hours of the next month.
            let late = format!("{}T15:00:00+00:00", earlier.first_day() + chrono::Duration::days(7));
            let now = format!("{}T09:00:00+00:00", later.first_day() + chrono::Duration::days(2));
            push(
                &app,
                &[
                    usage_json(&guid(3, 0), BASE_VM, &late, "6", VM),
                    usage_json(&guid(3, 0), BASE_VM, &now, "2", VM),
                ],
            )
            .await;
            let (s, run) = run_month(&app, later.to_string()).await;
            assert_eq!(s, 201, "{run}");
            let next = invoices(&app, later)
                .await
                .into_iter()
                .find(|i| i["customer_id"] == customers[0])
                .unwrap();
            let (_, detail) = call(
                &app,
                reqwest::Method::GET,
                &format!("/api/v1/invoices/{}", next["id"]),
                None,
            )
            .await;
            let adjustment = detail["lines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["line_kind"] == "adjustment")
                .unwrap_or_else(|| panic!("{detail}"));
            assert_eq!(adjustment["refers_to"].as_str(), Some(number.as_str()));
            assert_eq!(
                (dec(&adjustment["quantity"]), dec(&adjustment["amount"])),
                (Decimal::from(6), Decimal::new(300, 2))
            );
            assert_eq!(
                dec(&detail["summary"]["total"]),
                Decimal::new(400, 2),
                "2 h now + 6 h late, at 0.50"
            );
            assert_eq!(
                dec(&next["previous_month_total"]),
                Decimal::new(500, 2),
                "the month before, as issued"
            );
            // The issued invoice did not change.
            let (_, original) = call(&app, reqwest::Method::GET, &format!("/api/v1/invoices/{number}"), None).await;
            assert_eq!(dec(&original["summary"]["total"]), Decimal::new(500, 2));
            // The customer with no usage that month gets a draft of its adjustment alone.
            let alone = invoices(&app, later)
                .await
                .into_iter()
                .find(|i| i["customer_id"] == customers[1])
                .expect("an adjustment-only draft");
            let (_, alone) = call(
                &app,
                reqwest::Method::GET,
                &format!("/api/v1/invoices/{}", alone["id"]),
                None,
            )
            .await;
            assert_eq!(alone["lines"].as_array().unwrap().len(), 1, "{alone}");
            assert_eq!(alone["lines"][0]["refers_to"].as_str(), Some(second_number.as_str()));
            assert_eq!(
                dec(&alone["summary"]["total"]),
                Decimal::new(200, 2),
                "4 late hours at 0.50, no minimum charge"
            );
            // The PDF names the invoice the adjustment corrects.
            let bytes = app
                .client
                .get(app.url(&format!("/api/v1/invoices/{}.pdf", next["id"])))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let text = pdf_text(&bytes);
            assert!(text.contains(&format!("adjustment to {number}")), "{text}");
            app
        },
    )
    .await;
}

/// Posts one field to a server function as the page's form would.
async fn server_fn(app: &TestApp, name: &str, field: &str, value: impl ToString) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/fn/{name}")))
        .form(&[(field, value.to_string())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_run_started_from_the_screen_reports_progress_to_its_starter_until_its_report() {
    for_each_app_with(
        |c| c.invoice_grace_days = 0,
        |app| async move {
            let (period, _) = setup(&app, 4).await;
            // A malformed or future month is refused at once; nothing starts.
            for bad in ["2026-13", "2999-01"] {
                let r = server_fn(&app, "run_invoices", "period", bad).await;
                assert_eq!(r.status(), 422, "{bad}");
            }
            let r = server_fn(&app, "run_invoices", "period", period.to_string()).await;
            assert_eq!(r.status(), 200);
            let job: u64 = r.json().await.unwrap();
            let mut phases = Vec::new();
            let report = loop {
                let r = server_fn(&app, "invoice_run_progress", "run", job.to_string()).await;
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                phases.push(v["phase"].as_str().unwrap().to_owned());
                if v["phase"] == "Done" {
                    assert!(v["error"].is_null(), "{v}");
                    break v["report"].clone();
                }
                assert!(phases.len() < 400, "the run never finished: {phases:?}");
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            };
            // Four customer accounts and the base subscription's.
            assert_eq!(report["drafts"], 5, "{report}");
            assert_eq!(invoices(&app, period).await.len(), 5);

            // Usage that arrives after the run makes its drafts outdated: issuing one is
            // refused until the month is run again, so an invoice never disagrees with the
            // usage detail stored with it.
            let at = format!("{}T11:00:00+00:00", period.first_day() + chrono::Duration::days(5));
            push(&app, &[usage_json(&guid(3, 0), BASE_VM, &at, "2", VM)]).await;
            let draft = |list: Vec<Value>| {
                list.into_iter()
                    .find(|i| i["bill_to"]["cloud_tenant_id"] == guid(1, 0))
                    .unwrap()
            };
            let stale = draft(invoices(&app, period).await);
            let (s, body) = issue_draft(&app, &stale["id"], None).await;
            assert_eq!(
                (s, body["error"]["code"].as_str()),
                (409, Some("draft_outdated")),
                "{body}"
            );
            assert_eq!(
                draft(invoices(&app, period).await)["status"],
                "draft",
                "nothing changed"
            );
            let (s, _) = run_month(&app, period.to_string()).await;
            assert_eq!(s, 201);
            let fresh = draft(invoices(&app, period).await);
            assert_eq!(dec(&fresh["total"]), Decimal::from(6), "12 hours at 0.50");
            let (s, body) = issue_draft(&app, &fresh["id"], None).await;
            assert_eq!(s, 200, "{body}");
            // Issuing all the others: the base invoice has unpriced usage and no waiver, so it
            // is refused with why, and the three other customers' drafts are issued anyway.
            let r = server_fn(&app, "issue_all_invoices", "period", period.to_string()).await;
            assert_eq!(r.status(), 200);
            let all: Value = r.json().await.unwrap();
            assert_eq!(all["issued"].as_array().unwrap().len(), 3, "{all}");
            assert_eq!(all["refused"][0]["code"], "unpriced_usage", "{all}");
            assert_eq!(all["refused"].as_array().unwrap().len(), 1, "{all}");
            let left: Vec<Value> = invoices(&app, period)
                .await
                .into_iter()
                .filter(|i| i["status"] == "draft")
                .collect();
            assert_eq!(left.len(), 1);
            assert_eq!(left[0]["account_kind"], "base");
            // Someone else's run is not theirs to watch.
            app.add_user("fin@example.test", Role::Finance, None).await;
            app.sign_out().await;
            assert_eq!(app.sign_in("fin@example.test", PASSWORD).await.status(), 200);
            let r = server_fn(&app, "invoice_run_progress", "run", job.to_string()).await;
            assert_eq!(r.status(), 404);
            app
        },
    )
    .await;
}

#[tokio::test]
async fn overlapping_runs_of_a_month_leave_one_draft_per_account() {
    for_each_app_with(
        |_| {},
        |app| async move {
            let (period, _) = setup(&app, 3).await;
            let runs = (0..4).map(|_| run_month(&app, period.to_string()));
            for (s, body) in futures_util::future::join_all(runs).await {
                assert_eq!(s, 201, "{body}");
            }
            let list = invoices(&app, period).await;
            // Three customers and the base subscription: one draft each, not one per run.
            assert_eq!(list.len(), 4, "{list:?}");
            let accounts: std::collections::HashSet<&str> = list
                .iter()
                .map(|i| i["billing_subscription_id"].as_str().unwrap())
                .collect();
            assert_eq!(accounts.len(), 4);
            // And the schema refuses a second draft of an account whatever asks.
            let dup = format!(
                "INSERT INTO invoices (registration_id, period_start, kind, status, account_kind, \
                 billing_subscription_id, bill_to, locale, currency, subtotal, tax_rate, tax, total, created_at) \
                 SELECT registration_id, period_start, kind, status, account_kind, billing_subscription_id, bill_to, \
                 locale, currency, subtotal, tax_rate, tax, total, created_at FROM invoices WHERE id = {}",
                list[0]["id"]
            );
            let mut c = app.state.db.conn().await.unwrap();
            let refused = db::sql!(&mut c, |e| sqlx::query(&dup)
                .execute(e)
                .await
                .map(|r| r.rows_affected()))
            .expect_err("a second draft of the account was stored");
            assert!(refused.to_string().to_lowercase().contains("unique"), "{refused}");
            drop(c);
            app
        },
    )
    .await;
}

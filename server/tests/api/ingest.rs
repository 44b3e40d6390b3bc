use crate::helpers::{error_code, for_each_app, spawn_app_with, usage_json};
use app::types::Role;

const SUB_A: &str = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4";
const SUB_B: &str = "5144634d-7e4d-443b-a304-d27e44220fc6";
const WINDOWS_VM: &str = "9CD92D4C-BAFD-4492-B278-BEDC2DE8232A";
const S10: &str = "d5f7731bf639404a89d0e46186e22c8d";

fn page(records: &[String]) -> String {
    format!("{{\"value\":[{}],\"nextLink\":null}}", records.join(","))
}

async fn push(app: &crate::helpers::TestApp, token: &str, content_type: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pushing_usage_needs_an_operator_or_ingest_token() {
    for_each_app(|app| async move {
        app.add_registration("azs-1").await;
        let body = page(&[usage_json(SUB_A, WINDOWS_VM, "2026-01-10T10:00:00Z", "8", "/x/vm1")]);
        let none = reqwest::Client::new()
            .post(app.url("/api/v1/usage"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 401);
        let customer = app
            .add_customer("Contoso", "11111111-aaaa-4aaa-8aaa-111111111111")
            .await;
        for token in [
            app.add_token(Role::Finance, None).await,
            app.add_token(Role::Customer, Some(customer)).await,
        ] {
            assert_eq!(push(&app, &token, "application/json", body.clone()).await.status(), 403);
        }
        assert_eq!(app.count("usage_records").await, 0);
        let ingest = app.add_token(Role::Ingest, None).await;
        let response = push(&app, &ingest, "application/json", body.clone()).await;
        assert_eq!(response.status(), 200);
        let report: serde_json::Value = response.json().await.unwrap();
        assert_eq!(report["accepted"], 1);
        let operator = app.add_token(Role::Operator, None).await;
        let report: serde_json::Value = push(&app, &operator, "application/json", body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (report["accepted"].as_u64(), report["duplicates"].as_u64()),
            (Some(0), Some(1))
        );
        app
    })
    .await;
}

#[tokio::test]
async fn a_partly_bad_batch_stores_the_good_records_and_quarantines_the_rest_with_reasons() {
    for_each_app(|app| async move {
        app.add_registration("azs-1").await;
        let token = app.add_token(Role::Ingest, None).await;
        let records = vec![
            usage_json(SUB_A, WINDOWS_VM, "2026-01-10T10:00:00Z", "8", "/x/vm1"),
            usage_json("sub1.1", WINDOWS_VM, "2026-01-10T10:00:00Z", "8", "/x/vm1"),
            usage_json(SUB_B, S10, "2026-01-10T10:00:00Z", "0.0013440860215053762", "/x/disk1"),
            usage_json(SUB_B, S10, "2026-01-10T11:00:00Z", "-1", "/x/disk1"),
            usage_json(SUB_B, "meterID1", "2026-01-10T11:00:00Z", "1", "/x/disk1"),
        ];
        let response = push(&app, &token, "application/json", page(&records)).await;
        assert_eq!(response.status(), 200);
        let report: serde_json::Value = response.json().await.unwrap();
        assert_eq!(report["records"], 5);
        assert_eq!(report["accepted"], 2);
        assert_eq!(report["quarantined"], 3);
        let rejected = report["rejected"].as_array().unwrap();
        let indexes: Vec<u64> = rejected.iter().map(|r| r["index"].as_u64().unwrap()).collect();
        assert_eq!(indexes, vec![1, 3, 4]);
        assert!(rejected[0]["reason"].as_str().unwrap().contains("subscriptionId"));
        assert!(rejected[1]["reason"].as_str().unwrap().contains("negative"));
        assert!(rejected[2]["reason"].as_str().unwrap().contains("meterId"));
        // Nothing lost: two stored, three kept with their raw text.
        assert_eq!(app.count("usage_records").await, 2);
        let operator = app.add_token(Role::Operator, None).await;
        let quarantine: serde_json::Value = app
            .get_with_token("/api/v1/quarantine", Some(&operator))
            .await
            .json()
            .await
            .unwrap();
        let rows = quarantine["value"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[0]["raw"].as_str().unwrap().contains("sub1.1"));
        // Fix one over the API: it leaves the quarantine and is stored.
        let fixed = records[1].replace("sub1.1", SUB_A).replace("/x/vm1", "/x/vm2");
        let id = rows[0]["id"].as_i64().unwrap();
        let response = reqwest::Client::new()
            .post(app.url(&format!("/api/v1/quarantine/{id}/reprocess")))
            .bearer_auth(&operator)
            .json(&serde_json::json!({ "raw": fixed }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(app.count("usage_records").await, 3);
        // A still-invalid fix is refused with the reason, and the record stays.
        let id = rows[1]["id"].as_i64().unwrap();
        let response = reqwest::Client::new()
            .post(app.url(&format!("/api/v1/quarantine/{id}/reprocess")))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        assert_eq!(error_code(response).await, "still_invalid");
        // Ingest tokens cannot work the quarantine.
        assert_eq!(
            app.get_with_token("/api/v1/quarantine", Some(&token)).await.status(),
            403
        );
        app
    })
    .await;
}

#[tokio::test]
async fn malformed_json_is_refused_whole_with_its_position_and_nothing_is_stored() {
    for_each_app(|app| async move {
        app.add_registration("azs-1").await;
        let token = app.add_token(Role::Ingest, None).await;
        let good = usage_json(SUB_A, WINDOWS_VM, "2026-01-10T10:00:00Z", "8", "/x/vm1");
        let body = format!("{{\"value\":[\n{good},\n{{\"broken\": }}\n]}}");
        let response = push(&app, &token, "application/json", body).await;
        assert_eq!(response.status(), 400);
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "malformed_document");
        assert_eq!(error["error"]["line"], 3);
        assert!(error["error"]["column"].as_u64().unwrap() > 0);
        assert_eq!(app.count("usage_records").await, 0);
        assert_eq!(app.count("ingest_batches").await, 0);
        assert_eq!(app.count("usage_quarantine").await, 0);
        app
    })
    .await;
}

#[tokio::test]
async fn csv_corrections_and_the_body_limit() {
    let app = spawn_app_with(|c| c.ingest_max_bytes = 64 * 1024).await;
    app.add_registration("azs-1").await;
    let token = app.add_token(Role::Ingest, None).await;
    let csv = format!(
        "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri,location\n\
         {SUB_A},{WINDOWS_VM},2026-01-10T10:00:00Z,2026-01-10T11:00:00Z,8,/x/vm1,northwest\n"
    );
    let report: serde_json::Value = push(&app, &token, "text/csv", csv.clone()).await.json().await.unwrap();
    assert_eq!(report["accepted"], 1);
    // The same identity with another quantity is a correction with history.
    let report: serde_json::Value = push(&app, &token, "text/csv", csv.replace(",8,/x/vm1", ",4,/x/vm1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["corrected"], 1);
    assert_eq!(app.count("usage_corrections").await, 1);
    // Over the limit: 413 and nothing stored.
    let big = page(&vec![
        usage_json(
            SUB_A,
            WINDOWS_VM,
            "2026-01-10T12:00:00Z",
            "8",
            "/x/vm1"
        );
        200
    ]);
    assert!(big.len() > 64 * 1024);
    assert_eq!(push(&app, &token, "application/json", big).await.status(), 413);
    assert_eq!(app.count("usage_records").await, 1);
    // Several registrations: an operator's request must name one (an ingest token has its own).
    app.add_registration("azs-2").await;
    let operator = app.add_token(Role::Operator, None).await;
    let response = push(&app, &operator, "text/csv", csv.clone()).await;
    assert_eq!(response.status(), 422);
    assert_eq!(push(&app, &token, "text/csv", csv.clone()).await.status(), 200);
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/usage?registration=azs-2"))
        .bearer_auth(&operator)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.dispose().await;
}

#[tokio::test]
async fn a_push_reports_stale_deliveries_and_quarantines_a_daily_record_over_hourly_usage() {
    for_each_app(|app| async move {
        app.add_registration("azs-1").await;
        let token = app.add_token(Role::Operator, None).await;
        let reported =
            |rec: String, at: &str| rec.replacen("\"meterId\"", &format!("\"reportedTime\":\"{at}\",\"meterId\""), 1);
        let hour = |q: &str, at: &str| reported(usage_json(SUB_A, WINDOWS_VM, "2026-01-10T10:00:00Z", q, "/x/vm1"), at);
        // Corrected by the 14:00 report; the 12:00 report arriving afterwards is stale.
        push(
            &app,
            &token,
            "application/json",
            page(&[hour("8", "2026-01-10T12:00:00Z")]),
        )
        .await;
        push(
            &app,
            &token,
            "application/json",
            page(&[hour("6", "2026-01-10T14:00:00Z")]),
        )
        .await;
        let report: serde_json::Value = push(
            &app,
            &token,
            "application/json",
            page(&[hour("8", "2026-01-10T12:00:00Z")]),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(
            (report["stale"].as_u64(), report["corrected"].as_u64()),
            (Some(1), Some(0))
        );
        // A daily aggregate of the same resource and meter for the 10th: refused, named,
        // quarantined with its text, nothing billed twice.
        let daily = usage_json(SUB_A, WINDOWS_VM, "2026-01-10T00:00:00Z", "48", "/x/vm1").replace(
            "\"usageEndTime\":\"2026-01-10T01:00:00+00:00\"",
            "\"usageEndTime\":\"2026-01-11T00:00:00+00:00\"",
        );
        assert!(daily.contains("2026-01-11T00:00:00"), "{daily}");
        let report: serde_json::Value = push(&app, &token, "application/json", page(&[daily]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (report["accepted"].as_u64(), report["quarantined"].as_u64()),
            (Some(0), Some(1))
        );
        let reason = report["rejected"][0]["reason"].as_str().unwrap();
        assert!(reason.contains("overlaps stored usage record"), "{reason}");
        assert_eq!(report["rejected"][0]["index"], 0);
        assert_eq!(app.count("usage_quarantine").await, 1);
        assert_eq!(app.count("usage_records").await, 1);
        app
    })
    .await;
}

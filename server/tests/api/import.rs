//! `stackbill import usage` end to end: the binary, a real file, a fresh database.

use crate::cli::{stackbill, stderr};
use crate::helpers::usage_json;
use app::ssr::db::{self, registrations::NewRegistration, testing::TestDb};

const SUB: &str = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4";
const VM: &str = "9CD92D4C-BAFD-4492-B278-BEDC2DE8232A";

async fn setup() -> TestDb {
    setup_on(TestDb::sqlite().await).await
}

async fn setup_on(t: TestDb) -> TestDb {
    app::ssr::services::catalogue::sync_meter_catalogue(&t.db, 0)
        .await
        .unwrap();
    let mut c = t.db.conn().await.unwrap();
    db::registrations::insert_registration(
        &mut c,
        &NewRegistration {
            name: "azs-1",
            base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
            resource_group: "azurestack",
            currency: "USD",
            active_from: app::billing::dated::since_always(),
        },
        0,
    )
    .await
    .unwrap();
    t
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("stackbill-import-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn count(t: &TestDb, table: &str) -> i64 {
    let mut c = t.db.conn().await.unwrap();
    let q = format!("SELECT COUNT(*) FROM {table}");
    db::sql!(&mut c, |e| sqlx::query_scalar(&q).fetch_one(e).await).unwrap()
}

#[tokio::test]
async fn importing_a_file_prints_counts_and_importing_it_again_changes_nothing() {
    let t = setup().await;
    let records: Vec<String> = (0..30)
        .map(|h| {
            usage_json(
                SUB,
                VM,
                &format!("2026-01-0{}T{:02}:00:00Z", 1 + h / 24, h % 24),
                "8",
                "/x/vm1",
            )
        })
        .chain([usage_json("not-a-guid", VM, "2026-01-01T00:00:00Z", "8", "/x/vm1")])
        .collect();
    let pages = format!(
        "{{\"value\":[{}]}}\n{{\"value\":[{}]}}\n",
        records[..20].join(","),
        records[20..].join(",")
    );
    let file = write("usage.json", &pages);
    let out = stackbill(
        &t.url,
        &["import", "usage", file.to_str().unwrap(), "--batch-size", "7"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("31 records: 30 accepted, 0 duplicate, 0 corrected, 0 stale, 1 quarantined (5 batches)"),
        "{stdout}"
    );
    assert!(stdout.contains("record 30: `subscriptionId`"), "{stdout}");
    assert_eq!(count(&t, "usage_records").await, 30);
    let out = stackbill(&t.url, &["import", "usage", file.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 accepted, 30 duplicate"), "{stdout}");
    assert_eq!(count(&t, "usage_records").await, 30);
    // And from stdin, as CSV in the Usagesummary.ps1 layout.
    let csv = format!(
        "UsageStartTime,UsageEndTime,MeterName,Quantity,resourceType,location,resourceGroup,resourceName,subowner,tags,MeterId,additionalInfo,subscription,resourceUri\n\
         12/1/2026 6:00:00 PM,12/1/2026 7:00:00 PM,Windows VM Size Hours,8,virtualMachines,northwest,rg,vm9,owner@x.test,,{VM},,{SUB},/x/vm9\n"
    );
    let out = stackbill(&t.url, &["import", "usage", "-"], Some(&csv));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 accepted"));
    let out = stackbill(&t.url, &["quarantine", "list"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 open quarantined records."));
    let _ = std::fs::remove_file(file);
    t.dispose().await;
}

#[tokio::test]
async fn parallel_writers_keep_each_records_deliveries_in_file_order() {
    for t in TestDb::all().await {
        let t = setup_on(t).await;
        let engine = t.db.engine().name();
        let subs: Vec<String> = (0..12).map(|n| format!("1d6c4363-3a9b-4cb6-8e6c-{n:012x}")).collect();
        let mut pages = Vec::new();
        for hour in 0..3 {
            let records: Vec<String> = subs
                .iter()
                .map(|s| usage_json(s, VM, &format!("2026-01-01T{hour:02}:00:00Z"), "1", "/x/vm1"))
                .collect();
            pages.push(format!("{{\"value\":[{}]}}", records.join(",")));
        }
        // The same record delivered twice more (5, then 7): both land in one later batch of
        // its writer, where the last delivery wins — one correction, 1 → 7.
        for quantity in ["5", "7"] {
            pages.push(format!(
                "{{\"value\":[{}]}}",
                usage_json(&subs[0], VM, "2026-01-01T00:00:00Z", quantity, "/x/vm1")
            ));
        }
        let file = write(&format!("parallel-{engine}.json"), &pages.join("\n"));
        let state = app::ssr::AppState::new(t.db.clone(), app::ssr::Settings::default());
        let mut c = t.db.conn().await.unwrap();
        let reg = db::registrations::find_registration_by_name(&mut c, "azs-1")
            .await
            .unwrap()
            .unwrap();
        drop(c);
        let options = app::ssr::services::import::ImportOptions {
            registration_id: reg.id,
            batch_size: 4,
            source: app::ssr::services::ingest::Source::Import,
            actor: "test".into(),
            label: "parallel".into(),
            writers: Some(3),
        };
        let summary = app::ssr::services::import::import_file(&state, &file, &options, None)
            .await
            .unwrap();
        assert_eq!(summary.records, 38, "{engine}");
        assert_eq!(
            (
                summary.report.accepted,
                summary.report.corrected,
                summary.report.duplicates
            ),
            (36, 1, 1),
            "{engine}"
        );
        let mut c = t.db.conn().await.unwrap();
        let history: Vec<(String, String)> = db::sql!(&mut c, |e| sqlx::query_as(
            "SELECT old_quantity, new_quantity FROM usage_corrections ORDER BY id"
        )
        .fetch_all(e)
        .await)
        .unwrap();
        assert_eq!(history, [("1".to_owned(), "7".to_owned())], "{engine}");
        let (total, records): (i64, i64) = db::sql!(&mut c, |e| sqlx::query_as(
            "SELECT CAST(SUM(quantity_whole) AS BIGINT), CAST(SUM(record_count) AS BIGINT) FROM usage_daily"
        )
        .fetch_one(e)
        .await)
        .unwrap();
        assert_eq!((total, records), (35 + 7, 36), "{engine}");
        drop(c);
        // Again: every record is a duplicate but the corrected one, whose deliveries in
        // two batches replay in file order (7 → 1, then 1 → 7 with 5 superseded) and leave
        // it where it was.
        let again = app::ssr::services::import::import_file(&state, &file, &options, None)
            .await
            .unwrap();
        assert_eq!(
            (again.report.accepted, again.report.corrected, again.report.duplicates),
            (0, 2, 36),
            "{engine}"
        );
        let mut c = t.db.conn().await.unwrap();
        let total: i64 = db::sql!(&mut c, |e| sqlx::query_scalar(
            "SELECT CAST(SUM(quantity_whole) AS BIGINT) FROM usage_daily"
        )
        .fetch_one(e)
        .await)
        .unwrap();
        assert_eq!(total, 35 + 7, "{engine}");
        drop(c);
        assert_eq!(count(&t, "usage_records").await, 36, "{engine}");
        let _ = std::fs::remove_file(file);
        t.dispose().await;
    }
}

#[tokio::test]
async fn a_malformed_file_is_refused_with_its_line_and_column_and_nothing_is_stored() {
    let t = setup().await;
    // The syntax error is on the last line, long after the first valid records: a single
    // pass would already have stored them.
    let mut text = String::new();
    for h in 0..24 {
        text.push_str(&format!(
            "{{\"value\":[{}]}}\n",
            usage_json(SUB, VM, &format!("2026-01-01T{h:02}:00:00Z"), "8", "/x/vm1")
        ));
    }
    text.push_str("{\"value\":[ {\"broken\": ] }\n");
    let file = write("broken.json", &text);
    let out = stackbill(
        &t.url,
        &["import", "usage", file.to_str().unwrap(), "--batch-size", "1"],
        None,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("at line 25, column"), "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    assert_eq!(count(&t, "usage_records").await, 0);
    assert_eq!(count(&t, "ingest_batches").await, 0);
    let csv = write(
        "broken.csv",
        "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri\na,b,c,d,e,f\nonly,three,fields\n",
    );
    let out = stackbill(&t.url, &["import", "usage", csv.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    let out = stackbill(&t.url, &["import", "usage", "/no/such/file.json"], None);
    assert!(stderr(&out).contains("no such file"));
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(csv);
    t.dispose().await;
}

#[tokio::test]
async fn registrations_are_added_with_a_validated_collector_configuration() {
    let t = TestDb::sqlite().await;
    let bad = [
        (
            &["registration", "add", "--name", "r", "--subscription", "nope"][..],
            "--subscription",
        ),
        (
            &[
                "registration",
                "add",
                "--name",
                "r",
                "--subscription",
                "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                "--currency",
                "XXX",
            ][..],
            "--currency",
        ),
        (
            &[
                "registration",
                "add",
                "--name",
                "r",
                "--subscription",
                "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                "--usage-endpoint",
                "https://adminmanagement.local.azurestack.external",
            ][..],
            "--provider-subscription",
        ),
        (
            &[
                "registration",
                "add",
                "--name",
                "r",
                "--subscription",
                "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                "--usage-endpoint",
                "https://a",
                "--provider-subscription",
                "20ff7fc3-e762-44dd-bd96-b71116dcdc23",
            ][..],
            "--token-env",
        ),
    ];
    for (args, expected) in bad {
        let out = stackbill(&t.url, args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let out = stackbill(
        &t.url,
        &[
            "registration",
            "add",
            "--name",
            "azs-1",
            "--subscription",
            "DD8597B4-8739-4467-8B10-F8679F62BFBF",
            "--usage-endpoint",
            "https://adminmanagement.local.azurestack.external/",
            "--provider-subscription",
            "20ff7fc3-e762-44dd-bd96-b71116dcdc23",
            "--token-command",
            "az",
            "--token-arg",
            "account",
            "--token-arg",
            "get-access-token",
            "--token-arg",
            "--query",
            "--token-arg",
            "accessToken",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut c = t.db.conn().await.unwrap();
    let reg = db::registrations::find_registration_by_name(&mut c, "azs-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reg.base_subscription_id, "dd8597b4-8739-4467-8b10-f8679f62bfbf");
    assert_eq!(
        reg.usage_endpoint.as_deref(),
        Some("https://adminmanagement.local.azurestack.external")
    );
    // The program and its arguments, never a shell line.
    assert_eq!(
        reg.token_command.as_deref(),
        Some(r#"["az","account","get-access-token","--query","accessToken"]"#)
    );
    drop(c);
    let out = stackbill(&t.url, &["pull", "--status"], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("azs-1: never collected"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    t.dispose().await;
}

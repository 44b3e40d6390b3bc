use crate::helpers::{for_each_app, spawn_app};
use app::types::Role;

#[tokio::test]
async fn healthz_reports_the_database_as_ok() {
    for_each_app(|app| async move {
        // Staff get the details (anonymous callers only `ok`: see the security tests).
        let token = app.add_token(Role::Operator, None).await;
        let response = app.get_with_token("/healthz", Some(&token)).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"]["status"], "ok");
        assert!(matches!(
            body["database"]["engine"].as_str(),
            Some("sqlite" | "postgres")
        ));
        app
    })
    .await;
}

#[tokio::test]
async fn healthz_answers_503_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    app.state.db.close().await;
    let response = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    // Nobody can be recognised without the database: the anonymous answer.
    assert_eq!(body, serde_json::json!({ "status": "unavailable" }));
    app.dispose().await;
}

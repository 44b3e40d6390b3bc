use crate::helpers::{for_each_app, spawn_app};

#[tokio::test]
async fn healthz_reports_the_database_as_ok() {
    for_each_app(|app| async move {
        let response = reqwest::get(app.url("/healthz")).await.unwrap();
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
    assert_eq!(body["database"]["status"], "unreachable");
    app.dispose().await;
}

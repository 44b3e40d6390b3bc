//! `GET /healthz`: for load balancers and monitoring.

use crate::ServerState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;

/// The health route.
pub fn router() -> Router<ServerState> {
    Router::new().route("/healthz", get(health))
}

/// 200 with the database status when the database answers; 503 when it does not.
async fn health(State(state): State<ServerState>) -> (StatusCode, Json<serde_json::Value>) {
    let engine = state.app.db.engine().name();
    let started = std::time::Instant::now();
    let ping = tokio::time::timeout(std::time::Duration::from_secs(3), state.app.db.ping()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match ping {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "database": { "status": "ok", "engine": engine, "latency_ms": latency_ms },
            })),
        ),
        failure => {
            let reason = match failure {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_owned(),
            };
            tracing::error!(%reason, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "version": env!("CARGO_PKG_VERSION"),
                    "database": { "status": "unreachable", "engine": engine },
                })),
            )
        }
    }
}

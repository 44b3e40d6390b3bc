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

/// 200 `{"status":"ok"}` when the database answers, 503 `{"status":"unavailable"}` when
/// it does not. Staff (a session or token) also get the version, the engine and the
/// latency; anonymous callers — load balancers, the internet — learn nothing more.
async fn health(
    State(state): State<ServerState>,
    caller: Result<super::api::MaybeCaller, super::api::ApiError>,
) -> (StatusCode, Json<serde_json::Value>) {
    let staff = match caller {
        Ok(super::api::MaybeCaller(Some(c))) => {
            app::ssr::auth::authorize(Some(c), app::ssr::auth::Access::Staff).is_ok()
        }
        _ => false,
    };
    let engine = state.app.db.engine().name();
    let started = std::time::Instant::now();
    let ping = tokio::time::timeout(std::time::Duration::from_secs(3), state.app.db.ping()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match ping {
        Ok(Ok(())) if !staff => (StatusCode::OK, Json(json!({ "status": "ok" }))),
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
            if !staff {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "status": "unavailable" })),
                );
            }
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

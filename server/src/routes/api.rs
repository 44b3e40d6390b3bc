//! The REST API for scripts and BI tools: `/api/v1/…`, authenticated with
//! `Authorization: Bearer <token>` (or a browser session). Every handler resolves its
//! caller and calls the same `authorize` helper as the server functions.

use crate::ServerState;
use app::error::AppError;
use app::ssr::auth::{self, Access, Caller};
use app::ssr::db::{self, sessions::USER_ID_KEY};
use app::ssr::services::overview;
use app::ssr::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde_json::json;
use tower_sessions::Session;

/// The API routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/me", get(me))
        .route("/meters", get(meters))
        .route("/registrations", get(registrations))
        .route("/customers", get(customers))
        .route("/customers/{id}", get(customer))
}

/// An `AppError` as an HTTP response: its status, `Retry-After` when throttled, and a
/// JSON body with the stable code.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(json!({ "error": self.0 }))).into_response();
        if let Some(secs) = self.0.retry_after_secs {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The caller of an API request, not yet authorised.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<ServerState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, Self::Rejection> {
        resolve_caller(parts, &state.app)
            .await
            .map(MaybeCaller)
            .map_err(ApiError)
    }
}

async fn resolve_caller(parts: &mut Parts, state: &AppState) -> Result<Option<Caller>, AppError> {
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let header = header
            .to_str()
            .map_err(|_| AppError::bad_request("The Authorization header is not text."))?;
        let token = auth::bearer_token(header).ok_or_else(|| {
            AppError::new(
                app::error::ErrorKind::Unauthenticated,
                "invalid_token",
                "Use `Authorization: Bearer <token>`.",
            )
        })?;
        return auth::caller_from_token(state, token).await.map(Some);
    }
    let Ok(session) = Session::from_request_parts(parts, state).await else {
        return Ok(None);
    };
    let user_id: Option<i64> = session
        .get(USER_ID_KEY)
        .await
        .map_err(|e| auth::internal("session read", e))?;
    match user_id {
        Some(id) => auth::caller_from_user_id(state, id).await,
        None => Ok(None),
    }
}

type ApiResult = Result<Json<serde_json::Value>, ApiError>;

/// Who am I: any valid token (ingest tokens included) or session; 401 otherwise.
async fn me(MaybeCaller(caller): MaybeCaller) -> ApiResult {
    let caller = caller.ok_or_else(AppError::unauthenticated)?;
    Ok(Json(json!({
        "role": caller.role,
        "customer_id": caller.customer_id,
        "actor": caller.actor_code(),
        "name": caller.actor_label(),
    })))
}

/// The meter catalogue (staff).
async fn meters(State(state): State<ServerState>, MaybeCaller(caller): MaybeCaller) -> ApiResult {
    auth::authorize(caller, Access::Staff)?;
    let meters = overview::list_meters(&state.app).await?;
    Ok(Json(json!({ "value": meters })))
}

/// Registrations with their headline counts (staff).
async fn registrations(State(state): State<ServerState>, MaybeCaller(caller): MaybeCaller) -> ApiResult {
    auth::authorize(caller, Access::Staff)?;
    let o = overview::operator_overview(&state.app).await?;
    Ok(Json(json!({ "value": o.registrations })))
}

/// Every customer (staff).
async fn customers(State(state): State<ServerState>, MaybeCaller(caller): MaybeCaller) -> ApiResult {
    auth::authorize(caller, Access::Staff)?;
    let mut c = state.app.db.conn().await.map_err(AppError::from)?;
    let rows = db::customers::list_customers(&mut c).await.map_err(AppError::from)?;
    let value: Vec<_> = rows
        .into_iter()
        .map(|r| json!({ "id": r.id, "name": r.name, "cloud_tenant_id": r.tenant_guid, "locale": r.locale }))
        .collect();
    Ok(Json(json!({ "value": value })))
}

/// One customer: staff, or that customer's own users and tokens (others get 404).
async fn customer(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> ApiResult {
    auth::authorize(caller, Access::Customer(id))?;
    let o = overview::customer_overview(&state.app, id).await?;
    Ok(Json(json!({ "id": id, "customer": o })))
}

//! The REST API for scripts and BI tools: `/api/v1/…`, authenticated with
//! `Authorization: Bearer <token>` (or a browser session). Every handler resolves its
//! caller and calls the same `authorize` helper as the server functions.

use super::{console, invoices, prices};
use crate::ServerState;
use app::error::AppError;
use app::ssr::auth::{self, Access, Caller};
use app::ssr::services::overview;
use app::ssr::AppState;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
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
        .route("/meters/{id}", put(console::describe_meter))
        .route("/meters/{id}/billing", put(console::set_meter_billing))
        .route("/registrations", get(registrations).post(console::create_registration))
        .route(
            "/registrations/{id}",
            get(console::registration_detail).put(console::update_registration),
        )
        .route(
            "/customers",
            get(console::list_customers).post(console::create_customer),
        )
        .route("/customers/{id}", get(customer).put(console::update_customer))
        .route("/customers/{id}/details", get(console::customer_detail))
        .route("/customers/{id}/pricing", put(prices::set_customer_pricing))
        .route("/mappings", get(console::list_mappings))
        .route("/mappings/export", get(console::export_mappings))
        .route(
            "/mappings/import",
            // Up to the import's own limit, so a file too large gets its JSON answer.
            axum::routing::post(console::import_mappings).layer(axum::extract::DefaultBodyLimit::max(
                app::ssr::services::mapping_csv::MAX_BYTES + 64 * 1024,
            )),
        )
        .route(
            "/mappings/{tenant}",
            put(console::put_mapping).delete(console::delete_mapping),
        )
        .route("/mappings/{tenant}/history", get(console::mapping_history))
        .route("/user-subscriptions", get(console::list_user_subscriptions))
        .route(
            "/user-subscriptions/{id}/owner",
            axum::routing::post(console::assign_owner),
        )
        .route("/audit", get(console::audit))
        .route("/invoice-runs", axum::routing::post(invoices::run))
        .route("/invoices", get(invoices::list))
        .route("/invoices.zip", get(invoices::zip))
        .route("/invoice-lines", get(invoices::lines))
        .route("/invoice-lines.csv", get(invoices::lines))
        .route("/invoices/{key}", get(invoices::detail))
        .route("/invoices/{key}/issue", axum::routing::post(invoices::issue))
        .route("/invoices/{key}/void", axum::routing::post(invoices::void))
        .route("/price-sheets", get(prices::list).post(prices::create))
        .route("/price-sheets/{id}", get(prices::detail))
        .route("/price-sheets/{id}/default", put(prices::make_default))
        .route(
            "/price-sheets/{id}/versions",
            get(prices::versions).post(prices::add_version),
        )
        .route("/price-sheets/{id}/versions/{version}", get(prices::version))
        .route("/price-sheets/{id}/entries/{meter}", put(prices::set_entry))
        .route("/users", get(console::users).post(console::create_user))
        .route("/users/{id}/{action}", axum::routing::post(console::user_action))
        .route("/tokens", get(console::tokens).post(console::create_token))
        .route("/tokens/{id}/revoke", axum::routing::post(console::revoke_token))
        .route("/customers/{id}/cost", get(customer_cost))
        .route("/customers/{id}/usage", get(super::usage::customer_usage))
        .route("/customers/{id}/usage.csv", get(super::usage::customer_usage_csv))
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
    let session = Session::from_request_parts(parts, state).await.ok();
    let authorization = parts.headers.get(http::header::AUTHORIZATION).cloned();
    auth::resolve_caller(state, authorization.as_ref(), session.as_ref()).await
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
    let caller = auth::authorize(caller, Access::Staff)?;
    let value = app::ssr::services::registrations::list(&state.app, &caller).await?;
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

/// `?period=YYYY-MM` (default: the month in progress).
#[derive(Debug, serde::Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

/// A customer's cost in a period over every account that bills its usage: staff, or that
/// customer's own users and tokens (others get 404). Amounts are decimal strings.
async fn customer_cost(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult {
    auth::authorize(caller, Access::Customer(id))?;
    let now = state.app.clock.now();
    let period = app::ssr::services::costs::period_or_current(q.period.as_deref(), now)?;
    let cost = app::ssr::services::costs::customer_cost(&state.app.db, id, period, now).await?;
    Ok(Json(
        serde_json::to_value(cost).map_err(|e| auth::internal("cost json", e))?,
    ))
}

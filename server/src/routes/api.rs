//! The REST API for scripts and BI tools: `/api/v1/…`, authenticated with
//! `Authorization: Bearer <token>` (or a browser session). Every handler resolves its
//! caller and calls the same `authorize` helper as the server functions.

use super::bodies::{CustomerBody, ErrorBody, Me, Values};
use super::openapi::{Denials, Refusals};
use super::{console, invoices, prices};
use crate::ServerState;
use app::error::AppError;
use app::ssr::auth::{self, Access, Caller};
use app::ssr::services::overview;
use app::ssr::AppState;
use app::types::{CustomerCost, MeterView, RegistrationSummary};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
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
            "/mappings/{cloud_tenant_id}",
            put(console::put_mapping).delete(console::delete_mapping),
        )
        .route("/mappings/{cloud_tenant_id}/history", get(console::mapping_history))
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
        .route("/invoice-lines.csv", get(invoices::lines_csv))
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
        let retry_after = self.0.retry_after_secs;
        let mut response = (status, Json(ErrorBody { error: self.0 })).into_response();
        if let Some(secs) = retry_after {
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

/// Who am I: any valid token (ingest tokens included) or session; 401 otherwise.
#[utoipa::path(get, path = "/api/v1/me", tag = "Identity", summary = "Who am I",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub(super) async fn me(MaybeCaller(caller): MaybeCaller) -> Result<Json<Me>, ApiError> {
    let caller = caller.ok_or_else(AppError::unauthenticated)?;
    Ok(Json(Me {
        role: caller.role,
        customer_id: caller.customer_id,
        actor: caller.actor_code(),
        name: caller.actor_label(),
    }))
}

/// The meter catalogue (staff): every meter seen or known, its unit, service and billing.
#[utoipa::path(get, path = "/api/v1/meters", tag = "Meters", summary = "List meters",
    responses((status = 200, body = Values<MeterView>), Denials))]
pub(super) async fn meters(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Values<MeterView>>, ApiError> {
    auth::authorize(caller, Access::Staff)?;
    let value = overview::list_meters(&state.app).await?;
    Ok(Json(Values { value }))
}

/// Registrations with their headline counts (staff).
#[utoipa::path(get, path = "/api/v1/registrations", tag = "Registrations", summary = "List registrations",
    responses((status = 200, body = Values<RegistrationSummary>), Denials))]
pub(super) async fn registrations(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Values<RegistrationSummary>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let value = app::ssr::services::registrations::list(&state.app, &caller).await?;
    Ok(Json(Values { value }))
}

/// One customer with its month in progress: staff, or that customer's own users and
/// tokens (others get 404).
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "Customers", summary = "Get a customer",
    params(("id" = i64, Path, description = "The customer.")),
    responses((status = 200, body = CustomerBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn customer(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<CustomerBody>, ApiError> {
    auth::authorize(caller, Access::Customer(id))?;
    let customer = overview::customer_overview(&state.app, id).await?;
    Ok(Json(CustomerBody { id, customer }))
}

/// `?period=YYYY-MM` (default: the month in progress).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PeriodQuery {
    /// `YYYY-MM` (default: the month in progress).
    period: Option<String>,
}

/// A customer's cost in a period over every account that bills its usage: staff, or that
/// customer's own users and tokens (others get 404). Amounts are decimal strings.
#[utoipa::path(get, path = "/api/v1/customers/{id}/cost", tag = "Customers", summary = "A customer's cost in a month",
    params(("id" = i64, Path, description = "The customer."), PeriodQuery),
    responses((status = 200, body = CustomerCost), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn customer_cost(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<CustomerCost>, ApiError> {
    auth::authorize(caller, Access::Customer(id))?;
    let now = state.app.clock.now();
    let period = app::ssr::services::costs::period_or_current(q.period.as_deref(), now)?;
    let cost = app::ssr::services::costs::customer_cost(&state.app.db, id, period, now).await?;
    Ok(Json(cost))
}

//! `/api/v1/price-sheets`: sheets, their versions, a version as CSV, a new version from a
//! CSV body (checked whole; 422 with every row's problem), one meter's price from a day,
//! and a registration's default sheet. Each handler calls the service the console's server
//! functions call (operators write, finance reads).

use super::api::{ApiError, MaybeCaller};
use super::bodies::{
    CustomerPricingSet, DefaultBody, DefaultSet, EntrySet, ErrorBody, RowsError, RowsErrorBody, Values, VersionAdded,
    VersionChecked, VersionPrices,
};
use super::console::json_body;
use super::openapi::{Denials, Refusals};
use crate::ServerState;
use app::error::AppError;
use app::ssr::auth::{self, Access};
use app::ssr::services::price_sheets;
use app::types::{
    CustomerPricingForm, PriceEntryForm, PriceSheetDetail, PriceSheetForm, PriceSheetSummary, PriceUploadForm,
    PriceUploadOutcome, PriceVersionView,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use std::collections::HashMap;

type Params = Query<HashMap<String, String>>;

/// `GET /api/v1/price-sheets`: every sheet (they are few: no paging).
#[utoipa::path(get, path = "/api/v1/price-sheets", tag = "Price sheets", summary = "List price sheets",
    operation_id = "list_price_sheets",
    responses((status = 200, body = Values<PriceSheetSummary>), Denials))]
pub(super) async fn list(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Values<PriceSheetSummary>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let value = price_sheets::list(&state.app, &caller).await?;
    Ok(Json(Values { value }))
}

/// `POST /api/v1/price-sheets` with `{"name","currency","description"}`: 201 and the sheet.
#[utoipa::path(post, path = "/api/v1/price-sheets", tag = "Price sheets", summary = "Create a price sheet",
    operation_id = "create_price_sheet",
    request_body = PriceSheetForm,
    responses((status = 201, body = PriceSheetDetail), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn create(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: PriceSheetForm = json_body(&body)?;
    let id = price_sheets::create(&state.app, &caller, &form).await?;
    let detail = price_sheets::detail(&state.app, &caller, id, None).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// `GET /api/v1/price-sheets/{id}?version=`: the sheet, its versions and one version's
/// prices (default: the one in effect today).
#[utoipa::path(get, path = "/api/v1/price-sheets/{id}", tag = "Price sheets", summary = "A price sheet",
    operation_id = "get_price_sheet",
    params(
        ("id" = i64, Path, description = "The sheet."),
        ("version" = Option<i64>, Query, description = "The version shown (default: in effect today)."),
    ),
    responses((status = 200, body = PriceSheetDetail), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn detail(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    Query(p): Params,
) -> Result<Json<PriceSheetDetail>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let version = match p.get("version") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError(AppError::invalid("version", "`version` is a version id.")))?,
        ),
    };
    Ok(Json(price_sheets::detail(&state.app, &caller, id, version).await?))
}

/// `GET /api/v1/price-sheets/{id}/versions`: the versions, newest first.
#[utoipa::path(get, path = "/api/v1/price-sheets/{id}/versions", tag = "Price sheets", summary = "A sheet's versions",
    params(("id" = i64, Path, description = "The sheet.")),
    responses((status = 200, body = Values<PriceVersionView>), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn versions(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<Values<PriceVersionView>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let detail = price_sheets::detail(&state.app, &caller, id, None).await?;
    Ok(Json(Values { value: detail.versions }))
}

/// `GET /api/v1/price-sheets/{id}/versions/{version}.csv`: a version as the CSV the upload
/// takes; without `.csv`, the version's prices as JSON.
#[utoipa::path(get, path = "/api/v1/price-sheets/{id}/versions/{version}", tag = "Price sheets", summary = "A version's prices (JSON, or CSV with `.csv`)",
    params(
        ("id" = i64, Path, description = "The sheet."),
        ("version" = String, Path, description = "The version id; `{version}.csv` answers the CSV the upload takes."),
    ),
    responses(
        (status = 200, content((VersionPrices = "application/json"), (String = "text/csv"))),
        (status = 404, body = ErrorBody),
        Refusals,
    ))]
pub(super) async fn version(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path((id, version)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let (raw, as_csv) = match version.strip_suffix(".csv") {
        Some(v) => (v, true),
        None => (version.as_str(), false),
    };
    let version_id: i64 = raw.parse().map_err(|_| {
        ApiError(AppError::not_found(
            "price_version_not_found",
            "This sheet has no such version.",
        ))
    })?;
    if !as_csv {
        let detail = price_sheets::detail(&state.app, &caller, id, Some(version_id)).await?;
        return Ok(Json(VersionPrices {
            version: detail.shown,
            entries: detail.entries,
        })
        .into_response());
    }
    let (file, csv) = price_sheets::version_csv(&state.app, &caller, id, version_id).await?;
    Ok((
        [
            (http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        csv,
    )
        .into_response())
}

/// `POST /api/v1/price-sheets/{id}/versions?effective_on=YYYY-MM-DD&note=&dry_run=` with the
/// CSV as the body: 201 with the version and the preview of last month under it (200 and
/// the preview alone for a dry run), or 422 `{"error":{…,"rows":[{"row","column","message"}]}}`
/// and nothing saved.
#[utoipa::path(post, path = "/api/v1/price-sheets/{id}/versions", tag = "Price sheets", summary = "Add a price version from CSV",
    params(
        ("id" = i64, Path, description = "The sheet."),
        ("effective_on" = String, Query, description = "The version's first day, `YYYY-MM-DD`."),
        ("note" = Option<String>, Query, description = "Why (kept in the history)."),
        ("dry_run" = Option<bool>, Query, description = "Check and preview only (default false)."),
    ),
    request_body(content = String, content_type = "text/csv", description = "The prices, as `versions/{version}.csv` writes them."),
    responses(
        (status = 201, description = "Saved, with last month rated under it.", body = VersionAdded),
        (status = 200, description = "Checked (`dry_run=true`), nothing saved.", body = VersionChecked),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Refused whole, every row's problem; nothing saved.", body = RowsErrorBody),
        Refusals,
    ))]
pub(super) async fn add_version(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    Query(p): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let dry_run = match p.get("dry_run").map(String::as_str) {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(ApiError(AppError::invalid("dry_run", "`dry_run` is true or false."))),
    };
    // The body goes to the service as bytes: its CSV reader refuses bad encoding by row.
    let form = PriceUploadForm {
        csv: String::new(),
        effective_on: p.get("effective_on").cloned().unwrap_or_default(),
        note: p.get("note").cloned().unwrap_or_default(),
    };
    match price_sheets::upload(&state.app, &caller, id, &body, &form, !dry_run).await? {
        PriceUploadOutcome::Refused { message, rows } => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(RowsErrorBody {
                error: RowsError {
                    error: AppError::new(app::error::ErrorKind::Invalid, "invalid_csv", message),
                    rows,
                },
            }),
        )
            .into_response()),
        PriceUploadOutcome::Checked(preview) => Ok(Json(VersionChecked { dry_run: true, preview }).into_response()),
        PriceUploadOutcome::Saved {
            version_id,
            effective_on,
            preview,
        } => Ok((
            StatusCode::CREATED,
            Json(VersionAdded {
                version_id,
                effective_on,
                preview,
            }),
        )
            .into_response()),
    }
}

/// `PUT /api/v1/price-sheets/{id}/entries/{meter_id}` with `{"model","unit_price","tiers",
/// "package_size","billing_unit","usage_units_per_billing_unit","per_period_hours",
/// "effective_on"}`: the meter's price from that day on.
#[utoipa::path(put, path = "/api/v1/price-sheets/{id}/entries/{meter}", tag = "Price sheets", summary = "Set one meter's price from a day",
    params(
        ("id" = i64, Path, description = "The sheet."),
        ("meter" = String, Path, description = "The meter id (a GUID)."),
    ),
    request_body = PriceEntryForm,
    responses((status = 200, body = EntrySet), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn set_entry(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path((id, meter)): Path<(i64, String)>,
    body: Bytes,
) -> Result<Json<EntrySet>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let mut form: PriceEntryForm = json_body(&body)?;
    form.meter_id = meter;
    let day = price_sheets::set_entry(&state.app, &caller, id, &form).await?;
    Ok(Json(EntrySet {
        price_sheet_id: id,
        meter_id: form.meter_id,
        effective_on: day,
    }))
}

/// `PUT /api/v1/price-sheets/{id}/default` with `{"registration_id","effective_on"}`: the
/// registration's default sheet from that day on.
#[utoipa::path(put, path = "/api/v1/price-sheets/{id}/default", tag = "Price sheets", summary = "Make a sheet a registration's default from a day",
    params(("id" = i64, Path, description = "The sheet.")),
    request_body = DefaultBody,
    responses((status = 200, body = DefaultSet), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn make_default(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<DefaultSet>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let b: DefaultBody = json_body(&body)?;
    let day = price_sheets::make_default(&state.app, &caller, id, b.registration_id, &b.effective_on).await?;
    Ok(Json(DefaultSet {
        price_sheet_id: id,
        registration_id: b.registration_id,
        effective_on: day,
    }))
}

/// `PUT /api/v1/customers/{id}/pricing` with `{"price_sheet","markup","effective_on"}`: the
/// customer's own sheet (a sheet id; empty for the registrations' defaults) or its markup
/// (`15`) or discount (`-10`) from a day on; answers its pricing.
#[utoipa::path(put, path = "/api/v1/customers/{id}/pricing", tag = "Customers", summary = "Set a customer's sheet or markup from a day",
    params(("id" = i64, Path, description = "The customer.")),
    request_body = CustomerPricingForm,
    responses((status = 200, body = CustomerPricingSet), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn set_customer_pricing(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<CustomerPricingSet>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::CustomerPricingForm = json_body(&body)?;
    let day = price_sheets::set_customer_pricing(&state.app, &caller, id, &form).await?;
    let detail = app::ssr::services::customers::customer_detail(&state.app, &caller, id).await?;
    Ok(Json(CustomerPricingSet {
        effective_on: day,
        pricing: detail.terms,
    }))
}

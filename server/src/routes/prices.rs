//! `/api/v1/price-sheets`: sheets, their versions, a version as CSV, a new version from a
//! CSV body (checked whole; 422 with every row's problem), one meter's price from a day,
//! and a registration's default sheet. Each handler calls the service the console's server
//! functions call (operators write, finance reads).

use super::api::{ApiError, MaybeCaller};
use super::console::{json_body, to_json};
use crate::ServerState;
use app::error::AppError;
use app::ssr::auth::{self, Access};
use app::ssr::services::price_sheets;
use app::types::{PriceEntryForm, PriceSheetForm, PriceUploadForm, PriceUploadOutcome};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::json;
use std::collections::HashMap;

type Params = Query<HashMap<String, String>>;

/// `GET /api/v1/price-sheets`: every sheet (they are few: no paging).
pub(super) async fn list(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let sheets = price_sheets::list(&state.app, &caller).await?;
    Ok(Json(json!({ "value": to_json(sheets)? })))
}

/// `POST /api/v1/price-sheets` with `{"name","currency","description"}`: 201 and the sheet.
pub(super) async fn create(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: PriceSheetForm = json_body(&body)?;
    let id = price_sheets::create(&state.app, &caller, &form).await?;
    let detail = price_sheets::detail(&state.app, &caller, id, None).await?;
    Ok((StatusCode::CREATED, Json(to_json(detail)?)).into_response())
}

/// `GET /api/v1/price-sheets/{id}?version=`: the sheet, its versions and one version's
/// prices (default: the one in effect today).
pub(super) async fn detail(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    Query(p): Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let version = match p.get("version") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError(AppError::invalid("version", "`version` is a version id.")))?,
        ),
    };
    Ok(Json(to_json(
        price_sheets::detail(&state.app, &caller, id, version).await?,
    )?))
}

/// `GET /api/v1/price-sheets/{id}/versions`: the versions, newest first.
pub(super) async fn versions(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let detail = price_sheets::detail(&state.app, &caller, id, None).await?;
    Ok(Json(json!({ "value": to_json(detail.versions)? })))
}

/// `GET /api/v1/price-sheets/{id}/versions/{version}.csv`: a version as the CSV the upload
/// takes; without `.csv`, the version's prices as JSON.
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
        return Ok(
            Json(json!({ "version": to_json(detail.shown)?, "entries": to_json(detail.entries)? })).into_response(),
        );
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
        PriceUploadOutcome::Refused { message, rows } => {
            let mut error = to_json(AppError::new(app::error::ErrorKind::Invalid, "invalid_csv", message))?;
            error["rows"] = to_json(rows)?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": error }))).into_response())
        }
        PriceUploadOutcome::Checked(preview) => {
            Ok(Json(json!({ "dry_run": true, "preview": to_json(preview)? })).into_response())
        }
        PriceUploadOutcome::Saved {
            version_id,
            effective_on,
            preview,
        } => Ok((
            StatusCode::CREATED,
            Json(json!({ "version_id": version_id, "effective_on": effective_on, "preview": to_json(preview)? })),
        )
            .into_response()),
    }
}

/// `PUT /api/v1/price-sheets/{id}/entries/{meter_id}` with `{"model","unit_price","tiers",
/// "package_size","billing_unit","usage_units_per_billing_unit","per_period_hours",
/// "effective_on"}`: the meter's price from that day on.
pub(super) async fn set_entry(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path((id, meter)): Path<(i64, String)>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let mut form: PriceEntryForm = json_body(&body)?;
    form.meter_id = meter;
    let day = price_sheets::set_entry(&state.app, &caller, id, &form).await?;
    Ok(Json(
        json!({ "price_sheet_id": id, "meter_id": form.meter_id, "effective_on": day }),
    ))
}

/// `PUT /api/v1/price-sheets/{id}/default` with `{"registration_id","effective_on"}`: the
/// registration's default sheet from that day on.
pub(super) async fn make_default(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Body {
        registration_id: i64,
        #[serde(default)]
        effective_on: String,
    }
    let caller = auth::authorize(caller, Access::Operator)?;
    let b: Body = json_body(&body)?;
    let day = price_sheets::make_default(&state.app, &caller, id, b.registration_id, &b.effective_on).await?;
    Ok(Json(
        json!({ "price_sheet_id": id, "registration_id": b.registration_id, "effective_on": day }),
    ))
}

/// `PUT /api/v1/customers/{id}/pricing` with `{"price_sheet","markup","effective_on"}`: the
/// customer's own sheet (a sheet id; empty for the registrations' defaults) or its markup
/// (`15`) or discount (`-10`) from a day on; answers its pricing.
pub(super) async fn set_customer_pricing(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::CustomerPricingForm = json_body(&body)?;
    let day = price_sheets::set_customer_pricing(&state.app, &caller, id, &form).await?;
    let detail = app::ssr::services::customers::customer_detail(&state.app, &caller, id).await?;
    Ok(Json(json!({ "effective_on": day, "pricing": to_json(detail.terms)? })))
}

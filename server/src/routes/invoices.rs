//! `/api/v1/invoice-runs` and `/api/v1/invoices`: month-end runs, the invoices and credit
//! notes (finance and operators see all; a customer's users and tokens their own issued
//! ones, any other number is 404), issuing a draft, voiding an invoice.

use super::api::{ApiError, MaybeCaller};
use super::bodies::{ErrorBody, InvoiceLines, IssueBody, Issued, RunBody, Values, Voided};
use super::console::json_body;
use super::openapi::{FormatParam, Refusals};
use crate::ServerState;
use app::ssr::auth::{self, Access};
use app::ssr::services::invoicing;
use app::types::{InvoiceDetail, InvoiceRunReport, InvoiceSummary};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use std::collections::HashMap;

/// `POST /api/v1/invoice-runs` with `{"period":"2026-10","registration"}`: drafts the
/// period's invoices (re-running replaces drafts only); 201 with the run's report.
#[utoipa::path(post, path = "/api/v1/invoice-runs", tag = "Invoices", summary = "Draft a month's invoices",
    request_body = RunBody,
    responses((status = 201, body = InvoiceRunReport), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn run(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Finance)?;
    let b: RunBody = json_body(&body)?;
    let report = invoicing::run(&state.app, &caller, &b.period, b.registration.as_deref(), None).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// `GET /api/v1/invoices?period=2026-10&registration=`: `{"value":[…]}`, or CSV (stable
/// columns) with `Accept: text/csv` or `format=csv`.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "Invoices", summary = "List invoices and credit notes",
    operation_id = "list_invoices",
    params(
        ("period" = Option<String>, Query, description = "`YYYY-MM` (default: every period)."),
        ("registration" = Option<String>, Query, description = "One registration's name."),
        FormatParam,
    ),
    responses(
        (status = 200, description = "A customer's users and tokens see their own issued documents.", content(
            (Values<InvoiceSummary> = "application/json"),
            (String = "text/csv"),
        )),
        Refusals,
    ))]
pub(super) async fn list(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Query<HashMap<String, String>>,
    headers: http::HeaderMap,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::SignedIn)?;
    let value = invoicing::list(
        &state.app,
        &caller,
        p.get("period").map(String::as_str),
        p.get("registration").map(String::as_str),
    )
    .await?;
    let csv = p.get("format").is_some_and(|f| f == "csv")
        || headers
            .get(http::header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"));
    if csv {
        let period = p.get("period").cloned().unwrap_or_default();
        return Ok((
            [
                (http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"invoices-{period}.csv\""),
                ),
            ],
            invoicing::invoices_csv(&value)?,
        )
            .into_response());
    }
    Ok(Json(Values { value }).into_response())
}

/// `GET /api/v1/invoices/{number}` (or a draft's id): the invoice with its lines.
#[utoipa::path(get, path = "/api/v1/invoices/{key}", tag = "Invoices", summary = "An invoice with its lines (or its PDF)",
    operation_id = "get_invoice",
    params(
        ("key" = String, Path, description = "The number (or a draft's id); `{number}.pdf` answers the PDF."),
        ("detail" = Option<bool>, Query, description = "PDF only: add the usage detail pages."),
    ),
    responses(
        (status = 200, content((InvoiceDetail = "application/json"), (String = "application/pdf"))),
        (status = 404, body = ErrorBody),
        Refusals,
    ))]
pub(super) async fn detail(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(key): Path<String>,
    query: Query<PdfQuery>,
) -> Result<Response, ApiError> {
    if key.ends_with(".pdf") {
        return pdf(State(state), MaybeCaller(caller), Path(key), query).await;
    }
    let caller = auth::authorize(caller, Access::SignedIn)?;
    Ok(Json(invoicing::detail(&state.app, &caller, &key).await?).into_response())
}

/// `POST /api/v1/invoices/{id}/issue` with `{"waive_unpriced":false}`: `{"number"}`.
#[utoipa::path(post, path = "/api/v1/invoices/{key}/issue", tag = "Invoices", summary = "Issue a draft",
    params(("key" = i64, Path, description = "The draft's id.")),
    request_body(content = Option<IssueBody>, description = "Optional."),
    responses((status = 200, body = Issued), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn issue(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Issued>, ApiError> {
    let caller = auth::authorize(caller, Access::Finance)?;
    let b: IssueBody = if body.is_empty() {
        IssueBody::default()
    } else {
        json_body(&body)?
    };
    let number = invoicing::issue(&state.app, &caller, id, b.waive_unpriced).await?;
    Ok(Json(Issued { id, number }))
}

/// `POST /api/v1/invoices/{number}/void`: `{"number","credit_note"}`.
#[utoipa::path(post, path = "/api/v1/invoices/{key}/void", tag = "Invoices", summary = "Void an invoice with a credit note",
    params(("key" = String, Path, description = "The invoice number.")),
    responses((status = 200, body = Voided), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn void(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(number): Path<String>,
) -> Result<Json<Voided>, ApiError> {
    let caller = auth::authorize(caller, Access::Finance)?;
    let credit = invoicing::void(&state.app, &caller, &number).await?;
    Ok(Json(Voided {
        number,
        credit_note: credit,
    }))
}

/// `?detail=true`: a PDF with the usage detail pages.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PdfQuery {
    #[serde(default)]
    detail: Option<String>,
}

/// `GET /invoices/{number}.pdf[?detail=true]` (browser) and
/// `GET /api/v1/invoices/{number}.pdf[?detail=true]` (tokens): the PDF for whoever may see
/// the invoice; any other number is 404.
pub(crate) async fn pdf(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(file): Path<String>,
    Query(query): Query<PdfQuery>,
) -> Result<Response, ApiError> {
    let with_detail = match query.detail.as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError(app::error::AppError::invalid(
                "detail",
                format!("`{other}` is not true or false."),
            )))
        }
    };
    let caller = auth::authorize(caller, Access::SignedIn)?;
    let Some(key) = file.strip_suffix(".pdf") else {
        return Err(ApiError(app::error::AppError::not_found(
            "not_found",
            "No such document.",
        )));
    };
    let (name, bytes) = invoicing::pdf(&state.app, &caller, key, with_detail).await?;
    Ok((
        [
            (http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
            (http::header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/invoice-lines?period=2026-10` — every line of the period's numbered
/// documents: JSON `{"columns":[…],"value":[[…]]}`, or CSV with `Accept: text/csv`,
/// `format=csv` or the path `/api/v1/invoice-lines.csv` (UTF-8, ISO dates, dot decimals).
#[utoipa::path(get, path = "/api/v1/invoice-lines", tag = "Invoices", summary = "A month's invoice lines",
    params(("period" = String, Query, description = "`YYYY-MM`."), FormatParam),
    responses((status = 200, content((InvoiceLines = "application/json"), (String = "text/csv"))), Refusals))]
pub(super) async fn lines(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Query<HashMap<String, String>>,
    headers: http::HeaderMap,
) -> Result<Response, ApiError> {
    let csv = p.get("format").is_some_and(|f| f == "csv")
        || headers
            .get(http::header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"));
    lines_answer(state, caller, &p, csv).await
}

/// The same lines, always as CSV.
#[utoipa::path(get, path = "/api/v1/invoice-lines.csv", tag = "Invoices", summary = "A month's invoice lines as CSV",
    params(("period" = String, Query, description = "`YYYY-MM`.")),
    responses((status = 200, content((String = "text/csv"))), Refusals))]
pub(super) async fn lines_csv(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    lines_answer(state, caller, &p, true).await
}

async fn lines_answer(
    state: ServerState,
    caller: Option<auth::Caller>,
    p: &HashMap<String, String>,
    csv: bool,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let period = p.get("period").cloned().unwrap_or_default();
    let rows = invoicing::lines_export(&state.app, &caller, &period).await?;
    if !csv {
        let columns = invoicing::LINE_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        return Ok(Json(InvoiceLines { columns, value: rows }).into_response());
    }
    let body = invoicing::lines_csv(&rows)?;
    Ok((
        [
            (http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"invoice-lines-{period}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/invoices.zip?period=2026-10`: the period's numbered documents as PDFs in
/// one zip (finance and operators).
#[utoipa::path(get, path = "/api/v1/invoices.zip", tag = "Invoices", summary = "A month's PDFs in one zip",
    params(("period" = String, Query, description = "`YYYY-MM`.")),
    responses((status = 200, content((String = "application/zip"))), Refusals))]
pub(super) async fn zip(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let period = p.get("period").cloned().unwrap_or_default();
    let (name, bytes) = invoicing::period_zip(&state.app, &caller, &period).await?;
    Ok((
        [
            (http::header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

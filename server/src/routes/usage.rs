//! `GET /api/v1/customers/{id}/usage`: a customer's usage and cost by day, meter, user
//! subscription, resource group and resource — the portal explorer's data for scripts and
//! BI tools. JSON pages (`{"value":[…],"nextLink"}`), or with `Accept: text/csv`,
//! `format=csv` or `/usage.csv` the whole selection as CSV, written in chunks.

use super::api::{ApiError, MaybeCaller};
use super::bodies::{ErrorBody, UsageBody};
use super::openapi::Refusals;
use crate::ServerState;
use app::error::AppError;
use app::ssr::auth::{self, Access};
use app::ssr::services::usage;
use app::types::UsageQuery;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;

/// Rows per chunk of the CSV download.
const CSV_CHUNK: usize = 1000;

/// The usage selection's parameters (the portal explorer's, in its address).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description of the parameters `query_of` reads by name
pub(super) struct UsageParams {
    /// One month, `YYYY-MM` (instead of `from` and `to`).
    period: Option<String>,
    /// First month, `YYYY-MM` (default: the month in progress).
    from: Option<String>,
    /// Last month, `YYYY-MM` (at most 12 months from `from`).
    to: Option<String>,
    /// Dimensions, comma-separated: `day`, `service`, `meter`, `subscription`,
    /// `resource_group`, `resource` (default `day,meter`).
    group_by: Option<String>,
    /// Only this service.
    service: Option<String>,
    /// Only this meter id.
    meter: Option<String>,
    /// Only this user subscription (GUID).
    subscription: Option<String>,
    /// Only this resource group.
    resource_group: Option<String>,
    /// Only resources tagged `name` or `name:value` (name without case, value exactly).
    tag: Option<String>,
    /// `daily` (default) or, for CSV only, `hourly`: one row per stored record.
    granularity: Option<String>,
    /// A column, `-` in front for descending (`-cost`).
    sort: Option<String>,
    /// The opaque cursor from `nextLink`.
    cursor: Option<String>,
    /// Rows per page (JSON).
    page_size: Option<u32>,
    /// `csv` for the whole selection as CSV (also with `Accept: text/csv`).
    format: Option<String>,
}

/// The query string as the explorer's query; `period=YYYY-MM` is one month.
fn query_of(p: &HashMap<String, String>) -> Result<UsageQuery, AppError> {
    if p.get("page_size").is_some_and(|n| n.trim().parse::<u32>().is_err()) {
        return Err(AppError::invalid("page_size", "`page_size` is a number of rows."));
    }
    let period = p.get("period");
    Ok(UsageQuery::from_params(|k| match (k, period) {
        ("from" | "to", Some(period)) => Some(period.clone()),
        _ => p.get(k).cloned(),
    }))
}

/// The JSON page or the CSV of a customer's usage (staff, or that customer's own users and
/// tokens; anyone else gets 404).
#[utoipa::path(get, path = "/api/v1/customers/{id}/usage", tag = "Usage", summary = "A customer's rated usage",
    params(("id" = i64, Path, description = "The customer."), UsageParams),
    responses(
        (status = 200, description = "A page of rows with the whole selection's totals, or the whole selection as CSV \
(columns `usage_start,usage_end,service,meter_id,meter_name,unit,subscription_id,subscription_name,resource_group,resource,tags,quantity,cost,currency,unpriced` when hourly).",
            content((UsageBody = "application/json"), (String = "text/csv"))),
        (status = 404, body = ErrorBody),
        Refusals,
    ))]
pub(super) async fn customer_usage(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    headers: http::HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    auth::authorize(caller, Access::Customer(id))?;
    let q = query_of(&p)?;
    let csv = p.get("format").is_some_and(|f| f == "csv")
        || headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"));
    respond(&state, id, q, csv, &p).await
}

/// `/customers/{id}/usage.csv`.
#[utoipa::path(get, path = "/api/v1/customers/{id}/usage.csv", tag = "Usage", summary = "A customer's rated usage as CSV",
    params(("id" = i64, Path, description = "The customer."), UsageParams),
    responses((status = 200, content((String = "text/csv"))), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn customer_usage_csv(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    auth::authorize(caller, Access::Customer(id))?;
    let q = query_of(&p)?;
    respond(&state, id, q, true, &p).await
}

async fn respond(
    state: &ServerState,
    id: i64,
    q: UsageQuery,
    csv: bool,
    p: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (from, to) = usage::months(&q.from, &q.to, state.app.clock.now().date_naive())?;
    let data = usage::load(&state.app, id, from, to).await?;
    let selection = usage::select_in(&state.app, &data, &q).await?;
    if !csv {
        let page = data.page(&selection)?;
        let next_link = page
            .next_cursor
            .map(|c| super::console::next_link(&format!("/customers/{id}/usage"), p, c));
        return Ok(Json(UsageBody {
            value: page.value,
            totals: page.totals,
            total_rows: page.total_rows,
            from: page.from,
            to: page.to,
            next_link,
        })
        .into_response());
    }
    let name = format!("attachment; filename=\"usage-{from}-{to}.csv\"");
    let headers = [
        (http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (http::header::CONTENT_DISPOSITION, name),
    ];
    if selection.is_hourly() {
        // One row per stored record, read and written a day at a time.
        let chunks = futures_util::stream::unfold(
            usage::hourly_csv(state.app.clone(), data, selection),
            |mut rx| async move {
                rx.recv().await.map(|chunk| {
                    let chunk = chunk.map(Bytes::from).map_err(|e| std::io::Error::other(e.message));
                    (chunk, rx)
                })
            },
        );
        return Ok((headers, axum::body::Body::from_stream(chunks)).into_response());
    }
    // Every row of the selection (no paging), written a chunk at a time.
    let rows = data.all_rows(&selection);
    drop(data);
    let chunks = (0..rows.len().div_ceil(CSV_CHUNK).max(1)).map(move |i| {
        let part = &rows[(i * CSV_CHUNK).min(rows.len())..((i + 1) * CSV_CHUNK).min(rows.len())];
        usage::csv_chunk(part, i == 0)
            .map(Bytes::from)
            .map_err(|e| std::io::Error::other(e.message))
    });
    Ok((
        headers,
        axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response())
}

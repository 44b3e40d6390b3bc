//! Usage ingestion over HTTP: `POST /api/v1/usage`, the quarantine and the collector's
//! status.

use super::api::{ApiError, MaybeCaller};
use super::bodies::{
    Discarded, ErrorBody, PushReport, QuarantineBody, RejectedRecord, ReprocessBody, Reprocessed, Values,
};
use super::openapi::{Denials, Refusals};
use crate::ServerState;
use app::error::{AppError, ErrorKind};
use app::ingest::document::read_all;
use app::ingest::{Format, Item};
use app::ssr::auth::{self, Access};
use app::ssr::services::ingest::{ingest_batch, split_items, Batch, IngestCache, Source};
use app::ssr::services::lookup;
use app::ssr::services::quarantine;
use app::types::CollectorStatus;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::HeaderMap;
use serde::Deserialize;

/// Largest body of a reprocess request (one corrected record).
const REPROCESS_MAX_BYTES: usize = 1024 * 1024;

/// How long a push waits for one of the upload slots before it is answered 503.
const UPLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The ingestion routes. Bodies are read by the handlers themselves, after the caller is
/// authorised: an anonymous or wrong-role request is answered at once, without its body
/// ever being buffered.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/usage", post(push_usage).layer(DefaultBodyLimit::disable()))
        .route("/quarantine", get(list_quarantine))
        .route(
            "/quarantine/{id}/reprocess",
            post(reprocess).layer(DefaultBodyLimit::disable()),
        )
        .route("/quarantine/{id}/discard", post(discard))
        .route("/collector", get(collector_status))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RegistrationQuery {
    /// The registration's name (an ingest token's own by default).
    registration: Option<String>,
}

/// A malformed document: 400 with where it broke, in the one error envelope.
fn malformed(e: &app::ingest::DocumentError) -> Response {
    ApiError(AppError {
        line: Some(u32::try_from(e.line).unwrap_or(u32::MAX)),
        column: Some(u32::try_from(e.column).unwrap_or(u32::MAX)),
        ..AppError::new(ErrorKind::BadRequest, "malformed_document", e.to_string())
    })
    .into_response()
}

/// Reads a body of at most `max` bytes: a declared `Content-Length` above it is refused
/// before reading, and a body that grows past it while streaming is refused too.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, AppError> {
    let too_large = || {
        AppError::new(
            ErrorKind::PayloadTooLarge,
            "payload_too_large",
            format!("The body is larger than {max} bytes; import large files with `stackbill import usage`."),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, max).await.map_err(|_| too_large())
}

/// Stores a usage-API page, an array of records, or CSV, as one atomic batch. A 2xx
/// answer means everything it counts is durable; rejected records are in the quarantine
/// and listed with their position and reason. The caller is authorised before a byte of
/// the body is read; an `ingest` token pushes only to its own registration; at most
/// `STACKBILL_INGEST_CONCURRENCY` bodies are read at once.
#[utoipa::path(post, path = "/api/v1/usage", tag = "Ingestion", summary = "Push usage",
    params(RegistrationQuery),
    request_body(description = "A page of the Azure Stack usage API (`{\"value\":[…]}`), an array of its records, or CSV.",
        content((String = "application/json"), (String = "text/csv"))),
    responses(
        (status = 200, body = PushReport),
        (status = 400, description = "Malformed: `line` and `column` say where.", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, description = "Too many uploads at once; `Retry-After` says when to try again.", body = ErrorBody),
        Refusals,
    ))]
pub(super) async fn push_usage(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<RegistrationQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::IngestUsage)?;
    let reg = match caller.registration_id {
        Some(scoped) => {
            let reg = lookup::registration_by_id(&state.app.db, scoped).await?;
            if q.registration.as_deref().is_some_and(|n| n != reg.name) {
                return Err(ApiError(AppError::new(
                    ErrorKind::Forbidden,
                    "registration_not_allowed",
                    format!("This token may only push usage for registration `{}`.", reg.name),
                )));
            }
            reg
        }
        None => lookup::resolve_registration(&state.app.db, q.registration.as_deref()).await?,
    };
    let _slot = tokio::time::timeout(UPLOAD_WAIT, state.uploads.acquire())
        .await
        .map_err(|_| AppError {
            retry_after_secs: Some(30),
            ..AppError::new(
                ErrorKind::Unavailable,
                "busy",
                "Too many usage uploads are being read right now; try again shortly.",
            )
        })?
        .map_err(|e| auth::internal("upload slots", e))?;
    let body = read_body(&headers, body, state.ingest_max_bytes).await?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = if content_type.starts_with("text/csv") {
        Format::Csv
    } else if content_type.starts_with("application/json") {
        Format::Json
    } else {
        Format::detect(&body[..body.len().min(64)])
    };
    let items = match tokio::task::spawn_blocking(move || read_all(&body, format)).await {
        Ok(Ok(items)) => items,
        Ok(Err(e)) => return Ok(malformed(&e)),
        Err(e) => return Err(auth::internal("parse task", e).into()),
    };
    let total = items.len();
    let rejected_list: Vec<RejectedRecord> = items
        .iter()
        .filter_map(|i| match i {
            Item::Rejected(r) => Some(RejectedRecord {
                index: r.index,
                reason: r.reason.clone(),
            }),
            Item::Record { .. } => None,
        })
        .collect();
    let (records, rejected) = split_items(reg.id, items);
    let actor = caller.actor_code();
    let label = format!("POST /api/v1/usage by {}", caller.actor_label());
    let batch = Batch {
        records: &records,
        rejected: &rejected,
        format,
        source: Source::Push,
        actor: &actor,
        label: &label,
        reported_at: None,
    };
    let report = ingest_batch(
        &state.app.db,
        reg.id,
        &batch,
        &mut IngestCache::default(),
        state.app.now_secs(),
    )
    .await
    .map_err(AppError::from)?;
    let mut rejected_list = rejected_list;
    rejected_list.extend(report.refused.iter().map(|(index, reason)| RejectedRecord {
        index: *index,
        reason: reason.clone(),
    }));
    rejected_list.sort_by_key(|r| r.index);
    Ok(Json(PushReport {
        registration: reg.name,
        batch_id: report.batch_id,
        records: total,
        accepted: report.accepted,
        duplicates: report.duplicates,
        corrected: report.corrected,
        stale: report.stale,
        quarantined: report.quarantined,
        rejected: rejected_list,
    })
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// One registration's name.
    registration: Option<String>,
    /// Records answered (1 to 1,000; default 100).
    limit: Option<i64>,
}

/// Open quarantined records (operators).
#[utoipa::path(get, path = "/api/v1/quarantine", tag = "Ingestion", summary = "The open quarantine",
    params(ListQuery),
    responses((status = 200, body = QuarantineBody), Refusals))]
pub(super) async fn list_quarantine(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<QuarantineBody>, ApiError> {
    auth::authorize(caller, Access::Operator)?;
    let reg = match q.registration.as_deref() {
        Some(name) => Some(lookup::resolve_registration(&state.app.db, Some(name)).await?.id),
        None => None,
    };
    let (open, value) = quarantine::list_open(&state.app.db, reg, q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(QuarantineBody { value, open }))
}

/// Reprocesses a quarantined record (operators; authorised before the body is read).
#[utoipa::path(post, path = "/api/v1/quarantine/{id}/reprocess", tag = "Ingestion", summary = "Reprocess a quarantined record",
    params(("id" = i64, Path, description = "The quarantined record.")),
    request_body(content = Option<ReprocessBody>, description = "Optional: the corrected raw text."),
    responses(
        (status = 200, body = Reprocessed),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Still not valid (`still_invalid`); it stays in the quarantine.", body = ErrorBody),
        Refusals,
    ))]
pub(super) async fn reprocess(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Reprocessed>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let body = read_body(&headers, body, REPROCESS_MAX_BYTES).await?;
    let body: ReprocessBody = if body.is_empty() {
        ReprocessBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_request(format!("The body must be {{\"raw\": \"...\"}}: {e}")))?
    };
    match quarantine::reprocess(&state.app, &caller, id, body.raw).await? {
        quarantine::Reprocessed::Accepted(r) => Ok(Json(Reprocessed {
            id,
            status: "reprocessed".into(),
            accepted: r.accepted,
            duplicates: r.duplicates,
            corrected: r.corrected,
            stale: r.stale,
        })),
        quarantine::Reprocessed::StillRejected(reason) => Err(ApiError(AppError {
            field: Some("raw".into()),
            ..AppError::new(ErrorKind::Invalid, "still_invalid", reason)
        })),
    }
}

/// Discards a quarantined record (operators).
#[utoipa::path(post, path = "/api/v1/quarantine/{id}/discard", tag = "Ingestion", summary = "Discard a quarantined record",
    params(("id" = i64, Path, description = "The quarantined record.")),
    responses((status = 200, body = Discarded), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn discard(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<Discarded>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    quarantine::discard(&state.app, &caller, id).await?;
    Ok(Json(Discarded {
        id,
        status: "discarded".into(),
    }))
}

/// The collector's state per registration (staff): last window pulled, lag, errors.
#[utoipa::path(get, path = "/api/v1/collector", tag = "Ingestion", summary = "The collector's state",
    responses((status = 200, body = Values<CollectorStatus>), Denials))]
pub(super) async fn collector_status(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Values<CollectorStatus>>, ApiError> {
    auth::authorize(caller, Access::Staff)?;
    let value = app::ssr::services::collector::status(&state.app.db, None).await?;
    Ok(Json(Values { value }))
}

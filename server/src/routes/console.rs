//! The console's actions for scripts: `/api/v1/customers` and `/api/v1/mappings`. Each
//! handler reads its input and calls the same service as the console's server function;
//! the services authorise (operators write, finance reads), validate, audit and commit.
//!
//! Lists answer `{"value":[…],"total":N,"nextLink":"…"}`; `nextLink` carries an opaque
//! `cursor` and is absent on the last page.

use super::api::{ApiError, MaybeCaller};
use super::bodies::{
    ErrorBody, LinkedValues, ListBody, MappingChanged, MeterBillingSet, MeterDescribed, OwnerBody, PasswordBody,
    RowsError, RowsErrorBody, TokenCreated, TokenRevoked, UserActionDone, UserCreated, Values,
};
use super::openapi::{Denials, FormatParam, Paging, Refusals, UserAction};
use crate::ServerState;
use app::billing::CloudTenantId;
use app::error::AppError;
use app::ssr::auth::{self, Access};
use app::ssr::services::user_subscriptions::Assigned;
use app::ssr::services::{customers, mappings};
use app::types::MeterForm;
use app::types::{decode_cursor, BilledToFilter, CustomerForm, CustomerQuery, CustomerSort, ListPage, MappingForm};
use app::types::{
    AuditEntryView, CustomerDetail, CustomerListItem, MappingHistoryEntry, MappingImportReport, MappingListItem,
    RegistrationDetail, RegistrationForm, TokenForm, TokenView, UserForm, UserSubscriptionItem, UserView,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Serialize;
use std::collections::HashMap;

type Params = Query<HashMap<String, String>>;

/// A JSON body, or a 400 that says what is wrong with it.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(AppError::bad_request(format!(
            "The body is not the JSON this endpoint takes: {e}."
        )))
    })
}

/// `offset` and `limit` from `cursor` and `limit`.
fn paging(p: &HashMap<String, String>) -> Result<(i64, i64), ApiError> {
    let offset = match p.get("cursor").map(String::as_str) {
        None | Some("") => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| {
            ApiError(AppError::invalid(
                "cursor",
                "This cursor was not issued by this list; start without one.",
            ))
        })?,
    };
    let limit = match p.get("limit").map(String::as_str) {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=app::types::MAX_PAGE_SIZE).contains(l))
            .ok_or_else(|| {
                ApiError(AppError::invalid(
                    "limit",
                    format!("`limit` is a number from 1 to {}.", app::types::MAX_PAGE_SIZE),
                ))
            })?,
    };
    Ok((offset, limit))
}

/// The same request with a new cursor: `/api/v1{path}?…&cursor=…` (parameters sorted, so
/// the link is stable).
pub(super) fn next_link(path: &str, p: &HashMap<String, String>, cursor: String) -> String {
    use app::components::form::encode_component;
    let mut pairs: Vec<(&str, &str)> = p
        .iter()
        .filter(|(k, _)| k.as_str() != "cursor")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort();
    pairs.push(("cursor", &cursor));
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect();
    format!("/api/v1{path}?{}", query.join("&"))
}

/// A list page as JSON, with the link to the next page (same parameters, new cursor).
fn list_json<T: Serialize>(path: &str, p: &HashMap<String, String>, page: ListPage<T>) -> Json<ListBody<T>> {
    let next_link = page.next_cursor().map(|cursor| next_link(path, p, cursor));
    Json(ListBody {
        // Counting stopped at `total`: at least this many.
        total_at_least: page.total_at_least.then_some(true),
        value: page.items,
        total: page.total,
        next_link,
    })
}

/// `GET /api/v1/customers?q=&billed_to=mapped|base&sort=name|tenant|created&desc=true&cursor=&limit=`
#[utoipa::path(get, path = "/api/v1/customers", tag = "Customers", summary = "List customers",
    params(
        ("q" = Option<String>, Query, description = "Part of the name or tenant."),
        ("billed_to" = Option<String>, Query, description = "`mapped` (own customer subscription) or `base`."),
        ("sort" = Option<String>, Query, description = "`name` (default), `tenant` or `created`."),
        ("desc" = Option<bool>, Query, description = "Descending order."),
        Paging,
    ),
    responses((status = 200, body = ListBody<CustomerListItem>), Refusals))]
pub(super) async fn list_customers(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Params,
) -> Result<Json<ListBody<CustomerListItem>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let (offset, limit) = paging(&p)?;
    let sort = match p.get("sort").map(String::as_str) {
        None | Some("") => CustomerSort::Name,
        Some(s) => CustomerSort::parse(s)
            .ok_or_else(|| ApiError(AppError::invalid("sort", "`sort` is name, tenant or created.")))?,
    };
    let billed_to = BilledToFilter::parse(p.get("billed_to").map(String::as_str).unwrap_or(""))?;
    let query = CustomerQuery {
        q: p.get("q").cloned().unwrap_or_default(),
        sort,
        desc: matches!(p.get("desc").map(String::as_str), Some("true" | "1")),
        billed_to,
        offset,
        limit,
    };
    let page = customers::list_customers(&state.app, &caller, &query).await?;
    Ok(list_json("/customers", &p, page))
}

/// `GET /api/v1/customers/{id}/details`: the customer with its mappings and history.
#[utoipa::path(get, path = "/api/v1/customers/{id}/details", tag = "Customers", summary = "A customer's details",
    params(("id" = i64, Path, description = "The customer.")),
    responses((status = 200, body = CustomerDetail), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn customer_detail(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<CustomerDetail>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    Ok(Json(customers::customer_detail(&state.app, &caller, id).await?))
}

/// `POST /api/v1/customers` with `{"name","cloud_tenant_id",…}`: 201 and the customer.
#[utoipa::path(post, path = "/api/v1/customers", tag = "Customers", summary = "Create a customer",
    request_body = CustomerForm,
    responses((status = 201, body = CustomerDetail), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn create_customer(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: CustomerForm = json_body(&body)?;
    let id = customers::create_customer(&state.app, &caller, &form).await?;
    let detail = customers::customer_detail(&state.app, &caller, id).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// `PUT /api/v1/customers/{id}` with the whole customer.
#[utoipa::path(put, path = "/api/v1/customers/{id}", tag = "Customers", summary = "Update a customer",
    params(("id" = i64, Path, description = "The customer.")),
    request_body = CustomerForm,
    responses((status = 200, body = CustomerDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn update_customer(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<CustomerDetail>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: CustomerForm = json_body(&body)?;
    customers::update_customer(&state.app, &caller, id, &form).await?;
    Ok(Json(customers::customer_detail(&state.app, &caller, id).await?))
}

/// `GET /api/v1/mappings?registration=&at=YYYY-MM-DD&cursor=&limit=`: the mappings in
/// effect on a day (default today).
#[utoipa::path(get, path = "/api/v1/mappings", tag = "Mappings", summary = "Mappings in effect on a day",
    params(
        ("registration" = Option<String>, Query, description = "One registration's name."),
        ("at" = Option<String>, Query, description = "The day, `YYYY-MM-DD` (default today)."),
        Paging,
    ),
    responses((status = 200, body = ListBody<MappingListItem>), Refusals))]
pub(super) async fn list_mappings(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Params,
) -> Result<Json<ListBody<MappingListItem>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let (offset, limit) = paging(&p)?;
    let page = mappings::list_mappings(
        &state.app,
        &caller,
        p.get("registration").map(String::as_str),
        p.get("at").map(String::as_str),
        offset,
        limit,
    )
    .await?;
    Ok(list_json("/mappings", &p, page))
}

fn tenant(raw: &str) -> Result<CloudTenantId, ApiError> {
    Ok(app::ssr::services::lookup::cloud_tenant(raw, "cloud_tenant_id")?)
}

async fn apply(
    state: &ServerState,
    caller: &auth::Caller,
    tenant: CloudTenantId,
    form: &MappingForm,
) -> Result<Json<MappingChanged>, ApiError> {
    let change = mappings::parse_form(&state.app, tenant, form, mappings::ChangeSource::Api).await?;
    let outcome = mappings::change_mapping(&state.app, caller, change).await?;
    Ok(Json(MappingChanged {
        cloud_tenant_id: tenant.to_string(),
        effective_on: outcome.effective_on,
        before: outcome.before.map(|s| s.to_string()),
        after: outcome.after.map(|s| s.to_string()),
        replaced_same_day: outcome.replaced_same_day,
        change_id: outcome.change_id,
    }))
}

/// `PUT /api/v1/mappings/{cloud_tenant_id}` with `{"registration","customer_subscription_id","effective_on"}`:
/// maps or re-maps from that day.
#[utoipa::path(put, path = "/api/v1/mappings/{cloud_tenant_id}", tag = "Mappings", summary = "Map a tenant from a day",
    params(("cloud_tenant_id" = String, Path, description = "The customer's Azure AD tenant (a GUID).")),
    request_body = MappingForm,
    responses((status = 200, body = MappingChanged), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn put_mapping(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Json<MappingChanged>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let tenant = tenant(&raw)?;
    let form: MappingForm = json_body(&body)?;
    if form.customer_subscription_id.trim().is_empty() {
        return Err(ApiError(AppError::invalid(
            "customer_subscription_id",
            "Give the customer subscription; to unmap, use DELETE.",
        )));
    }
    apply(&state, &caller, tenant, &form).await
}

/// `DELETE /api/v1/mappings/{cloud_tenant_id}?registration=&effective_on=`: the tenant
/// falls back to the base subscription from that day.
#[utoipa::path(delete, path = "/api/v1/mappings/{cloud_tenant_id}", tag = "Mappings", summary = "Unmap a tenant from a day",
    params(
        ("cloud_tenant_id" = String, Path, description = "The customer's Azure AD tenant (a GUID)."),
        ("registration" = Option<String>, Query, description = "The registration's name (needed when there are several)."),
        ("effective_on" = Option<String>, Query, description = "The first day billed to the base, `YYYY-MM-DD` (default today)."),
    ),
    responses((status = 200, body = MappingChanged), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn delete_mapping(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(raw): Path<String>,
    Query(p): Params,
) -> Result<Json<MappingChanged>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let tenant = tenant(&raw)?;
    let form = MappingForm {
        registration: p.get("registration").cloned().unwrap_or_default(),
        customer_subscription_id: String::new(),
        effective_on: p.get("effective_on").cloned().unwrap_or_default(),
    };
    apply(&state, &caller, tenant, &form).await
}

/// `GET /api/v1/mappings/{cloud_tenant_id}/history`: every recorded change, newest first.
#[utoipa::path(get, path = "/api/v1/mappings/{cloud_tenant_id}/history", tag = "Mappings", summary = "A tenant's mapping history",
    params(("cloud_tenant_id" = String, Path, description = "The customer's Azure AD tenant (a GUID).")),
    responses((status = 200, body = Values<MappingHistoryEntry>), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn mapping_history(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(raw): Path<String>,
) -> Result<Json<Values<MappingHistoryEntry>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let tenant = tenant(&raw)?;
    let value = mappings::mapping_history(&state.app, &caller, tenant).await?;
    Ok(Json(Values { value }))
}

/// `GET /api/v1/user-subscriptions?status=unassigned|assigned&registration=&q=&cursor=&limit=`
#[utoipa::path(get, path = "/api/v1/user-subscriptions", tag = "User subscriptions", summary = "List user subscriptions",
    params(
        ("status" = Option<String>, Query, description = "`unassigned` or `assigned`."),
        ("registration" = Option<String>, Query, description = "One registration's name."),
        ("q" = Option<String>, Query, description = "Part of the id, name or tenant."),
        Paging,
    ),
    responses((status = 200, body = ListBody<UserSubscriptionItem>), Refusals))]
pub(super) async fn list_user_subscriptions(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Params,
) -> Result<Json<ListBody<UserSubscriptionItem>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let (offset, limit) = paging(&p)?;
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let query = app::types::UserSubscriptionQuery {
        registration: get("registration"),
        status: get("status"),
        q: get("q"),
        offset,
        limit,
    };
    let page = app::ssr::services::user_subscriptions::list_user_subscriptions(&state.app, &caller, &query).await?;
    Ok(list_json("/user-subscriptions", &p, page))
}

/// `POST /api/v1/user-subscriptions/{id}/owner` with `{"cloud_tenant_id"}`: its usage
/// bills to that tenant's customer for every period not yet invoiced.
#[utoipa::path(post, path = "/api/v1/user-subscriptions/{id}/owner", tag = "User subscriptions", summary = "Assign a user subscription to a tenant",
    params(("id" = i64, Path, description = "The user subscription (Stackbill's id).")),
    request_body = OwnerBody,
    responses((status = 200, body = Assigned), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn assign_owner(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Assigned>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let b: OwnerBody = json_body(&body)?;
    let form = app::types::AssignForm {
        cloud_tenant_id: b.cloud_tenant_id,
        subscriptions: vec![id],
    };
    let mut done = app::ssr::services::user_subscriptions::assign(&state.app, &caller, &form).await?;
    let first = done
        .drain(..)
        .next()
        .ok_or_else(|| ApiError(auth::internal("assign", "no subscription assigned")))?;
    Ok(Json(first))
}

/// `GET /api/v1/audit?entity=&actor=&action=&since=&until=&cursor=&limit=`: JSON pages,
/// or with `Accept: text/csv` (or `format=csv`) every matching entry as one CSV document,
/// written page by page as it is read.
#[utoipa::path(get, path = "/api/v1/audit", tag = "Audit", summary = "The audit log",
    params(
        ("entity" = Option<String>, Query, description = "What changed (`customer:12`, `mapping`, …)."),
        ("actor" = Option<String>, Query, description = "Who (`user:…`, `token:…`, `system`)."),
        ("action" = Option<String>, Query, description = "The action (`mapping.changed`, …)."),
        ("since" = Option<String>, Query, description = "From this day or instant (ISO 8601)."),
        ("until" = Option<String>, Query, description = "Up to this day or instant."),
        ("cursor" = Option<String>, Query, description = "The opaque cursor from `nextLink`."),
        ("limit" = Option<i64>, Query, description = "Entries per page (1 to 500)."),
        FormatParam,
    ),
    responses(
        (status = 200, description = "Newest first; with CSV every matching entry, streamed.", content(
            (LinkedValues<AuditEntryView> = "application/json"),
            (String = "text/csv"),
        )),
        Refusals,
    ))]
pub(super) async fn audit(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    headers: http::HeaderMap,
    Query(p): Params,
) -> Result<Response, ApiError> {
    use app::ssr::services::audit_log;
    let caller = auth::authorize(caller, Access::Staff)?;
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let mut query = app::types::AuditQuery {
        entity: get("entity"),
        actor: get("actor"),
        action: get("action"),
        since: get("since"),
        until: get("until"),
        cursor: get("cursor"),
        limit: match p.get("limit") {
            None => 0,
            Some(l) => l
                .parse()
                .map_err(|_| ApiError(AppError::invalid("limit", "`limit` is a number.")))?,
        },
    };
    let csv = p.get("format").map(String::as_str) == Some("csv")
        || headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"));
    if !csv {
        let page = audit_log::list_audit(&state.app, &caller, &query).await?;
        return Ok(Json(LinkedValues {
            value: page.items,
            next_link: page.next_cursor.map(|c| next_link("/audit", &p, c)),
        })
        .into_response());
    }
    // Checked before the answer starts, so a bad filter is a 422, not a broken download.
    audit_log::filter_of(&query)?;
    query.limit = app::types::MAX_PAGE_SIZE;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let app_state = state.app.clone();
    tokio::spawn(async move {
        if tx
            .send(Ok(Bytes::from_static(audit_log::CSV_HEADER.as_bytes())))
            .await
            .is_err()
        {
            return;
        }
        loop {
            match audit_log::list_audit(&app_state, &caller, &query).await {
                Ok(page) => {
                    let chunk: String = page.items.iter().map(audit_log::csv_line).collect();
                    if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                        return; // the client went away
                    }
                    match page.next_cursor {
                        Some(c) => query.cursor = c,
                        None => return,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    let _ = tx.send(Err(std::io::Error::other("audit export failed"))).await;
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok((
        [
            (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (http::header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// `GET /api/v1/mappings/export?registration=`: the mappings in effect today and those
/// scheduled, as the CSV the import takes.
#[utoipa::path(get, path = "/api/v1/mappings/export", tag = "Mappings", summary = "Export mappings as CSV",
    params(("registration" = Option<String>, Query, description = "One registration's name.")),
    responses((status = 200, description = "The CSV the import takes.", content((String = "text/csv"))), Refusals))]
pub(super) async fn export_mappings(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let csv =
        app::ssr::services::mapping_csv::export(&state.app, &caller, p.get("registration").map(String::as_str)).await?;
    Ok((
        [
            (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"mappings.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// `POST /api/v1/mappings/import?dry_run=true|false` with the CSV as the body: every row's
/// outcome, or 422 `{"error":{…,"rows":[{"row","column","message"}]}}` and nothing changed.
#[utoipa::path(post, path = "/api/v1/mappings/import", tag = "Mappings", summary = "Import mappings from CSV",
    params(("dry_run" = Option<bool>, Query, description = "Check only (default true): nothing changes.")),
    request_body(content = String, content_type = "text/csv", description = "The CSV of `mappings/export`."),
    responses(
        (status = 200, body = MappingImportReport),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Refused whole, every row's problem; nothing changed.", body = RowsErrorBody),
        Refusals,
    ))]
pub(super) async fn import_mappings(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Query(p): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let dry_run = match p.get("dry_run").map(String::as_str) {
        None | Some("true" | "1") => true,
        Some("false" | "0") => false,
        Some(_) => return Err(ApiError(AppError::invalid("dry_run", "`dry_run` is true or false."))),
    };
    match app::ssr::services::mapping_csv::import(&state.app, &caller, &body, dry_run).await {
        Ok(report) => Ok(Json(report).into_response()),
        Err(refused) if refused.rows.is_empty() => Err(ApiError(*refused.error)),
        Err(refused) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(RowsErrorBody {
                error: RowsError {
                    error: *refused.error,
                    rows: refused.rows,
                },
            }),
        )
            .into_response()),
    }
}

/// `PUT /api/v1/meters/{id}/billing` with `{"billing":"billable|report_only","effective_on"}`.
#[utoipa::path(put, path = "/api/v1/meters/{id}/billing", tag = "Meters", summary = "Charge or only report a meter from a day",
    params(("id" = String, Path, description = "The meter id (a GUID).")),
    request_body = MeterForm,
    responses((status = 200, body = MeterBillingSet), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn set_meter_billing(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<MeterBillingSet>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::MeterForm = json_body(&body)?;
    let day = app::ssr::services::meters::set_billing(&state.app, &caller, &id, &form).await?;
    Ok(Json(MeterBillingSet {
        meter_id: id,
        billing: form.billing,
        effective_on: day,
    }))
}

/// `PUT /api/v1/meters/{id}` with `{"name","unit","service"}`: names a discovered meter.
#[utoipa::path(put, path = "/api/v1/meters/{id}", tag = "Meters", summary = "Name a meter",
    params(("id" = String, Path, description = "The meter id (a GUID).")),
    request_body = MeterForm,
    responses((status = 200, body = MeterDescribed), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn describe_meter(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<MeterDescribed>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::MeterForm = json_body(&body)?;
    app::ssr::services::meters::describe(&state.app, &caller, &id, &form).await?;
    Ok(Json(MeterDescribed {
        meter_id: id,
        name: form.name.trim().to_owned(),
        unit: form.unit.trim().to_owned(),
        service: form.service.trim().to_owned(),
    }))
}

/// `GET /api/v1/users` (staff): every user, never a password hash.
#[utoipa::path(get, path = "/api/v1/users", tag = "Users and tokens", summary = "List users",
    responses((status = 200, body = Values<UserView>), Denials))]
pub(super) async fn users(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Values<UserView>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let people = app::ssr::services::people::people(&state.app, &caller).await?;
    Ok(Json(Values { value: people.users }))
}

/// `GET /api/v1/tokens` (staff): every token with its first characters, never the secret.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "Users and tokens", summary = "List API tokens",
    responses((status = 200, body = Values<TokenView>), Denials))]
pub(super) async fn tokens(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Values<TokenView>>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    let people = app::ssr::services::people::people(&state.app, &caller).await?;
    Ok(Json(Values { value: people.tokens }))
}

/// `POST /api/v1/users` with `{"email","display_name","role","customer","password","locale"}`:
/// 201; a generated password (none given) is in `password`, once.
#[utoipa::path(post, path = "/api/v1/users", tag = "Users and tokens", summary = "Create a user",
    request_body = UserForm,
    responses((status = 201, body = UserCreated), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn create_user(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::UserForm = json_body(&body)?;
    let (id, shown) = app::ssr::services::people::create_user(&state.app, &caller, &form).await?;
    let body = UserCreated {
        id,
        password: shown.map(|s| s.secret),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/v1/users/{id}/{action}`: `disable`, `enable`, `sign-out` (every session),
/// `reset-password` (body `{"password"}` optional; a generated one comes back once).
#[utoipa::path(post, path = "/api/v1/users/{id}/{action}", tag = "Users and tokens", summary = "Disable, enable, sign out or reset a user",
    params(
        ("id" = i64, Path, description = "The user."),
        ("action" = UserAction, Path, description = "What to do."),
    ),
    request_body(content = Option<PasswordBody>, description = "`reset-password` only, optional."),
    responses((status = 200, body = UserActionDone), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn user_action(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path((id, action)): Path<(i64, String)>,
    body: Bytes,
) -> Result<Json<UserActionDone>, ApiError> {
    use app::ssr::services::people;
    let caller = auth::authorize(caller, Access::Operator)?;
    match action.as_str() {
        "disable" | "enable" => {
            people::set_enabled(&state.app, &caller, id, action == "enable").await?;
            Ok(Json(UserActionDone::Enabled {
                id,
                enabled: action == "enable",
            }))
        }
        "sign-out" => {
            let ended = people::sign_out_everywhere(&state.app, &caller, id).await?;
            Ok(Json(UserActionDone::SignedOut {
                id,
                sessions_ended: ended,
            }))
        }
        "reset-password" => {
            let b: PasswordBody = if body.is_empty() {
                PasswordBody::default()
            } else {
                json_body(&body)?
            };
            let shown = people::reset_password(&state.app, &caller, id, &b.password).await?;
            Ok(Json(UserActionDone::PasswordReset {
                id,
                password: shown.map(|s| s.secret),
            }))
        }
        _ => Err(ApiError(AppError::not_found("not_found", "No such action."))),
    }
}

/// `POST /api/v1/tokens` with `{"name","role","customer","registration","expires_in"}`: 201
/// with the token, once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "Users and tokens", summary = "Create an API token",
    request_body = TokenForm,
    responses((status = 201, description = "The secret, shown this once.", body = TokenCreated), (status = 400, body = ErrorBody), Refusals))]
pub(super) async fn create_token(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::TokenForm = json_body(&body)?;
    let (id, shown) = app::ssr::services::people::create_token(&state.app, &caller, &form).await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id,
            token: shown.secret,
        }),
    )
        .into_response())
}

/// `POST /api/v1/tokens/{id}/revoke`: it stops working at once.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "Users and tokens", summary = "Revoke an API token",
    params(("id" = i64, Path, description = "The token.")),
    responses((status = 200, body = TokenRevoked), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn revoke_token(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<TokenRevoked>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    app::ssr::services::people::revoke_token(&state.app, &caller, id).await?;
    Ok(Json(TokenRevoked { id, revoked: true }))
}

/// `POST /api/v1/registrations` with `{"name","base_subscription_id","resource_group",
/// "currency","active_from","usage_endpoint","provider_subscription_id","token_env"}`: 201
/// and the registration (never a token).
#[utoipa::path(post, path = "/api/v1/registrations", tag = "Registrations", summary = "Create a registration",
    request_body = RegistrationForm,
    responses((status = 201, body = RegistrationDetail), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), Refusals))]
pub(super) async fn create_registration(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::RegistrationForm = json_body(&body)?;
    let id = app::ssr::services::registrations::create_from_form(&state.app, &caller, &form).await?;
    let detail = app::ssr::services::registrations::detail(&state.app, &caller, id).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// `GET /api/v1/registrations/{id}`: settings, collector state and records per day.
#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "Registrations", summary = "A registration",
    params(("id" = i64, Path, description = "The registration.")),
    responses((status = 200, body = RegistrationDetail), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn registration_detail(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
) -> Result<Json<RegistrationDetail>, ApiError> {
    let caller = auth::authorize(caller, Access::Staff)?;
    Ok(Json(
        app::ssr::services::registrations::detail(&state.app, &caller, id).await?,
    ))
}

/// `PUT /api/v1/registrations/{id}` with the same body as `POST` (the name stays).
#[utoipa::path(put, path = "/api/v1/registrations/{id}", tag = "Registrations", summary = "Update a registration",
    params(("id" = i64, Path, description = "The registration.")),
    request_body = RegistrationForm,
    responses((status = 200, body = RegistrationDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), Refusals))]
pub(super) async fn update_registration(
    State(state): State<ServerState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RegistrationDetail>, ApiError> {
    let caller = auth::authorize(caller, Access::Operator)?;
    let form: app::types::RegistrationForm = json_body(&body)?;
    app::ssr::services::registrations::update_from_form(&state.app, &caller, id, &form).await?;
    Ok(Json(
        app::ssr::services::registrations::detail(&state.app, &caller, id).await?,
    ))
}

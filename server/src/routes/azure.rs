//! Azure's own paths, for scripts and SDKs written against Azure Stack and Azure:
//!
//! - `GET /subscriptions/{sub}/providers/Microsoft.Commerce/UsageAggregates` (tenant usage)
//! - `GET /subscriptions/{sub}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates`
//!   (provider usage)
//! - `PUT | GET | DELETE /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AzureStack/
//!   registrations/{name}/customerSubscriptions[/{id}]` (CSP tenant mapping)
//!
//! ARM paths are case-insensitive (clients send `usageAggregates` and `UsageAggregates`,
//! `resourcegroups` and `resourceGroups`), so one route takes every path under
//! `/subscriptions/` and matches its segments without regard to case. The use cases are in
//! `services::usage_aggregates` and `services::customer_subscriptions`.

use super::api::{ApiError, MaybeCaller};
use crate::ServerState;
use app::components::form::encode_component;
use app::ssr::services::customer_subscriptions::{self as csubs, RegistrationPath};
use app::ssr::services::usage_aggregates::{self, AzureError, Endpoint};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use std::collections::HashMap;

/// The routes.
pub fn router() -> axum::Router<ServerState> {
    axum::Router::new().route(
        "/subscriptions/{*rest}",
        axum::routing::get(dispatch).put(dispatch).delete(dispatch),
    )
}

fn json(status: u16, body: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(http::header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn error(e: AzureError) -> Response {
    json(e.status, e.body())
}

/// The request's URL on Stackbill's public address with the query's `name` replaced.
fn link(state: &ServerState, path: &str, p: &HashMap<String, String>, name: &str, value: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = p
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort();
    pairs.push((name, value));
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect();
    format!(
        "{}{path}?{}",
        state.app.settings.public_url.trim_end_matches('/'),
        query.join("&")
    )
}

async fn dispatch(
    State(state): State<ServerState>,
    caller: Result<MaybeCaller, ApiError>,
    method: Method,
    Path(rest): Path<String>,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let caller = match caller {
        Ok(MaybeCaller(caller)) => caller,
        // A malformed, expired or revoked token: Azure's answer in Azure's shape, so an SDK
        // reports it as it would against Azure (no token at all is `AuthenticationFailed`).
        Err(ApiError(e)) if e.status() == 401 => {
            let mut response = error(AzureError::new(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid, expired or revoked.",
            ));
            response
                .headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
            return response;
        }
        // Anything else (a throttled caller, the database away) keeps its own answer.
        Err(e) => return e.into_response(),
    };
    let path = format!("/subscriptions/{rest}");
    let seg: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let lower: Vec<String> = seg.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (l.as_slice(), &method) {
        ([_, "providers", "microsoft.commerce", "usageaggregates"], &Method::GET) => {
            usage(&state, caller, Endpoint::Tenant(seg[0].to_owned()), &path, &p).await
        }
        ([_, "providers", "microsoft.commerce.admin", "subscriberusageaggregates"], &Method::GET) => {
            usage(&state, caller, Endpoint::Provider(seg[0].to_owned()), &path, &p).await
        }
        (
            [_, "resourcegroups", _, "providers", "microsoft.azurestack", "registrations", _, "customersubscriptions", rest @ ..],
            m,
        ) if rest.len() <= 1 => {
            let reg = RegistrationPath {
                subscription: seg[0].to_owned(),
                resource_group: seg[2].to_owned(),
                name: seg[6].to_owned(),
            };
            let id = rest.first().map(|_| seg[8]);
            let result = match (id, m) {
                (None, &Method::GET) => csubs::list(&state.app, &caller, &reg, &p).await.map(|(value, next)| {
                    let mut body = serde_json::json!({ "value": value });
                    if let Some(token) = next {
                        body["nextLink"] = link(&state, &path, &p, "$skipToken", &token).into();
                    }
                    (200, body.to_string())
                }),
                (Some(id), &Method::GET) => csubs::get(&state.app, &caller, &reg, id, &p)
                    .await
                    .map(|v| (200, v.to_string())),
                (Some(id), &Method::PUT) => csubs::put(&state.app, &caller, &reg, id, &p, &body)
                    .await
                    .map(|v| (200, v.to_string())),
                (Some(id), &Method::DELETE) => csubs::delete(&state.app, &caller, &reg, id, &p)
                    .await
                    .map(|()| (200, String::new())),
                _ => Err(method_not_allowed(&method)),
            };
            match result {
                Ok((status, body)) if body.is_empty() => {
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK).into_response()
                }
                Ok((status, body)) => json(status, body),
                Err(e) => error(e),
            }
        }
        ([_, "providers", "microsoft.commerce", "usageaggregates"], _)
        | ([_, "providers", "microsoft.commerce.admin", "subscriberusageaggregates"], _) => {
            error(method_not_allowed(&method))
        }
        _ => error(AzureError::new(
            404,
            "NotFound",
            format!("Stackbill serves no Azure resource at '{path}'."),
        )),
    }
}

fn method_not_allowed(method: &Method) -> AzureError {
    AzureError::new(
        405,
        "MethodNotAllowed",
        format!("The {method} method is not supported on this resource."),
    )
}

/// A usage page: `{"value":[…],"nextLink":…}` with each record written as Azure Stack
/// writes it (quantities with every digit).
async fn usage(
    state: &ServerState,
    caller: Option<app::ssr::auth::Caller>,
    endpoint: Endpoint,
    path: &str,
    p: &HashMap<String, String>,
) -> Response {
    match usage_aggregates::usage_aggregates(&state.app, caller, endpoint, p).await {
        Ok(page) => {
            let mut body = String::with_capacity(page.value.iter().map(String::len).sum::<usize>() + 64);
            body.push_str("{\"value\":[");
            body.push_str(&page.value.join(","));
            body.push(']');
            if let Some(token) = page.continuation {
                let next = link(state, path, p, "continuationToken", &token);
                body.push_str(",\"nextLink\":");
                body.push_str(&serde_json::Value::from(next).to_string());
            }
            body.push('}');
            json(200, body)
        }
        Err(e) => error(e),
    }
}

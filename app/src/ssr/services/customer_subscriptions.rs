//! The Azure-compatible CSP registration mapping: `Microsoft.AzureStack/registrations/
//! {registrationName}/customerSubscriptions`, as Azure serves it, on top of the mapping
//! service the console uses — so `New-AzResource`, `Get-AzResource`, `Remove-AzResource`
//! and the Azure SDKs map tenants in Stackbill exactly as in Azure, with the console's
//! rules, history and audit trail.

use super::mappings::{self, ChangeSource, MappingChange};
use super::usage_aggregates::AzureError;
use crate::billing::{CloudTenantId, SubscriptionId};
use crate::error::{AppError, ErrorKind};
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db;
use crate::ssr::state::AppState;
use base64::Engine as _;
use serde_json::json;
use std::collections::HashMap;

/// The API versions of the registration resource provider.
pub const API_VERSIONS: [&str; 3] = ["2017-06-01", "2020-06-01-preview", "2022-06-01"];
/// Customer subscriptions per list page.
pub const LIST_PAGE: i64 = 100;

/// The registration resource a request names: `/subscriptions/{subscription}/resourceGroups/
/// {resource_group}/providers/Microsoft.AzureStack/registrations/{name}`.
#[derive(Debug, Clone)]
pub struct RegistrationPath {
    /// The registration's (base) subscription.
    pub subscription: String,
    /// Its resource group.
    pub resource_group: String,
    /// Its name.
    pub name: String,
}

/// A registration found by its path.
struct Found {
    id: i64,
    base: String,
    resource_group: String,
    name: String,
}

impl Found {
    fn resource(&self, subscription: &str, tenant: &str) -> serde_json::Value {
        json!({
            "id": format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.AzureStack/registrations/{}/customerSubscriptions/{subscription}",
                self.base, self.resource_group, self.name
            ),
            "name": format!("{}/{subscription}", self.name),
            "type": "Microsoft.AzureStack/registrations/customerSubscriptions",
            "properties": { "tenantId": tenant },
        })
    }
}

fn check_version(params: &HashMap<String, String>) -> Result<(), AzureError> {
    let version = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.trim());
    match version {
        None | Some("") => Err(AzureError::new(
            400,
            "MissingApiVersionParameter",
            format!(
                "The api-version query parameter (?api-version=) is required for all requests; use one of {}.",
                API_VERSIONS.join(", ")
            ),
        )),
        Some(v) if API_VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(AzureError::new(
            400,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                API_VERSIONS.join(",")
            ),
        )),
    }
}

/// Checks the caller, the version and the registration (in that order, as ARM does).
async fn begin(
    state: &AppState,
    caller: &Option<Caller>,
    access: Access,
    path: &RegistrationPath,
    params: &HashMap<String, String>,
) -> Result<(Caller, Found), AzureError> {
    let by = crate::ssr::auth::authorize(caller.clone(), access).map_err(|_| AzureError::caller(caller))?;
    check_version(params)?;
    let mut c = state.db.conn().await?;
    let found = db::registrations::list_registrations(&mut c)
        .await?
        .into_iter()
        .find(|r| {
            r.base_subscription_id.eq_ignore_ascii_case(path.subscription.trim())
                && r.resource_group.eq_ignore_ascii_case(path.resource_group.trim())
                && r.name.eq_ignore_ascii_case(path.name.trim())
        })
        .ok_or_else(|| {
            AzureError::new(
                404,
                "RegistrationNotFound",
                format!(
                    "The registration '{}' was not found in resource group '{}' of subscription '{}'.",
                    path.name, path.resource_group, path.subscription
                ),
            )
        })?;
    Ok((
        by,
        Found {
            id: found.id,
            base: found.base_subscription_id,
            resource_group: found.resource_group,
            name: found.name,
        },
    ))
}

fn customer_subscription(raw: &str) -> Result<SubscriptionId, AzureError> {
    SubscriptionId::parse(raw.trim()).map_err(|_| {
        AzureError::new(
            400,
            "InvalidCustomerSubscriptionId",
            format!("The customer subscription id '{raw}' is not a valid subscription id (a GUID)."),
        )
    })
}

fn not_mapped(found: &Found, sub: &SubscriptionId) -> AzureError {
    AzureError::new(
        404,
        "CustomerSubscriptionNotFound",
        format!(
            "The customer subscription '{sub}' is not registered on registration '{}'.",
            found.name
        ),
    )
}

/// The tenant (its GUID) a customer subscription is registered for today, or
/// `CustomerSubscriptionNotFound`.
async fn registered_tenant(state: &AppState, found: &Found, sub: &SubscriptionId) -> Result<String, AzureError> {
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    db::mappings::find_tenant_of_subscription(&mut c, found.id, &sub.to_string(), today)
        .await?
        .ok_or_else(|| not_mapped(found, sub))
}

/// A refusal of the mapping service, in Azure's terms.
fn refused(e: AppError) -> AzureError {
    match e.kind {
        ErrorKind::Invalid => AzureError::new(400, "InvalidProperty", e.message),
        ErrorKind::Conflict => AzureError::new(409, "Conflict", e.message),
        ErrorKind::NotFound => AzureError::new(404, "NotFound", e.message),
        ErrorKind::Forbidden | ErrorKind::Unauthenticated => AzureError::new(403, "AuthorizationFailed", e.message),
        _ => e.into(),
    }
}

/// `GET …/customerSubscriptions/{id}`: the tenant it is registered for today.
pub async fn get(
    state: &AppState,
    caller: &Option<Caller>,
    path: &RegistrationPath,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<serde_json::Value, AzureError> {
    let (_, found) = begin(state, caller, Access::Staff, path, params).await?;
    let sub = customer_subscription(id)?;
    let tenant = registered_tenant(state, &found, &sub).await?;
    Ok(found.resource(&sub.to_string(), &tenant))
}

/// `GET …/customerSubscriptions`: those registered today, by subscription, a page at a
/// time (`$skipToken` continues).
pub async fn list(
    state: &AppState,
    caller: &Option<Caller>,
    path: &RegistrationPath,
    params: &HashMap<String, String>,
) -> Result<(Vec<serde_json::Value>, Option<String>), AzureError> {
    let (_, found) = begin(state, caller, Access::Staff, path, params).await?;
    let after = match params.iter().find(|(k, _)| k.eq_ignore_ascii_case("$skipToken")) {
        None => String::new(),
        Some((_, raw)) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| SubscriptionId::parse(s).is_ok())
            .ok_or_else(|| AzureError::new(400, "InvalidProperty", "The $skipToken is not one this service gave."))?,
    };
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    let mut rows = db::mappings::list_customer_subscriptions(&mut c, found.id, today, &after, LIST_PAGE + 1).await?;
    let more = rows.len() as i64 > LIST_PAGE;
    rows.truncate(LIST_PAGE as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|(s, _)| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s))
        })
        .flatten();
    Ok((rows.iter().map(|(s, t)| found.resource(s, t)).collect(), next))
}

/// `PUT …/customerSubscriptions/{id}` with `{"properties":{"tenantId":…}}`: registers the
/// subscription for the tenant from today, replacing the tenant's previous one.
pub async fn put(
    state: &AppState,
    caller: &Option<Caller>,
    path: &RegistrationPath,
    id: &str,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Result<serde_json::Value, AzureError> {
    let (by, found) = begin(state, caller, Access::Operator, path, params).await?;
    let sub = customer_subscription(id)?;
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        AzureError::new(
            400,
            "InvalidRequestContent",
            format!("The request content is not valid JSON: {e}."),
        )
    })?;
    let raw = value
        .get("properties")
        .and_then(|p| p.get("tenantId"))
        .and_then(|t| t.as_str())
        .ok_or_else(|| {
            AzureError::new(
                400,
                "InvalidProperty",
                "The property 'properties.tenantId' is required.",
            )
        })?;
    let tenant = CloudTenantId::parse(raw.trim()).map_err(|_| {
        AzureError::new(
            400,
            "InvalidProperty",
            format!("The property 'properties.tenantId' is invalid: '{raw}' is not a directory tenant id (a GUID)."),
        )
    })?;
    mappings::change_mapping(
        state,
        &by,
        MappingChange {
            registration_id: found.id,
            cloud_tenant: tenant,
            subscription: Some(sub),
            effective_on: None,
            source: ChangeSource::Azure,
        },
    )
    .await
    .map_err(refused)?;
    Ok(found.resource(&sub.to_string(), &tenant.to_string()))
}

/// `DELETE …/customerSubscriptions/{id}`: the tenant it was registered for falls back to the
/// registration's base subscription from today.
pub async fn delete(
    state: &AppState,
    caller: &Option<Caller>,
    path: &RegistrationPath,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<(), AzureError> {
    let (by, found) = begin(state, caller, Access::Operator, path, params).await?;
    let sub = customer_subscription(id)?;
    let tenant = registered_tenant(state, &found, &sub).await?;
    let tenant = db::parse_stored("tenant", &tenant, CloudTenantId::parse)?;
    mappings::change_mapping(
        state,
        &by,
        MappingChange {
            registration_id: found.id,
            cloud_tenant: tenant,
            subscription: None,
            effective_on: None,
            source: ChangeSource::Azure,
        },
    )
    .await
    .map_err(refused)?;
    Ok(())
}

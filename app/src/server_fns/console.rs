//! The operator console's server functions: customers and their mappings. Each one is a
//! thin shell around the service `/api/v1` calls too; the services authorise (operators
//! write, finance reads), validate, audit and commit.
//!
//! Writes end in a redirect so that the plain HTML form posts the pages render before
//! hydration land on a page too.

use crate::error::AppError;
use crate::types::{
    AssignForm, AuditPage, AuditQuery, CustomerDetail, CustomerForm, CustomerListItem, CustomerQuery,
    IngestionOverview, ListPage, MappingForm, MappingImportOutcome, MappingListItem, MappingPreview, MeterCatalogue,
    MeterForm, MeterQuery, People, RegistrationDetail, RegistrationForm, RegistrationSummary, ShownOnce, TokenForm,
    UserForm, UserSubscriptionItem, UserSubscriptionQuery,
};
use leptos::prelude::*;

/// One page of the customer list.
#[server(prefix = "/api/fn", endpoint = "list_customers")]
pub async fn list_customers(query: CustomerQuery) -> Result<ListPage<CustomerListItem>, AppError> {
    use crate::ssr::{auth::Access, services::customers};
    let (state, caller) = super::context::require(Access::Staff).await?;
    customers::list_customers(&state, &caller, &query).await
}

/// A customer with its mappings.
#[server(prefix = "/api/fn", endpoint = "customer_detail")]
pub async fn get_customer_detail(id: i64) -> Result<CustomerDetail, AppError> {
    use crate::ssr::{auth::Access, services::customers};
    let (state, caller) = super::context::require(Access::Staff).await?;
    customers::customer_detail(&state, &caller, id).await
}

/// Creates a customer, then shows it.
#[server(prefix = "/api/fn", endpoint = "create_customer")]
pub async fn create_customer(form: CustomerForm) -> Result<i64, AppError> {
    use crate::ssr::{auth::Access, services::customers};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let id = customers::create_customer(&state, &caller, &form).await?;
    leptos_axum::redirect(&format!("/operator/customers/{id}"));
    Ok(id)
}

/// Saves a customer's details, then shows it.
#[server(prefix = "/api/fn", endpoint = "update_customer")]
pub async fn update_customer(id: i64, form: CustomerForm) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::customers};
    let (state, caller) = super::context::require(Access::Operator).await?;
    customers::update_customer(&state, &caller, id, &form).await?;
    leptos_axum::redirect(&format!("/operator/customers/{id}"));
    Ok(())
}

/// What a mapping change would do (nothing is saved).
#[server(prefix = "/api/fn", endpoint = "preview_mapping")]
pub async fn preview_mapping(customer_id: i64, form: MappingForm) -> Result<MappingPreview, AppError> {
    use crate::ssr::{auth::Access, services::mappings};
    let (state, caller) = super::context::require(Access::Operator).await?;
    mappings::customer_mapping(&state, &caller, customer_id, &form, false).await
}

/// Applies a confirmed mapping change, then shows the customer.
#[server(prefix = "/api/fn", endpoint = "apply_mapping")]
pub async fn apply_mapping(customer_id: i64, form: MappingForm) -> Result<MappingPreview, AppError> {
    use crate::ssr::{auth::Access, services::mappings};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let done = mappings::customer_mapping(&state, &caller, customer_id, &form, true).await?;
    leptos_axum::redirect(&format!("/operator/customers/{customer_id}"));
    Ok(done)
}

/// One page of user subscriptions (with `status=unassigned`: the queue).
#[server(prefix = "/api/fn", endpoint = "list_user_subscriptions")]
pub async fn list_user_subscriptions(query: UserSubscriptionQuery) -> Result<ListPage<UserSubscriptionItem>, AppError> {
    use crate::ssr::{auth::Access, services::user_subscriptions};
    let (state, caller) = super::context::require(Access::Staff).await?;
    user_subscriptions::list_user_subscriptions(&state, &caller, &query).await
}

/// Assigns the chosen user subscriptions to a cloud tenant, then shows what is left in
/// the queue.
#[server(prefix = "/api/fn", endpoint = "assign_owner")]
pub async fn assign_owner(form: AssignForm) -> Result<usize, AppError> {
    use crate::ssr::{auth::Access, services::user_subscriptions};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let done = user_subscriptions::assign(&state, &caller, &form).await?;
    leptos_axum::redirect("/operator/user-subscriptions?status=unassigned");
    Ok(done.len())
}

/// One page of the audit log.
#[server(prefix = "/api/fn", endpoint = "list_audit")]
pub async fn list_audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    use crate::ssr::{auth::Access, services::audit_log};
    let (state, caller) = super::context::require(Access::Staff).await?;
    audit_log::list_audit(&state, &caller, &query).await
}

/// One page of the mappings in effect on a day (`at`, default today).
#[server(prefix = "/api/fn", endpoint = "list_mappings")]
pub async fn list_mappings(
    registration: String,
    at: String,
    offset: i64,
    limit: i64,
) -> Result<ListPage<MappingListItem>, AppError> {
    use crate::ssr::{auth::Access, services::mappings};
    let (state, caller) = super::context::require(Access::Staff).await?;
    mappings::list_mappings(&state, &caller, Some(&registration), Some(&at), offset, limit).await
}

/// Checks a mapping CSV and applies it (or, with `dry_run`, shows what it would do). A
/// refused file is an outcome with every row's problem, not an error, so the page can
/// list them.
#[server(prefix = "/api/fn", endpoint = "import_mappings")]
pub async fn import_mappings(csv: String, dry_run: bool) -> Result<MappingImportOutcome, AppError> {
    use crate::ssr::{auth::Access, services::mapping_csv};
    let (state, caller) = super::context::require(Access::Operator).await?;
    match mapping_csv::import(&state, &caller, csv.as_bytes(), dry_run).await {
        Ok(report) => Ok(MappingImportOutcome::Done(report)),
        Err(refused) if refused.rows.is_empty() => Err(*refused.error),
        Err(refused) => Ok(MappingImportOutcome::Refused {
            message: refused.error.message,
            rows: refused.rows,
        }),
    }
}

/// The meter catalogue, filtered.
#[server(prefix = "/api/fn", endpoint = "meter_catalogue")]
pub async fn get_meter_catalogue(query: MeterQuery) -> Result<MeterCatalogue, AppError> {
    use crate::ssr::{auth::Access, services::meters};
    let (state, caller) = super::context::require(Access::Staff).await?;
    meters::catalogue(&state, &caller, &query).await
}

/// Makes a meter billable or report-only from a day on, then shows the catalogue.
#[server(prefix = "/api/fn", endpoint = "set_meter_billing")]
pub async fn set_meter_billing(meter_id: String, form: MeterForm) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::meters};
    let (state, caller) = super::context::require(Access::Operator).await?;
    meters::set_billing(&state, &caller, &meter_id, &form).await?;
    leptos_axum::redirect("/meters");
    Ok(())
}

/// Names a discovered meter (name, unit, service), then shows the catalogue.
#[server(prefix = "/api/fn", endpoint = "describe_meter")]
pub async fn describe_meter(meter_id: String, form: MeterForm) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::meters};
    let (state, caller) = super::context::require(Access::Operator).await?;
    meters::describe(&state, &caller, &meter_id, &form).await?;
    leptos_axum::redirect("/meters");
    Ok(())
}

/// Every user and API token.
#[server(prefix = "/api/fn", endpoint = "people")]
pub async fn get_people() -> Result<People, AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Staff).await?;
    people::people(&state, &caller).await
}

/// Adds a user; a generated password comes back once.
#[server(prefix = "/api/fn", endpoint = "add_user")]
pub async fn add_user(form: UserForm) -> Result<Option<ShownOnce>, AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Operator).await?;
    Ok(people::create_user(&state, &caller, &form).await?.1)
}

/// Disables or enables a user.
#[server(prefix = "/api/fn", endpoint = "set_user_enabled")]
pub async fn set_user_enabled(id: i64, enabled: bool) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Operator).await?;
    people::set_enabled(&state, &caller, id, enabled).await
}

/// Resets a user's password (given, or generated and shown once).
#[server(prefix = "/api/fn", endpoint = "reset_user_password")]
pub async fn reset_user_password(id: i64, password: String) -> Result<Option<ShownOnce>, AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Operator).await?;
    people::reset_password(&state, &caller, id, &password).await
}

/// Ends every session of a user.
#[server(prefix = "/api/fn", endpoint = "end_user_sessions")]
pub async fn end_user_sessions(id: i64) -> Result<u64, AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Operator).await?;
    people::sign_out_everywhere(&state, &caller, id).await
}

/// Creates an API token; it comes back once.
#[server(prefix = "/api/fn", endpoint = "add_token")]
pub async fn add_token(form: TokenForm) -> Result<ShownOnce, AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Operator).await?;
    Ok(people::create_token(&state, &caller, &form).await?.1)
}

/// Revokes an API token.
#[server(prefix = "/api/fn", endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::people};
    let (state, caller) = super::context::require(Access::Operator).await?;
    people::revoke_token(&state, &caller, id).await
}

/// Every registration.
#[server(prefix = "/api/fn", endpoint = "registrations")]
pub async fn get_registrations() -> Result<Vec<RegistrationSummary>, AppError> {
    use crate::ssr::{auth::Access, services::registrations};
    let (state, caller) = super::context::require(Access::Staff).await?;
    registrations::list(&state, &caller).await
}

/// One registration with its collector.
#[server(prefix = "/api/fn", endpoint = "registration_detail")]
pub async fn get_registration_detail(id: i64) -> Result<RegistrationDetail, AppError> {
    use crate::ssr::{auth::Access, services::registrations};
    let (state, caller) = super::context::require(Access::Staff).await?;
    registrations::detail(&state, &caller, id).await
}

/// Adds a registration, then shows it.
#[server(prefix = "/api/fn", endpoint = "add_registration")]
pub async fn add_registration(form: RegistrationForm) -> Result<i64, AppError> {
    use crate::ssr::{auth::Access, services::registrations};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let id = registrations::create_from_form(&state, &caller, &form).await?;
    leptos_axum::redirect(&format!("/operator/registrations/{id}"));
    Ok(id)
}

/// Changes a registration's settings and collector, then shows it.
#[server(prefix = "/api/fn", endpoint = "update_registration")]
pub async fn update_registration(id: i64, form: RegistrationForm) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::registrations};
    let (state, caller) = super::context::require(Access::Operator).await?;
    registrations::update_from_form(&state, &caller, id, &form).await?;
    leptos_axum::redirect(&format!("/operator/registrations/{id}"));
    Ok(())
}

/// The ingestion screen.
#[server(prefix = "/api/fn", endpoint = "ingestion")]
pub async fn get_ingestion() -> Result<IngestionOverview, AppError> {
    use crate::ssr::{auth::Access, services::quarantine};
    let (state, caller) = super::context::require(Access::Staff).await?;
    quarantine::overview(&state, &caller).await
}

/// Reprocesses a quarantined record (with its corrected text, if changed); `None` when it
/// was stored, else why it is still refused.
#[server(prefix = "/api/fn", endpoint = "reprocess_quarantined")]
pub async fn reprocess_quarantined(id: i64, raw: String) -> Result<Option<String>, AppError> {
    use crate::ssr::{auth::Access, services::quarantine};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let corrected = Some(raw).filter(|r| !r.trim().is_empty());
    Ok(match quarantine::reprocess(&state, &caller, id, corrected).await? {
        quarantine::Reprocessed::Accepted(_) => None,
        quarantine::Reprocessed::StillRejected(reason) => Some(reason),
    })
}

/// Discards a quarantined record (kept, resolved as discarded; audited).
#[server(prefix = "/api/fn", endpoint = "discard_quarantined")]
pub async fn discard_quarantined(id: i64) -> Result<(), AppError> {
    use crate::ssr::{auth::Access, services::quarantine};
    let (state, caller) = super::context::require(Access::Operator).await?;
    quarantine::discard(&state, &caller, id).await
}

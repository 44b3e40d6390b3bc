//! The customer portal's usage and cost. Each function takes an optional `customer`: a
//! customer user or token leaves it out (it is always their own; another id is 404), staff
//! name the customer they view as.

use crate::error::AppError;
use crate::types::{UsageCharts, UsagePage, UsageQuery};
use leptos::prelude::*;

/// One page of the usage explorer.
#[server(prefix = "/api/fn", endpoint = "portal_usage")]
pub async fn get_portal_usage(customer: Option<i64>, query: UsageQuery) -> Result<UsagePage, AppError> {
    use crate::ssr::{auth, services::usage};
    let state = super::context::state()?;
    let (_, id) = auth::portal_customer(super::context::caller(&state).await?, customer)?;
    usage::explore(&state, id, &query).await
}

/// The charts of some months (`YYYY-MM`; empty: the month in progress).
#[server(prefix = "/api/fn", endpoint = "portal_charts")]
pub async fn get_portal_charts(
    customer: Option<i64>,
    from: String,
    to: String,
    meter: Option<String>,
) -> Result<UsageCharts, AppError> {
    use crate::ssr::{auth, services::usage};
    let state = super::context::state()?;
    let (_, id) = auth::portal_customer(super::context::caller(&state).await?, customer)?;
    usage::charts(&state, id, &from, &to, meter.as_deref()).await
}

/// Sets, replaces or (empty amount) removes the monthly budget of one of the customer's
/// billing accounts. The customer's own users only: viewing as a customer is read-only.
#[server(prefix = "/api/fn", endpoint = "set_budget")]
pub async fn set_budget(
    customer: Option<i64>,
    registration: String,
    billing_account: String,
    amount: String,
) -> Result<(), AppError> {
    use crate::ssr::{auth, services::budgets};
    let state = super::context::state()?;
    let (caller, id) = auth::portal_customer(super::context::caller(&state).await?, customer)?;
    budgets::set_budget(&state, &caller, id, &registration, &billing_account, &amount).await
}

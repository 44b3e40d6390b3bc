//! The home page figures of each role, and the meter catalogue.

use crate::error::AppError;
use crate::types::{CustomerOverview, FinanceOverview, MeterView, OperatorOverview};
use leptos::prelude::*;

/// The operator's home figures.
#[server(prefix = "/api/fn", endpoint = "operator_overview")]
pub async fn get_operator_overview() -> Result<OperatorOverview, AppError> {
    use crate::ssr::{auth::Access, services::overview};
    let (state, _) = super::context::require(Access::Operator).await?;
    overview::operator_overview(&state).await
}

/// The finance home figures.
#[server(prefix = "/api/fn", endpoint = "finance_overview")]
pub async fn get_finance_overview() -> Result<FinanceOverview, AppError> {
    use crate::ssr::{auth::Access, services::overview};
    let (state, _) = super::context::require(Access::Finance).await?;
    overview::finance_overview(&state).await
}

/// A customer's home figures: the signed-in customer user's own, or — for operators and
/// finance viewing as a customer — the one named (read-only, recorded in the audit log).
#[server(prefix = "/api/fn", endpoint = "customer_overview")]
pub async fn get_customer_overview(customer: Option<i64>) -> Result<CustomerOverview, AppError> {
    use crate::ssr::{auth, services::overview};
    let state = super::context::state()?;
    let (caller, id) = auth::portal_customer(super::context::caller(&state).await?, customer)?;
    if caller.customer_id != Some(id) {
        overview::record_view_as(&state, &caller, id, &super::context::client_addr(&state)).await?;
    }
    let mut o = overview::customer_overview(&state, id).await?;
    o.can_edit = caller.customer_id == Some(id);
    Ok(o)
}

/// The meter catalogue (staff).
#[server(prefix = "/api/fn", endpoint = "list_meters")]
pub async fn get_meters() -> Result<Vec<MeterView>, AppError> {
    use crate::ssr::{auth::Access, services::overview};
    let (state, _) = super::context::require(Access::Staff).await?;
    overview::list_meters(&state).await
}

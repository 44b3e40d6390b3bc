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

/// The signed-in customer user's home figures (their own customer only).
#[server(prefix = "/api/fn", endpoint = "customer_overview")]
pub async fn get_customer_overview() -> Result<CustomerOverview, AppError> {
    use crate::ssr::{auth::Access, services::overview};
    let (state, caller) = super::context::require(Access::SignedIn).await?;
    let Some(customer_id) = caller.customer_id else {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "customer_users_only",
            "The customer portal is for customer users.",
        ));
    };
    // Re-check through the helper with the customer scope, like every customer-data read.
    crate::ssr::auth::authorize(Some(caller), Access::Customer(customer_id))?;
    overview::customer_overview(&state, customer_id).await
}

/// The meter catalogue (staff).
#[server(prefix = "/api/fn", endpoint = "list_meters")]
pub async fn get_meters() -> Result<Vec<MeterView>, AppError> {
    use crate::ssr::{auth::Access, services::overview};
    let (state, _) = super::context::require(Access::Staff).await?;
    overview::list_meters(&state).await
}

//! The invoicing screens' server functions: thin shells around `services::invoicing`, which
//! the CLI and `/api/v1/invoices` call too (finance and operators run, issue and void;
//! customers list their own issued documents).

use crate::error::AppError;
use crate::types::{InvoiceSummary, IssueAllReport, RunProgressView};
use leptos::prelude::*;

/// A period's invoices (`""`: last month) with the month they are of.
#[server(prefix = "/api/fn", endpoint = "invoices")]
pub async fn get_invoices(period: String) -> Result<(String, Vec<InvoiceSummary>), AppError> {
    use crate::ssr::{auth::Access, services::invoicing};
    let (state, caller) = super::context::require(Access::SignedIn).await?;
    let period = if period.trim().is_empty() {
        crate::billing::BillingPeriod::containing(state.clock.now())
            .previous()
            .to_string()
    } else {
        period
    };
    let list = invoicing::list(&state, &caller, Some(&period), None).await?;
    Ok((period, list))
}

/// Starts drafting a period's invoices; answers the run's number to poll.
#[server(prefix = "/api/fn", endpoint = "run_invoices")]
pub async fn run_invoices(period: String) -> Result<u64, AppError> {
    use crate::ssr::{auth::Access, services::invoicing};
    let (state, caller) = super::context::require(Access::Finance).await?;
    invoicing::start_run(&state, &caller, &period)
}

/// How far a run started with [`run_invoices`] has come, with its report once finished.
#[server(prefix = "/api/fn", endpoint = "invoice_run_progress")]
pub async fn invoice_run_progress(run: u64) -> Result<RunProgressView, AppError> {
    use crate::ssr::{auth::Access, services::invoicing};
    let (state, caller) = super::context::require(Access::Finance).await?;
    invoicing::run_progress(&state, &caller, run)
}

/// Issues a draft (`waive` present: its unpriced usage is waived, and audited).
#[server(prefix = "/api/fn", endpoint = "issue_invoice")]
pub async fn issue_invoice(id: i64, waive: Option<String>) -> Result<String, AppError> {
    use crate::ssr::{auth::Access, services::invoicing};
    let (state, caller) = super::context::require(Access::Finance).await?;
    invoicing::issue(&state, &caller, id, waive.is_some()).await
}

/// Issues every draft of a period (`waive` present: unpriced usage waived, and audited).
#[server(prefix = "/api/fn", endpoint = "issue_all_invoices")]
pub async fn issue_all_invoices(period: String, waive: Option<String>) -> Result<IssueAllReport, AppError> {
    use crate::ssr::{auth::Access, services::invoicing};
    let (state, caller) = super::context::require(Access::Finance).await?;
    invoicing::issue_all(&state, &caller, &period, None, waive.is_some()).await
}

/// Voids an issued invoice; answers the credit note's number.
#[server(prefix = "/api/fn", endpoint = "void_invoice")]
pub async fn void_invoice(number: String) -> Result<String, AppError> {
    use crate::ssr::{auth::Access, services::invoicing};
    let (state, caller) = super::context::require(Access::Finance).await?;
    invoicing::void(&state, &caller, &number).await
}

/// Every issued invoice and credit note of the signed-in customer (staff: every one).
#[server(prefix = "/api/fn", endpoint = "my_invoices")]
pub async fn get_my_invoices(customer: Option<i64>) -> Result<Vec<InvoiceSummary>, AppError> {
    use crate::ssr::{auth, services::invoicing};
    let state = super::context::state()?;
    let (_, id) = auth::portal_customer(super::context::caller(&state).await?, customer)?;
    invoicing::customer_invoices(&state, id).await
}

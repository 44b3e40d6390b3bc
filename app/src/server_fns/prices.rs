//! The price-sheet screens' server functions: thin shells around `services::price_sheets`,
//! which `/api/v1/price-sheets` calls too (operators write, finance reads).

use crate::error::AppError;
use crate::types::{
    CustomerPricingForm, PriceEntryForm, PriceSheetDetail, PriceSheetForm, PriceSheetSummary, PriceUploadForm,
    PriceUploadOutcome,
};
use chrono::NaiveDate;
use leptos::prelude::*;

/// Every price sheet.
#[server(prefix = "/api/fn", endpoint = "price_sheets")]
pub async fn get_price_sheets() -> Result<Vec<PriceSheetSummary>, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Staff).await?;
    price_sheets::list(&state, &caller).await
}

/// A sheet with one version's entries (`None`: the one in effect today).
#[server(prefix = "/api/fn", endpoint = "price_sheet")]
pub async fn get_price_sheet(id: i64, version: Option<i64>) -> Result<PriceSheetDetail, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Staff).await?;
    price_sheets::detail(&state, &caller, id, version).await
}

/// Creates a sheet, then shows it.
#[server(prefix = "/api/fn", endpoint = "create_price_sheet")]
pub async fn create_price_sheet(form: PriceSheetForm) -> Result<i64, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let id = price_sheets::create(&state, &caller, &form).await?;
    leptos_axum::redirect(&format!("/operator/price-sheets/{id}"));
    Ok(id)
}

/// Checks a version's CSV and previews it, or (`save`) stores it too. A refused file is an
/// outcome listing every problem, so the page can show them by row.
#[server(prefix = "/api/fn", endpoint = "upload_price_version")]
pub async fn upload_price_version(
    sheet_id: i64,
    form: PriceUploadForm,
    save: bool,
) -> Result<PriceUploadOutcome, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Operator).await?;
    price_sheets::upload(&state, &caller, sheet_id, form.csv.as_bytes(), &form, save).await
}

/// Sets one meter's price from a day on, then shows the sheet.
#[server(prefix = "/api/fn", endpoint = "set_price_entry")]
pub async fn set_price_entry(sheet_id: i64, form: PriceEntryForm) -> Result<NaiveDate, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let day = price_sheets::set_entry(&state, &caller, sheet_id, &form).await?;
    leptos_axum::redirect(&format!("/operator/price-sheets/{sheet_id}"));
    Ok(day)
}

/// Makes the sheet a registration's default from a day on, then shows the sheet.
#[server(prefix = "/api/fn", endpoint = "make_default_sheet")]
pub async fn make_default_sheet(
    sheet_id: i64,
    registration_id: i64,
    effective_on: String,
) -> Result<NaiveDate, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let day = price_sheets::make_default(&state, &caller, sheet_id, registration_id, &effective_on).await?;
    leptos_axum::redirect(&format!("/operator/price-sheets/{sheet_id}"));
    Ok(day)
}

/// Gives a customer its own sheet, or a markup or discount on the default sheets, from a
/// day on; then shows the customer.
#[server(prefix = "/api/fn", endpoint = "set_customer_pricing")]
pub async fn set_customer_pricing(customer_id: i64, form: CustomerPricingForm) -> Result<NaiveDate, AppError> {
    use crate::ssr::{auth::Access, services::price_sheets};
    let (state, caller) = super::context::require(Access::Operator).await?;
    let day = price_sheets::set_customer_pricing(&state, &caller, customer_id, &form).await?;
    leptos_axum::redirect(&format!("/operator/customers/{customer_id}"));
    Ok(day)
}

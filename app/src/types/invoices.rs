//! What invoicing's screens, API and CLI exchange: invoices and credit notes with their
//! lines, and the report of a month-end run. Amounts are exact decimals (strings in JSON).

use crate::billing::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Who an invoice is addressed to, as it was when it was issued (a draft shows today's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BillTo {
    /// The customer's name, or the registration's for a base subscription invoice.
    pub name: String,
    /// Postal address, several lines.
    #[serde(default)]
    pub address: String,
    /// Billing contact.
    #[serde(default)]
    pub email: String,
    /// The customer's cloud tenant (customer invoices).
    #[serde(default)]
    pub cloud_tenant_id: Option<String>,
    /// The billing subscription.
    pub billing_subscription_id: String,
    /// The customer's tax id (VAT number).
    #[serde(default)]
    pub tax_id: String,
}

/// An invoice or credit note in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InvoiceSummary {
    /// Id (a draft's handle).
    pub id: i64,
    /// The number, once issued.
    pub number: Option<String>,
    /// `invoice` or `credit_note`.
    pub kind: String,
    /// `draft`, `issued` or `void`.
    pub status: String,
    /// Registration name.
    pub registration: String,
    /// The month (`2026-10`).
    pub period: String,
    /// `customer` or `base`.
    pub account_kind: String,
    /// The billing subscription.
    pub billing_subscription_id: String,
    /// The customer.
    pub customer_id: Option<i64>,
    /// Addressed to.
    pub bill_to: BillTo,
    /// Language of the document.
    pub locale: String,
    /// Currency.
    pub currency: Currency,
    /// Σ lines.
    pub subtotal: Decimal,
    /// Tax rate in percent.
    pub tax_rate: Decimal,
    /// Tax.
    pub tax: Decimal,
    /// Total.
    pub total: Decimal,
    /// Meters with usage and no price (listed, never charged).
    pub unpriced_meters: usize,
    /// When it was issued (Unix seconds).
    pub issued_at: Option<i64>,
    /// Due day.
    pub due_on: Option<NaiveDate>,
    /// A credit note's invoice number.
    pub credit_for: Option<String>,
    /// The number of the credit note that voided it.
    pub voided_by: Option<String>,
    /// A draft: what the same account's draft came to in the previous run of this month.
    #[serde(default)]
    pub previous_run_total: Option<Decimal>,
    /// What the same account's issued invoice came to the month before.
    #[serde(default)]
    pub previous_month_total: Option<Decimal>,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InvoiceLineView {
    /// `usage`, `minimum_charge` or `adjustment`.
    pub line_kind: String,
    /// `tenant`, `unassigned` or empty (invoice-wide lines).
    pub section_kind: String,
    /// The section's cloud tenant.
    pub cloud_tenant_id: Option<String>,
    /// Meter.
    pub meter_id: Option<String>,
    /// Meter name.
    pub meter_name: String,
    /// Service.
    pub service: String,
    /// Quantity in billing units.
    pub quantity: Option<Decimal>,
    /// Billing unit.
    pub unit: String,
    /// Price per billing unit.
    pub unit_price: Option<Decimal>,
    /// Amount.
    pub amount: Decimal,
    /// First day of the price version used.
    pub price_version_from: Option<NaiveDate>,
    /// Markup or discount in percent.
    pub adjustment: Option<String>,
    /// The section's label when drafted (a fallback tenant's customer; empty otherwise).
    #[serde(default)]
    pub section_label: String,
    /// An adjustment's original invoice number.
    #[serde(default)]
    pub refers_to: Option<String>,
}

/// An invoice with its lines and unpriced usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InvoiceDetail {
    /// The invoice.
    pub summary: InvoiceSummary,
    /// Its lines in order: by section, then by meter.
    pub lines: Vec<InvoiceLineView>,
    /// Usage with no price: `{meter_id, meter_name, unit, quantity, cloud_tenant_id}`.
    pub unpriced: serde_json::Value,
    /// The usage behind it by user subscription and resource group, when asked for (the
    /// PDF's detail pages): frozen at issue, today's for a draft.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_detail: Vec<UsageDetailRow>,
}

/// A row of an invoice's usage detail: one meter's usage in one resource group of one user
/// subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageDetailRow {
    /// The user subscription.
    pub user_subscription_id: String,
    /// Its resource group (`""` when the resource URI names none).
    pub resource_group: String,
    /// The meter.
    pub meter_id: String,
    /// Its name.
    pub meter_name: String,
    /// Quantity.
    pub quantity: Decimal,
    /// Unit.
    pub unit: String,
    /// The subscription's share of the meter's money (on the first of its rows).
    pub amount: Option<Decimal>,
}

/// What a month-end run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InvoiceRunReport {
    /// The run.
    pub run_id: i64,
    /// The month.
    pub period: String,
    /// Drafts made.
    pub drafts: usize,
    /// Drafts of an earlier run replaced.
    pub replaced: u64,
    /// Accounts left alone because their invoice is already issued.
    pub already_issued: usize,
    /// Totals of the drafts by currency.
    pub totals: Vec<(Currency, Decimal)>,
    /// Drafts with unpriced usage (issuing them needs a waiver).
    pub with_unpriced: usize,
    /// SQL statements the run took (the rating's and the writes').
    pub statements: usize,
}

/// Where a long run is (an invoice run: rating the month, its adjustments, a draft per
/// account, writing them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum RunPhase {
    /// Waiting to start.
    Queued,
    /// Rating the month's usage.
    Rating,
    /// Comparing last month's issued invoices with its usage now (late and corrected usage).
    Adjusting,
    /// Building a draft per billing account (`done` of `total` accounts).
    Drafting,
    /// Writing the drafts.
    Saving,
    /// Finished (see the outcome).
    Done,
}

/// A run's progress as the finance screen polls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunProgressView {
    /// The phase.
    pub phase: RunPhase,
    /// Steps done in the phase.
    pub done: u64,
    /// Steps in the phase (0: not counted).
    pub total: u64,
    /// The report, once the run has finished.
    pub report: Option<InvoiceRunReport>,
    /// Why the run failed, once it has.
    pub error: Option<crate::error::AppError>,
}

/// What issuing every draft of a month did: each draft is issued on its own, so one that is
/// refused (unpriced usage, outdated) does not hold the others back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssueAllReport {
    /// The numbers issued, in order.
    pub issued: Vec<String>,
    /// The drafts refused, with why.
    pub refused: Vec<IssueRefusal>,
}

/// A draft that was not issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssueRefusal {
    /// The draft.
    pub id: i64,
    /// Whom it bills.
    pub bill_to: String,
    /// The refusal's code (`unpriced_usage`, `draft_outdated`, `period_open`, …).
    pub code: String,
    /// The refusal's message.
    pub message: String,
}

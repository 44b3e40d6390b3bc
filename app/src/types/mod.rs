//! Wire types shared by server functions, the REST API and the pages. They cross the
//! network as JSON, so money and quantities travel as exact decimal strings.

use crate::i18n::Locale;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a signed-in person or an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// CSP staff: registrations, mappings, price sheets, ingestion; sees everything.
    Operator,
    /// Invoices and exports; reads all usage, read-only on mappings.
    Finance,
    /// A CSP customer's user: only their own customer's data.
    Customer,
    /// API tokens only: may push usage and nothing else.
    Ingest,
}

impl Role {
    /// Stable storage code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Finance => "finance",
            Role::Customer => "customer",
            Role::Ingest => "ingest",
        }
    }

    /// Parses a storage code or command-line value.
    pub fn parse(raw: &str) -> Option<Role> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "operator" => Some(Role::Operator),
            "finance" => Some(Role::Finance),
            "customer" => Some(Role::Customer),
            "ingest" => Some(Role::Ingest),
            _ => None,
        }
    }

    /// Whether people (not only tokens) can hold this role.
    pub fn is_person_role(&self) -> bool {
        !matches!(self, Role::Ingest)
    }

    /// Path of the role's home page.
    pub fn home_path(&self) -> &'static str {
        match self {
            Role::Operator => "/operator",
            Role::Finance => "/finance",
            Role::Customer => "/portal",
            Role::Ingest => "/",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed-in person, as the pages see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CurrentUser {
    /// User id.
    pub id: i64,
    /// Sign-in email.
    pub email: String,
    /// Name to show.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The customer a customer user belongs to.
    pub customer_id: Option<i64>,
    /// That customer's name.
    pub customer_name: Option<String>,
    /// Preferred language.
    pub locale: Locale,
}

/// A registration row on the operator's overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegistrationSummary {
    /// Id.
    pub id: i64,
    /// Registration name.
    pub name: String,
    /// Base (default) subscription.
    pub base_subscription_id: String,
    /// Invoice currency.
    pub currency: String,
    /// Name of the default price sheet, if any.
    pub price_sheet: Option<String>,
    /// Cloud tenants with a current customer subscription on this registration.
    pub mapped_tenants: i64,
    /// User subscriptions seen on this stamp.
    pub user_subscriptions: i64,
}

/// The operator's home figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OperatorOverview {
    /// Registrations (stamps).
    pub registrations: Vec<RegistrationSummary>,
    /// Customers.
    pub customers: i64,
    /// Cloud tenants that have a current customer subscription on some registration.
    pub mapped_tenants: i64,
    /// Cloud tenants without one (their usage falls back to the base subscription).
    pub unmapped_tenants: i64,
    /// User subscriptions known.
    pub user_subscriptions: i64,
    /// User subscriptions nobody owns (billed to the base until assigned).
    pub unassigned_subscriptions: i64,
    /// Stored usage records.
    pub usage_records: i64,
    /// Meters in the catalogue.
    pub meters: i64,
    /// When usage last entered Stackbill.
    pub last_ingestion_at: Option<DateTime<Utc>>,
    /// The latest day with usage.
    pub latest_usage_on: Option<NaiveDate>,
    /// Cost per billing account and per customer.
    pub cost: CostOverview,
}

/// One billing period on the finance home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PeriodSummary {
    /// `YYYY-MM`.
    pub period: crate::billing::BillingPeriod,
    /// Whether the month is still running (usage still arriving).
    pub in_progress: bool,
    /// Usage records whose usage started in the period.
    pub usage_records: i64,
    /// User subscriptions with usage in the period.
    pub user_subscriptions: i64,
    /// First and last day with usage.
    pub first_usage_on: NaiveDate,
    /// Last day with usage.
    pub last_usage_on: NaiveDate,
}

/// The finance home figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FinanceOverview {
    /// Periods with usage, newest first.
    pub periods: Vec<PeriodSummary>,
    /// Customers.
    pub customers: i64,
    /// Registrations (each has a base subscription that is a billing account too).
    pub registrations: i64,
    /// Cost per billing account and per customer.
    pub cost: CostOverview,
}

/// A customer subscription on the customer's home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerSubscriptionView {
    /// Registration (stamp) name.
    pub registration: String,
    /// The CSP subscription.
    pub subscription_id: String,
    /// Since when.
    pub effective_on: NaiveDate,
}

/// A user subscription on the customer's home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSubscriptionView {
    /// Registration (stamp) name.
    pub registration: String,
    /// The subscription on the stamp.
    pub subscription_id: String,
    /// Its display name.
    pub display_name: String,
    /// Azure Stack state (`Enabled`, …).
    pub state: String,
    /// Usage records this month so far.
    pub usage_records_this_month: i64,
    /// What it cost this month so far (`None`: nothing rated, or accounts in several
    /// currencies).
    #[serde(default)]
    pub month_to_date: Option<CurrencyTotal>,
    /// Its resource groups this month, costliest first.
    #[serde(default)]
    pub resource_groups: Vec<Ranked>,
}

/// The customer's home figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerOverview {
    /// Customer name.
    pub name: String,
    /// Their cloud tenant (Azure AD directory).
    pub cloud_tenant_id: String,
    /// Current customer subscriptions (empty: billed through the CSP's base subscription).
    pub customer_subscriptions: Vec<CustomerSubscriptionView>,
    /// Their subscriptions on the stamps.
    pub user_subscriptions: Vec<UserSubscriptionView>,
    /// This month so far and last month (`None` when `cost_problem` explains why not).
    pub cost: Option<PortalCost>,
    /// Why cost cannot be shown (stored pricing the billing core refuses).
    pub cost_problem: Option<String>,
    /// This month's billing accounts against their budgets.
    #[serde(default)]
    pub budgets: Vec<BudgetView>,
    /// The customer's id (for its API links).
    #[serde(default)]
    pub customer_id: i64,
    /// The viewer may change budgets (the customer's own users; not staff viewing as it).
    #[serde(default)]
    pub can_edit: bool,
}

/// The customer's cost on its home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PortalCost {
    /// The month in progress (with the forecast).
    pub this_month: CustomerCost,
    /// Last month.
    pub last_month: CustomerCost,
}

/// A meter of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MeterView {
    /// Normalised meter ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Usage unit.
    pub unit: String,
    /// Service.
    pub service: String,
    /// `billable` or `report_only`.
    pub billing: crate::billing::MeterBilling,
    /// `catalogue` or `discovered`.
    pub origin: String,
    /// When a discovered meter was first seen in usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// A discovered meter's usage records so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<i64>,
}

/// Billable usage of one meter that has no price: shown as unpriced, never as zero cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UnpricedUsage {
    /// Normalised meter ID.
    pub meter_id: String,
    /// Meter name (or the ID when the catalogue does not know it).
    pub meter_name: String,
    /// Usage unit.
    pub unit: String,
    /// Quantity in the usage unit.
    pub quantity: rust_decimal::Decimal,
}

/// Whose subscription a billing account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A customer subscription mapped to the customer's cloud tenant.
    CustomerSubscription,
    /// The registration's base subscription (unmapped tenants, unassigned usage).
    Base,
}

/// What one billing account costs in a period — or, for a customer's view, that
/// customer's part of it (its section of a base subscription). Amounts are rounded to the
/// currency's minor unit and travel as decimal strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountCost {
    /// Registration (stamp) name.
    pub registration: String,
    /// The account's subscription GUID.
    pub billing_account: String,
    /// Customer subscription or base.
    pub kind: AccountKind,
    /// The customer whose subscription it is (`None` on base accounts).
    pub customer_id: Option<i64>,
    /// That customer's name.
    pub customer_name: Option<String>,
    /// The registration's currency.
    pub currency: crate::billing::Currency,
    /// Σ of the rated lines.
    pub total: rust_decimal::Decimal,
    /// The estimate to the period's end (the total once it has ended; `None` before it begins).
    pub forecast: Option<rust_decimal::Decimal>,
    /// Billable usage without a price.
    pub unpriced: Vec<UnpricedUsage>,
}

/// Every billing account's cost in a period (`stackbill cost`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PeriodCost {
    /// `YYYY-MM`.
    pub period: crate::billing::BillingPeriod,
    /// Customer subscriptions first, then base subscriptions; by registration.
    pub accounts: Vec<AccountCost>,
}

/// A customer's cost in a period, over all the accounts that bill its usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerCost {
    /// Customer.
    pub customer_id: i64,
    /// `YYYY-MM`.
    pub period: crate::billing::BillingPeriod,
    /// The currency of every account (`None` if they differ, see `accounts`).
    pub currency: Option<crate::billing::Currency>,
    /// Σ of the accounts' totals (`None` if currencies differ).
    pub total: Option<rust_decimal::Decimal>,
    /// Σ of the accounts' forecasts (`None` if currencies differ or not begun).
    pub forecast: Option<rust_decimal::Decimal>,
    /// The customer's part of each account.
    pub accounts: Vec<AccountCost>,
    /// Billable usage without a price, over all accounts.
    pub unpriced: Vec<UnpricedUsage>,
}

/// One row of a home page's cost table: this month so far, the forecast, last month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CostRow {
    /// Registration name (accounts) or empty (customers spanning registrations).
    pub registration: String,
    /// The account's subscription GUID (accounts) or the customer's cloud tenant.
    pub reference: String,
    /// Customer subscription or base (accounts); `None` on customer rows.
    pub kind: Option<AccountKind>,
    /// The customer (`None`: a base account, or usage of a tenant with no customer record).
    pub customer_id: Option<i64>,
    /// The customer's name, if any.
    pub customer_name: Option<String>,
    /// Currency of the figures.
    pub currency: crate::billing::Currency,
    /// Month to date.
    pub month_to_date: rust_decimal::Decimal,
    /// Forecast to the month's end.
    pub forecast: Option<rust_decimal::Decimal>,
    /// Last month's total.
    pub last_month: rust_decimal::Decimal,
    /// Meters with usage this month and no price.
    pub unpriced: Vec<UnpricedUsage>,
}

/// Cost on the operator's and finance's home pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CostOverview {
    /// The month in progress.
    pub period: crate::billing::BillingPeriod,
    /// Last month.
    pub previous: crate::billing::BillingPeriod,
    /// Per billing account.
    pub accounts: Vec<CostRow>,
    /// Per customer (across its accounts), and per tenant without a customer record.
    pub customers: Vec<CostRow>,
    /// Accounts beyond the ones listed (the largest this month are listed).
    pub more_accounts: usize,
    /// Customers beyond the ones listed.
    pub more_customers: usize,
    /// Set when the figures cannot be computed (a stored price sheet the billing core
    /// refuses, …): the explanation, shown instead of the tables.
    pub problem: Option<String>,
}

/// The collector's state on one registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CollectorStatus {
    /// Registration name.
    pub registration: String,
    /// Whether a usage endpoint is configured.
    pub configured: bool,
    /// Collected up to here (Unix seconds; `None`: never collected).
    pub watermark_at: Option<i64>,
    /// Last successful window (Unix seconds).
    pub last_success_at: Option<i64>,
    /// Last failure (Unix seconds).
    pub last_error_at: Option<i64>,
    /// Its message.
    pub last_error: Option<String>,
    /// Records in the last window (`None`: never collected).
    pub last_window_records: Option<i64>,
}

/// An open quarantined record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuarantinedRecord {
    /// Id.
    pub id: i64,
    /// Batch it arrived in.
    pub batch_id: i64,
    /// Registration.
    pub registration_id: i64,
    /// Position in the batch.
    pub index: i64,
    /// `json` or `csv`.
    pub format: String,
    /// The record's text as received.
    pub raw: String,
    /// Why it was refused.
    pub reason: String,
    /// When (Unix seconds).
    pub received_at: i64,
}

mod api_reference;
mod audit;
mod console;
mod invoices;
mod prices;
mod usage;
pub use api_reference::*;
pub use audit::*;
pub use console::*;
pub use invoices::*;
pub use prices::*;
pub use usage::*;

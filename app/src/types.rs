//! Wire types shared by server functions, the REST API and the pages. They cross the
//! network as JSON, so money and quantities travel as exact decimal strings.

use crate::i18n::Locale;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a signed-in person or an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

/// One billing period on the finance home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct FinanceOverview {
    /// Periods with usage, newest first.
    pub periods: Vec<PeriodSummary>,
    /// Customers.
    pub customers: i64,
    /// Registrations (each has a base subscription that is a billing account too).
    pub registrations: i64,
}

/// A customer subscription on the customer's home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// The customer's home figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerOverview {
    /// Customer name.
    pub name: String,
    /// Their cloud tenant (Azure AD directory).
    pub cloud_tenant_id: String,
    /// Current customer subscriptions (empty: billed through the CSP's base subscription).
    pub customer_subscriptions: Vec<CustomerSubscriptionView>,
    /// Their subscriptions on the stamps.
    pub user_subscriptions: Vec<UserSubscriptionView>,
}

/// A meter of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

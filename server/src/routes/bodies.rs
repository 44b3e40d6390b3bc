//! The JSON bodies `/api/v1` takes and answers that are not the services' own types:
//! envelopes, small acknowledgements and the request bodies of one handler each. Handlers
//! build these types, and the OpenAPI document (`routes::openapi`) describes the same
//! types, so the two cannot drift apart.

use app::error::AppError;
use app::types::{CsvRowError, Role};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error: a stable `code` for programs, a `message` for people, and the input
/// `field` at fault when there is one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: AppError,
}

/// A CSV refused as a whole: the error, with every row's problem; nothing was saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowsErrorBody {
    /// The error and its rows.
    pub error: RowsError,
}

/// An error with the rows of an upload it is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowsError {
    /// The error.
    #[serde(flatten)]
    pub error: AppError,
    /// Each problem: row (1 is the header), column and what was expected.
    pub rows: Vec<CsvRowError>,
}

/// A list that is short enough to answer whole.
#[derive(Debug, Serialize, ToSchema)]
pub struct Values<T> {
    /// The items.
    pub value: Vec<T>,
}

/// One page of a list: follow `nextLink` (the same request with an opaque `cursor`) until
/// it is absent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListBody<T> {
    /// The items of this page.
    pub value: Vec<T>,
    /// Items in the whole list.
    pub total: i64,
    /// Present (true) when counting stopped at `total`: there are at least that many.
    #[serde(rename = "totalAtLeast", skip_serializing_if = "Option::is_none")]
    pub total_at_least: Option<bool>,
    /// The next page, absent on the last one.
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// One page of a list whose size is not counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedValues<T> {
    /// The items of this page.
    pub value: Vec<T>,
    /// The next page, absent on the last one.
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The caller's role.
    pub role: Role,
    /// The customer a customer's user or token belongs to.
    pub customer_id: Option<i64>,
    /// How the audit log names the caller (`user:…`, `token:…`).
    pub actor: String,
    /// The caller's name for people.
    pub name: String,
}

/// A customer and its figures of the month in progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerBody {
    /// The customer's id.
    pub id: i64,
    /// Its overview (the portal's first page).
    pub customer: app::types::CustomerOverview,
}

/// A mapping change as it was recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingChanged {
    /// The customer's Azure AD tenant.
    pub cloud_tenant_id: String,
    /// The first day the change bills.
    pub effective_on: NaiveDate,
    /// The customer subscription before (absent: the base subscription).
    pub before: Option<String>,
    /// The customer subscription after (absent: the base subscription).
    pub after: Option<String>,
    /// A change already recorded for the same day was replaced.
    pub replaced_same_day: bool,
    /// The change's id in the history.
    pub change_id: i64,
}

/// `POST /api/v1/user-subscriptions/{id}/owner`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OwnerBody {
    /// The tenant whose customer the subscription's usage bills to.
    pub cloud_tenant_id: String,
}

/// A meter's billing from a day on.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterBillingSet {
    /// The meter.
    pub meter_id: String,
    /// `billable` or `report_only`.
    pub billing: String,
    /// The first day it applies.
    pub effective_on: NaiveDate,
}

/// A meter's names.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterDescribed {
    /// The meter.
    pub meter_id: String,
    /// Its name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// Its service.
    pub service: String,
}

/// A user created; a generated password is shown here once.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    /// The user's id.
    pub id: i64,
    /// The generated password (null when one was given).
    pub password: Option<String>,
}

/// The body of `reset-password` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PasswordBody {
    /// The new password; empty or absent: one is generated and answered once.
    #[serde(default)]
    pub password: String,
}

/// What a user action did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserActionDone {
    /// `disable` or `enable`.
    Enabled {
        /// The user.
        id: i64,
        /// Whether the user may sign in now.
        enabled: bool,
    },
    /// `sign-out`.
    SignedOut {
        /// The user.
        id: i64,
        /// Sessions ended.
        sessions_ended: u64,
    },
    /// `reset-password`.
    PasswordReset {
        /// The user.
        id: i64,
        /// The generated password, once (null when one was given).
        password: Option<String>,
    },
}

/// A token created: the secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// The token's id.
    pub id: i64,
    /// The secret, for `Authorization: Bearer …`.
    pub token: String,
}

/// A token revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRevoked {
    /// The token's id.
    pub id: i64,
    /// Always true.
    pub revoked: bool,
}

/// A price version and its prices.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionPrices {
    /// The version.
    pub version: Option<app::types::PriceVersionView>,
    /// Its prices.
    pub entries: Vec<app::types::PriceEntryView>,
}

/// A price version saved, with last month's invoices under it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionAdded {
    /// The new version.
    pub version_id: i64,
    /// Its first day.
    pub effective_on: NaiveDate,
    /// Last month rated under it.
    pub preview: app::types::PricePreview,
}

/// A price version checked and not saved (`dry_run=true`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionChecked {
    /// Always true.
    pub dry_run: bool,
    /// Last month rated under it.
    pub preview: app::types::PricePreview,
}

/// A meter's price set from a day on.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntrySet {
    /// The sheet.
    pub price_sheet_id: i64,
    /// The meter.
    pub meter_id: String,
    /// The first day the price applies.
    pub effective_on: NaiveDate,
}

/// `PUT /api/v1/price-sheets/{id}/default`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DefaultBody {
    /// The registration.
    pub registration_id: i64,
    /// The first day (`YYYY-MM-DD`; empty: today).
    #[serde(default)]
    pub effective_on: String,
}

/// A registration's default sheet from a day on.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultSet {
    /// The sheet.
    pub price_sheet_id: i64,
    /// The registration.
    pub registration_id: i64,
    /// The first day.
    pub effective_on: NaiveDate,
}

/// A customer's pricing from a day on.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPricingSet {
    /// The first day.
    pub effective_on: NaiveDate,
    /// The customer's pricing now.
    pub pricing: app::types::CustomerTermsView,
}

/// `POST /api/v1/invoice-runs`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RunBody {
    /// The month, `YYYY-MM`.
    pub period: String,
    /// One registration's name (absent: every registration).
    #[serde(default)]
    pub registration: Option<String>,
}

/// `POST /api/v1/invoices/{id}/issue` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IssueBody {
    /// Issue even though some usage has no price (it is left off the invoice).
    #[serde(default)]
    pub waive_unpriced: bool,
}

/// An invoice issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Issued {
    /// The draft's id.
    pub id: i64,
    /// Its number now.
    pub number: String,
}

/// An invoice voided by a credit note.
#[derive(Debug, Serialize, ToSchema)]
pub struct Voided {
    /// The invoice.
    pub number: String,
    /// The credit note that cancels it.
    pub credit_note: String,
}

/// Invoice lines as a table: `value` rows follow `columns`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLines {
    /// The column names (the CSV's header).
    pub columns: Vec<String>,
    /// One row per line, every cell a string (ISO dates, dot decimals).
    pub value: Vec<Vec<String>>,
}

/// One page of a customer's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    /// The rows of this page.
    pub value: Vec<app::types::UsageRow>,
    /// What the whole selection costs, per currency.
    pub totals: Vec<app::types::CurrencyTotal>,
    /// Rows in the whole selection.
    pub total_rows: usize,
    /// First month selected (`YYYY-MM`).
    pub from: String,
    /// Last month selected.
    pub to: String,
    /// The next page, absent on the last one.
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// A record of a pushed document that was not stored, with why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRecord {
    /// Its position in the document (0-based).
    pub index: u64,
    /// Why.
    pub reason: String,
}

/// What a usage push stored (every count is durable once this is answered).
#[derive(Debug, Serialize, ToSchema)]
pub struct PushReport {
    /// The registration the usage was stored under.
    pub registration: String,
    /// The batch, as the ingestion page lists it.
    pub batch_id: i64,
    /// Records in the document.
    pub records: usize,
    /// New records stored.
    pub accepted: u64,
    /// Records already stored with the same quantity.
    pub duplicates: u64,
    /// Records that replaced an earlier report of the same hour.
    pub corrected: u64,
    /// Records older than the stored report of the same hour (kept out).
    pub stale: u64,
    /// Records put in the quarantine.
    pub quarantined: u64,
    /// Each record not stored, with its position and reason.
    pub rejected: Vec<RejectedRecord>,
}

/// The open quarantine.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineBody {
    /// The records (at most `limit`).
    pub value: Vec<app::types::QuarantinedRecord>,
    /// Records open in all.
    pub open: i64,
}

/// `POST /api/v1/quarantine/{id}/reprocess` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReprocessBody {
    /// Corrected raw text; without it the stored text is parsed again.
    pub raw: Option<String>,
}

/// A quarantined record stored after all.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reprocessed {
    /// The quarantined record.
    pub id: i64,
    /// Always `reprocessed`.
    pub status: String,
    /// New records stored.
    pub accepted: u64,
    /// Records already stored.
    pub duplicates: u64,
    /// Records that replaced an earlier report.
    pub corrected: u64,
    /// Records older than the stored report.
    pub stale: u64,
}

/// A quarantined record discarded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Discarded {
    /// The quarantined record.
    pub id: i64,
    /// Always `discarded`.
    pub status: String,
}

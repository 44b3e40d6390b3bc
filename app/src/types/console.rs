//! What the operator console's screens and `/api/v1` exchange: server-side pages of lists,
//! customers with their mappings, and mapping previews.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The largest page any list serves.
pub const MAX_PAGE_SIZE: i64 = 500;

/// Where the largest lists stop counting matches (beyond the page asked for).
pub const COUNT_LIMIT: i64 = 10_000;

/// One page of a list that is filtered, sorted and paged on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ListPage<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filter, on every page — or, when `total_at_least`, a lower bound
    /// (counting stops past [`COUNT_LIMIT`] on the largest lists, so a page costs the same
    /// at any size).
    pub total: i64,
    /// `total` is where counting stopped: there are at least that many.
    #[serde(default)]
    pub total_at_least: bool,
    /// Rows before this page.
    pub offset: i64,
    /// Page size asked for.
    pub limit: i64,
}

impl<T> ListPage<T> {
    /// The cursor of the next page, if there is one (opaque to clients).
    pub fn next_cursor(&self) -> Option<String> {
        self.has_next()
            .then(|| encode_cursor(self.offset + self.items.len() as i64))
    }

    /// Whether rows follow this page.
    pub fn has_next(&self) -> bool {
        // A short page is the last one, whatever the count says.
        let full = !self.items.is_empty() && self.items.len() as i64 >= self.limit;
        full && ((self.offset + self.items.len() as i64) < self.total || self.total_at_least)
    }
}

/// A page cursor as clients see it: opaque, stable across releases.
pub fn encode_cursor(offset: i64) -> String {
    format!("o{offset}")
}

/// The offset a cursor stands for; `None` for a cursor this server never issued.
pub fn decode_cursor(cursor: &str) -> Option<i64> {
    cursor.strip_prefix('o')?.parse().ok().filter(|o| *o >= 0)
}

/// The order of the customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    /// By name (then id).
    #[default]
    Name,
    /// By cloud tenant GUID.
    Tenant,
    /// By creation (then id).
    Created,
}

impl CustomerSort {
    /// Parses the `sort` parameter.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "name" => Some(CustomerSort::Name),
            "tenant" => Some(CustomerSort::Tenant),
            "created" => Some(CustomerSort::Created),
            _ => None,
        }
    }

    /// The parameter value.
    pub fn as_str(&self) -> &'static str {
        match self {
            CustomerSort::Name => "name",
            CustomerSort::Tenant => "tenant",
            CustomerSort::Created => "created",
        }
    }
}

/// Which customers by how they are billed today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BilledToFilter {
    /// Mapped to a customer subscription on at least one registration.
    Mapped,
    /// Mapped nowhere: every registration bills it to its base subscription.
    Base,
}

impl BilledToFilter {
    /// Parses the `billed_to` parameter (`""` is no filter).
    pub fn parse(raw: &str) -> Result<Option<Self>, crate::error::AppError> {
        match raw {
            "" => Ok(None),
            "mapped" => Ok(Some(BilledToFilter::Mapped)),
            "base" => Ok(Some(BilledToFilter::Base)),
            _ => Err(crate::error::AppError::invalid(
                "billed_to",
                "`billed_to` is mapped or base.",
            )),
        }
    }
}

/// The customer list's filter, order and page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerQuery {
    /// Words of the name, or a cloud tenant GUID (any form) or its beginning.
    #[serde(default)]
    pub q: String,
    /// Order.
    #[serde(default)]
    pub sort: CustomerSort,
    /// Descending.
    #[serde(default)]
    pub desc: bool,
    /// Only mapped customers, or only those on the base.
    #[serde(default)]
    pub billed_to: Option<BilledToFilter>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: i64,
    /// Page size (capped at [`MAX_PAGE_SIZE`]); 0 means the default.
    #[serde(default)]
    pub limit: i64,
}

/// A customer in the console's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerListItem {
    /// Id.
    pub id: i64,
    /// Name (any script).
    pub name: String,
    /// Its cloud tenant (canonical GUID).
    pub cloud_tenant_id: String,
    /// Locale tag.
    pub locale: String,
    /// Registrations on which the tenant has a customer subscription today.
    pub mapped_registrations: i64,
    /// Usage records of its user subscriptions this month.
    pub records_this_month: i64,
}

/// A customer with everything the console edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerDetail {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Cloud tenant (canonical GUID).
    pub cloud_tenant_id: String,
    /// The directory's display name.
    pub tenant_display_name: String,
    /// Billing contact (email).
    pub billing_email: String,
    /// Postal address, several lines.
    pub billing_address: String,
    /// Locale tag.
    pub locale: String,
    /// Tax id (VAT number).
    pub tax_id: String,
    /// Days from issue to due (`None`: the installation's default).
    pub payment_terms_days: Option<i64>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Today (UTC), the default effective day of a change.
    pub today: NaiveDate,
    /// The tenant's mapping on every registration.
    pub mappings: Vec<TenantMapping>,
    /// Every interval the tenant was, is or will be mapped, newest first.
    pub intervals: Vec<MappingInterval>,
    /// Every recorded change, newest first.
    pub history: Vec<MappingHistoryEntry>,
    /// How it is priced.
    #[serde(default)]
    pub terms: super::CustomerTermsView,
}

/// A tenant's mapping on one registration, today and ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TenantMapping {
    /// Registration id.
    pub registration_id: i64,
    /// Registration name.
    pub registration: String,
    /// Its base subscription (where the tenant's usage goes when unmapped).
    pub base_subscription_id: String,
    /// The customer subscription in effect today (`None`: falls back to the base).
    pub current: Option<String>,
    /// Since when today's state holds (`None`: always).
    pub since: Option<NaiveDate>,
    /// Changes dated after today.
    pub upcoming: Vec<MappingInterval>,
}

/// One effective interval of a mapping: `[from, to)` in UTC days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingInterval {
    /// Registration name.
    pub registration: String,
    /// The customer subscription.
    pub subscription_id: String,
    /// First day.
    pub from: NaiveDate,
    /// First day no longer in effect (`None`: open).
    pub to: Option<NaiveDate>,
}

/// One change in a tenant's mapping history, as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingHistoryEntry {
    /// Registration name.
    pub registration: String,
    /// The subscription from that day (`None`: unmapped, the base).
    pub subscription: Option<String>,
    /// First day.
    pub effective_on: NaiveDate,
    /// When it was recorded (Unix seconds).
    pub recorded_at: i64,
    /// Who recorded it.
    pub actor: String,
    /// Their email or name then.
    pub actor_label: String,
    /// Where it came from.
    pub source: String,
    /// Replaced by a later change recorded for the same day: it never took effect.
    pub replaced: bool,
}

/// What a mapping change would do (or did), for the confirmation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingPreview {
    /// The customer.
    pub customer_id: i64,
    /// Its name.
    pub customer: String,
    /// Its cloud tenant.
    pub cloud_tenant_id: String,
    /// Registration id.
    pub registration_id: i64,
    /// Registration name.
    pub registration: String,
    /// Its base subscription.
    pub base_subscription_id: String,
    /// The first day of the change.
    pub effective_on: NaiveDate,
    /// The customer subscription in effect that day before the change (`None`: base).
    pub before: Option<String>,
    /// And after it (`None`: base).
    pub after: Option<String>,
    /// It replaces a change already recorded for that day.
    pub replaced_same_day: bool,
}

/// A mapping in effect on a day, in the registration-wide table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingListItem {
    /// Registration name.
    pub registration: String,
    /// The cloud tenant.
    pub cloud_tenant_id: String,
    /// Its customer, if one is recorded.
    pub customer_id: Option<i64>,
    /// That customer's name.
    pub customer: Option<String>,
    /// The customer subscription.
    pub customer_subscription_id: String,
    /// First day of this interval.
    pub effective_on: NaiveDate,
    /// First day no longer in effect (`None`: open).
    pub ended_on: Option<NaiveDate>,
}

/// A customer as typed in the console's form or sent to `/api/v1/customers`: text as
/// entered, checked and normalised by the service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerForm {
    /// Name, in any script.
    pub name: String,
    /// The cloud tenant (directory) GUID, in any case, with or without hyphens or braces.
    pub cloud_tenant_id: String,
    /// The directory's display name (`contoso.onmicrosoft.com`), optional.
    #[serde(default)]
    pub tenant_display_name: String,
    /// The billing contact's email, optional.
    #[serde(default)]
    pub billing_email: String,
    /// Postal address, several lines, optional.
    #[serde(default)]
    pub billing_address: String,
    /// Locale of its portal and documents (`en`, `fr`, `nl`, `zh-TW`, `zh-CN`); default `en`.
    #[serde(default)]
    pub locale: String,
    /// Tax id (VAT number) printed on its invoices, optional.
    #[serde(default)]
    pub tax_id: String,
    /// Days from issue to due, 0 to 365; empty: the installation's default.
    #[serde(default, deserialize_with = "text_or_number")]
    pub payment_terms_days: String,
}

/// A form field that scripts may send as a JSON number and the browser sends as text.
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(serde_json::Number),
        Null(()),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Number(n) => n.to_string(),
        Raw::Null(()) => String::new(),
    })
}

/// A mapping change as typed in the console or sent to `PUT /api/v1/mappings/{tenant}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingForm {
    /// The registration, by name or id.
    pub registration: String,
    /// The customer subscription from that day; empty unmaps (back to the base).
    #[serde(default)]
    pub customer_subscription_id: String,
    /// The first UTC day (`YYYY-MM-DD`); empty: today.
    #[serde(default)]
    pub effective_on: String,
}

/// The user subscription list's filter and page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSubscriptionQuery {
    /// A registration by name or id; empty: all.
    #[serde(default)]
    pub registration: String,
    /// `unassigned` (usage, no known owner), `assigned`, or empty for all.
    #[serde(default)]
    pub status: String,
    /// A subscription or tenant GUID (or its beginning), or words of the display name.
    #[serde(default)]
    pub q: String,
    /// Rows to skip.
    #[serde(default)]
    pub offset: i64,
    /// Page size (capped); 0 means the default.
    #[serde(default)]
    pub limit: i64,
}

/// A user subscription on a stamp with its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSubscriptionItem {
    /// Id (the console's and the API's handle).
    pub id: i64,
    /// Registration name.
    pub registration: String,
    /// The subscription's GUID on the stamp.
    pub subscription_id: String,
    /// Its display name on the stamp.
    pub display_name: String,
    /// Its owner's sign-in name on the stamp.
    pub owner_email: String,
    /// The owner cloud tenant today (`None`: unassigned).
    pub owner_tenant: Option<String>,
    /// That tenant's customer.
    pub customer_id: Option<i64>,
    /// Its name.
    pub customer: Option<String>,
    /// Usage records this month.
    pub records_this_month: i64,
    /// For unassigned ones: what their usage adds to the base subscription this month
    /// (the rating service's figure; `None` when not asked for or not priced).
    pub base_amount_this_month: Option<rust_decimal::Decimal>,
    /// The registration's currency.
    pub currency: crate::billing::Currency,
}

/// Assigning user subscriptions to a cloud tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AssignForm {
    /// The owner's directory GUID (any form).
    pub cloud_tenant_id: String,
    /// The user subscriptions (their ids).
    #[serde(default)]
    pub subscriptions: Vec<i64>,
}

/// A problem in an uploaded CSV: row 1 is the header, data starts at row 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CsvRowError {
    /// Row number in the file.
    pub row: u64,
    /// Column name (empty: the row or the file as a whole).
    pub column: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// What one row of a mapping import does (or did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingImportRow {
    /// Row number in the file.
    pub row: u64,
    /// The cloud tenant.
    pub cloud_tenant_id: String,
    /// Registration name.
    pub registration: String,
    /// The first day.
    pub effective_on: NaiveDate,
    /// The customer subscription before (`None`: the base).
    pub before: Option<String>,
    /// After (`None`: the base).
    pub after: Option<String>,
    /// It replaces a change recorded for the same day.
    pub replaced_same_day: bool,
}

/// The outcome of a mapping import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MappingImportReport {
    /// Nothing was saved.
    pub dry_run: bool,
    /// Every row was saved.
    pub applied: bool,
    /// Each row's outcome, in file order.
    pub rows: Vec<MappingImportRow>,
}

/// A mapping import's outcome as the console shows it: the report, or every problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum MappingImportOutcome {
    /// Checked (and applied unless a dry run).
    Done(MappingImportReport),
    /// Refused whole: why, and each row's problem.
    Refused {
        /// Summary.
        message: String,
        /// Problems.
        rows: Vec<CsvRowError>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(offset: i64, rows: usize, total: i64, at_least: bool) -> ListPage<u8> {
        ListPage {
            items: vec![0; rows],
            total,
            total_at_least: at_least,
            offset,
            limit: 50,
        }
    }

    #[test]
    fn a_page_knows_whether_rows_follow_even_when_counting_stopped() {
        assert_eq!(page(0, 50, 120, false).next_cursor().as_deref(), Some("o50"));
        assert_eq!(page(100, 20, 120, false).next_cursor(), None);
        assert_eq!(page(50, 50, 100, false).next_cursor(), None);
        // Counted up to 10,000 only: a full page may be followed by more.
        assert!(page(9_950, 50, 10_000, true).has_next());
        assert!(!page(9_950, 30, 10_000, true).has_next());
        assert!(!page(0, 0, 0, false).has_next());
        assert_eq!(decode_cursor("o50"), Some(50));
        assert_eq!(decode_cursor("50"), None);
        assert_eq!(decode_cursor("o-1"), None);
    }
}

/// The meter catalogue's filter (text as typed).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MeterQuery {
    /// Words of the name, or a meter GUID (any form) or its beginning.
    #[serde(default)]
    pub q: String,
    /// One service.
    #[serde(default)]
    pub service: String,
    /// `catalogue` or `discovered`.
    #[serde(default)]
    pub origin: String,
    /// `billable` or `report_only`.
    #[serde(default)]
    pub billing: String,
}

/// The filtered catalogue and every service (for the filter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MeterCatalogue {
    /// Meters, discovered ones first.
    pub items: Vec<super::MeterView>,
    /// Every service, for the filter.
    pub services: Vec<String>,
}

/// A meter change as typed: its billing mode from a day, or a discovered meter's name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MeterForm {
    /// `billable` or `report_only` (billing changes).
    #[serde(default)]
    pub billing: String,
    /// The first UTC day (`YYYY-MM-DD`); empty: today.
    #[serde(default)]
    pub effective_on: String,
    /// Name (discovered meters).
    #[serde(default)]
    pub name: String,
    /// Usage unit (discovered meters).
    #[serde(default)]
    pub unit: String,
    /// Service (discovered meters).
    #[serde(default)]
    pub service: String,
}

/// A person who signs in, as the console lists them (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Sign-in email.
    pub email: String,
    /// Name shown.
    pub display_name: String,
    /// `operator`, `finance` or `customer`.
    pub role: String,
    /// A customer user's customer.
    pub customer: Option<String>,
    /// Locale tag.
    pub locale: String,
    /// Disabled (cannot sign in).
    pub disabled: bool,
    /// Last successful sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// An API token, as the console lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// What the script is.
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    /// Role.
    pub role: String,
    /// A customer token's customer.
    pub customer: Option<String>,
    /// An ingest token's registration.
    pub registration: Option<String>,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked.
    pub revoked: bool,
}

/// Users and tokens together (one screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct People {
    /// Every user.
    pub users: Vec<UserView>,
    /// Every token, newest first.
    pub tokens: Vec<TokenView>,
}

/// A user as typed in the console or sent to `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserForm {
    /// Sign-in email.
    pub email: String,
    /// Name shown (default: the email's local part).
    #[serde(default)]
    pub display_name: String,
    /// `operator`, `finance` or `customer`.
    pub role: String,
    /// A customer user's customer (id, tenant GUID or exact name).
    #[serde(default)]
    pub customer: String,
    /// A password; empty: one is generated and shown once.
    #[serde(default)]
    pub password: String,
    /// Locale tag (default `en`).
    #[serde(default)]
    pub locale: String,
}

/// A token as typed in the console or sent to `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenForm {
    /// What the script is.
    pub name: String,
    /// `operator`, `finance`, `customer` or `ingest`.
    pub role: String,
    /// A customer token's customer (id, tenant GUID or name).
    #[serde(default)]
    pub customer: String,
    /// An ingest token's registration (name or id).
    #[serde(default)]
    pub registration: String,
    /// Lifetime: `90d`, `12h`, `6w`, `1y` or `never`; empty: the role's default.
    #[serde(default)]
    pub expires_in: String,
}

/// A secret shown once: a generated password or a new token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ShownOnce {
    /// What it belongs to (the user's email or the token's name).
    pub of: String,
    /// The secret; Stackbill keeps only its hash.
    pub secret: String,
}

/// A registration with its collector, as the console shows it (never a token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegistrationDetail {
    /// Name, base subscription, currency, default price sheet, headline counts.
    pub summary: super::RegistrationSummary,
    /// Resource group of the registration resource.
    pub resource_group: String,
    /// First day billing may be dated on.
    pub active_from: NaiveDate,
    /// The stamp's admin endpoint the collector reads.
    pub usage_endpoint: Option<String>,
    /// The Default Provider Subscription.
    pub provider_subscription_id: Option<String>,
    /// Where the collector's token comes from (an environment variable's name, or a
    /// command) — never the token.
    pub token_source: Option<String>,
    /// The environment variable's name, when the token comes from one (for the edit form).
    #[serde(default)]
    pub token_env: Option<String>,
    /// The collector's watermark, last success, last error.
    pub collector: super::CollectorStatus,
    /// Usage records per day, the last 30 days (days without usage included, as 0).
    pub days: Vec<DayRecords>,
}

/// Usage records of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DayRecords {
    /// The UTC day.
    pub day: NaiveDate,
    /// Records.
    pub records: i64,
}

/// A registration as typed in the console (the collector's token source is an environment
/// variable's name here; a token command is configured with `stackbill registration add`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegistrationForm {
    /// Name (as in Azure: `azurestack-<cloud id>`).
    pub name: String,
    /// Base (default) subscription GUID.
    pub base_subscription_id: String,
    /// Resource group (default `azurestack`).
    #[serde(default)]
    pub resource_group: String,
    /// Invoice currency (ISO 4217).
    pub currency: String,
    /// First billing day (`YYYY-MM-DD`; empty: the first day of this month).
    #[serde(default)]
    pub active_from: String,
    /// The stamp's admin endpoint (empty: no collector; usage is pushed or imported).
    #[serde(default)]
    pub usage_endpoint: String,
    /// The Default Provider Subscription GUID.
    #[serde(default)]
    pub provider_subscription_id: String,
    /// The environment variable holding the collector's bearer token.
    #[serde(default)]
    pub token_env: String,
}

/// One ingestion batch (an import, a push, a collector window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BatchView {
    /// Id.
    pub id: i64,
    /// `pull`, `push`, `import`, `demo` or `reprocess`.
    pub source: String,
    /// Registration name.
    pub registration: Option<String>,
    /// Who sent it (`user:3`, `token:2`, `cli`, `collector`).
    pub actor: String,
    /// File, window or request.
    pub label: String,
    /// Records stored.
    pub accepted: i64,
    /// Already stored.
    pub duplicates: i64,
    /// Corrections of stored records.
    pub corrected: i64,
    /// Refused, kept in the quarantine.
    pub quarantined: i64,
    /// Older deliveries than what is stored (ignored).
    pub stale: i64,
    /// When it was committed (Unix seconds).
    pub committed_at: i64,
}

/// The ingestion screen: recent batches, each collector, the open quarantine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IngestionOverview {
    /// The newest batches.
    pub batches: Vec<BatchView>,
    /// Each registration's collector.
    pub collectors: Vec<super::CollectorStatus>,
    /// Open quarantined records in all.
    pub quarantine_open: i64,
    /// The oldest open ones.
    pub quarantine: Vec<super::QuarantinedRecord>,
}

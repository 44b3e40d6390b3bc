//! What the price-sheet screens and `/api/v1/price-sheets` exchange: sheets with their
//! versions and entries, uploads checked whole, and the preview of a draft version against
//! last month's usage.

use super::CsvRowError;
use crate::billing::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The header of a price-sheet version's CSV (see `ssr::services::price_csv`).
pub const PRICE_CSV_HEADER: &str =
    "meter_id,meter_name,model,tier_from,unit_price,billing_unit,usage_units_per_billing_unit,per_period_hours,package_size";

/// A price sheet in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceSheetSummary {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Every price is in this currency.
    pub currency: Currency,
    /// Description.
    pub description: String,
    /// Versions stored.
    pub versions: i64,
    /// First day of the version in effect today, if any.
    pub current_from: Option<NaiveDate>,
    /// Meters priced by the version in effect today.
    pub current_entries: i64,
    /// Registrations whose default sheet it is today.
    pub default_for: Vec<String>,
    /// Customers priced by it today as their own sheet.
    pub customers: i64,
}

/// One version of a sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceVersionView {
    /// Id (the CSV download's handle).
    pub id: i64,
    /// First day in effect.
    pub effective_on: NaiveDate,
    /// First day no longer in effect (`None`: open-ended).
    pub ended_on: Option<NaiveDate>,
    /// Why it was made.
    pub note: String,
    /// Meters priced.
    pub entries: i64,
    /// In effect today.
    pub current: bool,
}

/// A tier of a graduated or volume price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TierView {
    /// From this many billing units on.
    pub from: Decimal,
    /// Price per billing unit inside the tier.
    pub unit_price: Decimal,
}

/// One meter's price in a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceEntryView {
    /// Meter GUID.
    pub meter_id: String,
    /// Meter name.
    pub meter_name: String,
    /// Its service.
    pub service: String,
    /// Its usage unit.
    pub usage_unit: String,
    /// `per_unit`, `graduated`, `volume` or `package`.
    pub model: String,
    /// Per unit: the price; package: the price of a block; tiered: the first tier's.
    pub unit_price: Decimal,
    /// Tiers (tiered models only).
    pub tiers: Vec<TierView>,
    /// Billing units per block (package only).
    pub package_size: Option<Decimal>,
    /// The unit the price is quoted in.
    pub billing_unit: String,
    /// Usage units per billing unit.
    pub usage_units_per_billing_unit: Decimal,
    /// Also times the hours of the billing period (a monthly price on hourly usage).
    pub per_period_hours: bool,
}

/// A billable meter with usage and no price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UnpricedMeter {
    /// Meter GUID.
    pub meter_id: String,
    /// Name.
    pub name: String,
    /// Usage unit.
    pub unit: String,
    /// Usage records in the window looked at (`None`: not counted, only known to exist).
    pub records: Option<i64>,
}

/// Where a sheet is in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SheetUse {
    /// Registration or customer id.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// A meter to choose in the entry editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MeterChoice {
    /// Meter GUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Usage unit.
    pub unit: String,
}

/// A sheet with its versions and one version's entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceSheetDetail {
    /// The sheet.
    pub summary: PriceSheetSummary,
    /// Its versions, newest first.
    pub versions: Vec<PriceVersionView>,
    /// The version shown (asked for, else the one in effect today, else the newest).
    pub shown: Option<PriceVersionView>,
    /// Its entries by meter name.
    pub entries: Vec<PriceEntryView>,
    /// Billable meters with usage since `unpriced_since` inside the shown version's days
    /// and no price in it.
    pub unpriced: Vec<UnpricedMeter>,
    /// The first day looked at for `unpriced`.
    pub unpriced_since: NaiveDate,
    /// Registrations whose default sheet it is today.
    pub default_for: Vec<SheetUse>,
    /// Customers priced by it today.
    pub customers: Vec<SheetUse>,
    /// Registrations in the sheet's currency (it can be their default).
    pub registrations: Vec<SheetUse>,
    /// The catalogue, for the entry editor.
    pub meters: Vec<MeterChoice>,
    /// Today (UTC), the default first day of a change.
    pub today: NaiveDate,
}

/// A new price sheet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceSheetForm {
    /// Unique name.
    pub name: String,
    /// ISO currency code.
    pub currency: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// A version as CSV, checked (and previewed) or saved.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceUploadForm {
    /// The CSV text.
    pub csv: String,
    /// First day (`YYYY-MM-DD`, UTC); empty: today.
    #[serde(default)]
    pub effective_on: String,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// One meter's price from a day on: the version in effect that day with this entry
/// changed becomes a new version starting that day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceEntryForm {
    /// Meter GUID (any form; the API takes it from the path).
    #[serde(default)]
    pub meter_id: String,
    /// `per_unit`, `graduated`, `volume` or `package`.
    pub model: String,
    /// Per unit or package price.
    #[serde(default)]
    pub unit_price: String,
    /// Tiered prices: one tier a line, `from price` (`0 0.05`, `100 0.04`).
    #[serde(default)]
    pub tiers: String,
    /// Package: billing units per block.
    #[serde(default)]
    pub package_size: String,
    /// The unit the price is quoted in (empty: the meter's usage unit).
    #[serde(default)]
    pub billing_unit: String,
    /// Usage units per billing unit (empty: 1).
    #[serde(default)]
    pub usage_units_per_billing_unit: String,
    /// A checkbox: present means a monthly price on hourly usage (the API may send a
    /// boolean).
    #[serde(default, deserialize_with = "checkbox")]
    pub per_period_hours: Option<String>,
    /// First day (empty: today).
    #[serde(default)]
    pub effective_on: String,
}

/// Who a preview row is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PreviewSubject {
    /// A customer (on its own subscription or on the base).
    Customer {
        /// Id.
        id: i64,
        /// Name.
        name: String,
    },
    /// A cloud tenant no customer has, billed to the base.
    Tenant {
        /// Its GUID.
        cloud_tenant_id: String,
    },
    /// Usage of user subscriptions with no known owner, billed to the base.
    Unassigned,
}

/// One customer's (or base section's) last month, now and under the draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PreviewRow {
    /// Registration name.
    pub registration: String,
    /// Who.
    pub subject: PreviewSubject,
    /// With the stored prices.
    pub current: Decimal,
    /// With the draft.
    pub draft: Decimal,
    /// `draft − current`.
    pub difference: Decimal,
    /// The registration's currency.
    pub currency: Currency,
}

/// Last month rated with the stored prices and with a draft version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PricePreview {
    /// The month (`2026-10`).
    pub period: String,
    /// Rows that change, largest difference first.
    pub changed: Vec<PreviewRow>,
    /// Rows rated the same either way.
    pub unchanged: usize,
    /// Billable meters with usage that month and no price in the draft.
    pub unpriced: Vec<UnpricedMeter>,
    /// Meters the draft prices.
    pub entries: usize,
    /// Nobody is priced by the sheet: the preview cannot show a difference.
    pub unused: bool,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum PriceUploadOutcome {
    /// Valid, not saved: the preview.
    Checked(PricePreview),
    /// Saved as a version.
    Saved {
        /// The version.
        version_id: i64,
        /// Its first day.
        effective_on: NaiveDate,
        /// What it does to last month.
        preview: PricePreview,
    },
    /// Refused whole: why, and each row's problem.
    Refused {
        /// Summary.
        message: String,
        /// Each problem.
        rows: Vec<CsvRowError>,
    },
}

/// A checkbox's value from a form (`"true"`, absent) or a JSON boolean.
fn checkbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Flag(bool),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None | Some(Raw::Flag(false)) => None,
        Some(Raw::Flag(true)) => Some("true".into()),
        Some(Raw::Text(t)) => Some(t),
    })
}

/// A change of a customer's pricing, as the customer page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TermsChangeView {
    /// First day.
    pub effective_on: NaiveDate,
    /// Its own sheet (`None`: the registration's default).
    pub own_sheet: Option<String>,
    /// Markup (+) or discount (−) in percent on the default sheet.
    pub markup: Option<String>,
    /// Meters with their own percentage.
    pub per_meter: usize,
}

/// How a customer is priced today, its changes, and the sheets it may be given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerTermsView {
    /// Its own sheet today (`None`: each registration's default sheet).
    pub own_sheet: Option<SheetUse>,
    /// Markup or discount today, in percent.
    pub markup: Option<String>,
    /// Meters with their own percentage today.
    pub per_meter: usize,
    /// Since when today's pricing holds.
    pub since: Option<NaiveDate>,
    /// Every change, newest first.
    pub changes: Vec<TermsChangeView>,
    /// The sheets it may be given.
    pub sheets: Vec<SheetUse>,
}

/// A customer's pricing from a day on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomerPricingForm {
    /// A sheet id, or empty for the registrations' default sheets.
    #[serde(default)]
    pub price_sheet: String,
    /// Markup (`15`) or discount (`-10`) in percent on the default sheet; empty: none.
    #[serde(default)]
    pub markup: String,
    /// First day (empty: today).
    #[serde(default)]
    pub effective_on: String,
}

//! The customer portal's usage and cost: the explorer's query and rows, and the charts.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A dimension the explorer groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UsageDim {
    /// UTC day of usage.
    Day,
    /// Service (Compute, Storage, …).
    Service,
    /// Meter.
    Meter,
    /// User subscription.
    Subscription,
    /// Resource group (from the resource URI).
    ResourceGroup,
    /// Resource (its URI).
    Resource,
}

impl UsageDim {
    /// Every dimension, in the order of the CSV's columns.
    pub const ALL: [UsageDim; 6] = [
        UsageDim::Day,
        UsageDim::Service,
        UsageDim::Meter,
        UsageDim::Subscription,
        UsageDim::ResourceGroup,
        UsageDim::Resource,
    ];

    /// The query-string code (`resource_group`).
    pub fn code(self) -> &'static str {
        match self {
            UsageDim::Day => "day",
            UsageDim::Service => "service",
            UsageDim::Meter => "meter",
            UsageDim::Subscription => "subscription",
            UsageDim::ResourceGroup => "resource_group",
            UsageDim::Resource => "resource",
        }
    }

    /// The dimension of a code.
    pub fn parse(raw: &str) -> Option<UsageDim> {
        UsageDim::ALL.into_iter().find(|d| d.code() == raw.trim())
    }
}

/// What the explorer selects: months, grouping, filters, order and page. Text as it came
/// from a query string or a form; the service parses and rejects what is not valid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageQuery {
    /// First month (`YYYY-MM`); empty: the month in progress.
    #[serde(default)]
    pub from: String,
    /// Last month, inclusive (`YYYY-MM`); empty: the same as `from`.
    #[serde(default)]
    pub to: String,
    /// Comma-separated dimensions (`day,meter`); empty: day, meter and subscription.
    #[serde(default)]
    pub group_by: String,
    /// Only this service.
    #[serde(default)]
    pub service: String,
    /// Only this meter (its ID).
    #[serde(default)]
    pub meter: String,
    /// Only this user subscription (its GUID).
    #[serde(default)]
    pub subscription: String,
    /// Only this resource group (case-insensitive).
    #[serde(default)]
    pub resource_group: String,
    /// Only resources carrying this tag that day: `key` (any value) or `key:value`.
    #[serde(default)]
    pub tag: String,
    /// `daily` (rows grouped by `group_by`) or `hourly` (the CSV only: one row per stored
    /// usage record, the records' own hours).
    #[serde(default)]
    pub granularity: String,
    /// Order: a dimension code, `quantity` or `cost`; `-` in front for descending.
    #[serde(default)]
    pub sort: String,
    /// Where the page starts (from the previous page's `next_cursor`).
    #[serde(default)]
    pub cursor: String,
    /// Rows per page (1–1,000; default 100).
    #[serde(default)]
    pub page_size: Option<u32>,
}

impl UsageQuery {
    /// The query from named parameters (a query string, a page's URL).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> UsageQuery {
        let text = |k: &str| get(k).unwrap_or_default();
        UsageQuery {
            from: text("from"),
            to: text("to"),
            group_by: text("group_by"),
            service: text("service"),
            meter: text("meter"),
            subscription: text("subscription"),
            resource_group: text("resource_group"),
            tag: text("tag"),
            granularity: text("granularity"),
            sort: text("sort"),
            cursor: text("cursor"),
            page_size: get("page_size").and_then(|p| p.trim().parse().ok()),
        }
    }
}

/// One row of the explorer: the grouped dimensions filled, the others `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// UTC day of usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Meter ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_id: Option<String>,
    /// Meter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_name: Option<String>,
    /// Usage unit (with the meter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// User subscription GUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_name: Option<String>,
    /// Resource group (empty: usage no resource explains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// Resource URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Quantity in the meter's unit (only when grouped by meter: units differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Cost, to the currency's minor unit; the rows add up to the invoice to the cent.
    pub cost: Decimal,
    /// The currency (its ISO 4217 code on the wire).
    pub currency: crate::billing::Currency,
    /// Some of the row's usage has no price yet (its cost is not in `cost`).
    pub unpriced: bool,
}

/// A total per currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CurrencyTotal {
    /// The currency (its ISO 4217 code on the wire).
    pub currency: crate::billing::Currency,
    /// Sum of the selection's cost.
    pub cost: Decimal,
}

/// One page of the explorer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsagePage {
    /// Whose usage.
    pub customer_id: i64,
    /// The rows.
    pub value: Vec<UsageRow>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
    /// Rows the selection has in all.
    pub total_rows: usize,
    /// What the whole selection (every page) costs, per currency.
    pub totals: Vec<CurrencyTotal>,
    /// The dimensions grouped by.
    pub group_by: Vec<UsageDim>,
    /// First and last month selected (`YYYY-MM`).
    pub from: String,
    /// Last month selected.
    pub to: String,
    /// The filters' choices: services, meters (id, name) and subscriptions (id, name)
    /// with usage in the months.
    pub choices: UsageChoices,
}

/// What the explorer's filters can pick from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageChoices {
    /// Services.
    pub services: Vec<String>,
    /// Meters: (id, name).
    pub meters: Vec<(String, String)>,
    /// User subscriptions: (GUID, name).
    pub subscriptions: Vec<(String, String)>,
    /// Resource groups.
    pub resource_groups: Vec<String>,
}

/// A named series of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Series {
    /// Its name (a service, a meter).
    pub name: String,
    /// One value per category of the chart.
    pub values: Vec<Decimal>,
}

/// A labelled value (a bar of a ranking).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Ranked {
    /// What it is (a meter's name, a resource's name).
    pub label: String,
    /// Where it belongs (a resource's group), if anything.
    pub detail: String,
    /// The value.
    pub value: Decimal,
}

/// The portal's charts for a range of months, in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageCharts {
    /// Whose usage (the customer's name).
    #[serde(default)]
    pub customer_name: String,
    /// First month (`YYYY-MM`).
    pub from: String,
    /// Last month.
    pub to: String,
    /// The currency of every amount (the customer's largest, when it has several).
    pub currency: Option<crate::billing::Currency>,
    /// Days of the range (the categories of the daily charts).
    pub days: Vec<NaiveDate>,
    /// Daily cost, one series per service.
    pub daily_by_service: Vec<Series>,
    /// Cost by meter, largest first.
    pub by_meter: Vec<Ranked>,
    /// The most expensive resources (name, resource group), largest first.
    pub top_resources: Vec<Ranked>,
    /// The meter whose quantity is charted (id, name, unit).
    pub meter: Option<(String, String, String)>,
    /// That meter's daily quantity.
    pub meter_quantity: Vec<Decimal>,
    /// Meters with usage in the range (id, name), for picking one.
    pub meters: Vec<(String, String)>,
    /// Usage has no price in the range (not in any amount).
    pub unpriced: bool,
}

/// How a month stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// Spending and the forecast are within it.
    Within,
    /// The forecast to the month's end crosses it.
    ForecastOver,
    /// Spent beyond it already.
    Over,
}

/// A billing account's monthly budget on the customer's overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetView {
    /// Registration name.
    pub registration: String,
    /// The billing account's subscription.
    pub billing_account: String,
    /// The registration's currency.
    pub currency: crate::billing::Currency,
    /// The budget (`None`: none set yet).
    pub amount: Option<Decimal>,
    /// Spent this month so far.
    pub month_to_date: Decimal,
    /// The forecast to the month's end.
    pub forecast: Option<Decimal>,
    /// Share of the budget spent, in whole percent.
    pub used_percent: Option<Decimal>,
    /// How the month stands.
    pub state: BudgetState,
}

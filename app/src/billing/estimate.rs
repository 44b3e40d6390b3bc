//! Month-to-date cost and a run-rate forecast to month end, for one cloud tenant.
//!
//! Both numbers come from [`rate`]: month to date rates the usage so far; the forecast
//! rates that usage *plus* the run rate projected onto the days still to come — each
//! user subscription and meter continues at its average hourly quantity so far, placed
//! on the remaining days of the period. Tiers apply to the whole month's quantity, and a
//! price version, mapping or ownership that changes later in the month applies to the
//! projected days exactly as it will on the invoice. There is no second formula.

use super::error::BillingResult;
use super::ids::CloudTenantId;
use super::ids::{MeterId, SubscriptionId};
use super::money::Money;
use super::quantity::Quantity;
use super::rating::{rate, Rating, RatingInput, UsageLine};
use super::resolution::Section;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tenant's cost so far this period and where it is heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// Σ rounded lines of the tenant's sections so far.
    pub month_to_date: Money,
    /// The same at the current run rate for the whole period.
    pub forecast: Money,
    /// Hours of the period elapsed at `as_of`.
    pub elapsed_hours: Decimal,
    /// Hours in the period.
    pub period_hours: u32,
    /// Billable meters with usage but no price (not in either figure).
    pub unpriced_meters: usize,
}

fn tenant_total(rating: &Rating, tenant: CloudTenantId) -> (Money, usize) {
    let mut total = Money::zero(rating.currency);
    let mut unpriced = 0;
    for account in &rating.accounts {
        for section in account.sections.iter().filter(|s| s.section == Section::Tenant(tenant)) {
            total = Money::new(
                total.amount() + section.total(rating.currency).amount(),
                rating.currency,
            );
            unpriced += section.unpriced.len();
        }
    }
    (total, unpriced)
}

/// Estimates one tenant's cost for `input.period` as of an instant inside it. `usage` is
/// the period's usage so far (every tenant's: billing accounts are rated as a whole).
pub fn estimate(
    input: &RatingInput<'_>,
    usage: &[UsageLine],
    as_of: DateTime<Utc>,
    tenant: CloudTenantId,
) -> BillingResult<CostEstimate> {
    let period_hours = input.period.hours();
    let start = input.period.start();
    let elapsed_secs = (as_of.min(input.period.end()) - start).num_seconds().max(0);
    let elapsed_hours = Decimal::from(elapsed_secs) / Decimal::from(3600);

    let to_date = rate(input, usage)?;
    let (month_to_date, unpriced_meters) = tenant_total(&to_date, tenant);

    let forecast = match forecast(input, usage, as_of)? {
        Some(rating) => tenant_total(&rating, tenant).0,
        None => Money::zero(input.currency),
    };
    Ok(CostEstimate {
        month_to_date,
        forecast,
        elapsed_hours: elapsed_hours.normalize(),
        period_hours,
        unpriced_meters,
    })
}

/// The whole period rated as it will be at the run rate so far: the usage so far plus its
/// projection onto the rest of the period (`None` before the period has begun). Every
/// account's, section's and customer's forecast is read from this one rating.
pub fn forecast(input: &RatingInput<'_>, usage: &[UsageLine], as_of: DateTime<Utc>) -> BillingResult<Option<Rating>> {
    let start = input.period.start();
    let elapsed_secs = (as_of.min(input.period.end()) - start).num_seconds().max(0);
    if elapsed_secs == 0 {
        return Ok(None);
    }
    let elapsed_hours = Decimal::from(elapsed_secs) / Decimal::from(3600);
    let mut whole = usage.to_vec();
    whole.extend(projection(input, usage, as_of, elapsed_hours)?);
    rate(input, &whole).map(Some)
}

/// The usage still to come at the run rate so far: for every user subscription and meter,
/// `quantity so far ÷ hours elapsed × hours left in the day`, one line per remaining day.
fn projection(
    input: &RatingInput<'_>,
    usage: &[UsageLine],
    as_of: DateTime<Utc>,
    elapsed_hours: Decimal,
) -> BillingResult<Vec<UsageLine>> {
    let overflow = || super::error::BillingError::Overflow { what: "forecast" };
    let (start, end) = (input.period.start(), input.period.end());
    let mut so_far: BTreeMap<(SubscriptionId, MeterId), Decimal> = BTreeMap::new();
    for l in usage.iter().filter(|l| input.period.contains_day(l.day)) {
        let q = so_far.entry((l.subscription_id, l.meter_id)).or_insert(Decimal::ZERO);
        *q = q.checked_add(l.quantity.value()).ok_or_else(overflow)?;
    }
    // Remaining hours per day, from `as_of` to the end of the period.
    let mut days: Vec<(NaiveDate, Decimal)> = Vec::new();
    let mut t = as_of.max(start);
    while t < end {
        let next_day = (t.date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(end)
            .min(end);
        let hours = Decimal::from((next_day - t).num_seconds()) / Decimal::from(3600);
        days.push((t.date_naive(), hours));
        t = next_day;
    }
    let mut out = Vec::with_capacity(so_far.len() * days.len());
    for ((subscription_id, meter_id), total) in so_far {
        let per_hour = total.checked_div(elapsed_hours).ok_or_else(overflow)?;
        for &(day, hours) in &days {
            let q = per_hour.checked_mul(hours).ok_or_else(overflow)?;
            out.push(UsageLine {
                subscription_id,
                meter_id,
                day,
                quantity: Quantity::try_from_decimal(q)?,
            });
        }
    }
    Ok(out)
}

//! Month-to-date cost and a run-rate forecast to month end, for one cloud tenant.
//!
//! Both numbers come from [`rate`]: month to date rates the usage so far; the forecast
//! rates the same usage scaled by `hours in the period / hours elapsed`, so tiers, unit
//! conversions, adjustments and version changes apply exactly as on the invoice. There is
//! no second formula.

use super::error::BillingResult;
use super::ids::CloudTenantId;
use super::money::Money;
use super::quantity::Quantity;
use super::rating::{rate, Rating, RatingInput, UsageLine};
use super::resolution::Section;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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

    let forecast = if elapsed_hours.is_zero() {
        Money::zero(input.currency)
    } else {
        let factor = Decimal::from(period_hours) / elapsed_hours;
        let scaled: Vec<UsageLine> = usage
            .iter()
            .map(|l| {
                let q = l.quantity.value().checked_mul(factor).unwrap_or(l.quantity.value());
                UsageLine {
                    quantity: Quantity::try_from_decimal(q).unwrap_or(l.quantity),
                    ..*l
                }
            })
            .collect();
        tenant_total(&rate(input, &scaled)?, tenant).0
    };
    Ok(CostEstimate {
        month_to_date,
        forecast,
        elapsed_hours: elapsed_hours.normalize(),
        period_hours,
        unpriced_meters,
    })
}

//! Rating: usage × prices → rated lines, grouped by billing account → section → meter.
//!
//! `rate` is a pure function of its inputs. Usage arrives aggregated to UTC days (from the
//! daily rollups, or from hourly records by their start day); every effective date in the
//! model (price versions, sheet assignments, markups, billable flags, mappings, ownership)
//! is a whole UTC day, so day granularity is exact.
//!
//! Every pricing term is taken **by the usage day**: re-rating January after a change made
//! on 3 February applies January's terms. For each billing account the period is cut into
//! *price segments* — runs of days with the same sheet, sheet version and adjustment — and
//! usage is summed per section, meter and segment over the whole period before any price
//! is applied, so tiered models see the period's total and the result does not depend on
//! how the usage was split into records or in which order it came. Tiered models continue
//! counting across segments — a new version's or a newly assigned sheet's tiers start
//! where the month's earlier quantity ended, so switching sheets mid-month never resets
//! a ladder.
//!
//! Tiers count **per section**: on a customer's own account that is its whole usage; on a
//! base subscription account each fallback tenant is counted on its own and the unassigned
//! usage as one more section, so one tenant's price never depends on another's usage.
//!
//! A billable meter without a price is an explicit *unpriced* line with its quantity —
//! never a silent zero — and report-only meters are listed as such.

use super::dated::Dated;
use super::error::{BillingError, BillingResult};
use super::fasthash::FxHashMap;
use super::ids::{CloudTenantId, MeterId, SubscriptionId};
use super::meter::{Meter, MeterBilling};
use super::money::{Currency, Money};
use super::period::BillingPeriod;
use super::price_sheet::{Adjustment, CustomerPricing, Percent, PriceEntry, PriceSheet, SheetId};
use super::pricing::PricingModel;
use super::quantity::Quantity;
use super::resolution::{BillingAccount, Resolver, Section};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Usage of one meter by one user subscription on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLine {
    /// The user subscription on the stamp.
    pub subscription_id: SubscriptionId,
    /// The meter.
    pub meter_id: MeterId,
    /// The UTC day the usage started.
    pub day: NaiveDate,
    /// Exact quantity in the meter's usage unit.
    pub quantity: Quantity,
}

/// Everything rating needs besides the usage.
#[derive(Debug, Clone)]
pub struct RatingInput<'a> {
    /// The period to rate (usage outside it is skipped and counted).
    pub period: BillingPeriod,
    /// The registration's currency; every sheet used must be in it.
    pub currency: Currency,
    /// Who pays for what.
    pub resolver: Resolver<'a>,
    /// Every price sheet the settings below refer to.
    pub sheets: &'a HashMap<SheetId, PriceSheet>,
    /// The registration's default price sheet by day (none on a day: everything
    /// billable that day is unpriced).
    pub default_sheet: &'a Dated<Option<SheetId>>,
    /// Pricing of customers by their cloud tenant (missing: the default sheet as is).
    pub customer_pricing: &'a HashMap<CloudTenantId, CustomerPricing>,
    /// The meter catalogue (names, units, default billing mode); unknown meters are billable.
    pub meters: &'a HashMap<MeterId, Meter>,
    /// Billing mode by day of the meters whose mode was changed; overrides
    /// [`Meter::billing`] on every day it covers.
    pub meter_billing: &'a HashMap<MeterId, Dated<MeterBilling>>,
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatedLine {
    /// Meter.
    pub meter_id: MeterId,
    /// Meter name (snapshot).
    pub meter_name: String,
    /// Usage unit (snapshot).
    pub usage_unit: String,
    /// Quantity in usage units.
    pub quantity: Quantity,
    /// The unit the price is quoted in.
    pub billing_unit: String,
    /// Quantity in billing units (after the unit conversion).
    pub billing_quantity: Decimal,
    /// Price per billing unit after any adjustment (the average price for tiered models).
    pub unit_price: Option<Decimal>,
    /// The customer's markup or discount applied to this line.
    pub adjustment: Option<Percent>,
    /// Name of the price sheet used (snapshot).
    pub price_sheet: String,
    /// First day of the price version used.
    pub price_version_from: NaiveDate,
    /// Unrounded amount, kept for audit.
    pub precise_amount: Decimal,
    /// Amount rounded half away from zero to the minor unit.
    pub amount: Money,
}

/// Usage listed without a price: unpriced (billable, no price) or report-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnratedLine {
    /// Meter.
    pub meter_id: MeterId,
    /// Meter name.
    pub meter_name: String,
    /// Usage unit.
    pub usage_unit: String,
    /// Quantity in usage units.
    pub quantity: Quantity,
}

/// The lines of one section of one billing account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionRating {
    /// Which tenant (or unassigned usage).
    pub section: Section,
    /// Priced lines.
    pub lines: Vec<RatedLine>,
    /// Billable meters without a price.
    pub unpriced: Vec<UnratedLine>,
    /// Report-only meters.
    pub report_only: Vec<UnratedLine>,
}

impl SectionRating {
    /// Σ rounded line amounts.
    pub fn total(&self, currency: Currency) -> Money {
        let sum = self.lines.iter().map(|l| l.amount.amount()).sum();
        Money::new(sum, currency)
    }
}

/// Everything rated for one billing account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRating {
    /// Who the invoice is for.
    pub account: BillingAccount,
    /// Sections in order: tenants by id, unassigned last.
    pub sections: Vec<SectionRating>,
}

impl AccountRating {
    /// Σ rounded line amounts over all sections.
    pub fn total(&self, currency: Currency) -> Money {
        let sum = self.sections.iter().map(|s| s.total(currency).amount()).sum();
        Money::new(sum, currency)
    }

    /// Σ precise amounts (for audit and invariants).
    pub fn precise_total(&self) -> Decimal {
        self.sections
            .iter()
            .flat_map(|s| &s.lines)
            .map(|l| l.precise_amount)
            .sum()
    }
}

/// The result of rating a period of one registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// The period.
    pub period: BillingPeriod,
    /// The currency of every amount.
    pub currency: Currency,
    /// Customer accounts by subscription, then the base account.
    pub accounts: Vec<AccountRating>,
    /// Usage lines outside the period (ignored).
    pub skipped_outside_period: u64,
}

impl Rating {
    /// The account for a subscription, if it has any usage.
    pub fn account(&self, subscription: SubscriptionId) -> Option<&AccountRating> {
        self.accounts.iter().find(|a| a.account.subscription() == subscription)
    }

    /// Σ of every account's rounded total.
    pub fn grand_total(&self) -> Money {
        let sum = self.accounts.iter().map(|a| a.total(self.currency).amount()).sum();
        Money::new(sum, self.currency)
    }
}

/// A run of days of one account priced the same way.
#[derive(Clone, Copy)]
struct Segment<'a> {
    from: NaiveDate,
    sheet: Option<&'a PriceSheet>,
    version: Option<usize>,
    adjustment: Option<&'a Adjustment>,
    /// (sheet, version, adjustment entry): equal keys price identically.
    key: (Option<SheetId>, Option<usize>, Option<usize>),
}

/// A user subscription's resolution over the period: segments starting at a day.
struct SubPlan {
    segments: Vec<(NaiveDate, u32, Section)>,
}

/// The segment index of usage on a day where its meter is report-only.
const REPORT_ONLY: u32 = u32::MAX;

/// A usage line's share of the money: which account and section it went to and its
/// proportional part of the priced line it fed (`None`: unpriced or report-only). Shares
/// give totals by user subscription, day or resource; the invoice's amounts are the
/// rated lines, whose rounded sum a sum of shares can miss by the rounding of each line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The user subscription.
    pub subscription_id: SubscriptionId,
    /// The meter.
    pub meter_id: MeterId,
    /// The usage day.
    pub day: NaiveDate,
    /// Who pays.
    pub account: BillingAccount,
    /// Under which section.
    pub section: Section,
    /// The usage.
    pub quantity: Quantity,
    /// Its part of the precise amount (unrounded).
    pub precise_amount: Option<Decimal>,
}

/// Rates a period. See the module documentation for the rules.
pub fn rate<'u>(input: &RatingInput<'_>, usage: impl IntoIterator<Item = &'u UsageLine>) -> BillingResult<Rating> {
    rate_inner(input, usage, false).map(|(r, _)| r)
}

/// Rates a period and breaks each rated line down to the usage lines that fed it.
pub fn rate_with_shares<'u>(
    input: &RatingInput<'_>,
    usage: impl IntoIterator<Item = &'u UsageLine>,
) -> BillingResult<(Rating, Vec<Share>)> {
    rate_inner(input, usage, true)
}

type GroupKey = (u32, Section, MeterId, u32);

fn rate_inner<'u>(
    input: &RatingInput<'_>,
    usage: impl IntoIterator<Item = &'u UsageLine>,
    want_shares: bool,
) -> BillingResult<(Rating, Vec<Share>)> {
    for sheet in input.sheets.values() {
        if sheet.currency != input.currency {
            return Err(BillingError::CurrencyMismatch {
                left: input.currency.to_string(),
                right: sheet.currency.to_string(),
            });
        }
    }
    let period_start = input.period.first_day();
    let period_end = input.period.end_day();
    // Meters whose billing mode changes inside the period are decided per usage day;
    // all others once per group.
    let varying: FxHashMap<MeterId, &Dated<MeterBilling>> = input
        .meter_billing
        .iter()
        .filter(|(_, d)| d.varies_within(period_start, period_end))
        .map(|(m, d)| (*m, d))
        .collect();

    let mut accounts: Vec<BillingAccount> = Vec::new();
    let mut account_index: FxHashMap<BillingAccount, u32> = FxHashMap::default();
    let mut plans: Vec<Vec<Segment<'_>>> = Vec::new();
    let mut sub_plans: FxHashMap<SubscriptionId, SubPlan> = FxHashMap::default();
    // (account, section, meter, segment) → quantity
    let mut sums: FxHashMap<(u32, Section, MeterId, u32), Decimal> = FxHashMap::default();
    let mut skipped = 0u64;
    // With shares: every line's group, to split the group's amount afterwards.
    let mut fed: Vec<(&UsageLine, GroupKey)> = Vec::new();

    for line in usage {
        if line.day < period_start || line.day >= period_end {
            skipped += 1;
            continue;
        }
        let plan = match sub_plans.entry(line.subscription_id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let mut segments = Vec::new();
                let starts = std::iter::once(period_start).chain(input.resolver.boundaries(
                    line.subscription_id,
                    period_start,
                    period_end,
                ));
                for start in starts {
                    let (account, section) = input.resolver.resolve(line.subscription_id, start);
                    let idx = match account_index.get(&account) {
                        Some(idx) => *idx,
                        None => {
                            accounts.push(account);
                            plans.push(account_plan(input, &account)?);
                            let idx = (accounts.len() - 1) as u32;
                            account_index.insert(account, idx);
                            idx
                        }
                    };
                    segments.push((start, idx, section));
                }
                v.insert(SubPlan { segments })
            }
        };
        let (_, account, section) = *plan
            .segments
            .iter()
            .rev()
            .find(|(start, _, _)| *start <= line.day)
            .expect("the first segment starts at the period start");
        let report_only = !varying.is_empty()
            && varying
                .get(&line.meter_id)
                .and_then(|d| d.at(line.day))
                .is_some_and(|b| *b == MeterBilling::ReportOnly);
        let segment = if report_only {
            REPORT_ONLY
        } else {
            let segments = &plans[account as usize];
            if segments.len() == 1 {
                0
            } else {
                segments.iter().rposition(|s| s.from <= line.day).unwrap_or(0) as u32
            }
        };
        let key = (account, section, line.meter_id, segment);
        *sums.entry(key).or_insert(Decimal::ZERO) += line.quantity.value();
        if want_shares {
            fed.push((line, key));
        }
    }

    let group_usage = if want_shares {
        sums.clone()
    } else {
        FxHashMap::default()
    };
    let (rating, amounts) = price_groups(input, &accounts, &plans, &varying, sums, skipped)?;
    if !want_shares {
        return Ok((rating, Vec::new()));
    }
    let mut merged: BTreeMap<ShareKey, (Decimal, Option<Decimal>)> = BTreeMap::new();
    for (line, key) in fed {
        let share = match amounts.get(&key) {
            Some(amount) => {
                let total = group_usage[&key];
                Some(if total.is_zero() {
                    Decimal::ZERO
                } else {
                    mul_div(*amount, line.quantity.value(), total)?
                })
            }
            None => None,
        };
        let e = merged
            .entry((line.subscription_id, line.meter_id, line.day, key.0, key.1))
            .or_insert((Decimal::ZERO, share.map(|_| Decimal::ZERO)));
        e.0 += line.quantity.value();
        if let (Some(sum), Some(part)) = (e.1.as_mut(), share) {
            *sum += part;
        }
    }
    let shares = merged
        .into_iter()
        .map(|((subscription_id, meter_id, day, account, section), (q, amount))| {
            Ok(Share {
                subscription_id,
                meter_id,
                day,
                account: accounts[account as usize],
                section,
                quantity: Quantity::try_from_decimal(q)?,
                precise_amount: amount.map(|a| a.normalize()),
            })
        })
        .collect::<BillingResult<Vec<_>>>()?;
    Ok((rating, shares))
}

/// How an account is priced on one day.
fn segment_at<'a>(input: &RatingInput<'a>, account: &BillingAccount, day: NaiveDate) -> BillingResult<Segment<'a>> {
    let default_sheet = input.default_sheet.at(day).copied().flatten();
    let (sheet_id, adjustment) = match account {
        BillingAccount::Base { .. } => (default_sheet, None),
        BillingAccount::Customer { tenant, .. } => match input.customer_pricing.get(tenant) {
            Some(p) => match p.own_sheet.at(day).copied().flatten() {
                Some(own) => (Some(own), None),
                None => {
                    let idx = p.adjustment.index_at(day);
                    let adj = idx
                        .map(|i| (&p.adjustment.entries()[i].1, i))
                        .filter(|(a, _)| !a.is_empty());
                    (default_sheet, adj)
                }
            },
            None => (default_sheet, None),
        },
    };
    let sheet = match sheet_id {
        Some(id) => Some(
            input
                .sheets
                .get(&id)
                .ok_or(BillingError::UnknownPriceSheet { id: id.0 })?,
        ),
        None => None,
    };
    let version = sheet.and_then(|s| s.version_index_at(day));
    Ok(Segment {
        from: day,
        sheet,
        version,
        adjustment: adjustment.map(|(a, _)| a),
        key: (sheet_id, version, adjustment.map(|(_, i)| i)),
    })
}

/// The price segments of an account over the period.
fn account_plan<'a>(input: &RatingInput<'a>, account: &BillingAccount) -> BillingResult<Vec<Segment<'a>>> {
    let (start, end) = (input.period.first_day(), input.period.end_day());
    let mut days: Vec<NaiveDate> = input.default_sheet.changes_within(start, end).collect();
    if let BillingAccount::Customer { tenant, .. } = account {
        if let Some(p) = input.customer_pricing.get(tenant) {
            days.extend(p.own_sheet.changes_within(start, end));
            days.extend(p.adjustment.changes_within(start, end));
        }
    }
    // Sheets in use on any of those days bring their version boundaries.
    let mut starts = vec![start];
    starts.extend(days.iter().copied());
    let mut sheets: Vec<SheetId> = Vec::new();
    for day in &starts {
        if let Some(id) = segment_at(input, account, *day)?.key.0 {
            if !sheets.contains(&id) {
                sheets.push(id);
            }
        }
    }
    for id in sheets {
        if let Some(sheet) = input.sheets.get(&id) {
            for v in sheet.versions() {
                days.extend(
                    [Some(v.effective_on), v.ended_on]
                        .into_iter()
                        .flatten()
                        .filter(|d| *d > start && *d < end),
                );
            }
        }
    }
    days.sort();
    days.dedup();
    let mut plan: Vec<Segment<'a>> = vec![segment_at(input, account, start)?];
    for day in days {
        let s = segment_at(input, account, day)?;
        if plan.last().is_some_and(|last| last.key == s.key) {
            continue;
        }
        plan.push(s);
    }
    Ok(plan)
}

struct MeterInfo {
    name: String,
    unit: String,
}

fn meter_info(input: &RatingInput<'_>, id: MeterId) -> MeterInfo {
    match input.meters.get(&id) {
        Some(m) => MeterInfo {
            name: m.name.clone(),
            unit: m.unit.clone(),
        },
        None => MeterInfo {
            name: format!("Unknown meter {id}"),
            unit: String::new(),
        },
    }
}

/// A meter's billing mode on a day: the recorded change, else the catalogue's mode,
/// else billable (a meter first seen in usage).
fn billing_on(input: &RatingInput<'_>, id: MeterId, day: NaiveDate) -> MeterBilling {
    input
        .meter_billing
        .get(&id)
        .and_then(|d| d.at(day))
        .copied()
        .or_else(|| input.meters.get(&id).map(|m| m.billing))
        .unwrap_or(MeterBilling::Billable)
}

type Groups = BTreeMap<(u32, Section, MeterId), BTreeMap<u32, Decimal>>;

/// (subscription, meter, day, account index, section): one share before merging; the
/// value is (quantity, precise amount — `None` when unpriced).
type ShareKey = (SubscriptionId, MeterId, NaiveDate, u32, Section);

/// A priced part of a group: the entry and where it came from, the segment's usage and
/// billing quantity.
struct Priced<'a> {
    segment: u32,
    entry: &'a PriceEntry,
    sheet: &'a PriceSheet,
    version_from: NaiveDate,
    adjustment: Option<Percent>,
    usage: Decimal,
    billing: Decimal,
}

fn price_groups(
    input: &RatingInput<'_>,
    accounts: &[BillingAccount],
    plans: &[Vec<Segment<'_>>],
    varying: &FxHashMap<MeterId, &Dated<MeterBilling>>,
    sums: FxHashMap<(u32, Section, MeterId, u32), Decimal>,
    skipped: u64,
) -> BillingResult<(Rating, FxHashMap<GroupKey, Decimal>)> {
    // The precise amount of every priced group (for shares).
    let mut amounts: FxHashMap<GroupKey, Decimal> = FxHashMap::default();
    // (account, section, meter) → segment → quantity, in a stable order.
    let mut groups: Groups = BTreeMap::new();
    for ((account, section, meter, segment), q) in sums {
        groups.entry((account, section, meter)).or_default().insert(segment, q);
    }
    let hours = input.period.hours();
    let period_start = input.period.first_day();
    let mut out: Vec<BTreeMap<Section, SectionRating>> = vec![BTreeMap::new(); accounts.len()];

    for ((account, section, meter), segments) in groups {
        let info = meter_info(input, meter);
        let always_report_only =
            !varying.contains_key(&meter) && billing_on(input, meter, period_start) == MeterBilling::ReportOnly;
        let mut report_only: Option<Decimal> = None;
        let mut unpriced: Option<Decimal> = None;
        let mut priced: Vec<Priced<'_>> = Vec::with_capacity(segments.len());
        for (segment, q) in segments {
            if always_report_only || segment == REPORT_ONLY {
                *report_only.get_or_insert(Decimal::ZERO) += q;
                continue;
            }
            let seg = &plans[account as usize][segment as usize];
            let found = match (seg.sheet, seg.version) {
                (Some(sheet), Some(v)) => {
                    let version = &sheet.versions()[v];
                    version.entries.get(&meter).map(|e| (e, sheet, version.effective_on))
                }
                _ => None,
            };
            let Some((entry, sheet, version_from)) = found else {
                *unpriced.get_or_insert(Decimal::ZERO) += q;
                continue;
            };
            priced.push(Priced {
                segment,
                entry,
                sheet,
                version_from,
                adjustment: seg.adjustment.and_then(|a| a.for_meter(meter)),
                usage: q,
                billing: entry.conversion.to_billing_units(q, hours)?,
            });
        }
        // Tiers apply to the section's quantity over the period, across segments.
        let period_total = priced
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| sum.checked_add(p.billing))
            .ok_or(BillingError::Overflow { what: "quantity" })?;
        // Billing units already priced this period by earlier segments.
        let mut before = Decimal::ZERO;
        let target = section_mut(&mut out[account as usize], section);
        for p in priced {
            let upb = p.entry.conversion.usage_units_per_billing_unit(hours);
            let factor = p.adjustment.map_or(Decimal::ONE, |a| a.factor());
            let base_amount = match &p.entry.model {
                // Per-unit lines multiply, then divide once, to keep every digit.
                PricingModel::PerUnit { unit_price } => mul_div(p.usage, unit_price.value(), upb)?,
                model => model.segment_amount(before, p.billing, period_total)?,
            };
            before += p.billing;
            let precise = base_amount
                .checked_mul(factor)
                .ok_or(BillingError::Overflow { what: "adjustment" })?;
            amounts.insert((account, section, meter, p.segment), precise);
            let unit_price = match &p.entry.model {
                PricingModel::PerUnit { unit_price } => Some(unit_price.value() * factor),
                _ if p.billing.is_zero() => None,
                _ => precise.checked_div(p.billing),
            };
            target.lines.push(RatedLine {
                meter_id: meter,
                meter_name: info.name.clone(),
                usage_unit: info.unit.clone(),
                quantity: Quantity::try_from_decimal(p.usage)?,
                billing_unit: p.entry.billing_unit.clone(),
                billing_quantity: p.billing.normalize(),
                unit_price: unit_price.map(|v| v.normalize()),
                adjustment: p.adjustment,
                price_sheet: p.sheet.name.clone(),
                price_version_from: p.version_from,
                precise_amount: precise.normalize(),
                amount: Money::new(precise, input.currency).rounded(),
            });
        }
        let unrated = |q: Decimal| -> BillingResult<UnratedLine> {
            Ok(UnratedLine {
                meter_id: meter,
                meter_name: info.name.clone(),
                usage_unit: info.unit.clone(),
                quantity: Quantity::try_from_decimal(q)?,
            })
        };
        if let Some(q) = unpriced {
            target.unpriced.push(unrated(q)?);
        }
        if let Some(q) = report_only {
            target.report_only.push(unrated(q)?);
        }
    }

    let mut rated: Vec<AccountRating> = accounts
        .iter()
        .zip(out)
        .map(|(account, sections)| AccountRating {
            account: *account,
            sections: sections.into_values().collect(),
        })
        .collect();
    for a in &mut rated {
        for s in &mut a.sections {
            // Stable sorts: a meter's lines stay in the order of their price segments.
            s.lines
                .sort_by(|x, y| (&x.meter_name, x.meter_id).cmp(&(&y.meter_name, y.meter_id)));
            s.unpriced
                .sort_by(|x, y| (&x.meter_name, x.meter_id).cmp(&(&y.meter_name, y.meter_id)));
            s.report_only
                .sort_by(|x, y| (&x.meter_name, x.meter_id).cmp(&(&y.meter_name, y.meter_id)));
        }
    }
    // Customer accounts first (by subscription), the base account last.
    rated.sort_by_key(|a| (a.account.is_base(), a.account.subscription()));
    Ok((
        Rating {
            period: input.period,
            currency: input.currency,
            accounts: rated,
            skipped_outside_period: skipped,
        },
        amounts,
    ))
}

fn section_mut(sections: &mut BTreeMap<Section, SectionRating>, section: Section) -> &mut SectionRating {
    sections.entry(section).or_insert_with(|| SectionRating {
        section,
        lines: Vec::new(),
        unpriced: Vec::new(),
        report_only: Vec::new(),
    })
}

/// `a × b ÷ c`, multiplying first so the only rounding is the division's 28th digit.
fn mul_div(a: Decimal, b: Decimal, c: Decimal) -> BillingResult<Decimal> {
    a.checked_mul(b)
        .and_then(|p| p.checked_div(c))
        .ok_or(BillingError::Overflow { what: "amount" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::{BASE_VM_SIZE_HOURS, VM_SIZE_HOURS, WINDOWS_VM_SIZE_HOURS};
    use crate::billing::price_sheet::{Percent, PriceSheetVersion};
    use crate::billing::pricing::{Tier, UnitConversion, UnitPrice};
    use crate::billing::resolution::{mappings, ownerships, Mappings, Ownerships};
    use crate::billing::Dated;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    const BASE: SubscriptionId = SubscriptionId::from_u128(0xba5e);
    const BLOB: MeterId = MeterId::from_u128(0x09f8879e_87e9_4305_a572_4b7be209f857);
    const EVENT_HUBS: MeterId = MeterId::from_u128(0xcb6a35c5_fade_406c_b14d_6ddb7c4ca3d5);

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn meters() -> HashMap<MeterId, Meter> {
        let m = |id, name: &str, unit: &str, billing| {
            (
                id,
                Meter {
                    id,
                    name: name.into(),
                    unit: unit.into(),
                    service: "x".into(),
                    billing,
                },
            )
        };
        HashMap::from([
            m(
                BASE_VM_SIZE_HOURS,
                "Base VM Size Hours",
                "Virtual core hours",
                MeterBilling::Billable,
            ),
            m(
                WINDOWS_VM_SIZE_HOURS,
                "Windows VM Size Hours",
                "Virtual core hours",
                MeterBilling::Billable,
            ),
            m(VM_SIZE_HOURS, "VM size hours", "VM hours", MeterBilling::ReportOnly),
            m(BLOB, "BlockBlobCapacity", "GB*hours", MeterBilling::Billable),
            m(EVENT_HUBS, "1 Core", "Core*hours", MeterBilling::Billable),
        ])
    }

    fn list_prices() -> PriceSheet {
        let entries = vec![
            PriceEntry::per_unit(BASE_VM_SIZE_HOURS, UnitPrice::parse("0.008").unwrap(), "vCPU-hour"),
            PriceEntry::per_unit(WINDOWS_VM_SIZE_HOURS, UnitPrice::parse("0.046").unwrap(), "vCPU-hour"),
            PriceEntry {
                meter_id: BLOB,
                model: PricingModel::PerUnit {
                    unit_price: UnitPrice::parse("0.006").unwrap(),
                },
                billing_unit: "GB-month".into(),
                conversion: UnitConversion::MONTHLY_FROM_HOURLY,
            },
        ];
        PriceSheet::new(
            "list",
            Currency::USD,
            vec![PriceSheetVersion::new(day("2020-01-01"), None, entries).unwrap()],
        )
        .unwrap()
    }

    const LIST: SheetId = SheetId(1);

    struct World {
        own: Ownerships,
        map: Mappings,
        sheet: PriceSheet,
        /// More sheets besides `sheet` (which is `LIST`).
        others: HashMap<SheetId, PriceSheet>,
        default_sheet: Dated<Option<SheetId>>,
        pricing: HashMap<CloudTenantId, CustomerPricing>,
        meters: HashMap<MeterId, Meter>,
        billing: HashMap<MeterId, Dated<MeterBilling>>,
    }

    impl World {
        fn new() -> Self {
            World {
                own: ownerships(),
                map: mappings(),
                sheet: list_prices(),
                others: HashMap::new(),
                default_sheet: Dated::always(Some(LIST)),
                pricing: HashMap::new(),
                meters: meters(),
                billing: HashMap::new(),
            }
        }

        fn try_rate(&self, period: &str, usage: &[UsageLine]) -> BillingResult<Rating> {
            let mut sheets = self.others.clone();
            sheets.insert(LIST, self.sheet.clone());
            let input = RatingInput {
                period: BillingPeriod::parse(period).unwrap(),
                currency: Currency::USD,
                resolver: Resolver {
                    base_subscription: BASE,
                    ownerships: &self.own,
                    mappings: &self.map,
                },
                sheets: &sheets,
                default_sheet: &self.default_sheet,
                customer_pricing: &self.pricing,
                meters: &self.meters,
                meter_billing: &self.billing,
            };
            rate(&input, usage)
        }

        fn rate(&self, period: &str, usage: &[UsageLine]) -> Rating {
            self.try_rate(period, usage).unwrap()
        }
    }

    fn usage(sub: u128, meter: MeterId, d: &str, q: Decimal) -> UsageLine {
        UsageLine {
            subscription_id: SubscriptionId::from_u128(sub),
            meter_id: meter,
            day: day(d),
            quantity: Quantity::try_from_decimal(q).unwrap(),
        }
    }

    #[test]
    fn a_month_of_a_mapped_tenant_is_one_customer_account_with_one_section() {
        let mut w = World::new();
        let t = CloudTenantId::from_u128(10);
        w.own
            .insert(SubscriptionId::from_u128(1), day("2026-01-01"), None, t)
            .unwrap();
        w.map
            .insert(t, day("2026-01-01"), None, SubscriptionId::from_u128(100))
            .unwrap();
        let lines: Vec<_> = (1..=31)
            .map(|d| usage(1, BASE_VM_SIZE_HOURS, &format!("2026-01-{d:02}"), dec!(48)))
            .collect();
        let r = w.rate("2026-01", &lines);
        assert_eq!(r.accounts.len(), 1);
        let a = &r.accounts[0];
        assert_eq!(
            a.account,
            BillingAccount::Customer {
                subscription: SubscriptionId::from_u128(100),
                tenant: t
            }
        );
        let l = &a.sections[0].lines[0];
        // 31 days × 48 vCPU-hours = 1,488 × 0.008 = 11.904 → 11.90
        assert_eq!(l.quantity.value(), dec!(1488));
        assert_eq!(l.precise_amount, dec!(11.904));
        assert_eq!(l.amount.amount(), dec!(11.90));
        assert_eq!(l.unit_price, Some(dec!(0.008)));
    }

    #[test]
    fn usage_outside_the_period_is_skipped_and_counted() {
        let w = World::new();
        let r = w.rate(
            "2026-01",
            &[
                usage(1, BASE_VM_SIZE_HOURS, "2026-02-01", dec!(1)),
                usage(1, BASE_VM_SIZE_HOURS, "2025-12-31", dec!(1)),
            ],
        );
        assert!(r.accounts.is_empty());
        assert_eq!(r.skipped_outside_period, 2);
    }

    #[test]
    fn a_customer_markup_applies_to_its_own_account_but_not_to_the_base() {
        let mut w = World::new();
        let t1 = CloudTenantId::from_u128(10);
        let t2 = CloudTenantId::from_u128(20);
        w.own
            .insert(SubscriptionId::from_u128(1), day("2026-01-01"), None, t1)
            .unwrap();
        w.own
            .insert(SubscriptionId::from_u128(2), day("2026-01-01"), None, t2)
            .unwrap();
        w.map
            .insert(t1, day("2026-01-01"), None, SubscriptionId::from_u128(100))
            .unwrap();
        let markup = Adjustment {
            overall: Some(Percent::parse("15").unwrap()),
            per_meter: HashMap::new(),
        };
        w.pricing.insert(t1, CustomerPricing::adjusted(markup.clone()));
        w.pricing.insert(t2, CustomerPricing::adjusted(markup));
        let r = w.rate(
            "2026-01",
            &[
                usage(1, BASE_VM_SIZE_HOURS, "2026-01-05", dec!(100)),
                usage(2, BASE_VM_SIZE_HOURS, "2026-01-05", dec!(100)),
            ],
        );
        // 100 × 0.008 = 0.80; × 1.15 = 0.92
        let cust = r.account(SubscriptionId::from_u128(100)).unwrap();
        assert_eq!(cust.sections[0].lines[0].precise_amount, dec!(0.92));
        assert_eq!(cust.sections[0].lines[0].adjustment.unwrap().value(), dec!(15));
        // The unmapped tenant is on the base at the plain default price: 0.80
        let base = r.account(BASE).unwrap();
        assert_eq!(base.sections[0].lines[0].precise_amount, dec!(0.8));
        assert!(base.sections[0].lines[0].adjustment.is_none());
    }

    #[test]
    fn graduated_tiers_apply_to_the_period_total_of_the_account_not_per_day() {
        let mut w = World::new();
        let tiers = PricingModel::Graduated {
            tiers: vec![
                Tier {
                    from: dec!(0),
                    unit_price: UnitPrice::parse("0.01").unwrap(),
                },
                Tier {
                    from: dec!(1000),
                    unit_price: UnitPrice::parse("0.005").unwrap(),
                },
            ],
        };
        let entry = PriceEntry {
            meter_id: BASE_VM_SIZE_HOURS,
            model: tiers,
            billing_unit: "vCPU-hour".into(),
            conversion: UnitConversion::IDENTITY,
        };
        w.sheet = PriceSheet::new(
            "t",
            Currency::USD,
            vec![PriceSheetVersion::new(day("2020-01-01"), None, [entry]).unwrap()],
        )
        .unwrap();
        // 30 days × 50 = 1,500: 1,000 × 0.01 + 500 × 0.005 = 12.50 (per day it would be 15.00)
        let lines: Vec<_> = (1..=30)
            .map(|d| usage(1, BASE_VM_SIZE_HOURS, &format!("2026-04-{d:02}"), dec!(50)))
            .collect();
        let r = w.rate("2026-04", &lines);
        let base = r.account(BASE).unwrap();
        assert_eq!(base.sections[0].lines[0].precise_amount, dec!(12.5));
        // Average price per unit is shown for tiered lines: 12.50 / 1,500
        assert_eq!(
            base.sections[0].lines[0].unit_price.unwrap().round_dp(6),
            dec!(0.008333)
        );
    }

    /// A sheet pricing Base VM hours with two-tier entries (tier edge at 100 units),
    /// `before` up to the 15th of January 2026 and `after` from then on; `model` makes
    /// the graduated or volume model from the two tiers.
    fn two_versions(model: fn(Vec<Tier>) -> PricingModel, before: (&str, &str), after: (&str, &str)) -> PriceSheet {
        let entry = |(p1, p2): (&str, &str)| PriceEntry {
            meter_id: BASE_VM_SIZE_HOURS,
            model: model(vec![
                Tier {
                    from: dec!(0),
                    unit_price: UnitPrice::parse(p1).unwrap(),
                },
                Tier {
                    from: dec!(100),
                    unit_price: UnitPrice::parse(p2).unwrap(),
                },
            ]),
            billing_unit: "u".into(),
            conversion: UnitConversion::IDENTITY,
        };
        PriceSheet::new(
            "t",
            Currency::USD,
            vec![
                PriceSheetVersion::new(day("2026-01-01"), Some(day("2026-01-15")), [entry(before)]).unwrap(),
                PriceSheetVersion::new(day("2026-01-15"), None, [entry(after)]).unwrap(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn tiers_continue_across_a_mid_month_price_version() {
        let mut w = World::new();
        w.sheet = two_versions(|tiers| PricingModel::Graduated { tiers }, ("1", "0.5"), ("2", "1"));
        let r = w.rate(
            "2026-01",
            &[
                usage(1, BASE_VM_SIZE_HOURS, "2026-01-10", dec!(80)),
                usage(1, BASE_VM_SIZE_HOURS, "2026-01-20", dec!(80)),
            ],
        );
        let lines = &r.account(BASE).unwrap().sections[0].lines;
        assert_eq!(lines.len(), 2);
        // First version: units 0–80 at 1 = 80.
        assert_eq!(lines[0].precise_amount, dec!(80));
        // Second version continues at unit 80: units 80–100 at 2 = 40, 100–160 at 1 = 60.
        assert_eq!(lines[1].precise_amount, dec!(100));
    }

    #[test]
    fn volume_tiers_use_the_periods_total_across_a_mid_month_price_version() {
        let mut w = World::new();
        let volume = |tiers| PricingModel::Volume { tiers };
        let month = [
            usage(1, BASE_VM_SIZE_HOURS, "2026-01-10", dec!(80)),
            usage(1, BASE_VM_SIZE_HOURS, "2026-01-20", dec!(40)),
        ];
        let amounts = |w: &World| -> Vec<Decimal> {
            let r = w.rate("2026-01", &month);
            r.account(BASE).unwrap().sections[0]
                .lines
                .iter()
                .map(|l| l.precise_amount)
                .collect()
        };
        // The same tiers in both versions: the period's 120 units reach the second tier,
        // so every unit costs 5 — 80 × 5 = 400 and 40 × 5 = 200, the same 600 as one
        // version pricing all 120 (never 800 then 600 − 800 = −200).
        w.sheet = two_versions(volume, ("10", "5"), ("10", "5"));
        assert_eq!(amounts(&w), vec![dec!(400), dec!(200)]);
        // New prices from the 15th: each version's units at its own price for the tier
        // the period reaches — 80 × 5 = 400, 40 × 4 = 160.
        w.sheet = two_versions(volume, ("10", "5"), ("8", "4"));
        assert_eq!(amounts(&w), vec![dec!(400), dec!(160)]);
    }

    #[test]
    fn a_sheet_in_another_currency_is_an_error() {
        let mut w = World::new();
        w.sheet = PriceSheet::new("eur", Currency::EUR, vec![]).unwrap();
        assert!(matches!(
            w.try_rate("2026-01", &[]),
            Err(BillingError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn a_sheet_that_was_not_loaded_is_an_error_not_a_silent_zero() {
        let mut w = World::new();
        w.default_sheet = Dated::always(Some(SheetId(99)));
        let err = w
            .try_rate("2026-01", &[usage(1, BASE_VM_SIZE_HOURS, "2026-01-05", dec!(1))])
            .unwrap_err();
        assert_eq!(err, BillingError::UnknownPriceSheet { id: 99 });
    }

    /// A graduated Base VM price: 0–100 units at 1, beyond at 0.5.
    fn graduated_sheet() -> PriceSheet {
        let entry = PriceEntry {
            meter_id: BASE_VM_SIZE_HOURS,
            model: PricingModel::Graduated {
                tiers: vec![
                    Tier {
                        from: dec!(0),
                        unit_price: UnitPrice::parse("1").unwrap(),
                    },
                    Tier {
                        from: dec!(100),
                        unit_price: UnitPrice::parse("0.5").unwrap(),
                    },
                ],
            },
            billing_unit: "u".into(),
            conversion: UnitConversion::IDENTITY,
        };
        PriceSheet::new(
            "g",
            Currency::USD,
            vec![PriceSheetVersion::new(day("2020-01-01"), None, [entry]).unwrap()],
        )
        .unwrap()
    }

    #[test]
    fn on_the_base_account_each_fallback_tenant_climbs_its_own_tier_ladder() {
        let mut w = World::new();
        w.sheet = graduated_sheet();
        let (t1, t2) = (CloudTenantId::from_u128(10), CloudTenantId::from_u128(20));
        w.own
            .insert(SubscriptionId::from_u128(1), day("2026-01-01"), None, t1)
            .unwrap();
        w.own
            .insert(SubscriptionId::from_u128(2), day("2026-01-01"), None, t2)
            .unwrap();
        // Neither tenant is mapped; subscription 3 is unassigned.
        let lines = [
            usage(1, BASE_VM_SIZE_HOURS, "2026-01-05", dec!(90)),
            usage(2, BASE_VM_SIZE_HOURS, "2026-01-05", dec!(90)),
            usage(3, BASE_VM_SIZE_HOURS, "2026-01-05", dec!(150)),
        ];
        let base = w.rate("2026-01", &lines).account(BASE).unwrap().clone();
        let amount = |s: Section| -> Decimal {
            base.sections
                .iter()
                .find(|x| x.section == s)
                .unwrap()
                .lines
                .iter()
                .map(|l| l.precise_amount)
                .sum()
        };
        // 90 units each in the first tier: 90 — not 90 and then 10 + 80 × 0.5 = 50 for
        // whichever tenant came second on a shared ladder.
        assert_eq!(amount(Section::Tenant(t1)), dec!(90));
        assert_eq!(amount(Section::Tenant(t2)), dec!(90));
        // Unassigned usage is one more section with its own ladder: 100 + 50 × 0.5.
        assert_eq!(amount(Section::Unassigned), dec!(125));
        // Tenant 1's price does not depend on tenant 2's usage.
        let alone = w.rate("2026-01", &lines[..1]);
        assert_eq!(
            alone.account(BASE).unwrap().sections[0].lines[0].precise_amount,
            dec!(90)
        );
    }

    #[test]
    fn terms_are_taken_by_usage_day_so_a_later_change_does_not_reprice_an_earlier_month() {
        let mut w = World::new();
        let t = CloudTenantId::from_u128(10);
        let cs = SubscriptionId::from_u128(100);
        w.own
            .insert(SubscriptionId::from_u128(1), day("2026-01-01"), None, t)
            .unwrap();
        w.map.insert(t, day("2026-01-01"), None, cs).unwrap();
        // A second sheet becomes the registration default on 3 February; the customer's
        // markup goes from 10 % to 20 % the same day; Windows VM hours become report-only.
        let cheap_entries = vec![PriceEntry::per_unit(
            BASE_VM_SIZE_HOURS,
            UnitPrice::parse("0.004").unwrap(),
            "vCPU-hour",
        )];
        w.others.insert(
            SheetId(2),
            PriceSheet::new(
                "cheaper",
                Currency::USD,
                vec![PriceSheetVersion::new(day("2020-01-01"), None, cheap_entries).unwrap()],
            )
            .unwrap(),
        );
        w.default_sheet = Dated::from_changes([(day("2020-01-01"), Some(LIST)), (day("2026-02-03"), Some(SheetId(2)))]);
        let pct = |p: &str| Adjustment {
            overall: Some(Percent::parse(p).unwrap()),
            per_meter: HashMap::new(),
        };
        w.pricing.insert(
            t,
            CustomerPricing {
                own_sheet: Dated::none(),
                adjustment: Dated::from_changes([(day("2020-01-01"), pct("10")), (day("2026-02-03"), pct("20"))]),
            },
        );
        w.billing.insert(
            WINDOWS_VM_SIZE_HOURS,
            Dated::from_changes([
                (day("2020-01-01"), MeterBilling::Billable),
                (day("2026-02-03"), MeterBilling::ReportOnly),
            ]),
        );
        let january = w.rate(
            "2026-01",
            &[
                usage(1, BASE_VM_SIZE_HOURS, "2026-01-20", dec!(100)),
                usage(1, WINDOWS_VM_SIZE_HOURS, "2026-01-20", dec!(100)),
            ],
        );
        let lines = &january.account(cs).unwrap().sections[0].lines;
        // January: list price 0.008 × 100 × 1.10 = 0.88; Windows 0.046 × 100 × 1.1 = 5.06.
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].precise_amount, dec!(0.88));
        assert_eq!(lines[0].price_sheet, "list");
        assert_eq!(lines[1].precise_amount, dec!(5.06));

        // February splits at the 3rd: two Base VM lines, Windows billable only before.
        let february = w.rate(
            "2026-02",
            &[
                usage(1, BASE_VM_SIZE_HOURS, "2026-02-02", dec!(100)),
                usage(1, BASE_VM_SIZE_HOURS, "2026-02-03", dec!(100)),
                usage(1, WINDOWS_VM_SIZE_HOURS, "2026-02-02", dec!(100)),
                usage(1, WINDOWS_VM_SIZE_HOURS, "2026-02-10", dec!(50)),
            ],
        );
        let s = &february.account(cs).unwrap().sections[0];
        let base_vm: Vec<(Decimal, &str)> = s
            .lines
            .iter()
            .filter(|l| l.meter_id == BASE_VM_SIZE_HOURS)
            .map(|l| (l.precise_amount, l.price_sheet.as_str()))
            .collect();
        // 100 × 0.008 × 1.1 = 0.88 on the 2nd; 100 × 0.004 × 1.2 = 0.48 from the 3rd.
        assert_eq!(base_vm, vec![(dec!(0.88), "list"), (dec!(0.48), "cheaper")]);
        let windows: Vec<Decimal> = s
            .lines
            .iter()
            .filter(|l| l.meter_id == WINDOWS_VM_SIZE_HOURS)
            .map(|l| l.precise_amount)
            .collect();
        assert_eq!(windows, vec![dec!(5.06)]);
        assert_eq!(s.report_only.len(), 1);
        assert_eq!(s.report_only[0].quantity.value(), dec!(50));
    }

    #[test]
    fn a_customers_own_sheet_applies_from_its_day_without_the_markup() {
        let mut w = World::new();
        let t = CloudTenantId::from_u128(10);
        let cs = SubscriptionId::from_u128(100);
        w.own
            .insert(SubscriptionId::from_u128(1), day("2026-01-01"), None, t)
            .unwrap();
        w.map.insert(t, day("2026-01-01"), None, cs).unwrap();
        let mut own = graduated_sheet();
        own.name = "contract".into();
        w.others.insert(SheetId(7), own);
        w.pricing.insert(
            t,
            CustomerPricing {
                own_sheet: Dated::from_changes([(day("2026-01-16"), Some(SheetId(7)))]),
                adjustment: Dated::always(Adjustment {
                    overall: Some(Percent::parse("50").unwrap()),
                    per_meter: HashMap::new(),
                }),
            },
        );
        let r = w.rate(
            "2026-01",
            &[
                usage(1, BASE_VM_SIZE_HOURS, "2026-01-15", dec!(100)),
                usage(1, BASE_VM_SIZE_HOURS, "2026-01-16", dec!(100)),
            ],
        );
        let lines = &r.account(cs).unwrap().sections[0].lines;
        // Before: list × 1.5 = 1.2; from the 16th: the contract sheet's tiers, no markup.
        // Tiers count the month's quantity: the first 100 units were used before the
        // switch, so the contract's 100 units fall in its second tier (100 × 0.5).
        assert_eq!(lines[0].precise_amount, dec!(1.2));
        assert_eq!(lines[0].adjustment.unwrap().value(), dec!(50));
        assert_eq!(lines[1].precise_amount, dec!(50));
        assert_eq!(lines[1].price_sheet, "contract");
        assert!(lines[1].adjustment.is_none());
    }

    fn arb_usage() -> impl Strategy<Value = Vec<UsageLine>> {
        arb_usage_of(&[
            BASE_VM_SIZE_HOURS,
            WINDOWS_VM_SIZE_HOURS,
            BLOB,
            VM_SIZE_HOURS,
            EVENT_HUBS,
        ])
    }

    const TABLE: MeterId = MeterId::from_u128(0x7ab1e);
    const QUEUE: MeterId = MeterId::from_u128(0x0e0e);
    const IPS: MeterId = MeterId::from_u128(0x1b5);

    fn arb_usage_of(meters: &'static [MeterId]) -> impl Strategy<Value = Vec<UsageLine>> {
        proptest::collection::vec((1u128..6, 0..meters.len(), 1u32..=31, 0i64..10_000_000, 0u32..8), 0..80).prop_map(
            move |v| {
                v.into_iter()
                    .map(|(sub, m, d, q, scale)| UsageLine {
                        subscription_id: SubscriptionId::from_u128(sub),
                        meter_id: meters[m],
                        day: NaiveDate::from_ymd_opt(2026, 1, d).unwrap(),
                        quantity: Quantity::try_from_decimal(Decimal::new(q, scale)).unwrap(),
                    })
                    .collect()
            },
        )
    }

    /// Shuffles deterministically and splits every other line into two parts.
    fn shuffle_and_split(lines: &[UsageLine], seed: u64, cut: u32) -> Vec<UsageLine> {
        let mut shuffled = lines.to_vec();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut split = Vec::new();
        for (i, l) in shuffled.into_iter().enumerate() {
            if i % 2 == 0 {
                let part = (l.quantity.value() * Decimal::from(cut) / Decimal::from(10)).round_dp(10);
                let rest = l.quantity.value() - part;
                split.push(UsageLine {
                    quantity: Quantity::try_from_decimal(part).unwrap(),
                    ..l
                });
                split.push(UsageLine {
                    quantity: Quantity::try_from_decimal(rest).unwrap(),
                    ..l
                });
            } else {
                split.push(l);
            }
        }
        split
    }

    /// The tenants of [`world_with_tenants`] on a sheet with graduated (GB-month priced
    /// GB-hours), volume and package entries whose prices change on the 16th.
    fn world_with_tiers() -> World {
        let mut w = world_with_tenants();
        for (id, name) in [
            (TABLE, "TableCapacity"),
            (QUEUE, "QueueTransactions"),
            (IPS, "IP Address Hours"),
        ] {
            w.meters.insert(
                id,
                Meter {
                    id,
                    name: name.into(),
                    unit: "u".into(),
                    service: "x".into(),
                    billing: MeterBilling::Billable,
                },
            );
        }
        let tier = |from: &str, price: &str| Tier {
            from: from.parse().unwrap(),
            unit_price: UnitPrice::parse(price).unwrap(),
        };
        let entries = |scale: &str| {
            let p = |base: &str| (base.parse::<Decimal>().unwrap() * scale.parse::<Decimal>().unwrap()).to_string();
            vec![
                PriceEntry::per_unit(BASE_VM_SIZE_HOURS, UnitPrice::parse(&p("0.008")).unwrap(), "vCPU-hour"),
                PriceEntry {
                    meter_id: TABLE,
                    model: PricingModel::Graduated {
                        tiers: vec![tier("0", &p("0.02")), tier("1000", &p("0.01"))],
                    },
                    billing_unit: "GB-month".into(),
                    conversion: UnitConversion::MONTHLY_FROM_HOURLY,
                },
                PriceEntry {
                    meter_id: QUEUE,
                    model: PricingModel::Volume {
                        tiers: vec![tier("0", &p("0.05")), tier("500000", &p("0.03"))],
                    },
                    billing_unit: "u".into(),
                    conversion: UnitConversion::IDENTITY,
                },
                PriceEntry {
                    meter_id: IPS,
                    model: PricingModel::Package {
                        package_size: dec!(1000),
                        package_price: UnitPrice::parse(&p("1.5")).unwrap(),
                    },
                    billing_unit: "1,000 IP hours".into(),
                    conversion: UnitConversion::IDENTITY,
                },
            ]
        };
        w.sheet = PriceSheet::new(
            "tiers",
            Currency::USD,
            vec![
                PriceSheetVersion::new(day("2020-01-01"), Some(day("2026-01-16")), entries("1")).unwrap(),
                PriceSheetVersion::new(day("2026-01-16"), None, entries("1.25")).unwrap(),
            ],
        )
        .unwrap();
        w
    }

    fn world_with_tenants() -> World {
        let mut w = World::new();
        for sub in 1u128..5 {
            let t = CloudTenantId::from_u128(sub % 3 + 10);
            w.own
                .insert(SubscriptionId::from_u128(sub), day("2026-01-01"), None, t)
                .unwrap();
        }
        // Tenant 10 mapped from the 1st, tenant 11 from the 12th, tenant 12 never; sub 5
        // is unassigned.
        w.map
            .insert(
                CloudTenantId::from_u128(10),
                day("2026-01-01"),
                None,
                SubscriptionId::from_u128(100),
            )
            .unwrap();
        w.map
            .insert(
                CloudTenantId::from_u128(11),
                day("2026-01-12"),
                None,
                SubscriptionId::from_u128(101),
            )
            .unwrap();
        w
    }

    proptest! {
        #[test]
        fn shares_split_every_line_exactly_by_usage_and_skip_nothing(lines in arb_usage_of(&[BASE_VM_SIZE_HOURS, TABLE, QUEUE, IPS, EVENT_HUBS])) {
            let w = world_with_tiers();
            let mut sheets = HashMap::new();
            sheets.insert(LIST, w.sheet.clone());
            let input = RatingInput {
                period: BillingPeriod::parse("2026-01").unwrap(),
                currency: Currency::USD,
                resolver: Resolver { base_subscription: BASE, ownerships: &w.own, mappings: &w.map },
                sheets: &sheets,
                default_sheet: &w.default_sheet,
                customer_pricing: &w.pricing,
                meters: &w.meters,
                meter_billing: &w.billing,
            };
            let (rating, shares) = rate_with_shares(&input, &lines).unwrap();
            prop_assert_eq!(&rating, &rate(&input, &lines).unwrap());
            // Every unit of usage is in exactly one share.
            let usage: Decimal = lines.iter().map(|l| l.quantity.value()).sum();
            let shared: Decimal = shares.iter().map(|s| s.quantity.value()).sum();
            prop_assert_eq!(usage, shared);
            // Shares add up to the precise amounts of their account's lines (to the 28th digit).
            for a in &rating.accounts {
                let lines: Decimal = a.precise_total();
                let parts: Decimal = shares.iter().filter(|s| s.account == a.account).filter_map(|s| s.precise_amount).sum();
                prop_assert!((lines - parts).abs() < dec!(0.000000000001), "{} vs {}", lines, parts);
            }
        }
    }

    proptest! {
        #[test]
        fn rating_does_not_depend_on_record_order_or_on_splitting_records(
            lines in arb_usage(), seed in any::<u64>(), cut in 1u32..9
        ) {
            let w = world_with_tenants();
            let expected = w.rate("2026-01", &lines);
            let got = w.rate("2026-01", &shuffle_and_split(&lines, seed, cut));
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn tiered_package_and_converted_prices_across_a_version_change_are_order_and_split_independent(
            lines in arb_usage_of(&[BASE_VM_SIZE_HOURS, TABLE, QUEUE, IPS]), seed in any::<u64>(), cut in 1u32..9
        ) {
            let w = world_with_tiers();
            let expected = w.rate("2026-01", &lines);
            let got = w.rate("2026-01", &shuffle_and_split(&lines, seed, cut));
            prop_assert_eq!(&got, &expected);
            // Every line is ≥ 0, its rounded amount is its precise amount rounded, and the
            // grand total is the sum of the rounded lines.
            let mut sum = Decimal::ZERO;
            for l in expected.accounts.iter().flat_map(|a| &a.sections).flat_map(|s| &s.lines) {
                prop_assert!(l.precise_amount >= Decimal::ZERO, "{:?}", l);
                prop_assert_eq!(l.amount.amount(), Currency::USD.round(l.precise_amount));
                sum += l.amount.amount();
            }
            prop_assert_eq!(expected.grand_total().amount(), sum);
        }

        #[test]
        fn removing_a_mapping_moves_exactly_that_tenants_amounts_to_the_base(lines in arb_usage()) {
            let with = world_with_tenants();
            let mut without = world_with_tenants();
            let tenant = CloudTenantId::from_u128(10);
            without.map = mappings();
            without.map.insert(CloudTenantId::from_u128(11), day("2026-01-12"), None, SubscriptionId::from_u128(101)).unwrap();

            let a = with.rate("2026-01", &lines);
            let b = without.rate("2026-01", &lines);
            // The grand total (Σ rounded lines) is unchanged: the same lines, on other accounts.
            prop_assert_eq!(a.grand_total(), b.grand_total());
            // What tenant 10's own account had, per meter, is now its section on the base.
            let before: BTreeMap<MeterId, Decimal> = a
                .account(SubscriptionId::from_u128(100))
                .map(|acc| acc.sections.iter().flat_map(|s| &s.lines).map(|l| (l.meter_id, l.precise_amount)).collect())
                .unwrap_or_default();
            let after: BTreeMap<MeterId, Decimal> = b
                .account(BASE)
                .map(|acc| {
                    acc.sections
                        .iter()
                        .filter(|s| s.section == Section::Tenant(tenant))
                        .flat_map(|s| &s.lines)
                        .map(|l| (l.meter_id, l.precise_amount))
                        .collect()
                })
                .unwrap_or_default();
            prop_assert_eq!(before, after);
            prop_assert!(b.account(SubscriptionId::from_u128(100)).is_none());
            // Everyone else's lines are untouched.
            let others = |r: &Rating| -> Vec<AccountRating> {
                r.accounts
                    .iter()
                    .filter(|a| a.account.subscription() != SubscriptionId::from_u128(100))
                    .map(|a| AccountRating {
                        account: a.account,
                        sections: a.sections.iter().filter(|s| s.section != Section::Tenant(tenant)).cloned().collect(),
                    })
                    // The base account may exist only to hold the moved tenant's section.
                    .filter(|a| !a.sections.is_empty())
                    .collect()
            };
            prop_assert_eq!(others(&a), others(&b));
        }

        #[test]
        fn every_line_is_its_precise_amount_rounded_and_totals_add_up(lines in arb_usage()) {
            let r = world_with_tenants().rate("2026-01", &lines);
            let mut sum = Decimal::ZERO;
            for a in &r.accounts {
                for s in &a.sections {
                    for l in &s.lines {
                        prop_assert_eq!(l.amount.amount(), Currency::USD.round(l.precise_amount));
                        sum += l.amount.amount();
                    }
                    for u in &s.report_only {
                        prop_assert_eq!(u.meter_id, VM_SIZE_HOURS);
                    }
                    for u in &s.unpriced {
                        prop_assert_eq!(u.meter_id, EVENT_HUBS);
                    }
                }
            }
            prop_assert_eq!(r.grand_total().amount(), sum);
        }
    }
}

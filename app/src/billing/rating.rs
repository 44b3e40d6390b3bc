//! Rating: usage × prices → rated lines, grouped by billing account → section → meter.
//!
//! `rate` is a pure function of its inputs. Usage arrives aggregated to UTC days (from the
//! daily rollups, or from hourly records by their start day); every effective date in the
//! model (price versions, mappings, ownership) is a whole UTC day, so day granularity is
//! exact.
//!
//! Quantities are summed per billing account, meter and price version over the whole
//! period before any price is applied, so tiered models see the period's total and the
//! result does not depend on how the usage was split into records or in which order it
//! came. When a new price version starts mid-month, the month's usage is split by usage
//! day into one line per version; tiered models continue counting across the versions
//! (the second version's tiers start where the first one's quantity ended).
//!
//! A billable meter without a price is an explicit *unpriced* line with its quantity —
//! never a silent zero — and report-only meters are listed as such.

use super::error::{BillingError, BillingResult};
use super::fasthash::FxHashMap;
use super::ids::{CloudTenantId, MeterId, SubscriptionId};
use super::meter::{Meter, MeterBilling};
use super::money::{Currency, Money};
use super::period::BillingPeriod;
use super::price_sheet::{Adjustment, CustomerPricing, Percent, PriceEntry, PriceSheet};
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
    /// The registration's default price sheet (`None`: everything billable is unpriced).
    pub default_sheet: Option<&'a PriceSheet>,
    /// Pricing of customers by their cloud tenant (missing: the default sheet as is).
    pub customer_pricing: &'a HashMap<CloudTenantId, CustomerPricing>,
    /// The meter catalogue (names, units, billing mode); unknown meters are billable.
    pub meters: &'a HashMap<MeterId, Meter>,
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

/// Where an account's prices come from.
#[derive(Clone, Copy)]
struct Source<'a> {
    sheet: Option<&'a PriceSheet>,
    adjustment: Option<&'a Adjustment>,
}

/// A user subscription's resolution over the period: segments starting at a day.
struct SubPlan {
    segments: Vec<(NaiveDate, u32, Section)>,
}

const NO_VERSION: u32 = u32::MAX;

/// Rates a period. See the module documentation for the rules.
pub fn rate<'u>(input: &RatingInput<'_>, usage: impl IntoIterator<Item = &'u UsageLine>) -> BillingResult<Rating> {
    for sheet in input
        .default_sheet
        .into_iter()
        .chain(input.customer_pricing.values().filter_map(|p| match p {
            CustomerPricing::OwnSheet(s) => Some(s),
            CustomerPricing::Default(_) => None,
        }))
    {
        if sheet.currency != input.currency {
            return Err(BillingError::CurrencyMismatch {
                left: input.currency.to_string(),
                right: sheet.currency.to_string(),
            });
        }
    }
    let period_start = input.period.first_day();
    let period_end = input.period.end_day();

    let mut accounts: Vec<BillingAccount> = Vec::new();
    let mut account_index: FxHashMap<BillingAccount, u32> = FxHashMap::default();
    let mut sources: Vec<Source<'_>> = Vec::new();
    let mut plans: FxHashMap<SubscriptionId, SubPlan> = FxHashMap::default();
    // (account, section, meter, version) → quantity
    let mut sums: FxHashMap<(u32, Section, MeterId, u32), Decimal> = FxHashMap::default();
    let mut skipped = 0u64;

    for line in usage {
        if line.day < period_start || line.day >= period_end {
            skipped += 1;
            continue;
        }
        let plan = plans.entry(line.subscription_id).or_insert_with(|| {
            let mut segments = Vec::new();
            let starts = std::iter::once(period_start).chain(input.resolver.boundaries(
                line.subscription_id,
                period_start,
                period_end,
            ));
            for start in starts {
                let (account, section) = input.resolver.resolve(line.subscription_id, start);
                let idx = *account_index.entry(account).or_insert_with(|| {
                    accounts.push(account);
                    sources.push(source_for(input, &account));
                    (accounts.len() - 1) as u32
                });
                segments.push((start, idx, section));
            }
            SubPlan { segments }
        });
        let (_, account, section) = *plan
            .segments
            .iter()
            .rev()
            .find(|(start, _, _)| *start <= line.day)
            .expect("the first segment starts at the period start");
        let version = sources[account as usize]
            .sheet
            .and_then(|s| s.version_index_at(line.day))
            .map_or(NO_VERSION, |v| v as u32);
        *sums
            .entry((account, section, line.meter_id, version))
            .or_insert(Decimal::ZERO) += line.quantity.value();
    }

    price_groups(input, &accounts, &sources, sums, skipped)
}

fn source_for<'a>(input: &RatingInput<'a>, account: &BillingAccount) -> Source<'a> {
    match account {
        BillingAccount::Base { .. } => Source {
            sheet: input.default_sheet,
            adjustment: None,
        },
        BillingAccount::Customer { tenant, .. } => match input.customer_pricing.get(tenant) {
            Some(CustomerPricing::OwnSheet(sheet)) => Source {
                sheet: Some(sheet),
                adjustment: None,
            },
            Some(CustomerPricing::Default(adj)) => Source {
                sheet: input.default_sheet,
                adjustment: (!adj.is_empty()).then_some(adj),
            },
            None => Source {
                sheet: input.default_sheet,
                adjustment: None,
            },
        },
    }
}

struct MeterInfo {
    name: String,
    unit: String,
    billing: MeterBilling,
}

fn meter_info(input: &RatingInput<'_>, id: MeterId) -> MeterInfo {
    match input.meters.get(&id) {
        Some(m) => MeterInfo {
            name: m.name.clone(),
            unit: m.unit.clone(),
            billing: m.billing,
        },
        None => MeterInfo {
            name: format!("Unknown meter {id}"),
            unit: String::new(),
            billing: MeterBilling::Billable,
        },
    }
}

type Groups = BTreeMap<(u32, MeterId), BTreeMap<u32, Vec<(Section, Decimal)>>>;

fn price_groups(
    input: &RatingInput<'_>,
    accounts: &[BillingAccount],
    sources: &[Source<'_>],
    sums: FxHashMap<(u32, Section, MeterId, u32), Decimal>,
    skipped: u64,
) -> BillingResult<Rating> {
    // (account, meter) → version → [(section, quantity)], in a stable order.
    let mut groups: Groups = BTreeMap::new();
    for ((account, section, meter, version), q) in sums {
        groups
            .entry((account, meter))
            .or_default()
            .entry(version)
            .or_default()
            .push((section, q));
    }
    let hours = input.period.hours();
    let mut out: Vec<BTreeMap<Section, SectionRating>> = vec![BTreeMap::new(); accounts.len()];

    for ((account, meter), versions) in groups {
        let info = meter_info(input, meter);
        let source = sources[account as usize];
        let mut unrated: BTreeMap<Section, Decimal> = BTreeMap::new();
        let report_only = info.billing == MeterBilling::ReportOnly;
        // Each version's price entry (None: unpriced or report-only) and its usage.
        let mut segments = Vec::with_capacity(versions.len());
        for (version, mut parts) in versions {
            parts.sort_by_key(|(s, _)| *s);
            let entry: Option<(&PriceEntry, NaiveDate)> = match (report_only, source.sheet) {
                (false, Some(sheet)) if version != NO_VERSION => {
                    let v = &sheet.versions()[version as usize];
                    v.entries.get(&meter).map(|e| (e, v.effective_on))
                }
                _ => None,
            };
            let segment_usage: Decimal = parts.iter().map(|(_, q)| *q).sum();
            let segment_billing = match entry {
                Some((e, _)) => e.conversion.to_billing_units(segment_usage, hours)?,
                None => Decimal::ZERO,
            };
            segments.push((entry, parts, segment_usage, segment_billing));
        }
        // Tiers apply to the period's accumulated quantity, across price versions.
        let period_total = segments
            .iter()
            .try_fold(Decimal::ZERO, |sum, s| sum.checked_add(s.3))
            .ok_or(BillingError::Overflow { what: "quantity" })?;
        // Billing units already priced this period by earlier versions.
        let mut before = Decimal::ZERO;
        for (entry, parts, segment_usage, segment_billing) in segments {
            let Some((entry, version_from)) = entry else {
                for (section, q) in parts {
                    *unrated.entry(section).or_insert(Decimal::ZERO) += q;
                }
                continue;
            };
            let upb = entry.conversion.usage_units_per_billing_unit(hours);
            let adjustment = source.adjustment.and_then(|a| a.for_meter(meter));
            let factor = adjustment.map_or(Decimal::ONE, |p| p.factor());
            let segment_amount = match &entry.model {
                // Per-unit lines are computed per section directly (multiply, then divide
                // once) to keep every digit.
                PricingModel::PerUnit { .. } => None,
                model => Some(model.segment_amount(before, segment_billing, period_total)?),
            };
            before += segment_billing;
            for (section, q) in parts {
                let billing_quantity = q.checked_div(upb).ok_or(BillingError::Overflow {
                    what: "unit conversion",
                })?;
                let base_amount = match (&entry.model, segment_amount) {
                    (PricingModel::PerUnit { unit_price }, _) => mul_div(q, unit_price.value(), upb)?,
                    (_, Some(amount)) if !segment_usage.is_zero() => mul_div(amount, q, segment_usage)?,
                    _ => Decimal::ZERO,
                };
                let precise = base_amount
                    .checked_mul(factor)
                    .ok_or(BillingError::Overflow { what: "adjustment" })?;
                let unit_price = match &entry.model {
                    PricingModel::PerUnit { unit_price } => Some(unit_price.value() * factor),
                    _ if billing_quantity.is_zero() => None,
                    _ => precise.checked_div(billing_quantity),
                };
                let line = RatedLine {
                    meter_id: meter,
                    meter_name: info.name.clone(),
                    usage_unit: info.unit.clone(),
                    quantity: Quantity::try_from_decimal(q)?,
                    billing_unit: entry.billing_unit.clone(),
                    billing_quantity: billing_quantity.normalize(),
                    unit_price: unit_price.map(|p| p.normalize()),
                    adjustment,
                    price_version_from: version_from,
                    precise_amount: precise.normalize(),
                    amount: Money::new(precise, input.currency).rounded(),
                };
                section_mut(&mut out[account as usize], section).lines.push(line);
            }
        }
        for (section, q) in unrated {
            let line = UnratedLine {
                meter_id: meter,
                meter_name: info.name.clone(),
                usage_unit: info.unit.clone(),
                quantity: Quantity::try_from_decimal(q)?,
            };
            let s = section_mut(&mut out[account as usize], section);
            if report_only {
                s.report_only.push(line);
            } else {
                s.unpriced.push(line);
            }
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
            s.lines.sort_by(|x, y| {
                (&x.meter_name, x.meter_id, x.price_version_from).cmp(&(
                    &y.meter_name,
                    y.meter_id,
                    y.price_version_from,
                ))
            });
            s.unpriced
                .sort_by(|x, y| (&x.meter_name, x.meter_id).cmp(&(&y.meter_name, y.meter_id)));
            s.report_only
                .sort_by(|x, y| (&x.meter_name, x.meter_id).cmp(&(&y.meter_name, y.meter_id)));
        }
    }
    // Customer accounts first (by subscription), the base account last.
    rated.sort_by_key(|a| (a.account.is_base(), a.account.subscription()));
    Ok(Rating {
        period: input.period,
        currency: input.currency,
        accounts: rated,
        skipped_outside_period: skipped,
    })
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

    struct World {
        own: Ownerships,
        map: Mappings,
        sheet: PriceSheet,
        pricing: HashMap<CloudTenantId, CustomerPricing>,
        meters: HashMap<MeterId, Meter>,
    }

    impl World {
        fn new() -> Self {
            World {
                own: ownerships(),
                map: mappings(),
                sheet: list_prices(),
                pricing: HashMap::new(),
                meters: meters(),
            }
        }

        fn rate(&self, period: &str, usage: &[UsageLine]) -> Rating {
            let input = RatingInput {
                period: BillingPeriod::parse(period).unwrap(),
                currency: Currency::USD,
                resolver: Resolver {
                    base_subscription: BASE,
                    ownerships: &self.own,
                    mappings: &self.map,
                },
                default_sheet: Some(&self.sheet),
                customer_pricing: &self.pricing,
                meters: &self.meters,
            };
            rate(&input, usage).unwrap()
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
        w.pricing.insert(t1, CustomerPricing::Default(markup.clone()));
        w.pricing.insert(t2, CustomerPricing::Default(markup));
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
        let input = RatingInput {
            period: BillingPeriod::parse("2026-01").unwrap(),
            currency: Currency::USD,
            resolver: Resolver {
                base_subscription: BASE,
                ownerships: &w.own,
                mappings: &w.map,
            },
            default_sheet: Some(&w.sheet),
            customer_pricing: &w.pricing,
            meters: &w.meters,
        };
        assert!(matches!(rate(&input, &[]), Err(BillingError::CurrencyMismatch { .. })));
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

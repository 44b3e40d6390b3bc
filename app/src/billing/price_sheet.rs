//! Price sheets: prices per meter in one currency, in versions effective over half-open
//! day ranges, plus the per-customer adjustments on the default sheet.

use super::dated::Dated;
use super::error::{BillingError, BillingResult};
use super::ids::MeterId;
use super::money::Currency;
use super::pricing::{PricingModel, UnitConversion};
use super::quantity::parse_exact_decimal;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// The price of one meter in one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEntry {
    /// The meter.
    pub meter_id: MeterId,
    /// How a quantity is priced.
    pub model: PricingModel,
    /// The unit the price is quoted in (`GB-month`), for invoices.
    pub billing_unit: String,
    /// How usage units relate to the billing unit.
    pub conversion: UnitConversion,
}

impl PriceEntry {
    /// A per-unit price with no conversion.
    pub fn per_unit(meter_id: MeterId, unit_price: super::pricing::UnitPrice, billing_unit: &str) -> Self {
        PriceEntry {
            meter_id,
            model: PricingModel::PerUnit { unit_price },
            billing_unit: billing_unit.to_owned(),
            conversion: UnitConversion::IDENTITY,
        }
    }
}

/// One version of a sheet: in effect over `[effective_on, ended_on)` (UTC days).
/// Deserialising goes through [`PriceSheetVersion::new`], so stored JSON is checked too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VersionData")]
pub struct PriceSheetVersion {
    /// First day in effect.
    pub effective_on: NaiveDate,
    /// First day no longer in effect; `None` for an open-ended version.
    pub ended_on: Option<NaiveDate>,
    /// Prices by meter.
    pub entries: HashMap<MeterId, PriceEntry>,
}

impl PriceSheetVersion {
    /// A version; the range must not be empty and every entry must be valid.
    pub fn new(
        effective_on: NaiveDate,
        ended_on: Option<NaiveDate>,
        entries: impl IntoIterator<Item = PriceEntry>,
    ) -> BillingResult<Self> {
        if let Some(end) = ended_on {
            if end <= effective_on {
                return Err(BillingError::EmptyRange {
                    from: effective_on.to_string(),
                    to: end.to_string(),
                });
            }
        }
        let mut map = HashMap::new();
        for e in entries {
            e.model.validate()?;
            e.conversion.validate()?;
            map.insert(e.meter_id, e);
        }
        Ok(PriceSheetVersion {
            effective_on,
            ended_on,
            entries: map,
        })
    }

    /// Whether the version is in effect on a day.
    pub fn covers(&self, day: NaiveDate) -> bool {
        day >= self.effective_on && self.ended_on.is_none_or(|end| day < end)
    }
}

/// The unchecked shape of a [`PriceSheetVersion`] in JSON.
#[derive(Deserialize)]
struct VersionData {
    effective_on: NaiveDate,
    ended_on: Option<NaiveDate>,
    entries: HashMap<MeterId, PriceEntry>,
}

impl TryFrom<VersionData> for PriceSheetVersion {
    type Error = BillingError;

    fn try_from(d: VersionData) -> BillingResult<Self> {
        PriceSheetVersion::new(d.effective_on, d.ended_on, d.entries.into_values())
    }
}

/// The unchecked shape of a [`PriceSheet`] in JSON.
#[derive(Deserialize)]
struct SheetData {
    name: String,
    currency: Currency,
    versions: Vec<PriceSheetVersion>,
}

impl TryFrom<SheetData> for PriceSheet {
    type Error = BillingError;

    fn try_from(d: SheetData) -> BillingResult<Self> {
        PriceSheet::new(&d.name, d.currency, d.versions)
    }
}

/// A price sheet: a currency and non-overlapping versions. Deserialising goes through
/// [`PriceSheet::new`]: overlapping versions are refused there too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SheetData")]
pub struct PriceSheet {
    /// Name, for invoices and audit.
    pub name: String,
    /// Every price is in this currency.
    pub currency: Currency,
    versions: Vec<PriceSheetVersion>,
}

impl PriceSheet {
    /// A sheet; overlapping versions are an error.
    pub fn new(name: &str, currency: Currency, mut versions: Vec<PriceSheetVersion>) -> BillingResult<Self> {
        versions.sort_by_key(|v| v.effective_on);
        for w in versions.windows(2) {
            let overlaps = w[0].ended_on.is_none_or(|end| end > w[1].effective_on);
            if overlaps {
                return Err(BillingError::OverlappingVersions {
                    first: w[0].effective_on.to_string(),
                    second: w[1].effective_on.to_string(),
                });
            }
        }
        Ok(PriceSheet {
            name: name.to_owned(),
            currency,
            versions,
        })
    }

    /// The versions by start day.
    pub fn versions(&self) -> &[PriceSheetVersion] {
        &self.versions
    }

    /// Index of the version in effect on a day.
    pub fn version_index_at(&self, day: NaiveDate) -> Option<usize> {
        // Versions are few (one per price change); a reverse scan beats a binary search.
        self.versions.iter().rposition(|v| v.covers(day))
    }

    /// The version in effect on a day.
    pub fn version_at(&self, day: NaiveDate) -> Option<&PriceSheetVersion> {
        self.version_index_at(day).map(|i| &self.versions[i])
    }

    /// The price of a meter on a day, if any.
    pub fn price_at(&self, meter: MeterId, day: NaiveDate) -> Option<&PriceEntry> {
        self.version_at(day).and_then(|v| v.entries.get(&meter))
    }
}

/// A markup (positive) or discount (negative) in percent, from -100 (free) to +1000.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Percent(Decimal);

impl Percent {
    /// Parses `15`, `-10`, `2.5`.
    pub fn parse(raw: &str) -> BillingResult<Self> {
        let v = parse_exact_decimal(raw.trim().trim_end_matches('%'), "percentage")?;
        Self::try_from_decimal(v).map_err(|e| match e {
            BillingError::InvalidPercentage { reason, .. } => BillingError::InvalidPercentage {
                raw: raw.to_owned(),
                reason,
            },
            other => other,
        })
    }

    /// Wraps a decimal in range.
    pub fn try_from_decimal(value: Decimal) -> BillingResult<Self> {
        if value < Decimal::from(-100) {
            return Err(BillingError::InvalidPercentage {
                raw: value.to_string(),
                reason: "below -100%",
            });
        }
        if value > Decimal::from(1000) {
            return Err(BillingError::InvalidPercentage {
                raw: value.to_string(),
                reason: "above +1000%",
            });
        }
        Ok(Percent(value.normalize()))
    }

    /// The percentage.
    pub fn value(&self) -> Decimal {
        self.0
    }

    /// `1 + p/100`, the factor applied to an amount.
    pub fn factor(&self) -> Decimal {
        Decimal::ONE + self.0 / Decimal::ONE_HUNDRED
    }
}

impl TryFrom<String> for Percent {
    type Error = BillingError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Percent::parse(&value)
    }
}

impl From<Percent> for String {
    fn from(p: Percent) -> String {
        p.0.to_string()
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl fmt::Debug for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Percent({})", self.0)
    }
}

/// A customer's adjustment on the default sheet. A per-meter percentage replaces the
/// overall one for that meter (they do not compound).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Applies to every meter without its own percentage.
    pub overall: Option<Percent>,
    /// Per meter.
    pub per_meter: HashMap<MeterId, Percent>,
}

impl Adjustment {
    /// The percentage that applies to a meter, if any.
    pub fn for_meter(&self, meter: MeterId) -> Option<Percent> {
        self.per_meter.get(&meter).copied().or(self.overall)
    }

    /// Whether nothing is adjusted.
    pub fn is_empty(&self) -> bool {
        self.overall.is_none() && self.per_meter.is_empty()
    }
}

/// Identifies a price sheet among the sheets handed to rating (the stored sheet's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SheetId(pub i64);

/// How a customer's usage is priced, by day. On a day with an own sheet, that sheet says
/// it all; otherwise the registration's default sheet applies with the adjustment in
/// effect that day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPricing {
    /// The customer's own sheet by day (`None` or no entry: the default sheet).
    pub own_sheet: Dated<Option<SheetId>>,
    /// Markup or discount on the default sheet, by day.
    pub adjustment: Dated<Adjustment>,
}

impl CustomerPricing {
    /// The default sheet with the same adjustment on every day.
    pub fn adjusted(adjustment: Adjustment) -> Self {
        CustomerPricing {
            own_sheet: Dated::none(),
            adjustment: Dated::always(adjustment),
        }
    }

    /// The customer's own sheet on every day.
    pub fn own(sheet: SheetId) -> Self {
        CustomerPricing {
            own_sheet: Dated::always(Some(sheet)),
            adjustment: Dated::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::BASE_VM_SIZE_HOURS;
    use crate::billing::pricing::UnitPrice;
    use rust_decimal_macros::dec;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn version(from: &str, to: Option<&str>, price: &str) -> PriceSheetVersion {
        PriceSheetVersion::new(
            day(from),
            to.map(day),
            [PriceEntry::per_unit(
                BASE_VM_SIZE_HOURS,
                UnitPrice::parse(price).unwrap(),
                "vCPU-hour",
            )],
        )
        .unwrap()
    }

    #[test]
    fn the_version_in_effect_is_found_by_half_open_day_ranges() {
        let sheet = PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                version("2026-01-15", None, "0.009"),
                version("2026-01-01", Some("2026-01-15"), "0.008"),
            ],
        )
        .unwrap();
        let price = |d: &str| match &sheet.price_at(BASE_VM_SIZE_HOURS, day(d)).unwrap().model {
            PricingModel::PerUnit { unit_price } => unit_price.value(),
            _ => unreachable!(),
        };
        assert_eq!(price("2026-01-14"), dec!(0.008));
        assert_eq!(price("2026-01-15"), dec!(0.009)); // the new version starts that day
        assert_eq!(price("2027-06-01"), dec!(0.009));
        assert!(sheet.version_at(day("2025-12-31")).is_none());
    }

    #[test]
    fn sheets_read_from_json_are_checked_like_constructed_ones() {
        let sheet = PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                version("2026-01-01", Some("2026-01-15"), "0.008"),
                version("2026-01-15", None, "0.009"),
            ],
        )
        .unwrap();
        let json = serde_json::to_string(&sheet).unwrap();
        assert_eq!(serde_json::from_str::<PriceSheet>(&json).unwrap(), sheet);
        // The same JSON with the first version left open-ended overlaps the second.
        let overlapping = json.replacen("\"ended_on\":\"2026-01-15\"", "\"ended_on\":null", 1);
        assert_ne!(overlapping, json);
        let err = serde_json::from_str::<PriceSheet>(&overlapping)
            .unwrap_err()
            .to_string();
        assert!(err.contains("overlap"), "{err}");
        // A tiered entry whose first tier does not start at 0 is refused inside a version.
        let bad_tiers = json.replacen(
            r#"{"model":"per_unit","unit_price":"0.008"}"#,
            r#"{"model":"graduated","tiers":[{"from":"5","unit_price":"1"}]}"#,
            1,
        );
        assert_ne!(bad_tiers, json);
        assert!(serde_json::from_str::<PriceSheet>(&bad_tiers).is_err());
    }

    #[test]
    fn overlapping_versions_are_refused() {
        let err = PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                version("2026-01-01", None, "0.008"),
                version("2026-02-01", None, "0.009"),
            ],
        )
        .unwrap_err();
        assert!(matches!(err, BillingError::OverlappingVersions { .. }), "{err}");
        let err = PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                version("2026-01-01", Some("2026-02-02"), "0.008"),
                version("2026-02-01", None, "0.009"),
            ],
        )
        .unwrap_err();
        assert!(matches!(err, BillingError::OverlappingVersions { .. }));
        // Adjacent is fine; a gap is fine (the gap is unpriced).
        PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                version("2026-01-01", Some("2026-02-01"), "0.008"),
                version("2026-03-01", None, "0.009"),
            ],
        )
        .unwrap();
        assert!(PriceSheetVersion::new(day("2026-01-02"), Some(day("2026-01-02")), []).is_err());
    }

    #[test]
    fn percentages_parse_and_bound() {
        assert_eq!(Percent::parse("15").unwrap().factor(), dec!(1.15));
        assert_eq!(Percent::parse("-10%").unwrap().factor(), dec!(0.9));
        assert_eq!(Percent::parse("-100").unwrap().factor(), dec!(0));
        assert!(Percent::parse("-100.01").is_err());
        assert!(Percent::parse("1000.5").is_err());
        assert!(Percent::parse("ten").is_err());
    }

    #[test]
    fn a_per_meter_adjustment_replaces_the_overall_one() {
        let other = MeterId::from_u128(7);
        let a = Adjustment {
            overall: Some(Percent::parse("15").unwrap()),
            per_meter: HashMap::from([(BASE_VM_SIZE_HOURS, Percent::parse("-10").unwrap())]),
        };
        assert_eq!(a.for_meter(BASE_VM_SIZE_HOURS).unwrap().value(), dec!(-10));
        assert_eq!(a.for_meter(other).unwrap().value(), dec!(15));
        assert_eq!(Adjustment::default().for_meter(other), None);
    }
}

//! Building invoices from rated lines, credit notes, and invoice numbers.
//!
//! The rules, in order:
//! 1. every rated line is rounded half away from zero to the currency's minor unit (done
//!    by rating; the precise amount is kept beside it);
//! 2. subtotal = Σ rounded usage lines;
//! 3. if a minimum monthly charge applies and the subtotal is below it, a separate
//!    *minimum charge* line tops the subtotal up to exactly the minimum;
//! 4. tax = the account's tax rate × the subtotal, rounded **once** at invoice level with
//!    the same rule (never per line, so a hundred small lines cannot drift a cent per line);
//! 5. total = subtotal + tax.
//!
//! A credit note reverses an issued invoice exactly: every line and total negated. Since
//! rounding half away from zero is symmetric, negating rounded values equals rounding
//! negated values, so a credit note and its invoice always sum to zero.

use super::dated::Dated;
use super::error::{BillingError, BillingResult};
use super::ids::MeterId;
use super::money::{Currency, Money};
use super::period::BillingPeriod;
use super::price_sheet::Percent;
use super::quantity::parse_exact_decimal;
use super::rating::{AccountRating, UnratedLine};
use super::resolution::{BillingAccount, Section};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A tax rate in percent, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxRate(Decimal);

impl TaxRate {
    /// No tax.
    pub const ZERO: TaxRate = TaxRate(Decimal::ZERO);

    /// Parses `19`, `5.5`, `21%`.
    pub fn parse(raw: &str) -> BillingResult<Self> {
        let v = parse_exact_decimal(raw.trim().trim_end_matches('%'), "tax rate")?;
        if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED {
            return Err(BillingError::InvalidPercentage {
                raw: raw.to_owned(),
                reason: "a tax rate is 0 to 100",
            });
        }
        Ok(TaxRate(v.normalize()))
    }

    /// The rate in percent.
    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl TryFrom<String> for TaxRate {
    type Error = BillingError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TaxRate::parse(&value)
    }
}

impl From<TaxRate> for String {
    fn from(t: TaxRate) -> String {
        t.0.to_string()
    }
}

/// The terms of one billing account's invoices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTerms {
    /// Minimum charge per monthly invoice (before tax), in the invoice currency.
    pub minimum_monthly_charge: Option<Decimal>,
    /// Tax rate.
    pub tax_rate: TaxRate,
}

impl InvoiceTerms {
    /// The terms an invoice for `period` uses: those in force on the period's **last
    /// day**. Tax rates and minimum charges are invoice-level terms, so one month's
    /// invoice has one set; a change made after the month never reaches back into it.
    /// No terms recorded for that day: no minimum and no tax.
    pub fn for_period(dated: &Dated<InvoiceTerms>, period: BillingPeriod) -> InvoiceTerms {
        let last_day = period.end_day().pred_opt().unwrap_or(period.first_day());
        dated.at(last_day).cloned().unwrap_or_default()
    }
}

/// What an invoice line is. Descriptions are rendered by the UI and the PDF in the
/// reader's language from these facts; the domain holds no display text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineKind {
    /// Usage of a meter.
    Usage {
        /// The section it belongs to.
        section: Section,
        /// Meter.
        meter_id: MeterId,
        /// Meter name (snapshot).
        meter_name: String,
        /// First day of the price version used.
        price_version_from: NaiveDate,
        /// Markup or discount applied.
        adjustment: Option<Percent>,
    },
    /// The top-up to the minimum monthly charge.
    MinimumCharge,
    /// Late or corrected usage of an earlier, already issued period: the difference per
    /// section and meter between that invoice and the period rated again.
    Adjustment {
        /// The section it belongs to.
        section: Section,
        /// Meter.
        meter_id: MeterId,
        /// Meter name (snapshot).
        meter_name: String,
        /// The issued invoice it corrects.
        refers_to: String,
    },
}

/// One invoice line, a snapshot: later price or meter changes never alter it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What it is.
    pub kind: LineKind,
    /// Quantity in billing units (none for the minimum charge).
    pub quantity: Option<Decimal>,
    /// The billing unit.
    pub unit: String,
    /// Price per billing unit.
    pub unit_price: Option<Decimal>,
    /// Unrounded amount.
    pub precise_amount: Decimal,
    /// Rounded amount.
    pub amount: Money,
}

/// A computed invoice (draft until issued and numbered elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Who it is for.
    pub account: BillingAccount,
    /// The month.
    pub period: BillingPeriod,
    /// Currency of every amount.
    pub currency: Currency,
    /// Lines: usage by section and meter, then the minimum charge if any.
    pub lines: Vec<InvoiceLine>,
    /// Σ rounded lines.
    pub subtotal: Money,
    /// Tax rate.
    pub tax_rate: TaxRate,
    /// Tax, rounded once.
    pub tax: Money,
    /// Subtotal + tax.
    pub total: Money,
    /// Usage that had no price (listed, not charged).
    pub unpriced: Vec<(Section, UnratedLine)>,
    /// Report-only usage (listed, not charged).
    pub report_only: Vec<(Section, UnratedLine)>,
    /// Whether this is a credit note reversing an invoice.
    pub is_credit_note: bool,
}

/// Builds the invoice of one account from its rating.
pub fn build_invoice(
    rated: &AccountRating,
    period: BillingPeriod,
    currency: Currency,
    terms: &InvoiceTerms,
) -> BillingResult<Invoice> {
    let mut lines = Vec::new();
    let mut unpriced = Vec::new();
    let mut report_only = Vec::new();
    for section in &rated.sections {
        for l in &section.lines {
            lines.push(InvoiceLine {
                kind: LineKind::Usage {
                    section: section.section,
                    meter_id: l.meter_id,
                    meter_name: l.meter_name.clone(),
                    price_version_from: l.price_version_from,
                    adjustment: l.adjustment,
                },
                quantity: Some(l.billing_quantity),
                unit: l.billing_unit.clone(),
                unit_price: l.unit_price,
                precise_amount: l.precise_amount,
                amount: l.amount,
            });
        }
        unpriced.extend(section.unpriced.iter().map(|u| (section.section, u.clone())));
        report_only.extend(section.report_only.iter().map(|u| (section.section, u.clone())));
    }
    let mut subtotal = Money::zero(currency);
    for l in &lines {
        subtotal = subtotal.checked_add(&l.amount)?;
    }
    if let Some(minimum) = terms.minimum_monthly_charge {
        let minimum = Money::new(minimum, currency).rounded();
        if subtotal.amount() < minimum.amount() {
            let top_up = minimum.checked_sub(&subtotal)?;
            lines.push(InvoiceLine {
                kind: LineKind::MinimumCharge,
                quantity: None,
                unit: String::new(),
                unit_price: None,
                precise_amount: top_up.amount(),
                amount: top_up,
            });
            subtotal = minimum;
        }
    }
    let tax = Money::new(
        subtotal.amount() * terms.tax_rate.value() / Decimal::ONE_HUNDRED,
        currency,
    )
    .rounded();
    let total = subtotal.checked_add(&tax)?;
    Ok(Invoice {
        account: rated.account,
        period,
        currency,
        lines,
        subtotal,
        tax_rate: terms.tax_rate,
        tax,
        total,
        unpriced,
        report_only,
        is_credit_note: false,
    })
}

/// What an issued invoice charged for one section and meter: billing quantity and amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedUsage {
    /// The section.
    pub section: Section,
    /// The meter.
    pub meter_id: MeterId,
    /// Its name on the invoice.
    pub meter_name: String,
    /// The billing unit.
    pub unit: String,
    /// Σ billing quantity.
    pub quantity: Decimal,
    /// Σ rounded amounts.
    pub amount: Decimal,
}

/// The adjustment lines for an issued invoice: per section and meter, the period rated
/// again (`rerated`, `None` when the account has no usage left) minus what the invoice
/// charged; unchanged pairs give no line. Amounts are differences of rounded amounts, so
/// they are exact at the currency's precision.
pub fn adjustments(
    issued: &[IssuedUsage],
    rerated: Option<&AccountRating>,
    refers_to: &str,
    currency: Currency,
) -> Vec<InvoiceLine> {
    use std::collections::BTreeMap;
    let mut now: BTreeMap<(Section, MeterId), (String, String, Decimal, Decimal)> = BTreeMap::new();
    for s in rerated.map(|a| a.sections.as_slice()).unwrap_or_default() {
        for l in &s.lines {
            let e = now.entry((s.section, l.meter_id)).or_insert_with(|| {
                (
                    l.meter_name.clone(),
                    l.billing_unit.clone(),
                    Decimal::ZERO,
                    Decimal::ZERO,
                )
            });
            e.2 += l.billing_quantity;
            e.3 += l.amount.amount();
        }
    }
    // An invoice may charge a meter on several lines (one per price version): summed.
    let mut before: BTreeMap<(Section, MeterId), IssuedUsage> = BTreeMap::new();
    for u in issued {
        before
            .entry((u.section, u.meter_id))
            .and_modify(|b| {
                b.quantity += u.quantity;
                b.amount += u.amount;
            })
            .or_insert_with(|| u.clone());
    }
    let keys: std::collections::BTreeSet<(Section, MeterId)> = now.keys().chain(before.keys()).copied().collect();
    let mut out = Vec::new();
    for key in keys {
        let (name, unit, q_now, a_now) = match (now.get(&key), before.get(&key)) {
            (Some(n), _) => n.clone(),
            (None, Some(b)) => (b.meter_name.clone(), b.unit.clone(), Decimal::ZERO, Decimal::ZERO),
            (None, None) => continue,
        };
        let (q_before, a_before) = before.get(&key).map(|b| (b.quantity, b.amount)).unwrap_or_default();
        let diff = a_now - a_before;
        if diff.is_zero() {
            continue;
        }
        out.push(InvoiceLine {
            kind: LineKind::Adjustment {
                section: key.0,
                meter_id: key.1,
                meter_name: name,
                refers_to: refers_to.to_owned(),
            },
            quantity: Some(q_now - q_before),
            unit,
            unit_price: None,
            precise_amount: diff,
            amount: Money::new(diff, currency),
        });
    }
    out
}

/// An invoice with adjustment lines added: subtotal, tax (rounded once) and total again.
pub fn with_adjustments(mut invoice: Invoice, lines: Vec<InvoiceLine>) -> BillingResult<Invoice> {
    if lines.is_empty() {
        return Ok(invoice);
    }
    for l in &lines {
        invoice.subtotal = invoice.subtotal.checked_add(&l.amount)?;
    }
    invoice.lines.extend(lines);
    invoice.tax = Money::new(
        invoice.subtotal.amount() * invoice.tax_rate.value() / Decimal::ONE_HUNDRED,
        invoice.currency,
    )
    .rounded();
    invoice.total = invoice.subtotal.checked_add(&invoice.tax)?;
    Ok(invoice)
}

/// The credit note that exactly reverses an invoice.
pub fn credit_note(invoice: &Invoice) -> Invoice {
    Invoice {
        lines: invoice
            .lines
            .iter()
            .map(|l| InvoiceLine {
                quantity: l.quantity.map(|q| -q),
                precise_amount: -l.precise_amount,
                amount: l.amount.negated(),
                ..l.clone()
            })
            .collect(),
        subtotal: invoice.subtotal.negated(),
        tax: invoice.tax.negated(),
        total: invoice.total.negated(),
        is_credit_note: !invoice.is_credit_note,
        ..invoice.clone()
    }
}

/// An invoice number: prefix, year and a zero-padded sequence (`SB-2026-000042`). The
/// sequence itself is allocated by storage, one series per prefix and year.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InvoiceNumber {
    prefix: String,
    year: i32,
    sequence: u32,
}

impl InvoiceNumber {
    /// Digits of the zero-padded sequence.
    pub const SEQUENCE_DIGITS: usize = 6;

    /// Checks a prefix: 1–12 ASCII letters, digits or dashes, not starting or ending
    /// with a dash (the dash separates it from the year).
    pub fn validate_prefix(prefix: &str) -> BillingResult<()> {
        let valid = !prefix.is_empty()
            && prefix.len() <= 12
            && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !prefix.starts_with('-')
            && !prefix.ends_with('-');
        if valid {
            Ok(())
        } else {
            Err(BillingError::InvalidInvoicePrefix { raw: prefix.to_owned() })
        }
    }

    /// A number; see [`InvoiceNumber::validate_prefix`] for the prefix.
    pub fn new(prefix: &str, year: i32, sequence: u32) -> BillingResult<Self> {
        Self::validate_prefix(prefix)?;
        if !(1970..=9999).contains(&year) || sequence == 0 || sequence > 999_999 {
            return Err(BillingError::InvalidInvoiceNumber {
                raw: format!("{prefix}-{year}-{sequence}"),
            });
        }
        Ok(InvoiceNumber {
            prefix: prefix.to_owned(),
            year,
            sequence,
        })
    }

    /// Parses `SB-2026-000042` (the prefix may itself contain dashes).
    pub fn parse(raw: &str) -> BillingResult<Self> {
        let invalid = || BillingError::InvalidInvoiceNumber { raw: raw.to_owned() };
        let mut parts = raw.rsplitn(3, '-');
        let seq = parts.next().ok_or_else(invalid)?;
        let year = parts.next().ok_or_else(invalid)?;
        let prefix = parts.next().ok_or_else(invalid)?;
        if seq.len() != Self::SEQUENCE_DIGITS || year.len() != 4 {
            return Err(invalid());
        }
        Self::new(
            prefix,
            year.parse().map_err(|_| invalid())?,
            seq.parse().map_err(|_| invalid())?,
        )
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The sequence within prefix and year.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:06}", self.prefix, self.year, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::ids::CloudTenantId;
    use crate::billing::ids::SubscriptionId;
    use crate::billing::quantity::Quantity;
    use crate::billing::rating::{RatedLine, SectionRating};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    const T: CloudTenantId = CloudTenantId::from_u128(1);

    fn line(precise: Decimal) -> RatedLine {
        RatedLine {
            meter_id: MeterId::from_u128(9),
            meter_name: "m".into(),
            usage_unit: "u".into(),
            quantity: Quantity::ZERO,
            billing_unit: "u".into(),
            billing_quantity: Decimal::ZERO,
            unit_price: None,
            adjustment: None,
            price_sheet: "list".into(),
            price_version_from: "2026-01-01".parse().unwrap(),
            precise_amount: precise,
            amount: Money::new(precise, Currency::USD).rounded(),
        }
    }

    fn rated(precise: &[Decimal]) -> AccountRating {
        AccountRating {
            account: BillingAccount::Customer {
                subscription: SubscriptionId::from_u128(5),
                tenant: T,
            },
            sections: vec![SectionRating {
                section: Section::Tenant(T),
                lines: precise.iter().map(|p| line(*p)).collect(),
                unpriced: vec![],
                report_only: vec![],
            }],
        }
    }

    fn period() -> BillingPeriod {
        BillingPeriod::new(2026, 1).unwrap()
    }

    #[test]
    fn totals_are_sums_of_rounded_lines_and_tax_is_rounded_once() {
        // Three lines of 0.005 each round to 0.01: subtotal 0.03, not round(0.015) = 0.02.
        let terms = InvoiceTerms {
            minimum_monthly_charge: None,
            tax_rate: TaxRate::parse("19").unwrap(),
        };
        let inv = build_invoice(
            &rated(&[dec!(0.005), dec!(0.005), dec!(0.005)]),
            period(),
            Currency::USD,
            &terms,
        )
        .unwrap();
        assert_eq!(inv.subtotal.amount(), dec!(0.03));
        // tax = round(0.03 × 19%) = round(0.0057) = 0.01
        assert_eq!(inv.tax.amount(), dec!(0.01));
        assert_eq!(inv.total.amount(), dec!(0.04));

        // 100 lines of 1.05 at 19%: per-line tax would be 100 × round(0.1995) = 20.00;
        // invoice-level tax is round(105.00 × 0.19) = round(19.95) = 19.95.
        let inv = build_invoice(&rated(&vec![dec!(1.05); 100]), period(), Currency::USD, &terms).unwrap();
        assert_eq!(inv.subtotal.amount(), dec!(105.00));
        assert_eq!(inv.tax.amount(), dec!(19.95));
        assert_eq!(inv.total.amount(), dec!(124.95));
    }

    #[test]
    fn a_minimum_charge_tops_up_to_exactly_the_minimum_on_its_own_line() {
        let terms = InvoiceTerms {
            minimum_monthly_charge: Some(dec!(250)),
            tax_rate: TaxRate::parse("10").unwrap(),
        };
        let inv = build_invoice(&rated(&[dec!(100.004), dec!(49.996)]), period(), Currency::USD, &terms).unwrap();
        // lines 100.00 + 50.00 = 150.00; top-up 100.00; subtotal 250.00; tax 25.00
        assert_eq!(inv.lines.len(), 3);
        assert_eq!(inv.lines[2].kind, LineKind::MinimumCharge);
        assert_eq!(inv.lines[2].amount.amount(), dec!(100.00));
        assert_eq!(inv.subtotal.amount(), dec!(250.00));
        assert_eq!(inv.tax.amount(), dec!(25.00));
        assert_eq!(inv.total.amount(), dec!(275.00));
        // Above the minimum: no extra line.
        let inv = build_invoice(&rated(&[dec!(300)]), period(), Currency::USD, &terms).unwrap();
        assert_eq!(inv.lines.len(), 1);
        assert_eq!(inv.subtotal.amount(), dec!(300));
    }

    #[test]
    fn a_credit_note_reverses_an_invoice_exactly() {
        let terms = InvoiceTerms {
            minimum_monthly_charge: Some(dec!(10)),
            tax_rate: TaxRate::parse("21").unwrap(),
        };
        let inv = build_invoice(&rated(&[dec!(1.005), dec!(2.345)]), period(), Currency::USD, &terms).unwrap();
        let credit = credit_note(&inv);
        assert!(credit.is_credit_note);
        assert_eq!(credit.total.amount() + inv.total.amount(), Decimal::ZERO);
        assert_eq!(credit.tax.amount(), -inv.tax.amount());
        for (c, i) in credit.lines.iter().zip(&inv.lines) {
            assert_eq!(c.amount.amount(), -i.amount.amount());
        }
    }

    #[test]
    fn jpy_invoices_round_to_whole_yen() {
        let mut r = rated(&[]);
        r.sections[0].lines = vec![RatedLine {
            amount: Money::new(dec!(1146.5), Currency::JPY).rounded(),
            ..line(dec!(1146.5))
        }];
        let inv = build_invoice(&r, period(), Currency::JPY, &InvoiceTerms::default()).unwrap();
        assert_eq!(inv.total.amount(), dec!(1147));
    }

    #[test]
    fn invoice_numbers_are_prefix_year_and_six_digits() {
        let n = InvoiceNumber::new("SB", 2026, 42).unwrap();
        assert_eq!(n.to_string(), "SB-2026-000042");
        assert_eq!(InvoiceNumber::parse("SB-2026-000042").unwrap(), n);
        assert_eq!(InvoiceNumber::parse("ACME-EU-2026-000001").unwrap().prefix(), "ACME-EU");
        for bad in ["", "SB-2026-42", "SB-26-000042", "S B-2026-000001", "SB-2026-000000"] {
            assert!(InvoiceNumber::parse(bad).is_err(), "{bad}");
        }
        assert!(InvoiceNumber::new("bad prefix!", 2026, 1).is_err());
        assert!(TaxRate::parse("101").is_err());
        assert_eq!(TaxRate::parse("5.5%").unwrap().value(), dec!(5.5));
    }

    proptest! {
        #[test]
        fn the_subtotal_is_always_the_sum_of_rounded_lines(
            cents in proptest::collection::vec(-10_000_000i64..10_000_000, 0..60),
            scale in 0u32..6,
            tax in 0u32..30,
        ) {
            let precise: Vec<Decimal> = cents.iter().map(|c| Decimal::new(*c, scale + 2)).collect();
            let terms = InvoiceTerms { minimum_monthly_charge: None, tax_rate: TaxRate::parse(&tax.to_string()).unwrap() };
            let inv = build_invoice(&rated(&precise), period(), Currency::USD, &terms).unwrap();
            let sum: Decimal = inv.lines.iter().map(|l| l.amount.amount()).sum();
            prop_assert_eq!(inv.subtotal.amount(), sum);
            prop_assert_eq!(inv.total.amount(), inv.subtotal.amount() + inv.tax.amount());
            for l in &inv.lines {
                prop_assert!(l.amount.amount().scale() <= 2);
                prop_assert!((l.amount.amount() - l.precise_amount).abs() <= dec!(0.005));
            }
            let credit = credit_note(&inv);
            prop_assert_eq!(credit.total.amount() + inv.total.amount(), Decimal::ZERO);
        }
    }

    #[test]
    fn an_invoice_uses_the_terms_in_force_on_the_last_day_of_its_period() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let terms = |tax: &str| InvoiceTerms {
            minimum_monthly_charge: None,
            tax_rate: TaxRate::parse(tax).unwrap(),
        };
        let dated = Dated::from_changes([
            (d("2020-01-01"), terms("19")),
            (d("2026-01-31"), terms("21")),
            (d("2026-02-03"), terms("0")),
        ]);
        let jan = BillingPeriod::parse("2026-01").unwrap();
        // The rate changed on the 31st: January's invoice carries 21 %; the change of
        // 3 February never reaches back into January.
        assert_eq!(InvoiceTerms::for_period(&dated, jan).tax_rate.value(), dec!(21));
        assert_eq!(
            InvoiceTerms::for_period(&dated, jan.previous()).tax_rate.value(),
            dec!(19)
        );
        assert_eq!(InvoiceTerms::for_period(&dated, jan.next()).tax_rate.value(), dec!(0));
        assert_eq!(InvoiceTerms::for_period(&Dated::none(), jan), InvoiceTerms::default());
    }

    #[test]
    fn adjustments_are_the_difference_per_section_and_meter_and_change_the_totals_once() {
        use crate::billing::ids::{CloudTenantId, MeterId, SubscriptionId};
        use crate::billing::rating::{AccountRating, RatedLine, SectionRating};
        use crate::billing::resolution::{BillingAccount, Section};
        use crate::billing::Quantity;
        use rust_decimal_macros::dec;
        let tenant = Section::Tenant(CloudTenantId::from_u128(1));
        let (vm, disk, gone) = (MeterId::from_u128(1), MeterId::from_u128(2), MeterId::from_u128(3));
        let line = |meter, q: Decimal, a: Decimal| RatedLine {
            meter_id: meter,
            meter_name: format!("m{meter}"),
            usage_unit: "h".into(),
            quantity: Quantity::try_from_decimal(q).unwrap(),
            billing_unit: "h".into(),
            billing_quantity: q,
            unit_price: Some(dec!(0.5)),
            adjustment: None,
            price_sheet: "list".into(),
            price_version_from: "2026-01-01".parse().unwrap(),
            precise_amount: a,
            amount: Money::new(a, Currency::USD),
        };
        let rerated = AccountRating {
            account: BillingAccount::Customer {
                subscription: SubscriptionId::from_u128(9),
                tenant: CloudTenantId::from_u128(1),
            },
            sections: vec![SectionRating {
                section: tenant,
                lines: vec![line(vm, dec!(12), dec!(6.00)), line(disk, dec!(3), dec!(1.50))],
                unpriced: vec![],
                report_only: vec![],
            }],
        };
        let issued = |meter, q, a| IssuedUsage {
            section: tenant,
            meter_id: meter,
            meter_name: format!("m{meter}"),
            unit: "h".into(),
            quantity: q,
            amount: a,
        };
        let adj = adjustments(
            &[
                issued(vm, dec!(10), dec!(5.00)),
                issued(disk, dec!(3), dec!(1.50)),
                issued(gone, dec!(2), dec!(4.00)),
            ],
            Some(&rerated),
            "SB-2026-000001",
            Currency::USD,
        );
        let got: Vec<(MeterId, Decimal, Decimal)> = adj
            .iter()
            .map(|l| match &l.kind {
                LineKind::Adjustment {
                    meter_id, refers_to, ..
                } => {
                    assert_eq!(refers_to, "SB-2026-000001");
                    (*meter_id, l.quantity.unwrap(), l.amount.amount())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            vec![(vm, dec!(2), dec!(1.00)), (gone, dec!(-2), dec!(-4.00))],
            "unchanged meters give no line"
        );
        let base = build_invoice(
            &rerated,
            BillingPeriod::parse("2026-02").unwrap(),
            Currency::USD,
            &InvoiceTerms {
                minimum_monthly_charge: None,
                tax_rate: TaxRate::parse("10").unwrap(),
            },
        )
        .unwrap();
        let inv = with_adjustments(base, adj).unwrap();
        assert_eq!(inv.subtotal.amount(), dec!(4.50), "7.50 − 3.00");
        assert_eq!((inv.tax.amount(), inv.total.amount()), (dec!(0.45), dec!(4.95)));
    }
}

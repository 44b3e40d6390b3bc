//! Exact decimal numbers: usage quantities and the decimal parser behind them.
//!
//! Azure Stack sends quantities as JSON numbers with up to 19 significant decimals
//! (`0.0013440860215053762`, one hour of a disk-month in December) and sometimes in
//! exponent form (`6.448477506637573e-06`). They are parsed from their *text*, digit by
//! digit, into a `rust_decimal::Decimal` (96-bit mantissa, up to 28 decimal places) and
//! never pass through `f64`. A number that cannot be held exactly is refused rather than
//! rounded.

use super::error::{BillingError, BillingResult};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::Add;

/// Parses decimal text exactly: optional sign, digits with an optional point, an optional
/// exponent (`e`/`E`, signed). Underscores, spaces, `NaN` and infinities are refused.
pub fn parse_exact_decimal(raw: &str, what: &'static str) -> BillingResult<Decimal> {
    let invalid = |reason: &'static str| BillingError::InvalidDecimal {
        what,
        raw: raw.to_owned(),
        reason,
    };
    let s = raw.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa_text, exponent) = match s.find(['e', 'E']) {
        Some(i) => {
            let exp_text = &s[i + 1..];
            let exp: i32 = exp_text
                .parse()
                .ok()
                .filter(|_| !exp_text.is_empty() && exp_text.len() <= 6)
                .ok_or_else(|| invalid("the exponent is not a number"))?;
            (&s[..i], exp)
        }
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa_text.find('.') {
        Some(i) => (&mantissa_text[..i], &mantissa_text[i + 1..]),
        None => (mantissa_text, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid("expected digits"));
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(invalid("expected only digits, one decimal point and an exponent"));
    }
    // Collect significant digits into an integer, counting the decimal scale.
    let mut digits: u128 = 0;
    let mut significant = 0usize;
    let mut trailing_dropped: i32 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        let d = u128::from(b - b'0');
        if significant == 0 && d == 0 {
            continue; // leading zeros carry no information
        }
        if significant >= 29 {
            // More digits than a Decimal can hold: acceptable only if they are zeros.
            if d != 0 {
                return Err(invalid("it has more significant digits than can be stored exactly"));
            }
            trailing_dropped += 1;
            continue;
        }
        digits = digits * 10 + d;
        significant += 1;
    }
    let mut scale = frac_part.len() as i32 - exponent - trailing_dropped;
    // Drop trailing zeros while the scale is too large for a Decimal.
    while scale > 28 && digits.is_multiple_of(10) && digits != 0 {
        digits /= 10;
        scale -= 1;
    }
    if digits == 0 {
        return Ok(Decimal::ZERO);
    }
    if scale > 28 {
        return Err(invalid("it needs more than 28 decimal places"));
    }
    while scale < 0 {
        digits = digits.checked_mul(10).ok_or_else(|| invalid("it is too large"))?;
        scale += 1;
    }
    let signed = if negative { -(digits as i128) } else { digits as i128 };
    Decimal::try_from_i128_with_scale(signed, scale as u32)
        .map_err(|_| invalid("it has more digits than can be stored exactly"))
}

/// A non-negative exact amount of usage in a meter's unit.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(Decimal);

impl Quantity {
    /// Zero usage.
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    /// Parses quantity text (plain or exponent form) exactly; negative values are refused.
    pub fn parse(raw: &str) -> BillingResult<Self> {
        Self::try_from_decimal(parse_exact_decimal(raw, "quantity")?).map_err(|_| BillingError::InvalidDecimal {
            what: "quantity",
            raw: raw.to_owned(),
            reason: "quantities cannot be negative",
        })
    }

    /// Wraps a decimal that must not be negative.
    pub fn try_from_decimal(value: Decimal) -> BillingResult<Self> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(BillingError::InvalidDecimal {
                what: "quantity",
                raw: value.to_string(),
                reason: "quantities cannot be negative",
            });
        }
        Ok(Quantity(value.normalize()))
    }

    /// The exact value.
    pub fn value(&self) -> Decimal {
        self.0
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Adds exactly; an overflow (beyond ~7.9 × 10²⁸) is an error.
    pub fn checked_add(self, other: Quantity) -> BillingResult<Quantity> {
        self.0
            .checked_add(other.0)
            .map(Quantity)
            .ok_or(BillingError::Overflow { what: "quantity sum" })
    }

    /// The canonical text: no exponent, no trailing zeros (`2.4`, `0.0013440860215053762`).
    pub fn canonical(&self) -> String {
        self.0.normalize().to_string()
    }
}

impl Add for Quantity {
    type Output = Quantity;
    /// Panics only beyond ~7.9 × 10²⁸ units, which no meter reaches; use
    /// [`Quantity::checked_add`] where the input is untrusted.
    fn add(self, rhs: Quantity) -> Quantity {
        Quantity(self.0 + rhs.0)
    }
}

impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({})", self.canonical())
    }
}

impl Serialize for Quantity {
    /// Serialised as a string so that no JSON reader turns it into a float.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Quantity::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn published_quantities_parse_exactly() {
        assert_eq!(Quantity::parse("2.4000000000").unwrap().value(), dec!(2.4));
        assert_eq!(
            Quantity::parse("0.0013440860215053762").unwrap().value(),
            dec!(0.0013440860215053762)
        );
        assert_eq!(
            Quantity::parse("6.448477506637573e-06").unwrap().value(),
            dec!(0.000006448477506637573)
        );
        assert_eq!(
            Quantity::parse("6.448477506637573E-6").unwrap().canonical(),
            "0.000006448477506637573"
        );
        assert_eq!(Quantity::parse("1.2e3").unwrap().value(), dec!(1200));
        assert_eq!(Quantity::parse("16.46").unwrap().canonical(), "16.46");
        assert_eq!(Quantity::parse("0").unwrap(), Quantity::ZERO);
        assert_eq!(Quantity::parse("-0").unwrap(), Quantity::ZERO);
        assert_eq!(Quantity::parse(".5").unwrap().value(), dec!(0.5));
        assert_eq!(Quantity::parse("5.").unwrap().value(), dec!(5));
        assert_eq!(Quantity::parse("1e-28").unwrap().value(), Decimal::new(1, 28));
        assert_eq!(Quantity::parse("100e-30").unwrap().value(), Decimal::new(1, 28));
    }

    #[test]
    fn quantities_that_cannot_be_held_exactly_or_are_negative_are_refused() {
        for bad in [
            "", "-", "abc", "1.2.3", "1e", "1e+", "NaN", "inf", "1_000", "1 0", "--1", "1e-29", "-2.5",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let err = Quantity::parse("-2.5").unwrap_err();
        assert!(err.to_string().contains("cannot be negative"), "{err}");
        // 30 significant digits cannot be stored exactly.
        assert!(Quantity::parse("1.23456789012345678901234567891").is_err());
        // but trailing zeros beyond the precision are harmless.
        assert_eq!(
            Quantity::parse("1.000000000000000000000000000000000").unwrap().value(),
            dec!(1)
        );
    }

    #[test]
    fn december_disk_fractions_sum_to_almost_exactly_one_disk_month() {
        let hour = Quantity::parse("0.0013440860215053762").unwrap();
        let month: Quantity = std::iter::repeat_n(hour, 744).sum();
        // 744 × 0.0013440860215053762 = 0.9999999999999998928 exactly.
        assert_eq!(month.value(), dec!(0.9999999999999998928));
    }

    #[test]
    fn quantities_serialise_as_strings() {
        let q = Quantity::parse("6.448477506637573e-06").unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"0.000006448477506637573\"");
    }
}

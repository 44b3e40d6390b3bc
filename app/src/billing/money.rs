//! Currencies and money.
//!
//! **The rounding rule** (one rule, used everywhere): an invoice line's precise amount is
//! rounded *half away from zero* to the currency's minor unit (cents for USD, whole yen
//! for JPY, fils for BHD). Subtotals and totals are sums of rounded lines, never rounded
//! sums; the precise amount is kept beside each rounded one for audit. Tax is the one
//! exception: it is computed once per invoice on the rounded subtotal and rounded once,
//! with the same rule (see `invoice`).

use super::error::{BillingError, BillingResult};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// ISO 4217 codes Stackbill accepts, with their minor-unit exponent. The list covers the
/// currencies CSPs running Azure Stack Hub invoice in; add a row to support another.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency with its minor-unit exponent (USD 2, JPY 0, BHD 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    /// US dollar, the currency of Microsoft's published Azure Stack Hub list prices.
    pub const USD: Currency = Currency {
        code: *b"USD",
        exponent: 2,
    };
    /// Euro.
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        exponent: 2,
    };
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency {
        code: *b"JPY",
        exponent: 0,
    };
    /// New Taiwan dollar.
    pub const TWD: Currency = Currency {
        code: *b"TWD",
        exponent: 2,
    };
    /// Chinese yuan.
    pub const CNY: Currency = Currency {
        code: *b"CNY",
        exponent: 2,
    };

    /// Parses a three-letter code in any case.
    pub fn parse(raw: &str) -> BillingResult<Self> {
        let upper = raw.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == upper)
            .map(|(code, exponent)| {
                let b = code.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    exponent: *exponent,
                }
            })
            .ok_or_else(|| BillingError::UnknownCurrency { raw: raw.to_owned() })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes come from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of decimal places of the minor unit.
    pub fn exponent(&self) -> u32 {
        u32::from(self.exponent)
    }

    /// All supported currencies, for pickers.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES
            .iter()
            .map(|(code, _)| Currency::parse(code).expect("table entry"))
    }

    /// Rounds a precise amount to this currency's minor unit with the one rounding rule.
    pub fn round(&self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.exponent(), RoundingStrategy::MidpointAwayFromZero)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount of money in one currency. The amount may carry more decimals than the
/// currency's minor unit (a precise amount); [`Money::rounded`] applies the rounding rule.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Money from an exact amount.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Money from integer minor units (how amounts are stored: `amount_minor` + currency).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money {
            amount: Decimal::new(minor, currency.exponent()),
            currency,
        }
    }

    /// The amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount rounded to the minor unit, half away from zero.
    pub fn rounded(&self) -> Money {
        Money {
            amount: self.currency.round(self.amount),
            currency: self.currency,
        }
    }

    /// Integer minor units of the *rounded* amount (for storage).
    pub fn to_minor(&self) -> BillingResult<i64> {
        let rounded = self.currency.round(self.amount);
        // After rounding to `exponent` places the scale is at most `exponent`.
        let shift = self.currency.exponent().saturating_sub(rounded.scale());
        rounded
            .mantissa()
            .checked_mul(10_i128.pow(shift))
            .and_then(|minor| i64::try_from(minor).ok())
            .ok_or(BillingError::Overflow { what: "minor units" })
    }

    /// Adds two amounts of the same currency; different currencies are an error.
    pub fn checked_add(&self, other: &Money) -> BillingResult<Money> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(BillingError::Overflow { what: "money sum" })?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    /// Subtracts an amount of the same currency.
    pub fn checked_sub(&self, other: &Money) -> BillingResult<Money> {
        self.same_currency(other)?;
        let amount = self.amount.checked_sub(other.amount).ok_or(BillingError::Overflow {
            what: "money difference",
        })?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    /// The same amount with the opposite sign (credit notes).
    pub fn negated(&self) -> Money {
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> BillingResult<()> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(BillingError::CurrencyMismatch {
                left: self.currency.to_string(),
                right: other.currency.to_string(),
            })
        }
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.amount)
    }
}

impl fmt::Display for Money {
    /// A plain, locale-neutral form (`USD 12.30`) for logs and errors; people see money
    /// through `i18n::format_money`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = self.rounded();
        let mut amount = rounded.amount;
        amount.rescale(self.currency.exponent());
        write!(f, "{} {}", self.currency, amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn currencies_know_their_minor_units() {
        assert_eq!(Currency::parse("usd").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("TWD").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("CNY").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
        assert_eq!(
            Currency::parse("XYZ").unwrap_err(),
            BillingError::UnknownCurrency { raw: "XYZ".into() }
        );
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_the_minor_unit() {
        let usd = Currency::USD;
        assert_eq!(usd.round(dec!(0.125)), dec!(0.13));
        assert_eq!(usd.round(dec!(0.135)), dec!(0.14)); // not banker's rounding
        assert_eq!(usd.round(dec!(0.1249999)), dec!(0.12));
        assert_eq!(usd.round(dec!(-0.125)), dec!(-0.13));
        assert_eq!(Currency::JPY.round(dec!(2.5)), dec!(3));
        assert_eq!(Currency::JPY.round(dec!(3.5)), dec!(4));
        assert_eq!(Currency::parse("BHD").unwrap().round(dec!(1.0005)), dec!(1.001));
    }

    #[test]
    fn adding_two_currencies_is_an_error() {
        let a = Money::new(dec!(1), Currency::USD);
        let b = Money::new(dec!(1), Currency::EUR);
        assert_eq!(
            a.checked_add(&b).unwrap_err(),
            BillingError::CurrencyMismatch {
                left: "USD".into(),
                right: "EUR".into()
            }
        );
        assert_eq!(a.checked_add(&a).unwrap().amount(), dec!(2));
    }

    #[test]
    fn minor_units_round_trip() {
        let m = Money::new(dec!(1234.565), Currency::USD);
        assert_eq!(m.to_minor().unwrap(), 123457);
        assert_eq!(Money::from_minor(123457, Currency::USD).amount(), dec!(1234.57));
        assert_eq!(Money::new(dec!(99.5), Currency::JPY).to_minor().unwrap(), 100);
        assert_eq!(Money::new(dec!(-0.005), Currency::USD).to_minor().unwrap(), -1);
        assert_eq!(Money::from_minor(-1, Currency::USD).to_string(), "USD -0.01");
        assert_eq!(Money::new(dec!(5), Currency::USD).to_string(), "USD 5.00");
    }
}

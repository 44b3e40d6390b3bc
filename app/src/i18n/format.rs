//! The one formatter for each kind of value people read.

use super::Locale;
use crate::billing::{BillingPeriod, Money};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// Narrow no-break space: the French group separator (CLDR).
const NNBSP: char = '\u{202f}';
/// No-break space between a currency code and its amount.
const NBSP: char = '\u{a0}';

struct Separators {
    group: char,
    decimal: char,
}

fn separators(locale: Locale) -> Separators {
    match locale {
        Locale::En | Locale::ZhTw | Locale::ZhCn => Separators {
            group: ',',
            decimal: '.',
        },
        Locale::Fr => Separators {
            group: NNBSP,
            decimal: ',',
        },
        Locale::Nl => Separators {
            group: '.',
            decimal: ',',
        },
    }
}

/// Formats a decimal with exactly `min_dp..=max_dp` decimals (rounded half away from zero
/// for display only) and the locale's separators.
pub fn format_decimal(value: Decimal, locale: Locale, min_dp: u32, max_dp: u32) -> String {
    let mut v = value.round_dp_with_strategy(max_dp, RoundingStrategy::MidpointAwayFromZero);
    v = v.normalize();
    if v.scale() < min_dp {
        v.rescale(min_dp);
    }
    let text = v.abs().to_string();
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
        None => (text.clone(), None),
    };
    let seps = separators(locale);
    let mut grouped = String::with_capacity(int_part.len() + int_part.len() / 3);
    for (i, ch) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(seps.group);
        }
        grouped.push(ch);
    }
    let mut out = String::new();
    if v.is_sign_negative() && !v.is_zero() {
        out.push('-');
    }
    out.push_str(&grouped);
    if let Some(frac) = frac_part {
        out.push(seps.decimal);
        out.push_str(&frac);
    }
    out
}

/// Money, rounded to the currency's minor unit: `USD 1,234.56`, `1 234,56 USD`,
/// `USD 1.234,56`.
pub fn format_money(money: &Money, locale: Locale) -> String {
    let dp = money.currency().exponent();
    let amount = format_decimal(money.rounded().amount(), locale, dp, dp);
    let currency = money.currency();
    let code = currency.code();
    match locale {
        Locale::Fr => format!("{amount}{NBSP}{code}"),
        _ => format!("{code}{NBSP}{amount}"),
    }
}

/// A usage quantity: grouped, at most six decimals, no trailing zeros.
pub fn format_quantity(quantity: Decimal, locale: Locale) -> String {
    format_decimal(quantity, locale, 0, 6)
}

/// A count (records, customers, subscriptions): grouped, no decimals.
pub fn format_count(n: i64, locale: Locale) -> String {
    format_decimal(Decimal::from(n), locale, 0, 0)
}

/// A calendar date.
pub fn format_date(on: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::En => format!("{} {} {}", on.day(), MONTHS_EN_SHORT[on.month0() as usize], on.year()),
        Locale::Fr => format!("{:02}/{:02}/{}", on.day(), on.month(), on.year()),
        Locale::Nl => format!("{:02}-{:02}-{}", on.day(), on.month(), on.year()),
        Locale::ZhTw | Locale::ZhCn => format!("{}年{}月{}日", on.year(), on.month(), on.day()),
    }
}

/// An instant, shown in UTC because usage and billing periods are UTC.
pub fn format_datetime(at: DateTime<Utc>, locale: Locale) -> String {
    format!("{} {} UTC", format_date(at.date_naive(), locale), at.format("%H:%M"))
}

/// A billing period: `November 2026`, `novembre 2026`, `2026年11月`.
pub fn format_period(period: BillingPeriod, locale: Locale) -> String {
    let m = (period.month() - 1) as usize;
    match locale {
        Locale::En => format!("{} {}", MONTHS_EN[m], period.year()),
        Locale::Fr => format!("{} {}", MONTHS_FR[m], period.year()),
        Locale::Nl => format!("{} {}", MONTHS_NL[m], period.year()),
        Locale::ZhTw | Locale::ZhCn => format!("{}年{}月", period.year(), period.month()),
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_EN_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_NL: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::Currency;
    use rust_decimal_macros::dec;

    #[test]
    fn money_follows_the_locale() {
        let m = Money::new(dec!(1234567.875), Currency::USD);
        assert_eq!(format_money(&m, Locale::En), "USD\u{a0}1,234,567.88");
        assert_eq!(format_money(&m, Locale::Fr), "1\u{202f}234\u{202f}567,88\u{a0}USD");
        assert_eq!(format_money(&m, Locale::Nl), "USD\u{a0}1.234.567,88");
        assert_eq!(format_money(&m, Locale::ZhTw), "USD\u{a0}1,234,567.88");
        let yen = Money::new(dec!(1146.88), Currency::JPY);
        assert_eq!(format_money(&yen, Locale::En), "JPY\u{a0}1,147");
        let neg = Money::new(dec!(-5), Currency::EUR);
        assert_eq!(format_money(&neg, Locale::Nl), "EUR\u{a0}-5,00");
        assert_eq!(format_money(&Money::zero(Currency::USD), Locale::En), "USD\u{a0}0.00");
    }

    #[test]
    fn quantities_show_at_most_six_decimals_without_trailing_zeros() {
        assert_eq!(format_quantity(dec!(0.9999999999999998928), Locale::En), "1");
        assert_eq!(format_quantity(dec!(5952.000), Locale::En), "5,952");
        assert_eq!(format_quantity(dec!(16.46), Locale::Fr), "16,46");
        assert_eq!(format_quantity(dec!(0.0000064), Locale::En), "0.000006");
        assert_eq!(format_quantity(dec!(0), Locale::En), "0");
    }

    #[test]
    fn counts_are_grouped_per_locale() {
        let en = format_count(1_234_567, Locale::En);
        assert_eq!(en, "1,234,567");
        assert_ne!(format_count(1_234_567, Locale::Fr), en, "French groups differently");
        assert_eq!(format_count(0, Locale::ZhCn), "0");
    }

    #[test]
    fn dates_and_periods_follow_the_locale() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert_eq!(format_date(d, Locale::En), "3 Nov 2026");
        assert_eq!(format_date(d, Locale::Fr), "03/11/2026");
        assert_eq!(format_date(d, Locale::Nl), "03-11-2026");
        assert_eq!(format_date(d, Locale::ZhCn), "2026年11月3日");
        let p = BillingPeriod::new(2026, 2).unwrap();
        assert_eq!(format_period(p, Locale::En), "February 2026");
        assert_eq!(format_period(p, Locale::Fr), "février 2026");
        assert_eq!(format_period(p, Locale::ZhTw), "2026年2月");
    }
}

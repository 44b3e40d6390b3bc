//! Billing periods: calendar months in UTC, half-open `[start, end)`.

use super::error::{BillingError, BillingResult};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A calendar month in UTC. Invoices, month-to-date figures and the per-period unit
/// conversions (GB-month prices applied to GB-hour usage) are all per billing period.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingPeriod {
    year: i32,
    month: u32,
}

impl BillingPeriod {
    /// The period of a year and month (1–12).
    pub fn new(year: i32, month: u32) -> BillingResult<Self> {
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(BillingError::InvalidPeriod {
                raw: format!("{year}-{month:02}"),
            });
        }
        Ok(BillingPeriod { year, month })
    }

    /// Parses `YYYY-MM`.
    pub fn parse(raw: &str) -> BillingResult<Self> {
        let invalid = || BillingError::InvalidPeriod { raw: raw.to_owned() };
        let (y, m) = raw.trim().split_once('-').ok_or_else(invalid)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(invalid());
        }
        let year = y.parse().map_err(|_| invalid())?;
        let month = m.parse().map_err(|_| invalid())?;
        Self::new(year, month).map_err(|_| invalid())
    }

    /// The period containing an instant.
    pub fn containing(at: DateTime<Utc>) -> Self {
        BillingPeriod {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The period containing a date.
    pub fn of_date(on: NaiveDate) -> Self {
        BillingPeriod {
            year: on.year(),
            month: on.month(),
        }
    }

    /// Year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// Month, 1–12.
    pub fn month(&self) -> u32 {
        self.month
    }

    /// First day of the period.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("validated month")
    }

    /// First day after the period.
    pub fn end_day(&self) -> NaiveDate {
        self.next().first_day()
    }

    /// Inclusive start instant (midnight UTC on the 1st).
    pub fn start(&self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.first_day().and_hms_opt(0, 0, 0).expect("midnight"))
    }

    /// Exclusive end instant (midnight UTC on the 1st of the next month).
    pub fn end(&self) -> DateTime<Utc> {
        self.next().start()
    }

    /// Number of days.
    pub fn days(&self) -> u32 {
        (self.end_day() - self.first_day()).num_days() as u32
    }

    /// Number of hours: 744 in December, 672 in February (696 in a leap year), 720 in April.
    pub fn hours(&self) -> u32 {
        self.days() * 24
    }

    /// Whether an instant falls inside `[start, end)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start() && at < self.end()
    }

    /// Whether a date falls inside the period.
    pub fn contains_day(&self, on: NaiveDate) -> bool {
        on >= self.first_day() && on < self.end_day()
    }

    /// The following month.
    pub fn next(&self) -> BillingPeriod {
        if self.month == 12 {
            BillingPeriod {
                year: self.year + 1,
                month: 1,
            }
        } else {
            BillingPeriod {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The preceding month.
    pub fn previous(&self) -> BillingPeriod {
        if self.month == 1 {
            BillingPeriod {
                year: self.year - 1,
                month: 12,
            }
        } else {
            BillingPeriod {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Every day of the period.
    pub fn days_iter(&self) -> impl Iterator<Item = NaiveDate> {
        let first = self.first_day();
        (0..self.days()).map(move |d| first + Duration::days(i64::from(d)))
    }
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BillingPeriod({self})")
    }
}

impl Serialize for BillingPeriod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BillingPeriod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<str>::deserialize(deserializer)?;
        BillingPeriod::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_know_their_hours() {
        assert_eq!(BillingPeriod::parse("2024-12").unwrap().hours(), 744);
        assert_eq!(BillingPeriod::parse("2023-02").unwrap().hours(), 672);
        assert_eq!(BillingPeriod::parse("2024-02").unwrap().hours(), 696);
        assert_eq!(BillingPeriod::parse("2024-04").unwrap().hours(), 720);
        assert_eq!(BillingPeriod::parse("2100-02").unwrap().hours(), 672); // not a leap year
        assert_eq!(BillingPeriod::parse("2000-02").unwrap().hours(), 696);
    }

    #[test]
    fn periods_are_half_open() {
        let dec = BillingPeriod::parse("2024-12").unwrap();
        assert_eq!(dec.start().to_rfc3339(), "2024-12-01T00:00:00+00:00");
        assert_eq!(dec.end().to_rfc3339(), "2025-01-01T00:00:00+00:00");
        assert!(dec.contains(dec.start()));
        assert!(!dec.contains(dec.end()));
        assert!(dec.contains(dec.end() - Duration::seconds(1)));
        assert_eq!(dec.next().to_string(), "2025-01");
        assert_eq!(dec.next().previous(), dec);
        assert_eq!(dec.days_iter().count(), 31);
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in ["2024-13", "2024-00", "24-01", "2024/01", "2024-1", "", "abcd-ef"] {
            assert!(BillingPeriod::parse(bad).is_err(), "{bad}");
        }
    }
}

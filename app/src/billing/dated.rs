//! Effective-dated values: what a setting is on a given UTC day, folded from the log of
//! changes people and the collector made.
//!
//! Every billing fact that can change — a tenant's customer subscription, a user
//! subscription's owner, a registration's default price sheet, a customer's markup, tax
//! rate or minimum charge, a meter's billable flag — is recorded as a *change*: "from day
//! D on, the value is V". The rules (one for all of them):
//!
//! - a change takes effect at the start of its UTC day (00:00 UTC) and lasts until the
//!   next change's day: values are in effect over half-open day ranges `[from, to)`;
//! - several changes recorded for the same day: the one recorded **last replaces** the
//!   others for that whole day (a `PUT`, a second `PUT` and a `DELETE` minutes apart
//!   leave the `DELETE`); the replaced ones stay in the change log as history;
//! - a change dated before an existing later change (a correction entered afterwards)
//!   applies only until that later change's day.
//!
//! Day granularity is deliberate: usage is rated from daily rollups, so a value that
//! changed at 14:00 would otherwise have to split one day's usage by an hour the rollups
//! no longer know.

use super::resolution::Effective;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The day "from the start" is stored as (1970-01-01): the first day of anything
/// Stackbill stores, and inside every engine's date range.
pub fn since_always() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")
}

/// A value over time: sorted `(first day, value)` entries, each in effect until the next
/// entry's day. Before the first entry there is no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dated<V> {
    entries: Vec<(NaiveDate, V)>,
}

impl<V> Default for Dated<V> {
    fn default() -> Self {
        Dated { entries: Vec::new() }
    }
}

impl<V> Dated<V> {
    /// No value on any day.
    pub fn none() -> Self {
        Dated::default()
    }

    /// The same value on every day.
    pub fn always(value: V) -> Self {
        Dated {
            entries: vec![(NaiveDate::MIN, value)],
        }
    }

    /// Folds a change log given **in the order the changes were recorded** into the
    /// values by day: for each day only the last change recorded for it counts, and a
    /// change lasts until the next later-dated one.
    pub fn from_changes(changes: impl IntoIterator<Item = (NaiveDate, V)>) -> Self {
        let mut entries: Vec<(NaiveDate, V)> = changes.into_iter().collect();
        // Stable: changes of one day keep their recording order, so the last one wins.
        entries.sort_by_key(|(day, _)| *day);
        let mut folded: Vec<(NaiveDate, V)> = Vec::with_capacity(entries.len());
        for (day, value) in entries {
            match folded.last_mut() {
                Some(last) if last.0 == day => last.1 = value,
                _ => folded.push((day, value)),
            }
        }
        Dated { entries: folded }
    }

    /// The value in effect on a day.
    pub fn at(&self, day: NaiveDate) -> Option<&V> {
        // Entries are few (one per change); a reverse scan beats a binary search.
        self.entries.iter().rev().find(|(from, _)| *from <= day).map(|(_, v)| v)
    }

    /// Index of the entry in effect on a day (identifies "the same setting" cheaply).
    pub fn index_at(&self, day: NaiveDate) -> Option<usize> {
        self.entries.iter().rposition(|(from, _)| *from <= day)
    }

    /// The entries by first day.
    pub fn entries(&self) -> &[(NaiveDate, V)] {
        &self.entries
    }

    /// Days strictly inside `(from, to)` on which the value may change.
    pub fn changes_within(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        self.entries
            .iter()
            .map(|(day, _)| *day)
            .filter(move |d| *d > from && *d < to)
    }

    /// Whether the value can differ between days of `[from, to)`.
    pub fn varies_within(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.changes_within(from, to).next().is_some()
    }
}

impl<V: Clone + PartialEq> Dated<Option<V>> {
    /// The half-open intervals in which the value is `Some`, adjacent equal values
    /// merged: how a mapping or ownership log becomes the timeline billing reads.
    pub fn intervals(&self) -> Vec<Effective<V>> {
        let mut out: Vec<Effective<V>> = Vec::new();
        for (i, (from, value)) in self.entries.iter().enumerate() {
            let to = self.entries.get(i + 1).map(|(d, _)| *d);
            let Some(value) = value else { continue };
            if let Some(last) = out.last_mut() {
                if last.to == Some(*from) && last.value == *value {
                    last.to = to;
                    continue;
                }
            }
            out.push(Effective {
                from: *from,
                to,
                value: value.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_last_change_recorded_for_a_day_replaces_the_others_for_the_whole_day() {
        // PUT X, PUT Y (replace), DELETE — all on the 10th, minutes apart.
        let d = Dated::from_changes([
            (day("2026-01-01"), Some("A")),
            (day("2026-01-10"), Some("X")),
            (day("2026-01-10"), Some("Y")),
            (day("2026-01-10"), None),
        ]);
        assert_eq!(d.at(day("2026-01-09")), Some(&Some("A")));
        assert_eq!(d.at(day("2026-01-10")), Some(&None));
        assert_eq!(d.entries().len(), 2);
        assert_eq!(
            d.intervals(),
            vec![Effective {
                from: day("2026-01-01"),
                to: Some(day("2026-01-10")),
                value: "A"
            }]
        );
    }

    #[test]
    fn a_backdated_change_lasts_until_the_next_later_change() {
        let d = Dated::from_changes([
            (day("2026-01-01"), Some("X")),
            (day("2026-01-15"), Some("Y")),
            // Recorded afterwards, dated the 10th.
            (day("2026-01-10"), Some("Z")),
        ]);
        assert_eq!(d.at(day("2026-01-09")), Some(&Some("X")));
        assert_eq!(d.at(day("2026-01-12")), Some(&Some("Z")));
        assert_eq!(d.at(day("2026-01-15")), Some(&Some("Y")));
        assert_eq!(d.at(day("2025-12-31")), None);
    }

    #[test]
    fn re_mapping_to_the_same_value_keeps_one_interval() {
        let d = Dated::from_changes([
            (day("2026-01-01"), Some(1)),
            (day("2026-01-05"), Some(1)),
            (day("2026-01-09"), Some(2)),
        ]);
        let iv = d.intervals();
        assert_eq!(iv.len(), 2);
        assert_eq!((iv[0].from, iv[0].to), (day("2026-01-01"), Some(day("2026-01-09"))));
        assert_eq!((iv[1].from, iv[1].to), (day("2026-01-09"), None));
        assert!(d.varies_within(day("2026-01-01"), day("2026-02-01")));
        assert!(!Dated::always(3).varies_within(day("2026-01-01"), day("2026-02-01")));
    }

    proptest! {
        #[test]
        fn folding_keeps_the_latest_recorded_change_of_the_latest_day_on_or_before(
            changes in proptest::collection::vec((0u32..20, proptest::option::of(0u8..4)), 0..30),
            probe in 0u32..25,
        ) {
            let base = day("2026-01-01");
            let dated = |d: u32| base + chrono::Duration::days(i64::from(d));
            let log: Vec<(NaiveDate, Option<u8>)> = changes.iter().map(|(d, v)| (dated(*d), *v)).collect();
            let d = Dated::from_changes(log.clone());
            // The reference: among changes dated on or before the probe, the greatest day;
            // among those, the last recorded.
            let expected = log
                .iter()
                .enumerate()
                .filter(|(_, (on, _))| *on <= dated(probe))
                .max_by_key(|(i, (on, _))| (*on, *i))
                .map(|(_, (_, v))| *v);
            prop_assert_eq!(d.at(dated(probe)).copied(), expected);
            // The intervals say the same for every day.
            let inside = d.intervals().into_iter().find(|e| e.covers(dated(probe))).map(|e| e.value);
            prop_assert_eq!(inside, expected.flatten());
        }
    }
}

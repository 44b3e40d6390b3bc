//! Rated figures kept between requests, for as long as nothing they depend on has changed.
//!
//! Every change that can alter a rating leaves a row behind in the same transaction: an
//! ingested batch of usage (`ingest_batches`) or an audit entry (mappings, owners, prices,
//! terms, meters, customers, registrations). The highest id of each — leaving out the audit
//! entries that change no rating, such as sign-ins and portal visits — is the data's
//! [`Stamp`]: one cheap query answers "has anything changed since?" on either engine and
//! across processes (a CLI import while the server runs). A cached value is used only
//! under the stamp it was computed at; reading the stamp *before* computing means a change
//! racing with the computation leaves an entry that the next request finds stale.
//!
//! On PostgreSQL ids are handed out before commit, so a transaction that took its id
//! earlier can commit after the stamp was read without raising it; entries therefore also
//! expire after [`MAX_AGE`], which bounds how long such a race can show older figures.

use crate::error::AppError;
use crate::ssr::db;
use crate::ssr::state::AppState;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is used at most, whatever the stamp says.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// The data's version: the newest audit entry and usage batch (and, for figures that run
/// with the clock, the hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    audit: i64,
    batch: i64,
    hour: i64,
}

/// The data's stamp now; `with_hour` for figures that move with the clock (forecasts).
pub async fn stamp(state: &AppState, with_hour: bool) -> Result<Stamp, AppError> {
    let mut c = state.db.conn().await?;
    let (audit, batch) = db::audit::data_version(&mut c).await?;
    let hour = if with_hour {
        state.now_secs().div_euclid(3600)
    } else {
        0
    };
    Ok(Stamp { audit, batch, hour })
}

/// A value with the stamp it was computed under and when.
type Entry<V> = (Stamp, Instant, Arc<V>);

/// A bounded map of values by key, each valid under one stamp.
pub struct Cached<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    capacity: usize,
}

impl<K: Hash + Eq, V> Cached<K, V> {
    /// At most `capacity` entries (then it starts again empty: the working set refills it).
    pub fn new(capacity: usize) -> Self {
        Cached {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value computed under `stamp`, if there is one.
    pub fn get(&self, key: &K, stamp: Stamp) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(s, at, _)| *s == stamp && at.elapsed() < MAX_AGE)
            .map(|(_, _, v)| v.clone())
    }

    /// Keeps `value`, computed under `stamp`.
    pub fn put(&self, key: K, stamp: Stamp, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (stamp, Instant::now(), value));
    }
}

/// The application's caches.
pub struct Caches {
    /// A customer's month broken down to days and resources (the portal).
    pub usage_months: Cached<(i64, crate::billing::BillingPeriod), super::usage::Month>,
    /// A customer's cost in a month (the portal's overview), by the hour for forecasts.
    pub customer_costs: Cached<(i64, crate::billing::BillingPeriod), crate::types::CustomerCost>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caches")
    }
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            // A month of one customer is tens of kilobytes: a few thousand of them is what
            // the busy customers of a large CSP keep warm.
            usage_months: Cached::new(4096),
            customer_costs: Cached::new(8192),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_only_found_under_the_stamp_it_was_computed_at() {
        let cache: Cached<i64, String> = Cached::new(2);
        let s1 = Stamp {
            audit: 1,
            batch: 1,
            hour: 0,
        };
        let s2 = Stamp {
            audit: 2,
            batch: 1,
            hour: 0,
        };
        cache.put(7, s1, Arc::new("seven".into()));
        assert_eq!(cache.get(&7, s1).as_deref().map(String::as_str), Some("seven"));
        assert!(cache.get(&7, s2).is_none(), "anything changed since: recomputed");
        cache.put(8, s1, Arc::new("eight".into()));
        cache.put(9, s1, Arc::new("nine".into()));
        assert!(cache.get(&7, s1).is_none(), "full: started again");
        assert!(cache.get(&9, s1).is_some());
    }
}

//! Who pays: the CSP registration model.
//!
//! For usage on day *d* from user subscription *S* on registration *R*:
//! *S* → the cloud tenant *T* owning *S* on *d* → the customer subscription mapped to *T*
//! on *R* on *d*. Without a mapping, the billing account is *R*'s **base subscription**
//! (a section per unmapped tenant); if nobody owns *S*, the usage is *unassigned* and goes
//! to the base subscription as well. Both links are effective-dated over half-open UTC day
//! ranges, so a tenant mapped on the 10th has its usage before the 10th on the base
//! invoice and from the 10th on its own.

use super::error::{BillingError, BillingResult};
use super::ids::{CloudTenantId, SubscriptionId};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

/// A value in effect over `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effective<V> {
    /// First day.
    pub from: NaiveDate,
    /// First day after; `None` while current.
    pub to: Option<NaiveDate>,
    /// The value.
    pub value: V,
}

impl<V> Effective<V> {
    /// Whether in effect on a day.
    pub fn covers(&self, day: NaiveDate) -> bool {
        day >= self.from && self.to.is_none_or(|to| day < to)
    }
}

/// Effective-dated assignments of values to keys, never overlapping per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline<K: Eq + Hash, V> {
    what: &'static str,
    by_key: HashMap<K, Vec<Effective<V>>>,
}

impl<K: Eq + Hash + Copy + fmt::Display, V: Clone> Timeline<K, V> {
    fn empty(what: &'static str) -> Self {
        Timeline {
            what,
            by_key: HashMap::new(),
        }
    }

    /// Adds an assignment; overlapping another of the same key is an error.
    pub fn insert(&mut self, key: K, from: NaiveDate, to: Option<NaiveDate>, value: V) -> BillingResult<()> {
        if let Some(end) = to {
            if end <= from {
                return Err(BillingError::EmptyRange {
                    from: from.to_string(),
                    to: end.to_string(),
                });
            }
        }
        let list = self.by_key.entry(key).or_default();
        for e in list.iter() {
            let overlaps = from < e.to.unwrap_or(NaiveDate::MAX) && e.from < to.unwrap_or(NaiveDate::MAX);
            if overlaps {
                return Err(BillingError::OverlappingAssignments {
                    what: self.what,
                    key: key.to_string(),
                    at: from.max(e.from).to_string(),
                });
            }
        }
        list.push(Effective { from, to, value });
        list.sort_by_key(|e| e.from);
        Ok(())
    }

    /// Adds every interval of a folded change log (see [`super::dated`]) for `key`.
    pub fn insert_dated(&mut self, key: K, log: &super::dated::Dated<Option<V>>) -> BillingResult<()>
    where
        V: PartialEq,
    {
        for e in log.intervals() {
            self.insert(key, e.from, e.to, e.value)?;
        }
        Ok(())
    }

    /// The value in effect for a key on a day.
    pub fn at(&self, key: &K, day: NaiveDate) -> Option<&V> {
        self.by_key
            .get(key)?
            .iter()
            .rev()
            .find(|e| e.covers(day))
            .map(|e| &e.value)
    }

    /// Every assignment of a key, by start.
    pub fn history(&self, key: &K) -> &[Effective<V>] {
        self.by_key.get(key).map(Vec::as_slice).unwrap_or_default()
    }

    /// Days in `[from, to)` on which any assignment of `key` starts or ends (where the
    /// resolution of that key can change).
    pub fn boundaries(&self, key: &K, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        self.history(key)
            .iter()
            .flat_map(|e| [Some(e.from), e.to])
            .flatten()
            .filter(move |d| *d > from && *d < to)
    }
}

/// Which cloud tenant owns each user subscription, over time.
pub type Ownerships = Timeline<SubscriptionId, CloudTenantId>;
/// Which customer subscription each cloud tenant is mapped to on one registration.
pub type Mappings = Timeline<CloudTenantId, SubscriptionId>;

/// An empty ownership timeline.
pub fn ownerships() -> Ownerships {
    Timeline::empty("ownerships")
}

/// An empty mapping timeline.
pub fn mappings() -> Mappings {
    Timeline::empty("mappings")
}

/// Whoever an invoice is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillingAccount {
    /// A customer (CSP) subscription mapped to a cloud tenant.
    Customer {
        /// The customer subscription.
        subscription: SubscriptionId,
        /// The tenant it is mapped to.
        tenant: CloudTenantId,
    },
    /// The registration's base subscription (usage nobody else claims).
    Base {
        /// The base subscription.
        subscription: SubscriptionId,
    },
}

impl BillingAccount {
    /// The subscription the invoice is addressed to.
    pub fn subscription(&self) -> SubscriptionId {
        match self {
            BillingAccount::Customer { subscription, .. } | BillingAccount::Base { subscription } => *subscription,
        }
    }

    /// Whether this is the base subscription.
    pub fn is_base(&self) -> bool {
        matches!(self, BillingAccount::Base { .. })
    }
}

/// The part of an invoice usage is listed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "tenant", rename_all = "snake_case")]
pub enum Section {
    /// A cloud tenant (the customer's own, or an unmapped one on the base invoice).
    Tenant(CloudTenantId),
    /// Usage of user subscriptions nobody owns (base invoice only).
    Unassigned,
}

/// The registration-level facts resolution needs.
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    /// The registration's base subscription.
    pub base_subscription: SubscriptionId,
    /// Owners of user subscriptions.
    pub ownerships: &'a Ownerships,
    /// Tenant → customer subscription mappings on this registration.
    pub mappings: &'a Mappings,
}

impl Resolver<'_> {
    /// Who pays for usage of `subscription` on `day`, and under which section.
    pub fn resolve(&self, subscription: SubscriptionId, day: NaiveDate) -> (BillingAccount, Section) {
        let base = BillingAccount::Base {
            subscription: self.base_subscription,
        };
        let Some(tenant) = self.ownerships.at(&subscription, day).copied() else {
            return (base, Section::Unassigned);
        };
        match self.mappings.at(&tenant, day) {
            Some(customer_subscription) => (
                BillingAccount::Customer {
                    subscription: *customer_subscription,
                    tenant,
                },
                Section::Tenant(tenant),
            ),
            None => (base, Section::Tenant(tenant)),
        }
    }

    /// Days in `[from, to)` where the resolution of `subscription` may change.
    pub fn boundaries(&self, subscription: SubscriptionId, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = self.ownerships.boundaries(&subscription, from, to).collect();
        let tenants: Vec<CloudTenantId> = self.ownerships.history(&subscription).iter().map(|e| e.value).collect();
        for t in tenants {
            days.extend(self.mappings.boundaries(&t, from, to));
        }
        days.sort();
        days.dedup();
        days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const BASE: SubscriptionId = SubscriptionId::from_u128(0xba5e);
    const S1: SubscriptionId = SubscriptionId::from_u128(1);
    const S2: SubscriptionId = SubscriptionId::from_u128(2);
    const T1: CloudTenantId = CloudTenantId::from_u128(11);
    const CS1: SubscriptionId = SubscriptionId::from_u128(101);
    const CS2: SubscriptionId = SubscriptionId::from_u128(102);

    #[test]
    fn a_tenant_mapped_on_the_10th_is_on_the_base_before_and_its_own_after() {
        let mut own = ownerships();
        own.insert(S1, day("2026-01-01"), None, T1).unwrap();
        let mut map = mappings();
        map.insert(T1, day("2026-01-10"), None, CS1).unwrap();
        let r = Resolver {
            base_subscription: BASE,
            ownerships: &own,
            mappings: &map,
        };
        assert_eq!(
            r.resolve(S1, day("2026-01-09")),
            (BillingAccount::Base { subscription: BASE }, Section::Tenant(T1))
        );
        assert_eq!(
            r.resolve(S1, day("2026-01-10")),
            (
                BillingAccount::Customer {
                    subscription: CS1,
                    tenant: T1
                },
                Section::Tenant(T1)
            )
        );
        assert_eq!(
            r.boundaries(S1, day("2026-01-01"), day("2026-02-01")),
            vec![day("2026-01-10")]
        );
    }

    #[test]
    fn an_unknown_subscription_is_unassigned_on_the_base() {
        let own = ownerships();
        let map = mappings();
        let r = Resolver {
            base_subscription: BASE,
            ownerships: &own,
            mappings: &map,
        };
        assert_eq!(
            r.resolve(S2, day("2026-01-05")),
            (BillingAccount::Base { subscription: BASE }, Section::Unassigned)
        );
    }

    #[test]
    fn remapping_replaces_the_customer_subscription_from_that_day() {
        use crate::billing::dated::Dated;
        let mut own = ownerships();
        own.insert(S1, day("2026-01-01"), None, T1).unwrap();
        // Mapped on the 1st, re-mapped on the 20th, unmapped on the 25th.
        let log = Dated::from_changes([
            (day("2026-01-01"), Some(CS1)),
            (day("2026-01-20"), Some(CS2)),
            (day("2026-01-25"), None),
        ]);
        let mut map = mappings();
        map.insert_dated(T1, &log).unwrap();
        let r = Resolver {
            base_subscription: BASE,
            ownerships: &own,
            mappings: &map,
        };
        assert_eq!(r.resolve(S1, day("2026-01-19")).0.subscription(), CS1);
        assert_eq!(r.resolve(S1, day("2026-01-20")).0.subscription(), CS2);
        assert_eq!(r.resolve(S1, day("2026-01-24")).0.subscription(), CS2);
        assert_eq!(
            r.resolve(S1, day("2026-01-25")),
            (BillingAccount::Base { subscription: BASE }, Section::Tenant(T1))
        );
        assert_eq!(map.history(&T1).len(), 2);
        assert_eq!(map.history(&T1)[0].to, Some(day("2026-01-20")));
        assert_eq!(
            r.boundaries(S1, day("2026-01-01"), day("2026-02-01")),
            vec![day("2026-01-20"), day("2026-01-25")]
        );
    }

    #[test]
    fn overlapping_assignments_are_refused() {
        let mut map = mappings();
        map.insert(T1, day("2026-01-01"), Some(day("2026-02-01")), CS1).unwrap();
        let err = map.insert(T1, day("2026-01-31"), None, CS2).unwrap_err();
        assert!(
            matches!(err, BillingError::OverlappingAssignments { what: "mappings", .. }),
            "{err}"
        );
        map.insert(T1, day("2026-02-01"), None, CS2).unwrap();
        assert!(map.insert(T1, day("2026-03-01"), Some(day("2026-03-01")), CS2).is_err());
    }
}

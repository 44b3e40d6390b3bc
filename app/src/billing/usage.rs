//! Usage records as the billing domain sees them: one hourly or daily aggregate of one
//! meter for one resource of one user subscription.

use super::ids::{MeterId, SubscriptionId};
use super::quantity::Quantity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A parsed, valid usage record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The user subscription on the stamp that emitted the usage.
    pub subscription_id: SubscriptionId,
    /// The meter.
    pub meter_id: MeterId,
    /// Start of the usage bucket (inclusive).
    pub usage_start: DateTime<Utc>,
    /// End of the usage bucket (exclusive, after the start).
    pub usage_end: DateTime<Utc>,
    /// Exact quantity in the meter's unit.
    pub quantity: Quantity,
    /// Fully qualified resource ID (`/subscriptions/…/resourceGroups/…/providers/…`).
    pub resource_uri: String,
    /// Region (`northwest`).
    pub location: String,
    /// Resource tags as received (JSON text or empty).
    pub tags: String,
    /// Additional info (VM size, image) normalised: `""` when absent, `"null"` or `null`.
    pub additional_info: String,
    /// When Azure Stack reported it, if the source says.
    pub reported_at: Option<DateTime<Utc>>,
}

impl UsageRecord {
    /// The resource URI as compared: ARM resource IDs are case-insensitive and arrive as
    /// both `/resourceGroups/` and `/resourcegroups/`, so they are compared lower-cased.
    pub fn resource_key(&self) -> String {
        self.resource_uri.to_lowercase()
    }

    /// The parts that identify a record. Azure's `id`/`name` are not unique (56 of 236 ids
    /// repeat in a recorded response), so identity is (user subscription, meter, usage
    /// start, usage end, resource URI compared case-insensitively, additional info).
    pub fn identity(&self) -> Identity<'_> {
        Identity {
            subscription_id: self.subscription_id,
            meter_id: self.meter_id,
            usage_start: self.usage_start.timestamp(),
            usage_end: self.usage_end.timestamp(),
            additional_info: &self.additional_info,
        }
    }
}

/// The identity of a usage record (with its resource key, see
/// [`UsageRecord::resource_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity<'a> {
    /// User subscription.
    pub subscription_id: SubscriptionId,
    /// Meter.
    pub meter_id: MeterId,
    /// Usage start (Unix seconds).
    pub usage_start: i64,
    /// Usage end (Unix seconds).
    pub usage_end: i64,
    /// Normalised additional info.
    pub additional_info: &'a str,
}

/// Normalises `tags`/`additionalInfo` values: JSON `null`, the string `"null"` and the
/// empty string all mean "none" and become `""`; anything else is kept trimmed.
pub fn normalise_info(raw: Option<&str>) -> String {
    match raw.map(str::trim) {
        None | Some("") | Some("null") => String::new(),
        Some(text) => text.to_owned(),
    }
}

/// The resource group a resource URI names (`/subscriptions/…/resourceGroups/{rg}/…`,
/// any case), as written; `None` when it names none.
pub fn resource_group(resource_uri: &str) -> Option<&str> {
    let mut parts = resource_uri.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourcegroups") {
            return parts.next().filter(|rg| !rg.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(uri: &str, info: &str) -> UsageRecord {
        UsageRecord {
            subscription_id: SubscriptionId::parse("1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4").unwrap(),
            meter_id: MeterId::parse("9CD92D4C-BAFD-4492-B278-BEDC2DE8232A").unwrap(),
            usage_start: "2019-12-10T18:00:00+00:00".parse().unwrap(),
            usage_end: "2019-12-10T19:00:00Z".parse().unwrap(),
            quantity: Quantity::parse("2.0").unwrap(),
            resource_uri: uri.into(),
            location: "northwest".into(),
            tags: String::new(),
            additional_info: info.into(),
            reported_at: None,
        }
    }

    #[test]
    fn identity_ignores_resource_uri_case_but_not_additional_info() {
        let a = record(
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/VM1",
            "",
        );
        let b = record(
            "/subscriptions/x/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1",
            "",
        );
        let c = record(&a.resource_uri, "{\"ServiceType\":\"Standard_F2s\"}");
        assert_eq!((a.identity(), a.resource_key()), (b.identity(), b.resource_key()));
        assert_ne!(a.identity(), c.identity());
    }

    #[test]
    fn empty_and_null_info_are_the_same_none() {
        assert_eq!(normalise_info(None), "");
        assert_eq!(normalise_info(Some("")), "");
        assert_eq!(normalise_info(Some("null")), "");
        assert_eq!(normalise_info(Some(" {\"RG\":\"rg\"} ")), "{\"RG\":\"rg\"}");
    }

    #[test]
    fn the_resource_group_is_read_from_a_resource_uri_in_any_case() {
        assert_eq!(
            resource_group("/subscriptions/x/resourceGroups/Web-Prod/providers/Microsoft.Compute/virtualMachines/vm1"),
            Some("Web-Prod")
        );
        assert_eq!(
            resource_group("/subscriptions/x/resourcegroups/rg/providers/p"),
            Some("rg")
        );
        assert_eq!(resource_group("/subscriptions/x/providers/Microsoft.Storage"), None);
        assert_eq!(resource_group("/subscriptions/x/resourceGroups/"), None);
        assert_eq!(resource_group(""), None);
    }
}

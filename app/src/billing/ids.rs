//! Identifiers that arrive as GUIDs: meters, cloud tenants (Azure AD directories) and
//! subscriptions (customer, base and user subscriptions).
//!
//! Azure Stack sends the same meter ID in upper and lower case within one response, and
//! the usage FAQ publishes two meters without hyphens, so parsing accepts 32 hex digits
//! in any case, with or without the four hyphens (and optional braces). Everything is
//! normalised one way: lower case with hyphens (`6dab500f-a4fd-49c4-956d-229bb9c8c793`),
//! which is also how identifiers are stored and shown. Internally a GUID is a `u128`, so
//! comparing and hashing them in the rating loop costs nothing.

use super::error::{BillingError, BillingResult};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Parses 32 hex digits, optionally in 8-4-4-4-12 groups and optionally in braces.
fn parse_guid(raw: &str) -> Option<u128> {
    let s = raw.trim();
    let s = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(s);
    let bytes = s.as_bytes();
    let hyphenated = match bytes.len() {
        32 => false,
        36 => true,
        _ => return None,
    };
    let mut value: u128 = 0;
    let mut digits = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if hyphenated && matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(nibble);
        digits += 1;
    }
    (digits == 32).then_some(value)
}

fn write_guid(value: u128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let hex = format!("{value:032x}");
    write!(
        f,
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

macro_rules! guid_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        impl $name {
            /// Parses any accepted GUID spelling; the one fallible constructor.
            pub fn parse(raw: &str) -> BillingResult<Self> {
                parse_guid(raw).map(Self).ok_or_else(|| BillingError::InvalidGuid {
                    what: $what,
                    raw: raw.to_owned(),
                })
            }

            /// Builds an identifier from its 128-bit value (used by generators and tests).
            pub const fn from_u128(value: u128) -> Self {
                Self(value)
            }

            /// The 128-bit value.
            pub const fn as_u128(self) -> u128 {
                self.0
            }

            /// The 32 lower-case hex digits without hyphens (the form matched against
            /// price sheets in the Azure Stack guidance).
            pub fn compact(self) -> String {
                format!("{:032x}", self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_guid(self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                write_guid(self.0, f)?;
                write!(f, ")")
            }
        }

        impl FromStr for $name {
            type Err = BillingError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = std::borrow::Cow::<str>::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

guid_newtype!(
    /// A usage meter (Azure Stack calls it "meter ID" or "resource ID").
    MeterId,
    "meter ID"
);
guid_newtype!(
    /// An Azure AD (Entra ID) directory: the cloud tenant a customer owns.
    CloudTenantId,
    "cloud tenant ID"
);
guid_newtype!(
    /// An Azure subscription: a registration's base subscription, a customer (CSP)
    /// subscription, or a user subscription on the stamp.
    SubscriptionId,
    "subscription ID"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_ids_in_any_published_spelling_normalise_to_one_form() {
        let forms = [
            "6DAB500F-A4FD-49C4-956D-229BB9C8C793",
            "6dab500f-a4fd-49c4-956d-229bb9c8c793",
            "6dab500fa4fd49c4956d229bb9c8c793",
            "6DAB500FA4FD49C4956D229BB9C8C793",
            "{6dab500f-a4fd-49c4-956d-229bb9c8c793}",
            "  6dab500f-a4fd-49c4-956d-229bb9c8c793 ",
        ];
        for form in forms {
            let id = MeterId::parse(form).unwrap();
            assert_eq!(id.to_string(), "6dab500f-a4fd-49c4-956d-229bb9c8c793", "{form}");
            assert_eq!(id.compact(), "6dab500fa4fd49c4956d229bb9c8c793");
        }
    }

    #[test]
    fn the_unhyphenated_network_meter_from_the_faq_parses() {
        let id = MeterId::parse("F271A8A388C44D93956A063E1D2FA80B").unwrap();
        assert_eq!(id.to_string(), "f271a8a3-88c4-4d93-956a-063e1d2fa80b");
    }

    #[test]
    fn malformed_guids_are_refused_with_the_raw_text() {
        for bad in [
            "",
            "meterID1",
            "sub1.1",
            "6dab500f-a4fd-49c4-956d-229bb9c8c79",
            "6dab500f-a4fd-49c4-956d-229bb9c8c7933",
            "6dab500f_a4fd_49c4_956d_229bb9c8c793",
            "6dab500f-a4fd-49c4-956d229bb9c8c7933",
            "gdab500f-a4fd-49c4-956d-229bb9c8c793",
            "6dab500-fa4fd-49c4-956d-229bb9c8c793",
        ] {
            let err = SubscriptionId::parse(bad).unwrap_err();
            assert_eq!(
                err,
                BillingError::InvalidGuid {
                    what: "subscription ID",
                    raw: bad.to_owned()
                }
            );
        }
    }

    #[test]
    fn identifiers_round_trip_through_serde_as_canonical_text() {
        let id = CloudTenantId::parse("DBAB3982796F4D039908044C08AEF8A2").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"dbab3982-796f-4d03-9908-044c08aef8a2\"");
        let back: CloudTenantId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<CloudTenantId>("\"tId1\"").is_err());
    }
}

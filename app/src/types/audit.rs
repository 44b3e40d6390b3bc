//! The audit log as the console and `/api/v1/audit` show it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The audit log's filter and page. Every field is text as typed; the service reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditQuery {
    /// What was acted on: a kind (`customer`, `cloud_tenant`, `user`) or one thing
    /// (`customer:12`, `cloud_tenant:dbab3982-…`).
    #[serde(default)]
    pub entity: String,
    /// Who: an actor code (`user:3`, `token:2`, `cli`) or a user's email / token's name.
    #[serde(default)]
    pub actor: String,
    /// An action (`mapping.set`) or a family of them (`mapping`).
    #[serde(default)]
    pub action: String,
    /// From this UTC day (`YYYY-MM-DD`) or instant (RFC 3339) on.
    #[serde(default)]
    pub since: String,
    /// Up to this UTC day (inclusive) or instant (exclusive).
    #[serde(default)]
    pub until: String,
    /// Where the previous page stopped (opaque).
    #[serde(default)]
    pub cursor: String,
    /// Page size (capped); 0 means the default.
    #[serde(default)]
    pub limit: i64,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntryView {
    /// Id (recording order).
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Actor code: `user:3`, `token:2`, `cli`.
    pub actor: String,
    /// The user's email or the token's name at the time.
    pub actor_label: String,
    /// Action code.
    pub action: String,
    /// What was acted on.
    pub subject: String,
    /// The state before the change, when the entry records one.
    pub before: Option<serde_json::Value>,
    /// The state after it.
    pub after: Option<serde_json::Value>,
    /// Every detail recorded (before and after included).
    pub details: serde_json::Value,
    /// The client's address, for changes made over HTTP.
    pub client_addr: String,
}

/// A page of the audit log, newest first, with the cursor of the next (older) page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// Entries.
    pub items: Vec<AuditEntryView>,
    /// The next page's cursor, if there are older entries.
    pub next_cursor: Option<String>,
}

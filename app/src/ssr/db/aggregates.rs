//! Stored usage records by reported time: what the Azure-compatible usage endpoints serve
//! (services::usage_aggregates).
//!
//! Records are read in the order (reported_at, id), the `usage_records_reported` index's
//! order, and a page continues after the last position it served. That position is split
//! into two index seeks — the later records at the same reported time, the later reported
//! times — so a page costs the same at the millionth record as at the first. The index
//! ends with the user subscription, so a subscription filter is checked inside it.

use super::{sql, AsExecutor, DbResult, Engine, Params};
use sqlx::FromRow;

/// A stored record with what the usage API's shape needs.
#[derive(Debug, Clone, FromRow)]
pub struct ReportedRecord {
    /// Row id (the last part of a position).
    pub id: i64,
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Reported time, Unix seconds.
    pub reported_at: i64,
    /// The user subscription's GUID.
    pub subscription_guid: String,
    /// Meter.
    pub meter_id: String,
    /// Resource row.
    pub resource_id: i64,
    /// The resource's URI as first received.
    pub resource_uri: String,
    /// Its location.
    pub location: String,
    /// Usage start, Unix seconds.
    pub usage_start_at: i64,
    /// Usage end, Unix seconds.
    pub usage_end_at: i64,
    /// Exact quantity.
    pub quantity: String,
    /// Tags as received.
    pub tags: String,
    /// Additional info as received.
    pub additional_info: String,
}

/// A place in the order: (reported_at, id).
pub type Position = (i64, i64);

/// Which records: reported in `[from_at, to_at)`, of these registrations' user
/// subscriptions, and when `subscriptions` is given, of those rows only.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// First reported instant, inclusive.
    pub from_at: i64,
    /// Last reported instant, exclusive.
    pub to_at: i64,
    /// Registrations.
    pub registrations: &'a [i64],
    /// User subscription rows, or all of the registrations'.
    pub subscriptions: Option<&'a [i64]>,
}

/// Up to `limit` records of a window after `after` (from its start when `None`), in order.
pub async fn page(
    c: &mut impl AsExecutor,
    w: &Window<'_>,
    after: Option<Position>,
    limit: usize,
) -> DbResult<Vec<ReportedRecord>> {
    let mut out: Vec<ReportedRecord> = Vec::new();
    if w.registrations.is_empty() || w.subscriptions.is_some_and(|s| s.is_empty()) || limit == 0 {
        return Ok(out);
    }
    // The seeks, in order; each is one index range.
    let parts: Vec<(&str, Vec<i64>)> = match after {
        None => vec![("u.reported_at >= {} AND u.reported_at < {}", vec![w.from_at, w.to_at])],
        Some((r, i)) => vec![
            ("u.reported_at = {} AND u.id > {}", vec![r, i]),
            ("u.reported_at > {} AND u.reported_at < {}", vec![r, w.to_at]),
        ],
    };
    for (condition, binds) in parts {
        let want = limit - out.len();
        if want == 0 {
            break;
        }
        let mut p = Params::new(c.engine());
        let mut condition = condition.to_owned();
        for _ in &binds {
            condition = condition.replacen("{}", &p.placeholder(), 1);
        }
        let registrations = p.list(w.registrations.len());
        let subscriptions = w
            .subscriptions
            .map(|s| format!(" AND u.user_subscription_id IN ({})", p.list(s.len())))
            .unwrap_or_default();
        // SQLite would rather walk a subscription's records by usage time when one is named
        // (and sort them); the reported-time index is the one that keeps pages flat.
        let hint = match c.engine() {
            Engine::Sqlite => " INDEXED BY usage_records_reported",
            Engine::Postgres => "",
        };
        let q = format!(
            "SELECT u.id, u.user_subscription_id, u.reported_at, s.subscription_id AS subscription_guid, u.meter_id, \
             u.resource_id, r.resource_uri, r.location, u.usage_start_at, u.usage_end_at, u.quantity, u.tags, \
             u.additional_info FROM usage_records u{hint} \
             JOIN user_subscriptions s ON s.id = u.user_subscription_id \
             JOIN usage_resources r ON r.id = u.resource_id \
             WHERE {condition} AND s.registration_id IN ({registrations}){subscriptions} \
             ORDER BY u.reported_at, u.id LIMIT {want}"
        );
        let rows: Vec<ReportedRecord> = sql!(c, |e| {
            let mut query = sqlx::query_as::<_, ReportedRecord>(&q);
            for b in &binds {
                query = query.bind(*b);
            }
            for r in w.registrations {
                query = query.bind(*r);
            }
            for s in w.subscriptions.unwrap_or_default() {
                query = query.bind(*s);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// The user subscription rows with this GUID (canonical, lower-case), with their
/// registration.
pub async fn subscriptions_by_guid(c: &mut impl AsExecutor, guid: &str) -> DbResult<Vec<(i64, i64)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT id, registration_id FROM user_subscriptions WHERE subscription_id = $1 ORDER BY id"
    )
    .bind(guid)
    .fetch_all(e)
    .await)?)
}

/// Registrations whose provider subscription (or, when they have none, base subscription)
/// is this GUID (any case).
pub async fn registrations_of_provider(c: &mut impl AsExecutor, guid: &str) -> DbResult<Vec<i64>> {
    let rows: Vec<(i64,)> = sql!(c, |e| {
        sqlx::query_as(
        "SELECT id FROM registrations WHERE lower(COALESCE(provider_subscription_id, base_subscription_id)) = lower($1) \
         ORDER BY id"
    )
    .bind(guid)
    .fetch_all(e)
    .await
    })?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The days a tenant owned some user subscription rows: `(row, first day, end day or None)`.
pub async fn owner_intervals(
    c: &mut impl AsExecutor,
    cloud_tenant_id: i64,
    subscriptions: &[i64],
) -> DbResult<Vec<(i64, chrono::NaiveDate, Option<chrono::NaiveDate>)>> {
    if subscriptions.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::new(c.engine());
    let tenant = p.placeholder();
    let q = format!(
        "SELECT user_subscription_id, effective_on, ended_on FROM user_subscription_owners \
         WHERE cloud_tenant_id = {tenant} AND user_subscription_id IN ({}) ORDER BY user_subscription_id, effective_on",
        p.list(subscriptions.len())
    );
    Ok(sql!(c, |e| {
        let mut query = sqlx::query_as(&q).bind(cloud_tenant_id);
        for s in subscriptions {
            query = query.bind(*s);
        }
        query.fetch_all(e).await
    })?)
}

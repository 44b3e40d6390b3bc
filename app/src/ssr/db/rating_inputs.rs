//! The queries that load a billing period's inputs for rating: mappings, owners and daily
//! usage of a registration (a fixed number of statements, however many accounts) or of one
//! cloud tenant (index ranges over that tenant's rows only).

use super::fixed::ExactSum;
use super::{sql, AsExecutor, DbResult, Params};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A mapping interval with its tenant's directory GUID.
#[derive(Debug, Clone, FromRow)]
pub struct MappingInterval {
    /// Registration.
    pub registration_id: i64,
    /// Tenant GUID.
    pub tenant_guid: String,
    /// Customer subscription GUID.
    pub subscription_id: String,
    /// First day.
    pub effective_on: NaiveDate,
    /// First day after.
    pub ended_on: Option<NaiveDate>,
}

/// An ownership interval with the subscription's and the owner's GUIDs.
#[derive(Debug, Clone, FromRow)]
pub struct OwnerInterval {
    /// Registration.
    pub registration_id: i64,
    /// User subscription row.
    pub user_subscription_id: i64,
    /// User subscription GUID.
    pub subscription_guid: String,
    /// Owner's tenant GUID.
    pub tenant_guid: String,
    /// First day.
    pub effective_on: NaiveDate,
    /// First day after.
    pub ended_on: Option<NaiveDate>,
}

/// One daily rollup with its user subscription's GUID.
#[derive(Debug, Clone, FromRow)]
pub struct DailyUsage {
    /// User subscription row.
    pub user_subscription_id: i64,
    /// User subscription GUID.
    pub subscription_guid: String,
    /// Meter.
    pub meter_id: String,
    /// Day.
    pub usage_on: NaiveDate,
    /// Whole units.
    pub quantity_whole: i64,
    /// 10^-18 units.
    pub quantity_atto: i64,
    /// 10^-28 units.
    pub quantity_frac: i64,
    /// Records summed.
    pub record_count: i64,
}

impl DailyUsage {
    /// The exact quantity.
    pub fn quantity(&self) -> ExactSum {
        ExactSum::from_parts(self.quantity_whole, self.quantity_atto, self.quantity_frac)
    }
}

/// Mapping intervals of a registration overlapping `[from, to)`.
pub async fn registration_mappings(
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<MappingInterval>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingInterval>(
        "SELECT cs.registration_id, t.tenant_id AS tenant_guid, cs.subscription_id, cs.effective_on, cs.ended_on \
         FROM customer_subscriptions cs JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id \
         WHERE cs.registration_id = $1 AND cs.effective_on < $3 AND (cs.ended_on IS NULL OR cs.ended_on > $2) \
         ORDER BY t.tenant_id, cs.effective_on"
    )
    .bind(registration_id)
    .bind(from)
    .bind(to)
    .fetch_all(e)
    .await)?)
}

/// Mapping intervals of one tenant (every registration) overlapping `[from, to)`.
pub async fn tenant_mappings(
    c: &mut impl AsExecutor,
    cloud_tenant_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<MappingInterval>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingInterval>(
        "SELECT cs.registration_id, t.tenant_id AS tenant_guid, cs.subscription_id, cs.effective_on, cs.ended_on \
         FROM customer_subscriptions cs JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id \
         WHERE cs.cloud_tenant_id = $1 AND cs.effective_on < $3 AND (cs.ended_on IS NULL OR cs.ended_on > $2) \
         ORDER BY cs.registration_id, cs.effective_on"
    )
    .bind(cloud_tenant_id)
    .bind(from)
    .bind(to)
    .fetch_all(e)
    .await)?)
}

const OWNER_COLUMNS: &str = "us.registration_id, o.user_subscription_id, us.subscription_id AS subscription_guid, \
     t.tenant_id AS tenant_guid, o.effective_on, o.ended_on";

/// Ownership intervals of a registration's user subscriptions overlapping `[from, to)`.
pub async fn registration_owners(
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<OwnerInterval>> {
    let q = format!(
        "SELECT {OWNER_COLUMNS} FROM user_subscription_owners o \
         JOIN user_subscriptions us ON us.id = o.user_subscription_id \
         JOIN cloud_tenants t ON t.id = o.cloud_tenant_id \
         WHERE us.registration_id = $1 AND o.effective_on < $3 AND (o.ended_on IS NULL OR o.ended_on > $2) \
         ORDER BY o.user_subscription_id, o.effective_on"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, OwnerInterval>(&q)
        .bind(registration_id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

/// Ownership intervals of the user subscriptions a tenant owned at some point of `[from, to)`.
pub async fn tenant_owners(
    c: &mut impl AsExecutor,
    cloud_tenant_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<OwnerInterval>> {
    let q = format!(
        "SELECT {OWNER_COLUMNS} FROM user_subscription_owners o \
         JOIN user_subscriptions us ON us.id = o.user_subscription_id \
         JOIN cloud_tenants t ON t.id = o.cloud_tenant_id \
         WHERE o.cloud_tenant_id = $1 AND o.effective_on < $3 AND (o.ended_on IS NULL OR o.ended_on > $2) \
         ORDER BY o.user_subscription_id, o.effective_on"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, OwnerInterval>(&q)
        .bind(cloud_tenant_id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

const DAILY_COLUMNS: &str = "d.user_subscription_id, us.subscription_id AS subscription_guid, d.meter_id, d.usage_on, \
     d.quantity_whole, d.quantity_atto, d.quantity_frac, d.record_count";

/// The daily usage of a registration in `[from, to)`: the rollups' day range (their
/// primary key starts with the day) joined to the registration's subscriptions.
pub async fn registration_daily(
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<DailyUsage>> {
    let q = format!(
        "SELECT {DAILY_COLUMNS} FROM usage_daily d JOIN user_subscriptions us ON us.id = d.user_subscription_id \
         WHERE d.usage_on >= $2 AND d.usage_on < $3 AND us.registration_id = $1"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, DailyUsage>(&q)
        .bind(registration_id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

/// The daily usage of the given user subscriptions in `[from, to)`: one index range per
/// subscription (`usage_daily_subscription`), never the other customers' rows.
pub async fn subscriptions_daily(
    c: &mut impl AsExecutor,
    user_subscription_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<DailyUsage>> {
    let mut out = Vec::new();
    for chunk in user_subscription_ids.chunks(500) {
        let mut p = Params::new(c.engine());
        let q = format!(
            "SELECT {DAILY_COLUMNS} FROM usage_daily d JOIN user_subscriptions us ON us.id = d.user_subscription_id \
             WHERE d.user_subscription_id IN ({}) AND d.usage_on >= {} AND d.usage_on < {}",
            p.list(chunk.len()),
            p.placeholder(),
            p.placeholder()
        );
        let rows: Vec<DailyUsage> = sql!(c, |e| {
            let mut query = sqlx::query_as::<_, DailyUsage>(&q);
            for id in chunk {
                query = query.bind(*id);
            }
            query.bind(from).bind(to).fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// The customers owning the given tenant GUIDs: `(tenant GUID, customer id, name)` —
/// or, with `None`, every customer.
pub async fn customers_by_tenant(
    c: &mut impl AsExecutor,
    tenant_guids: Option<&[String]>,
) -> DbResult<Vec<(String, i64, String)>> {
    let Some(guids) = tenant_guids else {
        return Ok(sql!(c, |e| sqlx::query_as(
            "SELECT t.tenant_id, c.id, c.name FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id"
        )
        .fetch_all(e)
        .await)?);
    };
    let mut out = Vec::new();
    for chunk in guids.chunks(500) {
        let q = format!(
            "SELECT t.tenant_id, c.id, c.name FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id \
             WHERE t.tenant_id IN ({})",
            Params::new(c.engine()).list(chunk.len())
        );
        let rows: Vec<(String, i64, String)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for g in chunk {
                query = query.bind(g);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

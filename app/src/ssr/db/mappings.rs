//! Customer subscription mappings: cloud tenant -> CSP subscription per registration,
//! effective-dated, with history.

use super::{sql, AsExecutor, DbResult};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A `customer_subscriptions` row with its registration's name.
#[derive(Debug, Clone, FromRow)]
pub struct MappingRow {
    /// Id.
    pub id: i64,
    /// Registration.
    pub registration_id: i64,
    /// Registration name.
    pub registration_name: String,
    /// Internal cloud tenant id.
    pub cloud_tenant_id: i64,
    /// The CSP subscription (canonical GUID).
    pub subscription_id: String,
    /// First day in effect.
    pub effective_on: NaiveDate,
    /// First day no longer in effect (`None`: current).
    pub ended_on: Option<NaiveDate>,
}

const COLUMNS: &str = "cs.id, cs.registration_id, r.name AS registration_name, cs.cloud_tenant_id, \
                       cs.subscription_id, cs.effective_on, cs.ended_on";

/// The current mapping of a tenant on a registration.
pub async fn find_current_mapping(
    c: &mut impl AsExecutor,
    registration_id: i64,
    cloud_tenant_id: i64,
) -> DbResult<Option<MappingRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customer_subscriptions cs JOIN registrations r ON r.id = cs.registration_id \
         WHERE cs.registration_id = $1 AND cs.cloud_tenant_id = $2 AND cs.ended_on IS NULL"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingRow>(&q)
        .bind(registration_id)
        .bind(cloud_tenant_id)
        .fetch_optional(e)
        .await)?)
}

/// SQL condition: the mapping `cs` (a `customer_subscriptions` row) is in effect on the
/// day bound as `$1` (half-open `[effective_on, ended_on)`).
pub const IN_EFFECT_ON_1: &str = "cs.effective_on <= $1 AND (cs.ended_on IS NULL OR cs.ended_on > $1)";

/// A recorded mapping change.
#[derive(Debug, Clone, FromRow)]
pub struct MappingChangeRow {
    /// Id (recording order).
    pub id: i64,
    /// Registration.
    pub registration_id: i64,
    /// Registration name.
    pub registration_name: String,
    /// Internal cloud tenant id.
    pub cloud_tenant_id: i64,
    /// The customer subscription from that day; `None`: unmapped.
    pub subscription_id: Option<String>,
    /// First day.
    pub effective_on: NaiveDate,
    /// Unix seconds.
    pub recorded_at: i64,
    /// Who (`user:12`, `token:3`, `cli`, `system`).
    pub actor: String,
    /// Their email or name then.
    pub actor_label: String,
    /// Where it came from (`console`, `api`, `azure`, `csv`, `cli`, `demo`, `migration`).
    pub source: String,
}

/// A mapping change to record.
#[derive(Debug, Clone)]
pub struct NewMappingChange<'a> {
    /// Registration.
    pub registration_id: i64,
    /// Internal cloud tenant id.
    pub cloud_tenant_id: i64,
    /// Canonical customer subscription GUID; `None` unmaps.
    pub subscription_id: Option<&'a str>,
    /// First day.
    pub effective_on: NaiveDate,
    /// `user:12`, …
    pub actor: &'a str,
    /// Email or name.
    pub actor_label: &'a str,
    /// Where it came from.
    pub source: &'a str,
}

/// Appends a change to the log.
pub async fn insert_mapping_change(c: &mut impl AsExecutor, m: &NewMappingChange<'_>, now: i64) -> DbResult<i64> {
    let q =
        "INSERT INTO mapping_changes (registration_id, cloud_tenant_id, subscription_id, effective_on, recorded_at, \
             actor, actor_label, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(m.registration_id)
        .bind(m.cloud_tenant_id)
        .bind(m.subscription_id)
        .bind(m.effective_on)
        .bind(now)
        .bind(m.actor)
        .bind(m.actor_label)
        .bind(m.source)
        .fetch_one(e)
        .await)?)
}

const CHANGE_COLUMNS: &str = "m.id, m.registration_id, r.name AS registration_name, m.cloud_tenant_id, \
     m.subscription_id, m.effective_on, m.recorded_at, m.actor, m.actor_label, m.source";

/// A tenant's changes on a registration in recording order (what the fold reads).
pub async fn list_mapping_changes(
    c: &mut impl AsExecutor,
    registration_id: i64,
    cloud_tenant_id: i64,
) -> DbResult<Vec<MappingChangeRow>> {
    let q = format!(
        "SELECT {CHANGE_COLUMNS} FROM mapping_changes m JOIN registrations r ON r.id = m.registration_id \
         WHERE m.registration_id = $1 AND m.cloud_tenant_id = $2 ORDER BY m.id"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingChangeRow>(&q)
        .bind(registration_id)
        .bind(cloud_tenant_id)
        .fetch_all(e)
        .await)?)
}

/// Every change of a tenant on every registration, newest recorded first (its history).
pub async fn list_tenant_mapping_changes(
    c: &mut impl AsExecutor,
    cloud_tenant_id: i64,
) -> DbResult<Vec<MappingChangeRow>> {
    let q = format!(
        "SELECT {CHANGE_COLUMNS} FROM mapping_changes m JOIN registrations r ON r.id = m.registration_id \
         WHERE m.cloud_tenant_id = $1 ORDER BY m.id DESC"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingChangeRow>(&q)
        .bind(cloud_tenant_id)
        .fetch_all(e)
        .await)?)
}

/// Binds a customer subscription to a tenant on a registration. Returns the tenant it is
/// already bound to when that is another one (the caller refuses the change).
pub async fn bind_subscription(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_id: &str,
    cloud_tenant_id: i64,
) -> DbResult<Option<i64>> {
    sql!(c, |e| sqlx::query(
        "INSERT INTO customer_subscription_tenants (registration_id, subscription_id, cloud_tenant_id) \
         VALUES ($1, $2, $3) ON CONFLICT (registration_id, subscription_id) DO NOTHING"
    )
    .bind(registration_id)
    .bind(subscription_id)
    .bind(cloud_tenant_id)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    let bound: i64 = sql!(c, |e| {
        sqlx::query_scalar(
        "SELECT cloud_tenant_id FROM customer_subscription_tenants WHERE registration_id = $1 AND subscription_id = $2"
    )
    .bind(registration_id)
    .bind(subscription_id)
    .fetch_one(e)
    .await
    })?;
    Ok((bound != cloud_tenant_id).then_some(bound))
}

/// Releases a tenant's bindings that no interval uses any more (a mistaken mapping
/// replaced the same day), so another tenant may take the subscription.
pub async fn release_unused_bindings(
    c: &mut impl AsExecutor,
    registration_id: i64,
    cloud_tenant_id: i64,
) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM customer_subscription_tenants WHERE registration_id = $1 AND cloud_tenant_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM customer_subscriptions cs WHERE cs.registration_id = $1 \
         AND cs.subscription_id = customer_subscription_tenants.subscription_id)"
    )
    .bind(registration_id)
    .bind(cloud_tenant_id)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces a tenant's mapping intervals on a registration with those folded from its
/// change log: `(customer subscription, first day, first day after)`. Every subscription
/// must be bound to this tenant first ([`bind_subscription`]); the schema refuses others.
pub async fn replace_intervals(
    c: &mut impl AsExecutor,
    registration_id: i64,
    cloud_tenant_id: i64,
    intervals: &[(String, NaiveDate, Option<NaiveDate>)],
    now: i64,
) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM customer_subscriptions WHERE registration_id = $1 AND cloud_tenant_id = $2"
    )
    .bind(registration_id)
    .bind(cloud_tenant_id)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    for (subscription, from, to) in intervals {
        sql!(c, |e| sqlx::query(
            "INSERT INTO customer_subscriptions (registration_id, cloud_tenant_id, subscription_id, effective_on, \
             ended_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(registration_id)
        .bind(cloud_tenant_id)
        .bind(subscription)
        .bind(*from)
        .bind(*to)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Every mapping of a tenant (current and past), newest first.
pub async fn list_mappings_of_tenant(c: &mut impl AsExecutor, cloud_tenant_id: i64) -> DbResult<Vec<MappingRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customer_subscriptions cs JOIN registrations r ON r.id = cs.registration_id \
         WHERE cs.cloud_tenant_id = $1 ORDER BY cs.effective_on DESC, cs.id DESC"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingRow>(&q)
        .bind(cloud_tenant_id)
        .fetch_all(e)
        .await)?)
}

/// Every mapping on a registration overlapping `[from, to)` (for rating a period).
pub async fn list_mappings_overlapping(
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<MappingRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customer_subscriptions cs JOIN registrations r ON r.id = cs.registration_id \
         WHERE cs.registration_id = $1 AND cs.effective_on < $3 AND (cs.ended_on IS NULL OR cs.ended_on > $2) \
         ORDER BY cs.cloud_tenant_id, cs.effective_on"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingRow>(&q)
        .bind(registration_id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

/// A mapping in effect on a day with its tenant and customer, for the registration-wide
/// table.
#[derive(Debug, Clone, FromRow)]
pub struct MappingListRow {
    /// Registration name.
    pub registration_name: String,
    /// The tenant's GUID.
    pub tenant_guid: String,
    /// Its customer.
    pub customer_id: Option<i64>,
    /// That customer's name.
    pub customer_name: Option<String>,
    /// The customer subscription.
    pub subscription_id: String,
    /// First day of the interval.
    pub effective_on: NaiveDate,
    /// First day no longer in effect.
    pub ended_on: Option<NaiveDate>,
}

/// One page of the mappings in effect on `day` (on one registration or all), by
/// registration and customer name, and how many there are.
pub async fn list_in_effect(
    c: &mut impl AsExecutor,
    registration_id: Option<i64>,
    day: NaiveDate,
    offset: i64,
    limit: i64,
) -> DbResult<(Vec<MappingListRow>, i64)> {
    let from = format!(
        "FROM customer_subscriptions cs JOIN registrations r ON r.id = cs.registration_id \
         JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id LEFT JOIN customers cu ON cu.cloud_tenant_id = t.id \
         WHERE {IN_EFFECT_ON_1} AND ($2 < 0 OR cs.registration_id = $2)"
    );
    let count_q = format!("SELECT COUNT(*) {from}");
    let page_q = format!(
        "SELECT r.name AS registration_name, t.tenant_id AS tenant_guid, cu.id AS customer_id, \
         cu.name AS customer_name, cs.subscription_id, cs.effective_on, cs.ended_on {from} \
         ORDER BY r.name, cu.name, t.tenant_id LIMIT $3 OFFSET $4"
    );
    let reg = registration_id.unwrap_or(-1);
    let total: i64 = sql!(c, |e| sqlx::query_scalar(&count_q)
        .bind(day)
        .bind(reg)
        .fetch_one(e)
        .await)?;
    let rows = sql!(c, |e| sqlx::query_as::<_, MappingListRow>(&page_q)
        .bind(day)
        .bind(reg)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?;
    Ok((rows, total))
}

/// Every mapping interval in effect on `day` or starting after it (on one registration or
/// all), by registration, tenant and day: what a re-import must reproduce.
pub async fn list_current_and_later(
    c: &mut impl AsExecutor,
    registration_id: Option<i64>,
    day: NaiveDate,
) -> DbResult<Vec<MappingListRow>> {
    let q = "SELECT r.name AS registration_name, t.tenant_id AS tenant_guid, cu.id AS customer_id, \
             cu.name AS customer_name, cs.subscription_id, cs.effective_on, cs.ended_on \
             FROM customer_subscriptions cs JOIN registrations r ON r.id = cs.registration_id \
             JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id LEFT JOIN customers cu ON cu.cloud_tenant_id = t.id \
             WHERE (cs.ended_on IS NULL OR cs.ended_on > $1) AND ($2 < 0 OR cs.registration_id = $2) \
             ORDER BY r.name, t.tenant_id, cs.effective_on";
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingListRow>(q)
        .bind(day)
        .bind(registration_id.unwrap_or(-1))
        .fetch_all(e)
        .await)?)
}

/// The customer subscriptions in effect on `day` on a registration whose GUID sorts after
/// `after`, by GUID: `(customer subscription, tenant GUID)` (the Azure-compatible list).
pub async fn list_customer_subscriptions(
    c: &mut impl AsExecutor,
    registration_id: i64,
    day: NaiveDate,
    after: &str,
    limit: i64,
) -> DbResult<Vec<(String, String)>> {
    let q = format!(
        "SELECT cs.subscription_id, t.tenant_id FROM customer_subscriptions cs \
         JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id \
         WHERE {IN_EFFECT_ON_1} AND cs.registration_id = $2 AND cs.subscription_id > $3 \
         ORDER BY cs.subscription_id LIMIT $4"
    );
    Ok(sql!(c, |e| sqlx::query_as(&q)
        .bind(day)
        .bind(registration_id)
        .bind(after)
        .bind(limit)
        .fetch_all(e)
        .await)?)
}

/// The tenant (its GUID) a customer subscription is mapped to on `day` on a registration.
pub async fn find_tenant_of_subscription(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_id: &str,
    day: NaiveDate,
) -> DbResult<Option<String>> {
    let q = format!(
        "SELECT t.tenant_id FROM customer_subscriptions cs JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id \
         WHERE {IN_EFFECT_ON_1} AND cs.registration_id = $2 AND cs.subscription_id = $3"
    );
    Ok(sql!(c, |e| sqlx::query_scalar(&q)
        .bind(day)
        .bind(registration_id)
        .bind(subscription_id)
        .fetch_optional(e)
        .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::customers::upsert_cloud_tenant;
    use crate::ssr::db::registrations::{insert_registration, NewRegistration};
    use crate::ssr::db::testing::for_each_engine;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn the_schema_refuses_one_customer_subscription_for_two_tenants() {
        for_each_engine(|db| async move {
            let mut tx = db.begin().await.unwrap();
            let reg = insert_registration(
                &mut tx,
                &NewRegistration {
                    name: "r",
                    base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                    resource_group: "azurestack",
                    currency: "USD",
                    active_from: crate::billing::dated::since_always(),
                },
                1,
            )
            .await
            .unwrap();
            let t1 = upsert_cloud_tenant(&mut tx, "dbab3982-796f-4d03-9908-044c08aef8a2", "", 1)
                .await
                .unwrap();
            let t2 = upsert_cloud_tenant(&mut tx, "11111111-796f-4d03-9908-044c08aef8a2", "", 1)
                .await
                .unwrap();
            let sub = "e09a4e93-29a7-4eba-a6d4-76202383f07f";
            assert_eq!(bind_subscription(&mut tx, reg, sub, t1).await.unwrap(), None);
            assert_eq!(bind_subscription(&mut tx, reg, sub, t1).await.unwrap(), None);
            replace_intervals(&mut tx, reg, t1, &[(sub.into(), day("2026-01-10"), None)], 1)
                .await
                .unwrap();
            // Another tenant is told who holds it…
            assert_eq!(bind_subscription(&mut tx, reg, sub, t2).await.unwrap(), Some(t1));
            tx.commit().await.unwrap();
            // …and an interval for it that skips the service is refused by the schema.
            let mut tx = db.begin().await.unwrap();
            let err = replace_intervals(&mut tx, reg, t2, &[(sub.into(), day("2026-03-01"), None)], 1)
                .await
                .unwrap_err();
            assert!(matches!(err, crate::ssr::db::DbError::Sqlx(_)), "{err}");
            drop(tx);

            let mut c = db.conn().await.unwrap();
            let current = find_current_mapping(&mut c, reg, t1).await.unwrap().unwrap();
            assert_eq!(current.subscription_id, sub);
            // Once no interval of t1 uses it, the binding is released.
            let mut tx = db.begin().await.unwrap();
            replace_intervals(&mut tx, reg, t1, &[], 2).await.unwrap();
            release_unused_bindings(&mut tx, reg, t1).await.unwrap();
            assert_eq!(bind_subscription(&mut tx, reg, sub, t2).await.unwrap(), None);
            tx.commit().await.unwrap();

            // Counts as of a day still read the intervals.
            use crate::ssr::db::customers::count_tenants_by_mapping;
            let mut c = db.conn().await.unwrap();
            assert_eq!(
                count_tenants_by_mapping(&mut c, day("2026-01-10")).await.unwrap(),
                (0, 2)
            );
        })
        .await;
    }
}

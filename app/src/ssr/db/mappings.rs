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

/// Ends a mapping on a day (exclusive).
pub async fn end_mapping(c: &mut impl AsExecutor, id: i64, ended_on: NaiveDate) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE customer_subscriptions SET ended_on = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(ended_on)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// SQL condition: the mapping `cs` (a `customer_subscriptions` row) is in effect on the
/// day bound as `$1` (half-open `[effective_on, ended_on)`).
pub const IN_EFFECT_ON_1: &str = "cs.effective_on <= $1 AND (cs.ended_on IS NULL OR cs.ended_on > $1)";

/// Inserts a mapping and returns its id.
pub async fn insert_mapping(
    c: &mut impl AsExecutor,
    registration_id: i64,
    cloud_tenant_id: i64,
    subscription_id: &str,
    effective_on: NaiveDate,
    now: i64,
) -> DbResult<i64> {
    let q = "INSERT INTO customer_subscriptions (registration_id, cloud_tenant_id, subscription_id, effective_on, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(registration_id)
        .bind(cloud_tenant_id)
        .bind(subscription_id)
        .bind(effective_on)
        .bind(now)
        .fetch_one(e)
        .await)?)
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
    async fn remapping_ends_the_current_mapping_and_keeps_history() {
        for_each_engine(|db| async move {
            let mut tx = db.begin().await.unwrap();
            let reg = insert_registration(
                &mut tx,
                &NewRegistration {
                    name: "r",
                    base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                    resource_group: "azurestack",
                    currency: "USD",
                    price_sheet_id: None,
                    base_tax_rate: "0",
                },
                1,
            )
            .await
            .unwrap();
            let t = upsert_cloud_tenant(&mut tx, "dbab3982-796f-4d03-9908-044c08aef8a2", "", 1)
                .await
                .unwrap();
            insert_mapping(
                &mut tx,
                reg,
                t,
                "e09a4e93-29a7-4eba-a6d4-76202383f07f",
                day("2026-01-10"),
                1,
            )
            .await
            .unwrap();
            // A second current mapping for the same tenant is refused by the schema.
            assert!(insert_mapping(
                &mut tx,
                reg,
                t,
                "00000000-0000-0000-0000-000000000001",
                day("2026-02-01"),
                1
            )
            .await
            .unwrap_err()
            .is_unique_violation());
            tx.rollback().await.unwrap();

            let mut tx = db.begin().await.unwrap();
            let reg = insert_registration(
                &mut tx,
                &NewRegistration {
                    name: "r",
                    base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                    resource_group: "azurestack",
                    currency: "USD",
                    price_sheet_id: None,
                    base_tax_rate: "0",
                },
                1,
            )
            .await
            .unwrap();
            let t = upsert_cloud_tenant(&mut tx, "dbab3982-796f-4d03-9908-044c08aef8a2", "", 1)
                .await
                .unwrap();
            let first_id = insert_mapping(
                &mut tx,
                reg,
                t,
                "e09a4e93-29a7-4eba-a6d4-76202383f07f",
                day("2026-01-10"),
                1,
            )
            .await
            .unwrap();
            end_mapping(&mut tx, first_id, day("2026-02-01")).await.unwrap();
            insert_mapping(
                &mut tx,
                reg,
                t,
                "00000000-0000-0000-0000-000000000001",
                day("2026-02-01"),
                2,
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();

            let mut c = db.conn().await.unwrap();
            let current = find_current_mapping(&mut c, reg, t).await.unwrap().unwrap();
            assert_eq!(current.subscription_id, "00000000-0000-0000-0000-000000000001");
            let history = list_mappings_of_tenant(&mut c, t).await.unwrap();
            assert_eq!(history.len(), 2);
            assert_eq!(history[1].ended_on, Some(day("2026-02-01")));
            let january = list_mappings_overlapping(&mut c, reg, day("2026-01-01"), day("2026-02-01"))
                .await
                .unwrap();
            assert_eq!(january.len(), 1);
            let both = list_mappings_overlapping(&mut c, reg, day("2026-01-01"), day("2026-03-01"))
                .await
                .unwrap();
            assert_eq!(both.len(), 2);
            // Counts as of a day: before the first mapping the tenant is unmapped; a
            // mapping that starts later is not counted yet.
            use crate::ssr::db::customers::count_tenants_by_mapping;
            use crate::ssr::db::registrations::list_registration_summaries;
            assert_eq!(
                count_tenants_by_mapping(&mut c, day("2026-01-09")).await.unwrap(),
                (0, 1)
            );
            assert_eq!(
                count_tenants_by_mapping(&mut c, day("2026-01-10")).await.unwrap(),
                (1, 0)
            );
            assert_eq!(
                count_tenants_by_mapping(&mut c, day("2026-03-01")).await.unwrap(),
                (1, 0)
            );
            let mapped = |s: Vec<crate::ssr::db::registrations::RegistrationSummaryRow>| s[0].mapped_tenants;
            assert_eq!(
                mapped(list_registration_summaries(&mut c, day("2026-01-09")).await.unwrap()),
                0
            );
            assert_eq!(
                mapped(list_registration_summaries(&mut c, day("2026-01-31")).await.unwrap()),
                1
            );
        })
        .await;
    }
}

//! User subscriptions on the stamps and which cloud tenant owns them.

use super::{sql, AsExecutor, DbResult, Params};
use chrono::NaiveDate;
use sqlx::FromRow;
use std::collections::HashMap;

/// Details of a user subscription as the stamp reports them.
#[derive(Debug, Clone, Default)]
pub struct UserSubscriptionDetails<'a> {
    /// Display name.
    pub display_name: &'a str,
    /// Owner's email.
    pub owner_email: &'a str,
    /// Offer.
    pub offer: &'a str,
    /// State (`Enabled`, `Disabled`, `Deleted`).
    pub state: &'a str,
}

/// Inserts or refreshes a user subscription and returns its id.
pub async fn upsert_user_subscription(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_id: &str,
    details: &UserSubscriptionDetails<'_>,
    now: i64,
) -> DbResult<i64> {
    let q = "INSERT INTO user_subscriptions (registration_id, subscription_id, display_name, owner_email, offer, state, \
             first_seen_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (registration_id, subscription_id) DO UPDATE SET display_name = excluded.display_name, \
             owner_email = excluded.owner_email, offer = excluded.offer, state = excluded.state, updated_at = excluded.updated_at \
             RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(registration_id)
        .bind(subscription_id)
        .bind(details.display_name)
        .bind(details.owner_email)
        .bind(details.offer)
        .bind(details.state)
        .bind(now)
        .fetch_one(e)
        .await)?)
}

/// Ids of the given subscriptions on a registration, creating the unknown ones as
/// *unassigned* (no owner). Usage from a subscription nobody knows is kept, never dropped.
pub async fn ensure_user_subscriptions(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_ids: &[String],
    now: i64,
) -> DbResult<HashMap<String, i64>> {
    let mut wanted: Vec<&String> = subscription_ids.iter().collect();
    wanted.sort();
    wanted.dedup();
    let mut ids = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(500) {
        let mut p = Params::new(c.engine());
        let q = format!(
            "SELECT subscription_id, id FROM user_subscriptions WHERE registration_id = {} AND subscription_id IN ({})",
            p.placeholder(),
            p.list(chunk.len())
        );
        let rows: Vec<(String, i64)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q).bind(registration_id);
            for sub in chunk {
                query = query.bind(sub.as_str());
            }
            query.fetch_all(e).await
        })?;
        ids.extend(rows);
    }
    for sub in wanted {
        if ids.contains_key(sub) {
            continue;
        }
        // ON CONFLICT: a concurrent ingestion on PostgreSQL may create the same
        // subscription first; then this insert waits for it and the select finds it.
        let q = "INSERT INTO user_subscriptions (registration_id, subscription_id, first_seen_at, updated_at) \
                 VALUES ($1, $2, $3, $3) ON CONFLICT (registration_id, subscription_id) DO NOTHING RETURNING id";
        let inserted: Option<i64> = sql!(c, |e| sqlx::query_scalar(q)
            .bind(registration_id)
            .bind(sub)
            .bind(now)
            .fetch_optional(e)
            .await)?;
        let id = match inserted {
            Some(id) => id,
            None => sql!(c, |e| {
                sqlx::query_scalar(
                    "SELECT id FROM user_subscriptions WHERE registration_id = $1 AND subscription_id = $2",
                )
                .bind(registration_id)
                .bind(sub)
                .fetch_one(e)
                .await
            })?,
        };
        ids.insert(sub.clone(), id);
    }
    Ok(ids)
}

/// The current owner of a user subscription: `(owner row id, cloud tenant id)`.
pub async fn find_current_owner(c: &mut impl AsExecutor, user_subscription_id: i64) -> DbResult<Option<(i64, i64)>> {
    Ok(sql!(c, |e| {
        sqlx::query_as(
        "SELECT id, cloud_tenant_id FROM user_subscription_owners WHERE user_subscription_id = $1 AND ended_on IS NULL"
    )
    .bind(user_subscription_id)
    .fetch_optional(e)
    .await
    })?)
}

/// Ends an ownership on a day (exclusive).
pub async fn end_owner(c: &mut impl AsExecutor, owner_row_id: i64, ended_on: NaiveDate) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE user_subscription_owners SET ended_on = $2 WHERE id = $1"
    )
    .bind(owner_row_id)
    .bind(ended_on)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records that a tenant owns a user subscription from a day on.
pub async fn insert_owner(
    c: &mut impl AsExecutor,
    user_subscription_id: i64,
    cloud_tenant_id: i64,
    effective_on: NaiveDate,
    now: i64,
) -> DbResult<i64> {
    Ok(sql!(c, |e| {
        sqlx::query_scalar(
            "INSERT INTO user_subscription_owners (user_subscription_id, cloud_tenant_id, effective_on, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_subscription_id)
        .bind(cloud_tenant_id)
        .bind(effective_on)
        .bind(now)
        .fetch_one(e)
        .await
    })?)
}

/// `(known, unassigned)` user subscriptions; unassigned ones have no current owner.
pub async fn count_user_subscriptions(c: &mut impl AsExecutor) -> DbResult<(i64, i64)> {
    let q = "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM user_subscription_owners o WHERE o.user_subscription_id = us.id \
             AND o.ended_on IS NULL) THEN 0 ELSE 1 END), 0) FROM user_subscriptions us";
    Ok(sql!(c, |e| sqlx::query_as(q).fetch_one(e).await)?)
}

/// A user subscription currently owned by a tenant, with this period's record count.
#[derive(Debug, Clone, FromRow)]
pub struct OwnedSubscriptionRow {
    /// Id.
    pub id: i64,
    /// Registration name.
    pub registration_name: String,
    /// Subscription GUID.
    pub subscription_id: String,
    /// Display name.
    pub display_name: String,
    /// State.
    pub state: String,
    /// Usage records with usage on or after `since`.
    pub usage_records: i64,
}

/// The user subscriptions a tenant currently owns, with their usage record count since a
/// day (from the daily rollups, never the raw rows).
pub async fn list_owned_by_tenant(
    c: &mut impl AsExecutor,
    cloud_tenant_id: i64,
    since: NaiveDate,
) -> DbResult<Vec<OwnedSubscriptionRow>> {
    let q = "SELECT us.id, r.name AS registration_name, us.subscription_id, us.display_name, us.state, \
             CAST(COALESCE((SELECT SUM(d.record_count) FROM usage_daily d WHERE d.user_subscription_id = us.id \
             AND d.usage_on >= $2), 0) AS BIGINT) AS usage_records \
             FROM user_subscriptions us \
             JOIN user_subscription_owners o ON o.user_subscription_id = us.id AND o.ended_on IS NULL \
             JOIN registrations r ON r.id = us.registration_id \
             WHERE o.cloud_tenant_id = $1 ORDER BY r.name, us.display_name, us.subscription_id";
    Ok(sql!(c, |e| sqlx::query_as::<_, OwnedSubscriptionRow>(q)
        .bind(cloud_tenant_id)
        .bind(since)
        .fetch_all(e)
        .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::customers::upsert_cloud_tenant;
    use crate::ssr::db::registrations::{insert_registration, NewRegistration};
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn unknown_subscriptions_are_created_unassigned_and_can_be_given_an_owner() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let reg = insert_registration(
                &mut c,
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
            let subs = vec![
                "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4".to_owned(),
                "5144634d-7e4d-443b-a304-d27e44220fc6".to_owned(),
                "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4".to_owned(),
            ];
            let ids = ensure_user_subscriptions(&mut c, reg, &subs, 5).await.unwrap();
            assert_eq!(ids.len(), 2);
            let again = ensure_user_subscriptions(&mut c, reg, &subs[..1], 6).await.unwrap();
            assert_eq!(again[&subs[0]], ids[&subs[0]]);
            assert_eq!(count_user_subscriptions(&mut c).await.unwrap(), (2, 2));

            let tenant = upsert_cloud_tenant(&mut c, "d9b782d5-d098-4374-8f2c-3907cc34611c", "", 1)
                .await
                .unwrap();
            let day: NaiveDate = "2026-01-01".parse().unwrap();
            insert_owner(&mut c, ids[&subs[0]], tenant, day, 7).await.unwrap();
            assert_eq!(count_user_subscriptions(&mut c).await.unwrap(), (2, 1));
            let owned = list_owned_by_tenant(&mut c, tenant, day).await.unwrap();
            assert_eq!(owned.len(), 1);
            assert_eq!(
                (owned[0].subscription_id.as_str(), owned[0].usage_records),
                (subs[0].as_str(), 0)
            );
            let (row, owner) = find_current_owner(&mut c, ids[&subs[0]]).await.unwrap().unwrap();
            assert_eq!(owner, tenant);
            end_owner(&mut c, row, "2026-02-01".parse().unwrap()).await.unwrap();
            assert!(find_current_owner(&mut c, ids[&subs[0]]).await.unwrap().is_none());
        })
        .await;
    }
}

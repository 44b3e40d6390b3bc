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

/// A recorded ownership change.
#[derive(Debug, Clone, FromRow)]
pub struct OwnershipChangeRow {
    /// Id (recording order).
    pub id: i64,
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Owner from that day; `None`: unassigned.
    pub cloud_tenant_id: Option<i64>,
    /// The owner's directory GUID.
    pub tenant_guid: Option<String>,
    /// First day.
    pub effective_on: NaiveDate,
    /// Unix seconds.
    pub recorded_at: i64,
    /// Who.
    pub actor: String,
    /// Their email or name then.
    pub actor_label: String,
    /// `stamp`, `console`, `api`, `cli`, `demo`, `migration`.
    pub source: String,
}

/// An ownership change to record.
#[derive(Debug, Clone)]
pub struct NewOwnershipChange<'a> {
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Owner; `None`: unassigned.
    pub cloud_tenant_id: Option<i64>,
    /// First day.
    pub effective_on: NaiveDate,
    /// Who.
    pub actor: &'a str,
    /// Email or name.
    pub actor_label: &'a str,
    /// Where it came from.
    pub source: &'a str,
}

/// Appends an ownership change to the log.
pub async fn insert_ownership_change(c: &mut impl AsExecutor, o: &NewOwnershipChange<'_>, now: i64) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "INSERT INTO ownership_changes (user_subscription_id, cloud_tenant_id, effective_on, recorded_at, actor, \
         actor_label, source) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(o.user_subscription_id)
    .bind(o.cloud_tenant_id)
    .bind(o.effective_on)
    .bind(now)
    .bind(o.actor)
    .bind(o.actor_label)
    .bind(o.source)
    .fetch_one(e)
    .await)?)
}

/// A user subscription's ownership changes in recording order.
pub async fn list_ownership_changes(
    c: &mut impl AsExecutor,
    user_subscription_id: i64,
) -> DbResult<Vec<OwnershipChangeRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, OwnershipChangeRow>(
        "SELECT o.id, o.user_subscription_id, o.cloud_tenant_id, t.tenant_id AS tenant_guid, o.effective_on, \
         o.recorded_at, o.actor, o.actor_label, o.source FROM ownership_changes o \
         LEFT JOIN cloud_tenants t ON t.id = o.cloud_tenant_id WHERE o.user_subscription_id = $1 ORDER BY o.id"
    )
    .bind(user_subscription_id)
    .fetch_all(e)
    .await)?)
}

/// Replaces a user subscription's ownership intervals with those folded from its log:
/// `(cloud tenant row, first day, first day after)`.
pub async fn replace_owner_intervals(
    c: &mut impl AsExecutor,
    user_subscription_id: i64,
    intervals: &[(i64, NaiveDate, Option<NaiveDate>)],
    now: i64,
) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM user_subscription_owners WHERE user_subscription_id = $1"
    )
    .bind(user_subscription_id)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    for (tenant, from, to) in intervals {
        sql!(c, |e| sqlx::query(
            "INSERT INTO user_subscription_owners (user_subscription_id, cloud_tenant_id, effective_on, ended_on, \
             created_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(user_subscription_id)
        .bind(*tenant)
        .bind(*from)
        .bind(*to)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// The first day with usage of a user subscription (from the rollups), if any.
pub async fn first_usage_day(c: &mut impl AsExecutor, user_subscription_id: i64) -> DbResult<Option<NaiveDate>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT MIN(usage_on) FROM usage_daily WHERE user_subscription_id = $1"
    )
    .bind(user_subscription_id)
    .fetch_one(e)
    .await)?)
}

/// A user subscription by registration and GUID.
pub async fn find_user_subscription(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_id: &str,
) -> DbResult<Option<i64>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT id FROM user_subscriptions WHERE registration_id = $1 AND subscription_id = $2"
    )
    .bind(registration_id)
    .bind(subscription_id)
    .fetch_optional(e)
    .await)?)
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

/// The user subscription list's filter.
#[derive(Debug, Clone, Default)]
pub struct UserSubscriptionFilter {
    /// One registration.
    pub registration_id: Option<i64>,
    /// `Some(false)`: no owner today and some usage (the unassigned queue);
    /// `Some(true)`: an owner today.
    pub assigned: Option<bool>,
    /// A lower-case GUID beginning: the subscription's or its owner's.
    pub guid_prefix: Option<String>,
    /// The lower-case beginning of the display name.
    pub name_prefix: Option<String>,
}

/// A user subscription with its owner today.
#[derive(Debug, Clone, FromRow)]
pub struct UserSubscriptionListRow {
    /// Id.
    pub id: i64,
    /// Registration.
    pub registration_id: i64,
    /// Its name.
    pub registration_name: String,
    /// Its currency.
    pub currency: String,
    /// Its base subscription.
    pub base_subscription_id: String,
    /// GUID.
    pub subscription_id: String,
    /// Display name.
    pub display_name: String,
    /// Owner's sign-in name on the stamp.
    pub owner_email: String,
    /// Owner tenant GUID today.
    pub owner_tenant: Option<String>,
    /// Its customer.
    pub customer_id: Option<i64>,
    /// That customer's name.
    pub customer_name: Option<String>,
}

/// The smallest string greater than every string starting with `prefix`: a prefix becomes
/// an index range (`>= prefix AND < end`) on both engines, where `LIKE 'p%'` would not use
/// the index on SQLite.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    "\u{10ffff}".to_owned()
}

/// One page of user subscriptions (by registration, then GUID) and how many match, counted
/// up to `count_limit`. The
/// filter runs on `user_subscriptions` alone (owners through indexed sub-queries) and the
/// page is read in the order of its unique index, so only the page's rows are joined.
pub async fn search_user_subscriptions(
    c: &mut impl AsExecutor,
    f: &UserSubscriptionFilter,
    offset: i64,
    limit: i64,
    count_limit: i64,
) -> DbResult<(Vec<UserSubscriptionListRow>, i64)> {
    const OWNED: &str =
        "EXISTS (SELECT 1 FROM user_subscription_owners o WHERE o.user_subscription_id = us.id AND o.ended_on IS NULL)";
    let mut conditions = vec!["($1 < 0 OR us.registration_id = $1)".to_owned()];
    let mut values: Vec<String> = Vec::new();
    match f.assigned {
        Some(true) => conditions.push(OWNED.into()),
        Some(false) => conditions.push(format!(
            "NOT {OWNED} AND EXISTS (SELECT 1 FROM usage_daily d WHERE d.user_subscription_id = us.id)"
        )),
        None => {}
    }
    let mut either = Vec::new();
    if let Some(p) = &f.guid_prefix {
        values.push(p.clone());
        values.push(prefix_end(p));
        let (a, b) = (values.len(), values.len() + 1);
        // One IN over a UNION, not an OR of two tables: each side is an index range.
        either.push(format!(
            "us.id IN (SELECT s2.id FROM user_subscriptions s2 WHERE s2.subscription_id >= ${a} AND s2.subscription_id < ${b} \
             UNION ALL SELECT o2.user_subscription_id FROM cloud_tenants t2 JOIN user_subscription_owners o2 \
             ON o2.cloud_tenant_id = t2.id AND o2.ended_on IS NULL WHERE t2.tenant_id >= ${a} AND t2.tenant_id < ${b})"
        ));
    }
    if let Some(p) = &f.name_prefix {
        values.push(p.clone());
        values.push(prefix_end(p));
        let (a, b) = (values.len(), values.len() + 1);
        either.push(format!(
            "(LOWER(us.display_name) >= ${a} AND LOWER(us.display_name) < ${b})"
        ));
    }
    if !either.is_empty() {
        conditions.push(format!("({})", either.join(" OR ")));
    }
    let filter = conditions.join(" AND ");
    let n = values.len();
    let count_q = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM user_subscriptions us WHERE {filter} LIMIT ${}) capped",
        n + 2
    );
    let page_q = format!(
        "SELECT us.id, us.registration_id, r.name AS registration_name, r.currency, r.base_subscription_id, \
         us.subscription_id, us.display_name, us.owner_email, t.tenant_id AS owner_tenant, cu.id AS customer_id, \
         cu.name AS customer_name \
         FROM (SELECT us.* FROM user_subscriptions us WHERE {filter} \
               ORDER BY us.registration_id, us.subscription_id LIMIT ${} OFFSET ${}) us \
         JOIN registrations r ON r.id = us.registration_id \
         LEFT JOIN user_subscription_owners o ON o.user_subscription_id = us.id AND o.ended_on IS NULL \
         LEFT JOIN cloud_tenants t ON t.id = o.cloud_tenant_id \
         LEFT JOIN customers cu ON cu.cloud_tenant_id = o.cloud_tenant_id \
         ORDER BY us.registration_id, us.subscription_id",
        n + 2,
        n + 3
    );
    let reg = f.registration_id.unwrap_or(-1);
    let total: i64 = sql!(c, |e| {
        let mut q = sqlx::query_scalar(&count_q).bind(reg);
        for v in &values {
            q = q.bind(v);
        }
        q.bind(count_limit).fetch_one(e).await
    })?;
    let rows = sql!(c, |e| {
        let mut q = sqlx::query_as::<_, UserSubscriptionListRow>(&page_q).bind(reg);
        for v in &values {
            q = q.bind(v);
        }
        q.bind(limit).bind(offset).fetch_all(e).await
    })?;
    Ok((rows, total))
}

/// Usage records since a day per user subscription, for the ids given (one page).
pub async fn records_since(
    c: &mut impl AsExecutor,
    ids: &[i64],
    since: NaiveDate,
) -> DbResult<std::collections::HashMap<i64, i64>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let q = format!(
        "SELECT user_subscription_id, CAST(COALESCE(SUM(record_count), 0) AS BIGINT) FROM usage_daily \
         WHERE usage_on >= $1 AND user_subscription_id IN ({}) GROUP BY user_subscription_id",
        list.join(", ")
    );
    let rows: Vec<(i64, i64)> = sql!(c, |e| {
        let mut q = sqlx::query_as(&q).bind(since);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows.into_iter().collect())
}

/// A user subscription by id: `(registration, GUID)`.
pub async fn find_by_id(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<(i64, String)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT registration_id, subscription_id FROM user_subscriptions WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(e)
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
                    active_from: crate::billing::dated::since_always(),
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
            replace_owner_intervals(&mut c, ids[&subs[0]], &[(tenant, day, None)], 7)
                .await
                .unwrap();
            assert_eq!(count_user_subscriptions(&mut c).await.unwrap(), (2, 1));
            let owned = list_owned_by_tenant(&mut c, tenant, day).await.unwrap();
            assert_eq!(owned.len(), 1);
            assert_eq!(
                (owned[0].subscription_id.as_str(), owned[0].usage_records),
                (subs[0].as_str(), 0)
            );
            let (_, owner) = find_current_owner(&mut c, ids[&subs[0]]).await.unwrap().unwrap();
            assert_eq!(owner, tenant);
            replace_owner_intervals(
                &mut c,
                ids[&subs[0]],
                &[(tenant, day, Some("2026-02-01".parse().unwrap()))],
                8,
            )
            .await
            .unwrap();
            assert!(find_current_owner(&mut c, ids[&subs[0]]).await.unwrap().is_none());
            assert_eq!(
                find_user_subscription(&mut c, reg, &subs[1]).await.unwrap(),
                Some(ids[&subs[1]])
            );
            assert_eq!(first_usage_day(&mut c, ids[&subs[1]]).await.unwrap(), None);
        })
        .await;
    }
}

/// A user subscription's display name.
#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionName {
    /// Its registration.
    pub registration_id: i64,
    /// Its GUID.
    pub subscription_id: String,
    /// Display name (may be empty).
    pub display_name: String,
}

/// The display names of user subscriptions of some registrations, by GUID (one statement).
pub async fn display_names(c: &mut impl AsExecutor, guids: &[String]) -> DbResult<Vec<SubscriptionName>> {
    if guids.is_empty() {
        return Ok(Vec::new());
    }
    let q = format!(
        "SELECT registration_id, subscription_id, display_name FROM user_subscriptions WHERE subscription_id IN {}",
        super::json_texts(c.engine())
    );
    let guids = serde_json::Value::from(guids.to_vec()).to_string();
    Ok(sql!(c, |e| sqlx::query_as::<_, SubscriptionName>(&q)
        .bind(&guids)
        .fetch_all(e)
        .await)?)
}

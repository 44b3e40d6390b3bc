//! Who owns a user subscription on a stamp: learned from the stamp's subscription list by
//! the collector, or assigned by an operator. Both follow one rule.
//!
//! **A newly learned or assigned owner is retroactive, but never into an invoiced
//! period**: it applies from the subscription's first usage (its usage until then was
//! *unassigned* only because nobody knew the owner yet), but not before the first day
//! after the latest invoiced period of the registration, nor before the registration
//! starts. With no usage yet, it applies from that first open day. An owner that
//! *changes* (the subscription moved to another directory) changes from today, or from
//! the day an operator chooses.

use crate::billing::dated::Dated;
use crate::billing::CloudTenantId;
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, registrations::RegistrationRow, user_subscriptions::NewOwnershipChange, AsExecutor, Tx};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::periods::{check_change_day, first_open_day};
use crate::ssr::state::AppState;
use chrono::NaiveDate;

/// The folded ownership log of a user subscription: `(day, owner row)` entries.
async fn owner_log(
    c: &mut impl AsExecutor,
    user_subscription_id: i64,
) -> Result<Vec<(NaiveDate, Option<i64>)>, AppError> {
    Ok(db::user_subscriptions::list_ownership_changes(c, user_subscription_id)
        .await?
        .into_iter()
        .map(|r| (r.effective_on, r.cloud_tenant_id))
        .collect())
}

/// The day a newly known owner applies from (see the module documentation).
pub async fn first_owner_day(
    c: &mut impl AsExecutor,
    reg: &RegistrationRow,
    user_subscription_id: i64,
) -> Result<NaiveDate, AppError> {
    let open = first_open_day(c, reg.id)
        .await?
        .unwrap_or(reg.active_from)
        .max(reg.active_from);
    let first_usage = db::user_subscriptions::first_usage_day(c, user_subscription_id).await?;
    Ok(first_usage.map_or(open, |d| d.max(open)))
}

/// Records an ownership change and rewrites the subscription's owner intervals.
async fn record(
    tx: &mut Tx,
    user_subscription_id: i64,
    tenant: Option<i64>,
    day: NaiveDate,
    actor: (&str, &str),
    source: &str,
    now: i64,
) -> Result<(), AppError> {
    let mut log = owner_log(tx, user_subscription_id).await?;
    db::user_subscriptions::insert_ownership_change(
        tx,
        &NewOwnershipChange {
            user_subscription_id,
            cloud_tenant_id: tenant,
            effective_on: day,
            actor: actor.0,
            actor_label: actor.1,
            source,
        },
        now,
    )
    .await?;
    log.push((day, tenant));
    let intervals: Vec<(i64, NaiveDate, Option<NaiveDate>)> = Dated::from_changes(log)
        .intervals()
        .into_iter()
        .map(|e| (e.value, e.from, e.to))
        .collect();
    db::user_subscriptions::replace_owner_intervals(tx, user_subscription_id, &intervals, now).await?;
    Ok(())
}

/// What the stamp says about one of its user subscriptions.
#[derive(Debug, Clone)]
pub struct StampSubscription {
    /// The user subscription.
    pub subscription_id: crate::billing::SubscriptionId,
    /// Display name.
    pub display_name: String,
    /// Owner's sign-in name.
    pub owner_email: String,
    /// Offer.
    pub offer: String,
    /// State.
    pub state: String,
    /// The directory it belongs to, if the stamp says.
    pub tenant: Option<CloudTenantId>,
}

/// Records the stamp's list of user subscriptions (the collector, in one transaction):
/// details refreshed, owners learned. Returns how many subscriptions named an owner.
pub async fn record_stamp_subscriptions(
    state: &AppState,
    reg: &RegistrationRow,
    subs: &[StampSubscription],
) -> Result<u64, AppError> {
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await?;
    let mut learned = 0;
    for s in subs {
        let details = db::user_subscriptions::UserSubscriptionDetails {
            display_name: &s.display_name,
            owner_email: &s.owner_email,
            offer: &s.offer,
            state: &s.state,
        };
        let us = db::user_subscriptions::upsert_user_subscription(
            &mut tx,
            reg.id,
            &s.subscription_id.to_string(),
            &details,
            now,
        )
        .await?;
        let Some(tenant) = s.tenant else { continue };
        let tenant_row = db::customers::upsert_cloud_tenant(&mut tx, &tenant.to_string(), "", now).await?;
        learned += 1;
        let log = owner_log(&mut tx, us).await?;
        let current = Dated::from_changes(log.iter().copied()).at(today).copied().flatten();
        if current == Some(tenant_row) {
            continue;
        }
        let day = if log.is_empty() {
            // First time anyone knows the owner: retroactive to its usage, never into an
            // invoiced period.
            first_owner_day(&mut tx, reg, us).await?
        } else {
            // It moved to another directory (or was unassigned): from today, but never
            // inside an invoiced period.
            let open = first_open_day(&mut tx, reg.id).await?.unwrap_or(today);
            today.max(open)
        };
        record(
            &mut tx,
            us,
            Some(tenant_row),
            day,
            ("system", "collector"),
            "stamp",
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(learned)
}

/// Assigns an owner to a user subscription (an operator resolving unassigned usage, or
/// correcting an owner). `effective_on` `None`: for a subscription that never had an
/// owner, from its first usage (the rule above); otherwise from today.
pub async fn assign_owner(
    state: &AppState,
    by: &Caller,
    registration_id: i64,
    subscription_id: crate::billing::SubscriptionId,
    tenant: CloudTenantId,
    effective_on: Option<NaiveDate>,
    source: &str,
) -> Result<NaiveDate, AppError> {
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await?;
    let day = assign_owner_in(
        &mut tx,
        by,
        registration_id,
        subscription_id,
        tenant,
        effective_on,
        source,
        today,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(day)
}

/// [`assign_owner`] inside a caller's transaction (assigning many, all or nothing).
#[allow(clippy::too_many_arguments)]
pub async fn assign_owner_in(
    tx: &mut Tx,
    by: &Caller,
    registration_id: i64,
    subscription_id: crate::billing::SubscriptionId,
    tenant: CloudTenantId,
    effective_on: Option<NaiveDate>,
    source: &str,
    today: NaiveDate,
    now: i64,
) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let reg = db::registrations::find_registration(tx, registration_id)
        .await?
        .ok_or_else(|| AppError::not_found("registration_not_found", "No such registration."))?;
    let sub_text = subscription_id.to_string();
    let us = db::user_subscriptions::find_user_subscription(tx, reg.id, &sub_text)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "user_subscription_not_found",
                format!(
                    "User subscription {sub_text} is not known on registration `{}`.",
                    reg.name
                ),
            )
        })?;
    let log = owner_log(tx, us).await?;
    let day = match effective_on {
        Some(day) => {
            check_change_day(tx, &reg, day, "effective_on").await?;
            day
        }
        None if log.is_empty() => first_owner_day(tx, &reg, us).await?,
        None => {
            check_change_day(tx, &reg, today, "effective_on").await?;
            today
        }
    };
    let tenant_row = db::customers::upsert_cloud_tenant(tx, &tenant.to_string(), "", now).await?;
    let before = Dated::from_changes(log.iter().copied()).at(day).copied().flatten();
    let before_guid = match before {
        Some(t) => db::customers::tenant_guid(tx, t).await?,
        None => None,
    };
    record(
        tx,
        us,
        Some(tenant_row),
        day,
        (&by.actor_code(), &by.actor_label()),
        source,
        now,
    )
    .await?;
    audit(
        tx,
        by,
        "user_subscription.owner_assigned",
        &format!("user_subscription:{sub_text}"),
        serde_json::json!({
            "registration": reg.name,
            "effective_on": day,
            "before": before_guid,
            "after": tenant.to_string(),
        }),
        "",
        now,
    )
    .await?;
    Ok(day)
}

/// Whether a user subscription has had an owner recorded (`None`: the subscription is unknown).
pub async fn has_owner(
    db: &crate::ssr::db::Db,
    registration_id: i64,
    subscription: crate::billing::SubscriptionId,
) -> Result<Option<bool>, AppError> {
    let mut c = db.conn().await?;
    let Some(us) =
        db::user_subscriptions::find_user_subscription(&mut c, registration_id, &subscription.to_string()).await?
    else {
        return Ok(None);
    };
    Ok(Some(
        !db::user_subscriptions::list_ownership_changes(&mut c, us)
            .await?
            .is_empty(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{MeterId, Quantity, SubscriptionId, UsageRecord};
    use crate::ssr::db::testing::for_each_engine;
    use crate::ssr::services::ingest::{self, Batch, IngestCache, Source};
    use crate::ssr::services::mappings::tests::setup;

    const SUB: &str = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4";
    const TENANT: &str = "dbab3982-796f-4d03-9908-044c08aef8a2";
    const MOVED_TO: &str = "d9b782d5-d098-4374-8f2c-3907cc34611c";

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    async fn usage_on(state: &AppState, reg: i64, days: &[&str]) {
        let records: Vec<UsageRecord> = days
            .iter()
            .map(|d| {
                let start = day(d).and_hms_opt(10, 0, 0).unwrap().and_utc();
                UsageRecord {
                    subscription_id: SubscriptionId::parse(SUB).unwrap(),
                    meter_id: MeterId::parse("fab6eb84-500b-4a09-a8ca-7358f8bbaea5").unwrap(),
                    usage_start: start,
                    usage_end: start + chrono::Duration::hours(1),
                    quantity: Quantity::parse("2").unwrap(),
                    resource_uri: "/subscriptions/x/vm1".into(),
                    location: String::new(),
                    tags: String::new(),
                    additional_info: String::new(),
                    reported_at: None,
                }
            })
            .collect();
        let prepared = ingest::prepare_all(reg, records);
        ingest::ingest_batch(
            &state.db,
            reg,
            &Batch::records(&prepared, Source::Import, "cli", "t"),
            &mut IngestCache::default(),
            0,
        )
        .await
        .unwrap();
    }

    fn stamp(tenant: &str) -> Vec<StampSubscription> {
        vec![StampSubscription {
            subscription_id: SubscriptionId::parse(SUB).unwrap(),
            display_name: "Production".into(),
            owner_email: "it@contoso.test".into(),
            offer: "gold".into(),
            state: "Enabled".into(),
            tenant: Some(CloudTenantId::parse(tenant).unwrap()),
        }]
    }

    async fn owner_intervals(state: &AppState, reg: i64) -> Vec<(String, NaiveDate, Option<NaiveDate>)> {
        let mut c = state.db.conn().await.unwrap();
        let us = db::user_subscriptions::find_user_subscription(&mut c, reg, SUB)
            .await
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        let changes = db::user_subscriptions::list_ownership_changes(&mut c, us)
            .await
            .unwrap();
        let fold = Dated::from_changes(changes.iter().map(|r| (r.effective_on, r.tenant_guid.clone())));
        for e in fold.intervals() {
            out.push((e.value, e.from, e.to));
        }
        out
    }

    #[tokio::test]
    async fn a_learned_owner_applies_from_the_first_usage_not_from_1970() {
        for_each_engine(|db| async move {
            let (state, reg) = setup(&db).await;
            // Usage arrives unassigned from 3 February; the stamp's list names the owner on 10 March.
            usage_on(&state, reg, &["2026-02-03", "2026-03-01"]).await;
            let row = db::registrations::find_registration(&mut db.conn().await.unwrap(), reg)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                record_stamp_subscriptions(&state, &row, &stamp(TENANT)).await.unwrap(),
                1
            );
            assert_eq!(
                owner_intervals(&state, reg).await,
                vec![(TENANT.to_owned(), day("2026-02-03"), None)]
            );
            // Listed again: nothing changes. Moved to another directory twice the same
            // day (a sync that ran twice): no failure, the later one wins from today.
            record_stamp_subscriptions(&state, &row, &stamp(TENANT)).await.unwrap();
            record_stamp_subscriptions(&state, &row, &stamp(MOVED_TO))
                .await
                .unwrap();
            record_stamp_subscriptions(&state, &row, &stamp(TENANT)).await.unwrap();
            record_stamp_subscriptions(&state, &row, &stamp(MOVED_TO))
                .await
                .unwrap();
            assert_eq!(
                owner_intervals(&state, reg).await,
                vec![
                    (TENANT.to_owned(), day("2026-02-03"), Some(day("2026-03-10"))),
                    (MOVED_TO.to_owned(), day("2026-03-10"), None)
                ]
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_learned_or_assigned_owner_never_reaches_into_an_invoiced_period() {
        for_each_engine(|db| async move {
            let (state, reg) = setup(&db).await;
            usage_on(&state, reg, &["2026-01-05", "2026-02-20"]).await;
            // January was invoiced with this usage unassigned (on the base subscription).
            let mut c = db.conn().await.unwrap();
            db::periods::lock_period(&mut c, reg, day("2026-01-01"), "finance", 1)
                .await
                .unwrap();
            drop(c);
            // The operator assigns the owner without a date: from the first open day, not
            // from the first usage in January.
            let by = Caller::cli();
            let sub = crate::billing::SubscriptionId::parse(SUB).unwrap();
            let tenant = CloudTenantId::parse(TENANT).unwrap();
            let from = assign_owner(&state, &by, reg, sub, tenant, None, "cli").await.unwrap();
            assert_eq!(from, day("2026-02-01"));
            assert_eq!(
                owner_intervals(&state, reg).await,
                vec![(TENANT.to_owned(), day("2026-02-01"), None)]
            );
            // An explicit day inside the invoiced period is refused.
            let err = assign_owner(&state, &by, reg, sub, tenant, Some(day("2026-01-20")), "cli")
                .await
                .unwrap_err();
            assert_eq!(err.code, "period_invoiced");
            // An unknown subscription is a clear 404.
            let unknown = crate::billing::SubscriptionId::parse(MOVED_TO).unwrap();
            let err = assign_owner(&state, &by, reg, unknown, tenant, None, "cli")
                .await
                .unwrap_err();
            assert_eq!(err.code, "user_subscription_not_found");
            let mut c = db.conn().await.unwrap();
            assert_eq!(
                db::audit::list_recent(&mut c, Some("user_subscription.owner_assigned"), 10)
                    .await
                    .unwrap()
                    .len(),
                1
            );
        })
        .await;
    }
}

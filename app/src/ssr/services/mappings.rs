//! Mapping a customer's cloud tenant to a customer subscription on a registration: map,
//! re-map and unmap, effective from the start of a UTC day, with every change kept.
//!
//! The console, `/api/v1/mappings`, the Azure-compatible `customerSubscriptions` API, the
//! CSV import, the command line and the demo seed all call [`change_mapping`]: one rule
//! for all of them (see `billing::dated`). A later change on the same day replaces the
//! earlier one for that whole day (Azure automation does PUT → PUT → DELETE within
//! minutes); the replaced change stays in the history.

use crate::billing::dated::Dated;
use crate::billing::{CloudTenantId, SubscriptionId};
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, mappings::MappingChangeRow, mappings::NewMappingChange, parse_stored, Tx};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::lookup;
use crate::ssr::services::periods::check_change_day;
use crate::ssr::state::AppState;
use crate::types::{ListPage, MappingForm, MappingListItem, MappingPreview};
use chrono::NaiveDate;
use serde::Serialize;

/// Where a change came from (kept with it in the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    /// The operator console.
    Console,
    /// Stackbill's REST API.
    Api,
    /// The Azure-compatible API (`customerSubscriptions`).
    Azure,
    /// A CSV import.
    Csv,
    /// The command line.
    Cli,
    /// The demo seed.
    Demo,
}

impl ChangeSource {
    /// Storage code.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeSource::Console => "console",
            ChangeSource::Api => "api",
            ChangeSource::Azure => "azure",
            ChangeSource::Csv => "csv",
            ChangeSource::Cli => "cli",
            ChangeSource::Demo => "demo",
        }
    }
}

/// A mapping change.
#[derive(Debug, Clone)]
pub struct MappingChange {
    /// The registration (stamp).
    pub registration_id: i64,
    /// The customer's directory.
    pub cloud_tenant: CloudTenantId,
    /// The customer subscription from that day on; `None` unmaps (back to the base).
    pub subscription: Option<SubscriptionId>,
    /// The UTC day it takes effect; `None`: today.
    pub effective_on: Option<NaiveDate>,
    /// Where it came from.
    pub source: ChangeSource,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingOutcome {
    /// The change's id in the log.
    pub change_id: i64,
    /// The day it takes effect.
    pub effective_on: NaiveDate,
    /// The subscription in effect on that day before the change (`None`: the base).
    pub before: Option<SubscriptionId>,
    /// And after it.
    pub after: Option<SubscriptionId>,
    /// Whether it replaced an earlier change recorded for the same day.
    pub replaced_same_day: bool,
}

fn parse_sub(row: &MappingChangeRow) -> Result<Option<SubscriptionId>, AppError> {
    Ok(match &row.subscription_id {
        Some(s) => Some(parse_stored("customer subscription", s, SubscriptionId::parse)?),
        None => None,
    })
}

/// Maps, re-maps or unmaps a tenant, effective from the start of a UTC day; audited;
/// one transaction. Refused: a day before the registration starts or inside an invoiced
/// period, the base subscription as a customer subscription, a subscription that belongs
/// to another tenant, and unmapping a tenant that is not mapped from that day on.
pub async fn change_mapping(state: &AppState, by: &Caller, change: MappingChange) -> Result<MappingOutcome, AppError> {
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await?;
    let outcome = change_mapping_in(&mut tx, by, &change, today, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// [`change_mapping`] inside a caller's transaction (bulk imports apply many changes, all
/// or nothing).
pub async fn change_mapping_in(
    tx: &mut Tx,
    by: &Caller,
    change: &MappingChange,
    today: NaiveDate,
    now: i64,
) -> Result<MappingOutcome, AppError> {
    by.require(Access::Operator)?;
    let reg = db::registrations::find_registration(tx, change.registration_id)
        .await?
        .ok_or_else(|| AppError::not_found("registration_not_found", "No such registration."))?;
    let day = change.effective_on.unwrap_or(today);
    check_change_day(tx, &reg, day, "effective_on").await?;
    if let Some(sub) = change.subscription {
        if sub.to_string() == reg.base_subscription_id {
            return Err(AppError::invalid(
                "customer_subscription_id",
                format!(
                    "{sub} is the base subscription of registration `{}`; a tenant falls back to it by being unmapped.",
                    reg.name
                ),
            ));
        }
    }
    let tenant_guid = change.cloud_tenant.to_string();
    let tenant = db::customers::upsert_cloud_tenant(tx, &tenant_guid, "", now).await?;

    let earlier = db::mappings::list_mapping_changes(tx, reg.id, tenant).await?;
    let mut log: Vec<(NaiveDate, Option<SubscriptionId>)> = Vec::with_capacity(earlier.len() + 1);
    for row in &earlier {
        log.push((row.effective_on, parse_sub(row)?));
    }
    let before_fold = Dated::from_changes(log.iter().copied());
    let before = before_fold.at(day).copied().flatten();
    if change.subscription.is_none() && before.is_none() && !before_fold.intervals().iter().any(|e| e.from > day) {
        return Err(AppError::not_found(
            "mapping_not_found",
            format!(
                "Cloud tenant {tenant_guid} is not mapped on registration `{}` from {day} on; it already falls back to the base subscription.",
                reg.name
            ),
        ));
    }
    let replaced_same_day = earlier.iter().any(|r| r.effective_on == day);

    let sub_text = change.subscription.map(|s| s.to_string());
    let change_id = db::mappings::insert_mapping_change(
        tx,
        &NewMappingChange {
            registration_id: reg.id,
            cloud_tenant_id: tenant,
            subscription_id: sub_text.as_deref(),
            effective_on: day,
            actor: &by.actor_code(),
            actor_label: &by.actor_label(),
            source: change.source.as_str(),
        },
        now,
    )
    .await?;
    log.push((day, change.subscription));
    let folded = Dated::from_changes(log);
    let intervals: Vec<(String, NaiveDate, Option<NaiveDate>)> = folded
        .intervals()
        .into_iter()
        .map(|e| (e.value.to_string(), e.from, e.to))
        .collect();
    for (sub, _, _) in &intervals {
        if let Some(other) = db::mappings::bind_subscription(tx, reg.id, sub, tenant).await? {
            let other_guid = db::customers::tenant_guid(tx, other).await?.unwrap_or_default();
            return Err(AppError {
                field: Some("customer_subscription_id".into()),
                ..AppError::conflict(
                    "subscription_in_use",
                    format!(
                        "Customer subscription {sub} is already mapped to cloud tenant {other_guid} on registration `{}`; \
                         a customer subscription belongs to one cloud tenant.",
                        reg.name
                    ),
                )
            });
        }
    }
    db::mappings::replace_intervals(tx, reg.id, tenant, &intervals, now).await?;
    db::mappings::release_unused_bindings(tx, reg.id, tenant).await?;
    let after = folded.at(day).copied().flatten();
    audit(
        tx,
        by,
        if change.subscription.is_some() {
            "mapping.set"
        } else {
            "mapping.removed"
        },
        &format!("cloud_tenant:{tenant_guid}"),
        serde_json::json!({
            "registration": reg.name,
            "effective_on": day,
            "before": before.map(|s| s.to_string()),
            "after": after.map(|s| s.to_string()),
            "replaced_same_day": replaced_same_day,
            "source": change.source.as_str(),
        }),
        "",
        now,
    )
    .await?;
    Ok(MappingOutcome {
        change_id,
        effective_on: day,
        before,
        after,
        replaced_same_day,
    })
}

pub use crate::types::MappingHistoryEntry;

/// Every mapping change of a tenant on every registration, newest recorded first,
/// replaced ones included and marked.
pub async fn mapping_history(
    state: &AppState,
    by: &Caller,
    cloud_tenant: CloudTenantId,
) -> Result<Vec<MappingHistoryEntry>, AppError> {
    by.require(Access::Staff)?;
    let mut c = state.db.conn().await?;
    let Some(tenant) = db::customers::find_cloud_tenant(&mut c, &cloud_tenant.to_string()).await? else {
        return Ok(Vec::new());
    };
    let rows = db::mappings::list_tenant_mapping_changes(&mut c, tenant).await?;
    Ok(rows
        .iter()
        .map(|r| MappingHistoryEntry {
            registration: r.registration_name.clone(),
            subscription: r.subscription_id.clone(),
            effective_on: r.effective_on,
            recorded_at: r.recorded_at,
            actor: r.actor.clone(),
            actor_label: r.actor_label.clone(),
            source: r.source.clone(),
            // Rows are newest first: a later change of the same day and registration
            // comes before this one.
            replaced: rows
                .iter()
                .any(|o| o.id > r.id && o.registration_id == r.registration_id && o.effective_on == r.effective_on),
        })
        .collect())
}

/// Reads a typed mapping change: the registration by name or id, the subscription
/// (empty: unmap) and the day (empty: today), each refused with its field named.
pub async fn parse_form(
    state: &AppState,
    cloud_tenant: CloudTenantId,
    form: &MappingForm,
    source: ChangeSource,
) -> Result<MappingChange, AppError> {
    let reg = lookup::registration_by_key(&state.db, &form.registration, "registration").await?;
    let subscription = match form.customer_subscription_id.trim() {
        "" => None,
        raw => Some(SubscriptionId::parse(raw).map_err(|_| {
            AppError::invalid(
                "customer_subscription_id",
                format!("`{raw}` is not a subscription GUID; expected 32 hexadecimal digits."),
            )
        })?),
    };
    let effective_on = lookup::day(&form.effective_on, "effective_on")?;
    Ok(MappingChange {
        registration_id: reg.id,
        cloud_tenant,
        subscription,
        effective_on,
        source,
    })
}

/// What a change would do, without doing it: the change runs in a transaction that is
/// rolled back, so the preview applies exactly the rules (and refusals) of the real one.
pub async fn preview_change(state: &AppState, by: &Caller, change: &MappingChange) -> Result<MappingOutcome, AppError> {
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await?;
    let outcome = change_mapping_in(&mut tx, by, change, today, now).await;
    tx.rollback().await?;
    outcome
}

/// A console change for a customer's tenant: previewed (`apply == false`) or applied.
pub async fn customer_mapping(
    state: &AppState,
    by: &Caller,
    customer_id: i64,
    form: &MappingForm,
    apply: bool,
) -> Result<MappingPreview, AppError> {
    by.require(Access::Operator)?;
    let mut c = state.db.conn().await?;
    let customer = db::customers::find_customer(&mut c, customer_id)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "customer_not_found",
                format!("There is no customer with id {customer_id}."),
            )
        })?;
    drop(c);
    let tenant = parse_stored("cloud tenant", &customer.tenant_guid, CloudTenantId::parse)?;
    let change = parse_form(state, tenant, form, ChangeSource::Console).await?;
    let outcome = if apply {
        change_mapping(state, by, change.clone()).await?
    } else {
        preview_change(state, by, &change).await?
    };
    let reg = lookup::registration_by_id(&state.db, change.registration_id).await?;
    Ok(MappingPreview {
        customer_id,
        customer: customer.name,
        cloud_tenant_id: customer.tenant_guid,
        registration_id: reg.id,
        registration: reg.name,
        base_subscription_id: reg.base_subscription_id,
        effective_on: outcome.effective_on,
        before: outcome.before.map(|s| s.to_string()),
        after: outcome.after.map(|s| s.to_string()),
        replaced_same_day: outcome.replaced_same_day,
    })
}

/// One page of the mappings in effect on a day (default today), on one registration (by
/// name or id) or all. Staff only.
pub async fn list_mappings(
    state: &AppState,
    by: &Caller,
    registration: Option<&str>,
    at: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<ListPage<MappingListItem>, AppError> {
    by.require(Access::Staff)?;
    let (offset, limit) = super::customers::page_bounds(offset, limit);
    let registration_id = match registration.map(str::trim).filter(|r| !r.is_empty()) {
        Some(key) => Some(lookup::registration_by_key(&state.db, key, "registration").await?.id),
        None => None,
    };
    let day = lookup::day(at.unwrap_or_default(), "at")?.unwrap_or_else(|| state.clock.now().date_naive());
    let mut c = state.db.conn().await?;
    let (rows, total) = db::mappings::list_in_effect(&mut c, registration_id, day, offset, limit).await?;
    Ok(ListPage {
        items: rows
            .into_iter()
            .map(|r| MappingListItem {
                registration: r.registration_name,
                cloud_tenant_id: r.tenant_guid,
                customer_id: r.customer_id,
                customer: r.customer_name,
                customer_subscription_id: r.subscription_id,
                effective_on: r.effective_on,
                ended_on: r.ended_on,
            })
            .collect(),
        total,
        total_at_least: false,
        offset,
        limit,
    })
}

/// Whether a cloud tenant (its row) is mapped to a customer subscription on a
/// registration today.
pub async fn is_mapped(db: &crate::ssr::db::Db, registration_id: i64, cloud_tenant_row: i64) -> Result<bool, AppError> {
    Ok(
        db::mappings::find_current_mapping(&mut db.conn().await?, registration_id, cloud_tenant_row)
            .await?
            .is_some(),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ssr::db::registrations::NewRegistration;
    use crate::ssr::db::testing::for_each_engine;
    use crate::ssr::db::Db;
    use crate::ssr::state::Settings;
    use crate::ssr::Clock;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const BASE: &str = "dd8597b4-8739-4467-8b10-f8679f62bfbf";
    const TENANT: &str = "dbab3982-796f-4d03-9908-044c08aef8a2";
    const OTHER_TENANT: &str = "d9b782d5-d098-4374-8f2c-3907cc34611c";
    const SUB_X: &str = "e09a4e93-29a7-4eba-a6d4-76202383f07f";
    const SUB_Y: &str = "5144634d-7e4d-443b-a304-d27e44220fc6";

    /// A state at 2026-03-10 14:00 UTC with one registration active from 1 January.
    pub(crate) async fn setup(db: &Db) -> (AppState, i64) {
        let state = AppState {
            clock: Clock::fixed("2026-03-10T14:00:00Z".parse().unwrap()),
            ..AppState::new(db.clone(), Settings::default())
        };
        let mut c = db.conn().await.unwrap();
        let reg = db::registrations::insert_registration(
            &mut c,
            &NewRegistration {
                name: "azs-1",
                base_subscription_id: BASE,
                resource_group: "azurestack",
                currency: "USD",
                active_from: day("2026-01-01"),
            },
            0,
        )
        .await
        .unwrap();
        (state, reg)
    }

    fn change(reg: i64, sub: Option<&str>, on: Option<&str>) -> MappingChange {
        MappingChange {
            registration_id: reg,
            cloud_tenant: CloudTenantId::parse(TENANT).unwrap(),
            subscription: sub.map(|s| SubscriptionId::parse(s).unwrap()),
            effective_on: on.map(day),
            source: ChangeSource::Api,
        }
    }

    async fn current(state: &AppState, reg: i64) -> Vec<(String, NaiveDate, Option<NaiveDate>)> {
        let mut c = state.db.conn().await.unwrap();
        let tenant = db::customers::find_cloud_tenant(&mut c, TENANT).await.unwrap().unwrap();
        let mut rows: Vec<_> = db::mappings::list_mappings_of_tenant(&mut c, tenant)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.registration_id == reg)
            .map(|r| (r.subscription_id, r.effective_on, r.ended_on))
            .collect();
        rows.sort_by_key(|r| r.1);
        rows
    }

    #[tokio::test]
    async fn put_put_delete_on_one_day_leaves_the_delete_for_that_whole_day_and_keeps_every_change() {
        for_each_engine(|db| async move {
            let (state, reg) = setup(&db).await;
            let by = Caller::cli();
            // Mapped since February.
            change_mapping(&state, &by, change(reg, Some(SUB_X), Some("2026-02-01")))
                .await
                .unwrap();
            // Today, minutes apart: PUT Y (re-map), PUT X again, DELETE.
            let first = change_mapping(&state, &by, change(reg, Some(SUB_Y), None))
                .await
                .unwrap();
            assert_eq!(first.effective_on, day("2026-03-10"));
            assert!(!first.replaced_same_day);
            let second = change_mapping(&state, &by, change(reg, Some(SUB_X), None))
                .await
                .unwrap();
            assert!(second.replaced_same_day);
            let gone = change_mapping(&state, &by, change(reg, None, None)).await.unwrap();
            assert!(gone.replaced_same_day);
            assert_eq!(gone.after, None);
            // The DELETE wins for the whole day: X until the 10th, nothing from it on.
            assert_eq!(
                current(&state, reg).await,
                vec![(SUB_X.to_owned(), day("2026-02-01"), Some(day("2026-03-10")))]
            );
            // Every change is in the history, with its actor; the replaced ones are marked.
            let history = mapping_history(&state, &Caller::cli(), CloudTenantId::parse(TENANT).unwrap())
                .await
                .unwrap();
            assert_eq!(history.len(), 4);
            assert_eq!(
                history.iter().map(|h| h.replaced).collect::<Vec<_>>(),
                vec![false, true, true, false]
            );
            assert!(history.iter().all(|h| h.actor == "cli"));
            // Mapped again the same day after all: the latest change counts.
            change_mapping(&state, &by, change(reg, Some(SUB_Y), None))
                .await
                .unwrap();
            assert_eq!(
                current(&state, reg).await,
                vec![
                    (SUB_X.to_owned(), day("2026-02-01"), Some(day("2026-03-10"))),
                    (SUB_Y.to_owned(), day("2026-03-10"), None)
                ]
            );
            // Each change wrote an audit entry with before and after.
            let mut c = db.conn().await.unwrap();
            let audit = db::audit::list_recent(&mut c, Some("mapping.set"), 10).await.unwrap();
            assert_eq!(audit.len(), 4);
        })
        .await;
    }

    #[tokio::test]
    async fn a_customer_subscription_of_another_tenant_is_refused_and_nothing_changes() {
        for_each_engine(|db| async move {
            let (state, reg) = setup(&db).await;
            let by = Caller::cli();
            change_mapping(&state, &by, change(reg, Some(SUB_X), Some("2026-02-01")))
                .await
                .unwrap();
            let other = MappingChange {
                cloud_tenant: CloudTenantId::parse(OTHER_TENANT).unwrap(),
                ..change(reg, Some(SUB_X), None)
            };
            let err = change_mapping(&state, &by, other.clone()).await.unwrap_err();
            assert_eq!(err.code, "subscription_in_use");
            assert_eq!(err.status(), 409);
            assert!(err.message.contains(TENANT), "{}", err.message);
            assert!(err.message.contains(SUB_X), "{}", err.message);
            let mut c = db.conn().await.unwrap();
            let other_row = db::customers::find_cloud_tenant(&mut c, OTHER_TENANT).await.unwrap();
            // Rolled back: not even the tenant row or a change was written.
            assert!(other_row.is_none());
            drop(c);
            // A mistaken mapping replaced the same day frees the subscription.
            let mut mistaken = change(reg, Some(SUB_Y), None);
            mistaken.cloud_tenant = CloudTenantId::parse(OTHER_TENANT).unwrap();
            change_mapping(&state, &by, mistaken.clone()).await.unwrap();
            mistaken.subscription = None;
            change_mapping(&state, &by, mistaken).await.unwrap();
            change_mapping(&state, &by, change(reg, Some(SUB_Y), None))
                .await
                .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn changes_dated_before_the_registration_or_inside_an_invoiced_period_are_refused() {
        for_each_engine(|db| async move {
            let (state, reg) = setup(&db).await;
            let by = Caller::cli();
            let err = change_mapping(&state, &by, change(reg, Some(SUB_X), Some("2025-12-31")))
                .await
                .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("effective_on"));
            assert!(
                err.message.contains("before registration `azs-1` starts (2026-01-01)"),
                "{}",
                err.message
            );
            // January is invoiced: nothing may be dated inside it any more.
            let mut c = db.conn().await.unwrap();
            db::periods::lock_period(&mut c, reg, day("2026-01-01"), "finance", 1)
                .await
                .unwrap();
            drop(c);
            let err = change_mapping(&state, &by, change(reg, Some(SUB_X), Some("2026-01-20")))
                .await
                .unwrap_err();
            assert_eq!((err.code.as_str(), err.status()), ("period_invoiced", 409));
            assert!(err.message.contains("from 2026-02-01 on"), "{}", err.message);
            change_mapping(&state, &by, change(reg, Some(SUB_X), Some("2026-02-01")))
                .await
                .unwrap();
            // The base subscription is not a customer subscription; unmapping what is not
            // mapped is a clear "not found".
            let err = change_mapping(&state, &by, change(reg, Some(BASE), None))
                .await
                .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("customer_subscription_id"));
            let mut never = change(reg, None, None);
            never.cloud_tenant = CloudTenantId::parse(OTHER_TENANT).unwrap();
            assert_eq!(
                change_mapping(&state, &by, never).await.unwrap_err().code,
                "mapping_not_found"
            );
            assert_eq!(current(&state, reg).await.len(), 1);
        })
        .await;
    }
}

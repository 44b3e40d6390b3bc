//! The user subscriptions on the stamps and the unassigned queue: every subscription with
//! its owner cloud tenant and customer; the ones that sent usage with no known owner, with
//! what they add to the base subscription this month; assigning them to a tenant (whose
//! usage then bills to that customer for every period not yet invoiced).

use crate::billing::{BillingPeriod, Currency, SubscriptionId};
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db;
use crate::ssr::services::rating::{rate_period, Detail, Scope};
use crate::ssr::services::{customers::page_bounds, lookup, ownership};
use crate::ssr::state::AppState;
use crate::types::{AssignForm, ListPage, UserSubscriptionItem, UserSubscriptionQuery};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// One page of user subscriptions, found by a subscription or owner GUID (or its first
/// characters) or the beginning of the display name. With `status=unassigned`, each row also carries what
/// its usage adds to the base subscription this month, from the rating service (the same
/// figure the base subscription's invoice will itemise). Staff only.
pub async fn list_user_subscriptions(
    state: &AppState,
    by: &Caller,
    q: &UserSubscriptionQuery,
) -> Result<ListPage<UserSubscriptionItem>, AppError> {
    by.require(Access::Staff)?;
    let (offset, limit) = page_bounds(q.offset, q.limit);
    let mut filter = db::user_subscriptions::UserSubscriptionFilter {
        assigned: match q.status.trim() {
            "" | "all" => None,
            "unassigned" => Some(false),
            "assigned" => Some(true),
            other => {
                return Err(AppError::invalid(
                    "status",
                    format!("`{other}` is not a status; use unassigned or assigned."),
                ))
            }
        },
        ..Default::default()
    };
    if let Some(key) = Some(q.registration.trim()).filter(|r| !r.is_empty()) {
        filter.registration_id = Some(lookup::registration_by_key(&state.db, key, "registration").await?.id);
    }
    let text = q.q.trim();
    if let Ok(guid) = SubscriptionId::parse(text) {
        filter.guid_prefix = Some(guid.to_string());
    } else if !text.is_empty() {
        // The beginning of the display name: an index range, fast at any size.
        filter.name_prefix = Some(text.to_lowercase());
        let lower = text.to_ascii_lowercase();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            filter.guid_prefix = Some(lower);
        }
    }
    let now = state.clock.now();
    let period = BillingPeriod::containing(now);
    let mut c = state.db.conn().await?;
    // Counting stops a little past the page: 100,000 subscriptions cost what 10,000 do.
    let count_limit = crate::types::COUNT_LIMIT.max(offset + limit + 1);
    let (rows, total) =
        db::user_subscriptions::search_user_subscriptions(&mut c, &filter, offset, limit, count_limit).await?;
    let total_at_least = total >= count_limit;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let records = db::user_subscriptions::records_since(&mut c, &ids, period.first_day()).await?;
    drop(c);
    let amounts = if filter.assigned == Some(false) {
        unassigned_amounts(state, &rows, period).await?
    } else {
        HashMap::new()
    };
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(UserSubscriptionItem {
                records_this_month: records.get(&r.id).copied().unwrap_or(0),
                base_amount_this_month: amounts.get(&(r.registration_id, r.subscription_id.clone())).copied(),
                currency: Currency::parse(&r.currency)?,
                id: r.id,
                registration: r.registration_name,
                subscription_id: r.subscription_id,
                display_name: r.display_name,
                owner_email: r.owner_email,
                owner_tenant: r.owner_tenant,
                customer_id: r.customer_id,
                customer: r.customer_name,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(ListPage {
        items,
        total: if total_at_least { count_limit - 1 } else { total },
        total_at_least,
        offset,
        limit,
    })
}

/// What each unassigned subscription on the page adds to its registration's base
/// subscription this month: the base account rated once per registration on the page.
async fn unassigned_amounts(
    state: &AppState,
    rows: &[db::user_subscriptions::UserSubscriptionListRow],
    period: BillingPeriod,
) -> Result<HashMap<(i64, String), Decimal>, AppError> {
    let mut out = HashMap::new();
    let mut done: Vec<i64> = Vec::new();
    for r in rows {
        if done.contains(&r.registration_id) {
            continue;
        }
        done.push(r.registration_id);
        let base = crate::ssr::db::parse_stored("base subscription", &r.base_subscription_id, SubscriptionId::parse)?;
        let rated = rate_period(
            &state.db,
            Scope::BillingAccount {
                registration_id: r.registration_id,
                subscription: base,
            },
            period,
            state.clock.now(),
            Detail::Shares,
        )
        .await?;
        let totals = rated.totals_by(|s, _| {
            (
                s.section == crate::billing::resolution::Section::Unassigned,
                s.subscription_id.to_string(),
            )
        });
        for ((_, (unassigned, sub)), amount) in totals {
            if unassigned {
                out.insert((r.registration_id, sub), amount);
            }
        }
    }
    Ok(out)
}

/// What an assignment did to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Assigned {
    /// The user subscription.
    pub id: i64,
    /// Its GUID.
    pub subscription_id: String,
    /// The first day the new owner applies.
    pub effective_on: NaiveDate,
}

/// Assigns user subscriptions to a cloud tenant: each from its first open day with usage
/// (the ownership rule), never into an invoiced period. All or nothing: a refusal on one
/// leaves every one as it was. Operators only; audited per subscription.
pub async fn assign(state: &AppState, by: &Caller, form: &AssignForm) -> Result<Vec<Assigned>, AppError> {
    by.require(Access::Operator)?;
    let tenant = lookup::cloud_tenant(&form.cloud_tenant_id, "cloud_tenant_id")?;
    if form.subscriptions.is_empty() {
        return Err(AppError::invalid(
            "subscriptions",
            "Choose at least one user subscription.",
        ));
    }
    if form.subscriptions.len() > 1000 {
        return Err(AppError::invalid(
            "subscriptions",
            "At most 1,000 subscriptions at a time.",
        ));
    }
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await?;
    let mut done = Vec::with_capacity(form.subscriptions.len());
    for id in &form.subscriptions {
        let (registration_id, guid) = db::user_subscriptions::find_by_id(&mut tx, *id).await?.ok_or_else(|| {
            AppError::not_found(
                "user_subscription_not_found",
                format!("There is no user subscription with id {id}."),
            )
        })?;
        let sub = crate::ssr::db::parse_stored("user subscription", &guid, SubscriptionId::parse)?;
        let effective_on =
            ownership::assign_owner_in(&mut tx, by, registration_id, sub, tenant, None, "console", today, now).await?;
        done.push(Assigned {
            id: *id,
            subscription_id: guid,
            effective_on,
        });
    }
    tx.commit().await?;
    Ok(done)
}

//! The figures on each role's home page, read from the database (never hard-coded).

use crate::billing::BillingPeriod;
use crate::error::AppError;
use crate::ssr::auth::Caller;
use crate::ssr::db::{self, from_unix};
use crate::ssr::services::{costs, rating};
use crate::ssr::state::AppState;
use crate::types::{
    CustomerCost, CustomerOverview, CustomerSubscriptionView, FinanceOverview, MeterView, OperatorOverview,
    PeriodSummary, PortalCost, RegistrationSummary, UserSubscriptionView,
};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Every registration with its default price sheet and headline counts on a day.
pub async fn registration_summaries(
    c: &mut impl crate::ssr::db::AsExecutor,
    today: NaiveDate,
) -> Result<Vec<RegistrationSummary>, AppError> {
    Ok(db::registrations::list_registration_summaries(c, today)
        .await?
        .into_iter()
        .map(|r| RegistrationSummary {
            id: r.id,
            name: r.name,
            base_subscription_id: r.base_subscription_id,
            currency: r.currency,
            price_sheet: r.price_sheet,
            mapped_tenants: r.mapped_tenants,
            user_subscriptions: r.user_subscriptions,
        })
        .collect())
}

/// The operator's home: registrations, customers, mapping coverage, ingestion.
pub async fn operator_overview(state: &AppState) -> Result<OperatorOverview, AppError> {
    let cost = costs::cost_overview(&state.db, state.clock.now()).await?;
    let mut c = state.db.conn().await?;
    let today = state.clock.now().date_naive();
    let registrations = registration_summaries(&mut c, today).await?;
    let customers = db::customers::count_customers(&mut c).await?;
    let (mapped_tenants, unmapped_tenants) = db::customers::count_tenants_by_mapping(&mut c, today).await?;
    let (user_subscriptions, unassigned_subscriptions) =
        db::user_subscriptions::count_user_subscriptions(&mut c).await?;
    let usage_records = db::usage::count_records(&mut c).await?;
    let meters = db::meters::count_meters(&mut c).await?;
    let (last_batch, latest_day) = db::usage::latest_activity(&mut c).await?;
    Ok(OperatorOverview {
        registrations,
        customers,
        mapped_tenants,
        unmapped_tenants,
        user_subscriptions,
        unassigned_subscriptions,
        usage_records,
        meters,
        last_ingestion_at: last_batch.map(from_unix).transpose()?,
        latest_usage_on: latest_day,
        cost,
    })
}

/// How many months of periods the finance page lists.
const FINANCE_MONTHS: u32 = 12;

/// The finance home: the billing periods that have usage, newest first.
pub async fn finance_overview(state: &AppState) -> Result<FinanceOverview, AppError> {
    let now = state.clock.now();
    let current = BillingPeriod::containing(now);
    let mut oldest = current;
    for _ in 1..FINANCE_MONTHS {
        oldest = oldest.previous();
    }
    let cost = costs::cost_overview(&state.db, now).await?;
    let mut c = state.db.conn().await?;
    let days = db::usage::list_day_counts(&mut c, oldest.first_day(), current.end_day()).await?;
    let mut by_period: BTreeMap<BillingPeriod, (i64, NaiveDate, NaiveDate)> = BTreeMap::new();
    for d in &days {
        let p = BillingPeriod::of_date(d.usage_on);
        let e = by_period.entry(p).or_insert((0, d.usage_on, d.usage_on));
        e.0 += d.records;
        e.1 = e.1.min(d.usage_on);
        e.2 = e.2.max(d.usage_on);
    }
    let mut periods = Vec::with_capacity(by_period.len());
    for (period, (records, first, last)) in by_period.into_iter().rev() {
        let subs = db::usage::count_active_subscriptions(&mut c, period.first_day(), period.end_day()).await?;
        periods.push(PeriodSummary {
            period,
            in_progress: period >= current,
            usage_records: records,
            user_subscriptions: subs,
            first_usage_on: first,
            last_usage_on: last,
        });
    }
    Ok(FinanceOverview {
        periods,
        customers: db::customers::count_customers(&mut c).await?,
        registrations: db::registrations::count_registrations(&mut c).await?,
        cost,
    })
}

/// A customer's home: who they are, how they are billed, their subscriptions. Scoped by
/// the customer id the caller was authorised for.
pub async fn customer_overview(state: &AppState, customer_id: i64) -> Result<CustomerOverview, AppError> {
    let mut c = state.db.conn().await?;
    let customer = db::customers::find_customer(&mut c, customer_id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", "This customer does not exist."))?;
    let mappings = db::mappings::list_mappings_of_tenant(&mut c, customer.cloud_tenant_id).await?;
    let customer_subscriptions = mappings
        .into_iter()
        .filter(|m| m.ended_on.is_none())
        .map(|m| CustomerSubscriptionView {
            registration: m.registration_name,
            subscription_id: m.subscription_id,
            effective_on: m.effective_on,
        })
        .collect();
    let month_start = BillingPeriod::containing(state.clock.now()).first_day();
    let mut user_subscriptions: Vec<UserSubscriptionView> =
        db::user_subscriptions::list_owned_by_tenant(&mut c, customer.cloud_tenant_id, month_start)
            .await?
            .into_iter()
            .map(|s| UserSubscriptionView {
                registration: s.registration_name,
                subscription_id: s.subscription_id,
                display_name: s.display_name,
                state: s.state,
                usage_records_this_month: s.usage_records,
                month_to_date: None,
                resource_groups: Vec::new(),
            })
            .collect();
    drop(c);
    let now = state.clock.now();
    let period = BillingPeriod::containing(now);
    let rated = async {
        Ok::<_, AppError>(PortalCost {
            this_month: cached_cost(state, customer_id, period).await?,
            last_month: cached_cost(state, customer_id, period.previous()).await?,
        })
    }
    .await;
    let (cost, cost_problem) = match rated {
        Ok(cost) => (Some(cost), None),
        // Pricing the billing core refuses: the page explains, the rest still shows.
        Err(e) if e.code == rating::INVALID_DATA => (None, Some(e.message)),
        Err(e) => return Err(e),
    };
    // Each user subscription's month so far and its resource groups.
    let this_month = BillingPeriod::containing(now);
    if cost.is_some() {
        let by_sub = super::usage::load(state, customer_id, this_month, this_month)
            .await?
            .by_subscription();
        for s in &mut user_subscriptions {
            if let Some(c) = by_sub.get(&s.subscription_id.to_lowercase()) {
                s.month_to_date = c.currency.map(|cur| crate::types::CurrencyTotal {
                    currency: cur,
                    cost: c.cost,
                });
                s.resource_groups = c
                    .resource_groups
                    .iter()
                    .map(|(g, v)| crate::types::Ranked {
                        label: g.clone(),
                        detail: String::new(),
                        value: *v,
                    })
                    .collect();
            }
        }
    }
    let budgets = match &cost {
        Some(c) => super::budgets::views(state, customer_id, &c.this_month.accounts).await?,
        None => Vec::new(),
    };
    Ok(CustomerOverview {
        budgets,
        customer_id,
        can_edit: false,
        name: customer.name,
        cloud_tenant_id: customer.tenant_guid,
        customer_subscriptions,
        user_subscriptions,
        cost,
        cost_problem,
    })
}

/// A customer's cost in a month, from the cache while nothing it depends on (nor the hour,
/// for the forecast) has changed.
async fn cached_cost(state: &AppState, customer_id: i64, period: BillingPeriod) -> Result<CustomerCost, AppError> {
    let stamp = super::cache::stamp(state, true).await?;
    if let Some(c) = state.caches.customer_costs.get(&(customer_id, period), stamp) {
        return Ok((*c).clone());
    }
    let cost = costs::customer_cost(&state.db, customer_id, period, state.clock.now()).await?;
    state
        .caches
        .customer_costs
        .put((customer_id, period), stamp, std::sync::Arc::new(cost.clone()));
    Ok(cost)
}

/// Staff opening a customer's portal ("view as customer"): an audit entry, so customers
/// can be told who looked at their figures. Read-only: the portal writes nothing else.
pub async fn record_view_as(
    state: &AppState,
    by: &Caller,
    customer_id: i64,
    client_addr: &str,
) -> Result<(), AppError> {
    by.require(crate::ssr::auth::Access::Staff)?;
    let mut c = state.db.conn().await?;
    let customer = db::customers::find_customer(&mut c, customer_id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", "This customer does not exist."))?;
    super::accounts::audit(
        &mut c,
        by,
        "portal.viewed_as_customer",
        &format!("customer:{customer_id}"),
        serde_json::json!({ "customer": customer.name }),
        client_addr,
        state.now_secs(),
    )
    .await
}

/// The meter catalogue.
pub async fn list_meters(state: &AppState) -> Result<Vec<MeterView>, AppError> {
    let mut c = state.db.conn().await?;
    let today = state.clock.now().date_naive();
    db::meters::list_meters(&mut c, today)
        .await?
        .into_iter()
        .map(|row| {
            let meter = row.to_meter()?;
            Ok(MeterView {
                id: meter.id.to_string(),
                name: meter.name,
                unit: meter.unit,
                service: meter.service,
                // What applies today (the catalogue default or the latest dated change).
                billing: row.billing_on_day()?,
                origin: row.origin,
                first_seen: None,
                records: None,
            })
        })
        .collect()
}

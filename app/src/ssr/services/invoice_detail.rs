//! An invoice's usage detail: what it charged, by user subscription, resource group and
//! meter — the optional detail pages of its PDF, for customers who pass costs on to their
//! own departments.
//!
//! The money comes from the rating service's shares (every usage line's part of the
//! account's money), so a subscription's amounts add up to what the invoice charged it;
//! the resource groups split each subscription's quantities using the per-resource daily
//! rollups of exactly the days and meters the account was charged for (a tenant re-mapped
//! mid-month has each half on its own invoice). Computed when a draft is issued and stored
//! with it, frozen like its lines; a draft's is computed when asked for.

use crate::billing::{resource_group, BillingPeriod, MeterId, SubscriptionId};
use crate::error::AppError;
use crate::ssr::db::{self, invoices::DetailRow, invoices::InvoiceRow, parse_stored, rating_inputs};
use crate::ssr::services::rating::{self, Detail, Scope};
use crate::ssr::state::AppState;
use crate::types::UsageDetailRow;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Computes the usage detail of a stored invoice (a customer's or a base subscription's)
/// from today's usage, with the precise money it comes to (for comparing with the
/// invoice's usage lines: a difference means the usage or prices changed since the run).
pub(crate) async fn compute(state: &AppState, row: &InvoiceRow) -> Result<(Vec<DetailRow>, Decimal), AppError> {
    let period = BillingPeriod::of_date(row.period_start);
    let account = parse_stored(
        "billing subscription",
        &row.billing_subscription_id,
        SubscriptionId::parse,
    )?;
    // A customer's own rows are enough for its invoice; a base invoice covers every
    // fallback tenant and the unassigned subscriptions of its registration.
    let scope = match (row.account_kind.as_str(), row.customer_id) {
        ("customer", Some(customer)) => Scope::Customer(customer),
        _ => Scope::BillingAccount {
            registration_id: row.registration_id,
            subscription: account,
        },
    };
    let rated = rating::rate_period(&state.db, scope, period, state.clock.now(), Detail::Shares).await?;
    let mut money: BTreeMap<(SubscriptionId, MeterId), (Decimal, Decimal)> = BTreeMap::new();
    let mut charged: HashSet<(SubscriptionId, NaiveDate, MeterId)> = HashSet::new();
    for r in rated
        .registrations
        .iter()
        .filter(|r| r.registration_id == row.registration_id)
    {
        for s in r.shares.iter().filter(|s| s.account.subscription() == account) {
            let e = money.entry((s.subscription_id, s.meter_id)).or_default();
            e.0 += s.quantity.value();
            e.1 += s.precise_amount.unwrap_or_default();
            charged.insert((s.subscription_id, s.day, s.meter_id));
        }
    }
    let total: Decimal = money.values().map(|(_, m)| *m).sum();
    if money.is_empty() {
        return Ok((Vec::new(), total));
    }
    let guids: Vec<String> = money
        .keys()
        .map(|(s, _)| s.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut c = state.db.conn().await?;
    let days = rating_inputs::resource_days(
        &mut c,
        row.registration_id,
        &guids,
        period.first_day(),
        period.end_day(),
    )
    .await?;
    drop(c);
    // Quantities by subscription, meter and resource group, of the charged days only.
    let mut groups: HashMap<(SubscriptionId, MeterId), BTreeMap<String, Decimal>> = HashMap::new();
    for d in &days {
        let (Ok(sub), Ok(meter)) = (SubscriptionId::parse(&d.subscription_guid), MeterId::parse(&d.meter_id)) else {
            continue;
        };
        if !charged.contains(&(sub, d.usage_on, meter)) {
            continue;
        }
        let rg = resource_group(&d.resource_uri).unwrap_or_default().to_owned();
        *groups.entry((sub, meter)).or_default().entry(rg).or_default() +=
            db::fixed::from_fixed(d.quantity_whole, d.quantity_atto, 0);
    }
    let mut rows = Vec::new();
    for ((sub, meter), (quantity, amount)) in &money {
        let (name, unit) = rated
            .meters
            .get(meter)
            .map(|m| (m.name.clone(), m.unit.clone()))
            .unwrap_or_else(|| (meter.to_string(), String::new()));
        // Resource groups whose quantities add up to the subscription's; usage the
        // per-resource rollups do not explain (none, normally) stays unattributed.
        let mut parts: Vec<(String, Decimal)> = groups
            .remove(&(*sub, *meter))
            .map(|g| g.into_iter().collect())
            .unwrap_or_default();
        let explained: Decimal = parts.iter().map(|(_, q)| *q).sum();
        if *quantity - explained > Decimal::ZERO {
            parts.push((String::new(), *quantity - explained));
        }
        // Resources that reported nothing are noise on a page; a meter whose usage is all
        // zero keeps one row only if it cost something (a fixed price).
        parts.retain(|(_, q)| !q.is_zero());
        if parts.is_empty() {
            if amount.is_zero() {
                continue;
            }
            parts.push((String::new(), Decimal::ZERO));
        }
        for (i, (rg, q)) in parts.into_iter().enumerate() {
            rows.push(DetailRow {
                user_subscription_id: sub.to_string(),
                resource_group: rg,
                meter_id: meter.to_string(),
                meter_name: name.clone(),
                quantity: q.normalize().to_string(),
                unit: unit.clone(),
                amount: if i == 0 {
                    amount.normalize().to_string()
                } else {
                    String::new()
                },
            });
        }
    }
    // By subscription, then resource group, then meter name: how the pages print them.
    rows.sort_by(|a, b| {
        (&a.user_subscription_id, &a.resource_group, &a.meter_name).cmp(&(
            &b.user_subscription_id,
            &b.resource_group,
            &b.meter_name,
        ))
    });
    Ok((rows, total))
}

/// Stored or computed rows as the PDF shows them.
pub fn view(rows: &[DetailRow]) -> Result<Vec<UsageDetailRow>, AppError> {
    rows.iter()
        .map(|r| {
            Ok(UsageDetailRow {
                user_subscription_id: r.user_subscription_id.clone(),
                resource_group: r.resource_group.clone(),
                meter_id: r.meter_id.clone(),
                meter_name: r.meter_name.clone(),
                quantity: parse_stored("detail quantity", &r.quantity, |t| t.parse::<Decimal>())?,
                unit: r.unit.clone(),
                amount: match r.amount.as_str() {
                    "" => None,
                    a => Some(parse_stored("detail amount", a, |t| t.parse::<Decimal>())?),
                },
            })
        })
        .collect()
}

//! The one path from stored usage to money.
//!
//! [`rate_period`] loads a billing period's inputs for a scope — everything, a
//! registration, a billing account or a customer — into the billing core's types (price
//! sheets through their constructors, mappings and owners as timelines, every term by day,
//! the daily rollups as usage lines) and rates them with `billing::rate_with_shares`.
//! Dashboards, invoices, estimates, exports and the APIs read money from here; nothing else
//! sums money in SQL.
//!
//! Loading is bounded: a customer's month reads only that customer's rows (index ranges
//! on its tenant's mappings and owners and on its user subscriptions' rollups); everything
//! is a fixed number of statements per registration, however many accounts there are.
//! A customer's figures need only its own usage because tiers count per section.
//!
//! Stored data the core refuses (a price sheet with overlapping versions, a mapping history
//! that overlaps, a negative rollup) is an error naming what is wrong — never a silent zero.

use crate::billing::resolution::{mappings, ownerships, Mappings, Ownerships, Resolver};
use crate::billing::{
    forecast, rate, rate_with_shares, BillingAccount, BillingPeriod, CloudTenantId, Currency, CustomerPricing, Meter,
    MeterId, PriceEntry, PriceSheet, PriceSheetVersion, Rating, RatingInput, Section, Share, SheetId, SubscriptionId,
    UsageLine,
};
use crate::error::{AppError, ErrorKind};
use crate::ssr::db::{self, parse_stored, rating_inputs as inputs, AsExecutor, Db, DbError};
use crate::ssr::services::terms::{load_customer_terms, load_meter_billing, load_registration_terms};
use chrono::{DateTime, DurationRound, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What to rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every registration and account.
    Everything,
    /// One registration (all its accounts).
    Registration(i64),
    /// One billing account of a registration (a customer subscription or the base).
    BillingAccount {
        /// The registration.
        registration_id: i64,
        /// The account's subscription.
        subscription: SubscriptionId,
    },
    /// One customer: its sections on every account (its own and the base's).
    Customer(i64),
}

/// One registration's rated period.
#[derive(Debug, Clone)]
pub struct RegistrationRating {
    /// Registration id.
    pub registration_id: i64,
    /// Its name.
    pub name: String,
    /// Its currency.
    pub currency: Currency,
    /// Its base subscription.
    pub base_subscription: SubscriptionId,
    /// The billing core's result (filtered to the scope).
    pub rating: Rating,
    /// Every usage line's share of the money (filtered to the scope).
    pub shares: Vec<Share>,
    /// The period rated at the run rate so far, while it is in progress; `None` when it
    /// has not begun. A closed period's forecast is its rating.
    pub forecast: Option<Rating>,
}

/// A rated period.
#[derive(Debug, Clone)]
pub struct PeriodRating {
    /// The period.
    pub period: BillingPeriod,
    /// When it was rated (forecasts run to the period's end from here).
    pub as_of: DateTime<Utc>,
    /// By registration.
    pub registrations: Vec<RegistrationRating>,
    /// Customers by their tenant, for naming accounts and sections.
    pub customers: HashMap<CloudTenantId, (i64, String)>,
    /// The meter catalogue (names, services).
    pub meters: HashMap<MeterId, Meter>,
    /// SQL statements the loading took.
    pub statements: usize,
}

/// The error code of stored data the billing core refuses.
pub const INVALID_DATA: &str = "billing_data_invalid";

fn invalid_data(message: String) -> AppError {
    AppError::new(ErrorKind::Conflict, INVALID_DATA, message)
}

/// Counts statements while loading.
struct Loader<'c, C> {
    c: &'c mut C,
    statements: usize,
}

impl<C: AsExecutor> Loader<'_, C> {
    fn count(&mut self, n: usize) {
        self.statements += n;
    }
}

/// How much detail a rating carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Accounts, sections and lines (what totals, invoices and forecasts need).
    Lines,
    /// Also every usage line's share of the money (totals by day, service, meter or user
    /// subscription); costs memory in proportion to the usage lines.
    Shares,
}

/// A price sheet's draft version, rated in place of the sheet for a whole period: the
/// price-sheet preview ("what would last month have cost?") runs the same rating as
/// invoices, with only the prices swapped.
#[derive(Debug, Clone)]
pub struct WhatIf {
    /// The sheet whose versions the draft replaces.
    pub sheet: SheetId,
    /// The draft's entries.
    pub entries: Vec<PriceEntry>,
}

/// Rates `period` for `scope` as of `as_of` (the clock, injected).
pub async fn rate_period(
    db: &Db,
    scope: Scope,
    period: BillingPeriod,
    as_of: DateTime<Utc>,
    detail: Detail,
) -> Result<PeriodRating, AppError> {
    rate_period_with(db, scope, period, as_of, detail, None).await
}

/// [`rate_period`], with a draft price version in place of a sheet's stored ones.
pub async fn rate_period_with(
    db: &Db,
    scope: Scope,
    period: BillingPeriod,
    as_of: DateTime<Utc>,
    detail: Detail,
    what_if: Option<&WhatIf>,
) -> Result<PeriodRating, AppError> {
    let mut conn = db.conn().await?;
    let mut l = Loader {
        c: &mut conn,
        statements: 0,
    };
    let (from, to) = (period.first_day(), period.end_day());

    // Which registrations, and whose rows.
    let all = db::registrations::list_registrations(l.c).await?;
    l.count(1);
    let (regs, tenant): (Vec<_>, Option<(i64, CloudTenantId)>) = match scope {
        Scope::Everything => (all, None),
        Scope::Registration(id)
        | Scope::BillingAccount {
            registration_id: id, ..
        } => {
            let reg: Vec<_> = all.into_iter().filter(|r| r.id == id).collect();
            if reg.is_empty() {
                return Err(AppError::not_found("registration_not_found", "No such registration."));
            }
            (reg, None)
        }
        Scope::Customer(customer_id) => {
            let customer = db::customers::find_customer(l.c, customer_id)
                .await?
                .ok_or_else(|| AppError::not_found("customer_not_found", "This customer does not exist."))?;
            l.count(1);
            let guid = parse_stored("cloud tenant", &customer.tenant_guid, CloudTenantId::parse)?;
            (all, Some((customer.cloud_tenant_id, guid)))
        }
    };

    // The catalogue and the meters' dated billing modes.
    let meters: HashMap<MeterId, Meter> = db::meters::list_meters(l.c, from)
        .await?
        .into_iter()
        .map(|r| r.to_meter().map(|m| (m.id, m)))
        .collect::<Result<_, DbError>>()?;
    let meter_billing = load_meter_billing(l.c).await?;
    l.count(2);

    // Mappings, owners and usage: by tenant (index ranges on its rows) or by registration.
    let (mut mapping_rows, mut owner_rows) = (Vec::new(), Vec::new());
    let mut usage_by_registration: HashMap<i64, Vec<UsageLine>> = HashMap::new();
    match tenant {
        Some((tenant_row, _)) => {
            mapping_rows = inputs::mappings(l.c, inputs::Of::Tenant(tenant_row), from, to).await?;
            owner_rows = inputs::owners(l.c, inputs::Of::Tenant(tenant_row), from, to).await?;
            let subs: Vec<i64> = owner_rows
                .iter()
                .map(|o| o.user_subscription_id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let registration_of: HashMap<i64, i64> = owner_rows
                .iter()
                .map(|o| (o.user_subscription_id, o.registration_id))
                .collect();
            let guids: Vec<(i64, String)> = owner_rows
                .iter()
                .map(|o| (o.user_subscription_id, o.subscription_guid.clone()))
                .collect();
            let usage = inputs::subscriptions_usage(l.c, &subs, from, to).await?;
            let regs_of_rows: Vec<i64> = usage
                .rollups
                .iter()
                .map(|r| {
                    registration_of
                        .get(&r.user_subscription_id)
                        .copied()
                        .unwrap_or_default()
                })
                .collect();
            for (line, reg) in usage_lines(&guids, usage)?.into_iter().zip(regs_of_rows) {
                usage_by_registration.entry(reg).or_default().push(line);
            }
            l.count(2 + subs.len().div_ceil(500));
        }
        None => {
            for r in &regs {
                mapping_rows.extend(inputs::mappings(l.c, inputs::Of::Registration(r.id), from, to).await?);
                owner_rows.extend(inputs::owners(l.c, inputs::Of::Registration(r.id), from, to).await?);
                let guids = inputs::registration_subscriptions(l.c, r.id).await?;
                let (rollups, reads) = load_usage(db, l.c, r.id, from, to).await?;
                l.count(3 + reads);
                usage_by_registration.insert(r.id, usage_lines(&guids, rollups)?);
            }
        }
    }

    // The customers involved and their dated terms. A customer's scope names its few
    // tenants; every other scope reads all customers in one statement (a fixed count,
    // however many accounts).
    let customer_rows = if tenant.is_some() {
        let tenant_guids: Vec<String> = owner_rows
            .iter()
            .map(|o| o.tenant_guid.clone())
            .chain(mapping_rows.iter().map(|m| m.tenant_guid.clone()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        l.count(tenant_guids.len().div_ceil(500).max(1));
        inputs::customers_by_tenant(l.c, Some(&tenant_guids)).await?
    } else {
        l.count(1);
        inputs::customers_by_tenant(l.c, None).await?
    };
    let mut customers: HashMap<CloudTenantId, (i64, String)> = HashMap::new();
    for (guid, id, name) in customer_rows {
        customers.insert(parse_stored("cloud tenant", &guid, CloudTenantId::parse)?, (id, name));
    }
    let customer_ids: Vec<i64> = customers.values().map(|(id, _)| *id).collect();
    let terms = if tenant.is_some() {
        l.count(2 * customer_ids.len().div_ceil(500).max(1));
        load_customer_terms(l.c, Some(&customer_ids)).await?
    } else {
        l.count(2);
        load_customer_terms(l.c, None).await?
    };
    let mut pricing: HashMap<CloudTenantId, CustomerPricing> = HashMap::new();
    let mut sheet_ids: HashSet<i64> = HashSet::new();
    for (tenant_guid, (id, _)) in &customers {
        if let Some(t) = terms.get(id) {
            sheet_ids.extend(t.pricing.own_sheet.entries().iter().filter_map(|(_, s)| s.map(|s| s.0)));
            pricing.insert(*tenant_guid, t.pricing.clone());
        }
    }
    let mut reg_terms = HashMap::new();
    for r in &regs {
        let t = load_registration_terms(l.c, r.id).await?;
        l.count(1);
        sheet_ids.extend(t.default_sheet.entries().iter().filter_map(|(_, s)| s.map(|s| s.0)));
        reg_terms.insert(r.id, t);
    }
    let sheet_ids: Vec<i64> = sheet_ids.into_iter().collect();
    let mut sheets = load_sheets(&mut l, &sheet_ids).await?;
    if let Some(w) = what_if {
        if let Some(sheet) = sheets.get_mut(&w.sheet) {
            let draft = PriceSheetVersion::new(period.first_day(), Some(period.end_day()), w.entries.clone())?;
            *sheet = PriceSheet::new(&sheet.name, sheet.currency, vec![draft])?;
        }
    }

    // Per registration: the timelines, the usage, the rating.
    let mut registrations = Vec::new();
    for r in regs {
        let currency = parse_stored(
            &format!("currency of registration `{}`", r.name),
            &r.currency,
            Currency::parse,
        )?;
        let base = parse_stored("base subscription", &r.base_subscription_id, SubscriptionId::parse)?;
        let mut maps: Mappings = mappings();
        let mut by_tenant: BTreeMap<CloudTenantId, Vec<&inputs::MappingInterval>> = BTreeMap::new();
        for m in mapping_rows.iter().filter(|m| m.registration_id == r.id) {
            by_tenant
                .entry(parse_stored("cloud tenant", &m.tenant_guid, CloudTenantId::parse)?)
                .or_default()
                .push(m);
        }
        for (t, rows) in by_tenant {
            for m in rows {
                let sub = parse_stored("customer subscription", &m.subscription_id, SubscriptionId::parse)?;
                maps.insert(t, m.effective_on, m.ended_on, sub).map_err(|e| {
                    invalid_data(format!(
                        "The mapping history of cloud tenant {t} on `{}` is inconsistent: {e}",
                        r.name
                    ))
                })?;
            }
        }
        let mut owners: Ownerships = ownerships();
        for o in owner_rows.iter().filter(|o| o.registration_id == r.id) {
            let sub = parse_stored("user subscription", &o.subscription_guid, SubscriptionId::parse)?;
            let t = parse_stored("cloud tenant", &o.tenant_guid, CloudTenantId::parse)?;
            owners.insert(sub, o.effective_on, o.ended_on, t).map_err(|e| {
                invalid_data(format!(
                    "The owners of user subscription {sub} on `{}` are inconsistent: {e}",
                    r.name
                ))
            })?;
        }
        let usage = usage_by_registration.remove(&r.id).unwrap_or_default();
        let rt = reg_terms.remove(&r.id).unwrap_or_default();
        let input = RatingInput {
            period,
            currency,
            resolver: Resolver {
                base_subscription: base,
                ownerships: &owners,
                mappings: &maps,
            },
            sheets: &sheets,
            default_sheet: &rt.default_sheet,
            customer_pricing: &pricing,
            meters: &meters,
            meter_billing: &meter_billing,
        };
        let core_error = |e: crate::billing::BillingError| {
            invalid_data(format!("Registration `{}` cannot be rated for {period}: {e}", r.name))
        };
        let (mut rating, mut shares) = match detail {
            Detail::Shares => rate_with_shares(&input, &usage).map_err(core_error)?,
            Detail::Lines => (rate(&input, &usage).map_err(core_error)?, Vec::new()),
        };
        let in_progress = as_of >= period.start() && as_of < period.end();
        let mut forecast_rating = if in_progress {
            // Usage arrives by the hour: the run rate is taken over whole hours, so the
            // forecast is the same on every page and API call within an hour.
            let whole_hours = as_of.duration_trunc(chrono::Duration::hours(1)).unwrap_or(as_of);
            forecast(&input, &usage, whole_hours).map_err(core_error)?
        } else if as_of >= period.end() {
            Some(rating.clone())
        } else {
            None
        };
        // Narrow to the scope.
        let keep_section = |s: Section| match tenant {
            Some((_, t)) => s == Section::Tenant(t),
            None => true,
        };
        let keep_account = |a: &BillingAccount| match scope {
            Scope::BillingAccount { subscription, .. } => a.subscription() == subscription,
            _ => true,
        };
        let narrow = |rating: &mut Rating| {
            rating.accounts.retain(|a| keep_account(&a.account));
            for a in &mut rating.accounts {
                a.sections.retain(|s| keep_section(s.section));
            }
            rating.accounts.retain(|a| !a.sections.is_empty());
        };
        narrow(&mut rating);
        if let Some(f) = forecast_rating.as_mut() {
            narrow(f);
        }
        shares.retain(|s| keep_section(s.section) && keep_account(&s.account));
        if tenant.is_some() && rating.accounts.is_empty() && shares.is_empty() {
            continue;
        }
        registrations.push(RegistrationRating {
            registration_id: r.id,
            name: r.name,
            currency,
            base_subscription: base,
            rating,
            shares,
            forecast: forecast_rating,
        });
    }
    let statements = l.statements;
    Ok(PeriodRating {
        period,
        as_of,
        registrations,
        customers,
        meters,
        statements,
    })
}

/// Reads a registration's rollups for `[from, to)`. A month is read as two halves at
/// once, on the caller's connection and a second one when the pool has one free: the
/// database does most of this work, and a second core halves it. Returns the statements.
async fn load_usage(
    db: &Db,
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(inputs::RegistrationUsage, usize), AppError> {
    let days = (to - from).num_days();
    let second = if days >= 8 { db.try_conn() } else { None };
    let Some(mut second) = second else {
        return Ok((inputs::registration_usage(c, registration_id, from, to).await?, 1));
    };
    let mid = from + chrono::Duration::days(days / 2);
    let (first, later) = tokio::try_join!(
        inputs::registration_usage(c, registration_id, from, mid),
        inputs::registration_usage(&mut second, registration_id, mid, to),
    )?;
    let mut usage = first;
    usage.append(later);
    Ok((usage, 2))
}

/// Usage lines from a registration's rollups (see `rating_inputs::registration_usage`).
fn usage_lines(subscriptions: &[(i64, String)], usage: inputs::RegistrationUsage) -> Result<Vec<UsageLine>, AppError> {
    let guid_of: HashMap<i64, SubscriptionId> = subscriptions
        .iter()
        .map(|(id, guid)| Ok((*id, parse_stored("user subscription", guid, SubscriptionId::parse)?)))
        .collect::<Result<_, DbError>>()?;
    let meters: Vec<MeterId> = usage
        .meters
        .iter()
        .map(|m| parse_stored("meter", m, MeterId::parse))
        .collect::<Result<_, DbError>>()?;
    usage
        .rollups
        .iter()
        .map(|r| {
            let subscription = *guid_of.get(&r.user_subscription_id).ok_or_else(|| {
                AppError::from(DbError::Corrupt(format!(
                    "a rollup names user subscription row {} of another registration",
                    r.user_subscription_id
                )))
            })?;
            line_of(subscription, meters[r.meter as usize], r.usage_on, r.quantity)
        })
        .collect()
}

/// A usage line, refusing a negative total (corrections can only lower a rollup to zero).
fn line_of(
    subscription_id: SubscriptionId,
    meter_id: MeterId,
    day: NaiveDate,
    sum: crate::ssr::db::fixed::ExactSum,
) -> Result<UsageLine, AppError> {
    let q = sum.to_decimal();
    Ok(UsageLine {
        subscription_id,
        meter_id,
        day,
        quantity: crate::billing::Quantity::try_from_decimal(q).map_err(|_| {
            invalid_data(format!(
                "The usage of meter {meter_id} on {day} for user subscription {subscription_id} adds up to {q}, \
                 below zero; run `stackbill rollups check`."
            ))
        })?,
    })
}

/// Loads price sheets through the billing core's constructors: a stored sheet the core
/// would refuse is an error naming the sheet, never a silently empty price list.
async fn load_sheets<C: AsExecutor>(
    l: &mut Loader<'_, C>,
    ids: &[i64],
) -> Result<HashMap<SheetId, PriceSheet>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = db::price_sheets::list_price_sheets(l.c, ids).await?;
    let versions = db::price_sheets::list_versions_of(l.c, ids).await?;
    let version_ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
    let entries = db::price_sheets::list_entries(l.c, &version_ids).await?;
    l.count(3);
    let mut by_version: HashMap<i64, Vec<PriceEntry>> = HashMap::new();
    let sheet_of: HashMap<i64, i64> = versions.iter().map(|v| (v.id, v.price_sheet_id)).collect();
    let names: HashMap<i64, String> = rows.iter().map(|r| (r.id, r.name.clone())).collect();
    for e in entries {
        let sheet = names
            .get(&sheet_of.get(&e.version_id).copied().unwrap_or_default())
            .cloned()
            .unwrap_or_default();
        let bad = |what: &str, err: String| {
            invalid_data(format!(
                "Price sheet `{sheet}` has an entry for meter {} whose {what} cannot be read: {err}",
                e.meter_id
            ))
        };
        let entry = e.to_entry().map_err(|(what, x)| bad(what, x))?;
        by_version.entry(e.version_id).or_default().push(entry);
    }
    let mut out = HashMap::new();
    for r in rows {
        let currency = parse_stored(
            &format!("currency of price sheet `{}`", r.name),
            &r.currency,
            Currency::parse,
        )?;
        let mut list = Vec::new();
        for v in versions.iter().filter(|v| v.price_sheet_id == r.id) {
            let entries = by_version.remove(&v.id).unwrap_or_default();
            list.push(
                PriceSheetVersion::new(v.effective_on, v.ended_on, entries).map_err(|e| {
                    invalid_data(format!(
                        "Price sheet `{}` (version from {}) cannot be used: {e}",
                        r.name, v.effective_on
                    ))
                })?,
            );
        }
        let sheet = PriceSheet::new(&r.name, currency, list)
            .map_err(|e| invalid_data(format!("Price sheet `{}` cannot be used: {e}", r.name)))?;
        out.insert(SheetId(r.id), sheet);
    }
    Ok(out)
}

impl PeriodRating {
    /// Totals of the shares by a key (service, meter, user subscription, day…), rounded
    /// with the currency's rule for display; `None` amounts (unpriced) are left out.
    /// Keyed by currency too: registrations may bill in different currencies.
    pub fn totals_by<K: Ord>(&self, key: impl Fn(&Share, &PeriodRating) -> K) -> BTreeMap<(Currency, K), Decimal> {
        let mut out = BTreeMap::new();
        for r in &self.registrations {
            for s in &r.shares {
                if let Some(a) = s.precise_amount {
                    *out.entry((r.currency, key(s, self))).or_insert(Decimal::ZERO) += a;
                }
            }
        }
        out.into_iter().map(|((c, k), v)| ((c, k), c.round(v))).collect()
    }

    /// The service of a meter (its catalogue entry, or `Unknown`).
    pub fn service_of(&self, meter: MeterId) -> String {
        self.meters
            .get(&meter)
            .map(|m| m.service.clone())
            .unwrap_or_else(|| "Unknown".into())
    }
}

/// A day's key for [`PeriodRating::totals_by`].
pub fn by_day(s: &Share, _: &PeriodRating) -> NaiveDate {
    s.day
}

#[cfg(test)]
#[path = "rating_tests.rs"]
mod tests;

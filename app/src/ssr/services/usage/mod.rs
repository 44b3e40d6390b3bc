//! A customer's usage and cost in detail: the portal's explorer, its CSV, its charts and
//! `GET /api/v1/customers/{id}/usage`.
//!
//! Everything starts from [`rating::rate_period`] for the customer's scope, month by month
//! — the same rating as its invoices. Each rated line's rounded amount is split over the
//! usage days that fed it, and each day over the resources that reported it, with
//! [`billing::allocate`] (largest remainder), so every row is in whole cents and any
//! complete breakdown adds up to the invoice to the cent. The cells are a customer's own:
//! the rating's customer scope reads only its tenant's sections, and the per-resource
//! rollups are matched to the days and meters that scope charged it for.

use super::rating::{self, Detail, Scope};
use crate::billing::{allocate, resource_group, BillingAccount, BillingPeriod, Currency, Meter, MeterId, Section};
use crate::error::AppError;
use crate::ssr::db::{self, fixed, rating_inputs};
use crate::ssr::state::AppState;
use crate::types::{
    CurrencyTotal, Ranked, Series, UsageCharts, UsageChoices, UsageDim, UsagePage, UsageQuery, UsageRow,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod hourly;
pub use hourly::{hourly_csv, TagFilter, HOURLY_CSV_COLUMNS};

/// Months the explorer and the charts cover at most at once.
pub const MAX_MONTHS: u32 = 12;
/// Rows per page by default and at most.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest page.
pub const MAX_PAGE: u32 = 1000;

/// One day of one resource's use of one meter, with its part of the money.
#[derive(Debug, Clone)]
struct Cell {
    day: NaiveDate,
    registration: i64,
    subscription: u32,
    meter: MeterId,
    resource: u32,
    quantity: Decimal,
    cost: Decimal,
    unpriced: bool,
    currency: Currency,
}

/// A customer's usage over some months, rated.
#[derive(Debug, Clone)]
pub struct CustomerUsage {
    /// Whose usage.
    pub customer_id: i64,
    /// The customer's name.
    pub customer_name: String,
    /// First month.
    pub from: BillingPeriod,
    /// Last month.
    pub to: BillingPeriod,
    cells: Vec<Cell>,
    /// User subscriptions (GUIDs): the customer's current ones and any in the usage.
    subscriptions: Vec<String>,
    /// Their display names (same order; may be empty).
    subscription_names: Vec<String>,
    /// Resource URIs; 0 is "no resource explains this usage".
    resources: Vec<String>,
    /// Resource groups, lower-cased, with their spelling as first seen.
    group_names: HashMap<String, String>,
    meters: HashMap<MeterId, Meter>,
}

/// The months of a query: `from`..=`to`, the month in progress when both are empty.
pub fn months(from: &str, to: &str, today: NaiveDate) -> Result<(BillingPeriod, BillingPeriod), AppError> {
    let parse = |field: &str, raw: &str| {
        BillingPeriod::parse(raw.trim()).map_err(|_| {
            AppError::invalid(
                field,
                format!("“{}” is not a month; write it as YYYY-MM, like 2026-10.", raw.trim()),
            )
        })
    };
    let from = if from.trim().is_empty() {
        BillingPeriod::of_date(today)
    } else {
        parse("from", from)?
    };
    let to = if to.trim().is_empty() { from } else { parse("to", to)? };
    if to < from {
        return Err(AppError::invalid(
            "to",
            format!("The last month ({to}) is before the first ({from})."),
        ));
    }
    let span = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
    if span > MAX_MONTHS as i32 {
        return Err(AppError::invalid(
            "to",
            format!("{from} to {to} is {span} months; ask for at most {MAX_MONTHS} at a time."),
        ));
    }
    Ok((from, to))
}

/// Rates a customer's months and breaks the money down to days and resources.
pub async fn load(
    state: &AppState,
    customer_id: i64,
    from: BillingPeriod,
    to: BillingPeriod,
) -> Result<CustomerUsage, AppError> {
    let mut c = state.db.conn().await?;
    let customer = db::customers::find_customer(&mut c, customer_id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", "This customer does not exist."))?;
    let owned =
        db::user_subscriptions::list_owned_by_tenant(&mut c, customer.cloud_tenant_id, from.first_day()).await?;
    drop(c);
    let mut usage = CustomerUsage {
        customer_id,
        customer_name: customer.name.clone(),
        from,
        to,
        cells: Vec::new(),
        subscriptions: Vec::new(),
        subscription_names: Vec::new(),
        resources: vec![String::new()],
        group_names: HashMap::new(),
        meters: HashMap::new(),
    };
    let mut sub_index: HashMap<String, u32> = HashMap::new();
    for s in &owned {
        index_of(&mut sub_index, &mut usage.subscriptions, &s.subscription_id);
    }
    let mut resource_index: HashMap<String, u32> = HashMap::new();
    // The months' own lists become the customer's, and their cells point into those.
    for month in months_of(state, customer_id, from, to).await? {
        let subs: Vec<u32> = month
            .subscriptions
            .iter()
            .map(|g| index_of(&mut sub_index, &mut usage.subscriptions, g))
            .collect();
        let resources: Vec<u32> = month
            .resources
            .iter()
            .enumerate()
            .map(|(i, uri)| {
                if i == 0 {
                    0
                } else {
                    index_of(&mut resource_index, &mut usage.resources, uri)
                }
            })
            .collect();
        usage.cells.extend(month.cells.iter().map(|c| Cell {
            subscription: subs[c.subscription as usize],
            resource: resources[c.resource as usize],
            ..c.clone()
        }));
        for (id, m) in &month.meters {
            usage.meters.entry(*id).or_insert_with(|| m.clone());
        }
    }
    for uri in &usage.resources {
        if let Some(g) = resource_group(uri) {
            usage
                .group_names
                .entry(g.to_lowercase())
                .or_insert_with(|| g.to_owned());
        }
    }
    // Display names.
    let mut c = state.db.conn().await?;
    let names = db::user_subscriptions::display_names(&mut c, &usage.subscriptions).await?;
    drop(c);
    let names: HashMap<String, String> = names
        .into_iter()
        .map(|n| (n.subscription_id.to_ascii_lowercase(), n.display_name))
        .collect();
    usage.subscription_names = usage
        .subscriptions
        .iter()
        .map(|g| names.get(&g.to_ascii_lowercase()).cloned().unwrap_or_default())
        .collect();
    Ok(usage)
}

/// One customer's month, rated and broken down to days and resources, with its own lists
/// of user subscriptions and resources (cells index into them). Kept in the cache while
/// the data is unchanged.
pub struct Month {
    cells: Vec<Cell>,
    subscriptions: Vec<String>,
    resources: Vec<String>,
    meters: HashMap<MeterId, Meter>,
}

/// Rates one month of a customer and breaks each rated line down (see the module).
async fn rate_month(
    state: &AppState,
    customer_id: i64,
    period: BillingPeriod,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Month, AppError> {
    let mut month = Month {
        cells: Vec::new(),
        subscriptions: Vec::new(),
        resources: vec![String::new()],
        meters: HashMap::new(),
    };
    let mut sub_index: HashMap<String, u32> = HashMap::new();
    let mut resource_index: HashMap<String, u32> = HashMap::new();
    let rated = rating::rate_period(&state.db, Scope::Customer(customer_id), period, now, Detail::Shares).await?;
    for r in &rated.registrations {
        let exponent = r.currency.exponent();
        // What the customer was charged per account, section and meter (the rounded
        // lines), and which of those have no price.
        type Key = (BillingAccount, Section, MeterId);
        let mut charged: HashMap<Key, Decimal> = HashMap::new();
        let mut unpriced: HashSet<Key> = HashSet::new();
        for a in &r.rating.accounts {
            for s in &a.sections {
                for l in &s.lines {
                    *charged.entry((a.account, s.section, l.meter_id)).or_default() += l.amount.amount();
                }
                for u in &s.unpriced {
                    unpriced.insert((a.account, s.section, u.meter_id));
                }
            }
        }
        let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
        for (i, s) in r.shares.iter().enumerate() {
            if s.precise_amount.is_some() {
                by_key.entry((s.account, s.section, s.meter_id)).or_default().push(i);
            }
        }
        let mut share_cost = vec![Decimal::ZERO; r.shares.len()];
        for (key, idx) in &by_key {
            let weights: Vec<Decimal> = idx
                .iter()
                .map(|i| r.shares[*i].precise_amount.unwrap_or_default())
                .collect();
            let total = charged.get(key).copied().unwrap_or_default();
            for (i, part) in idx.iter().zip(allocate(total, &weights, exponent)) {
                share_cost[*i] = part;
            }
        }
        // The resources behind each charged day.
        let guids: Vec<String> = r
            .shares
            .iter()
            .map(|s| s.subscription_id.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut c = state.db.conn().await?;
        let days =
            rating_inputs::resource_days(&mut c, r.registration_id, &guids, period.first_day(), period.end_day())
                .await?;
        drop(c);
        let mut resources: HashMap<(String, NaiveDate, String), Vec<(u32, Decimal)>> = HashMap::new();
        for d in days {
            let id = index_of(&mut resource_index, &mut month.resources, &d.resource_uri);
            resources
                .entry((
                    d.subscription_guid.to_ascii_lowercase(),
                    d.usage_on,
                    d.meter_id.to_ascii_uppercase(),
                ))
                .or_default()
                .push((id, fixed::from_fixed(d.quantity_whole, d.quantity_atto, 0)));
        }
        for (i, s) in r.shares.iter().enumerate() {
            let sub_guid = s.subscription_id.to_string();
            let sub = index_of(&mut sub_index, &mut month.subscriptions, &sub_guid);
            let is_unpriced = s.precise_amount.is_none() && unpriced.contains(&(s.account, s.section, s.meter_id));
            let quantity = s.quantity.value();
            let mut parts: Vec<(u32, Decimal)> = resources
                .get(&(
                    sub_guid.to_ascii_lowercase(),
                    s.day,
                    s.meter_id.to_string().to_ascii_uppercase(),
                ))
                .cloned()
                .unwrap_or_default();
            let explained: Decimal = parts.iter().map(|(_, q)| *q).sum();
            if quantity > explained {
                parts.push((0, quantity - explained));
            }
            parts.retain(|(_, q)| !q.is_zero());
            if parts.is_empty() {
                parts.push((0, Decimal::ZERO));
            }
            let weights: Vec<Decimal> = parts.iter().map(|(_, q)| *q).collect();
            let costs = allocate(share_cost[i], &weights, exponent);
            for ((resource, q), cost) in parts.into_iter().zip(costs) {
                month.cells.push(Cell {
                    day: s.day,
                    registration: r.registration_id,
                    subscription: sub,
                    meter: s.meter_id,
                    resource,
                    quantity: q,
                    cost,
                    unpriced: is_unpriced,
                    currency: r.currency,
                });
            }
        }
    }
    for (id, m) in rated.meters {
        month.meters.entry(id).or_insert(m);
    }
    Ok(month)
}

/// A customer's months, from the cache where the data has not changed since, the others
/// rated at once (each on its own task, so a year uses every core).
async fn months_of(
    state: &AppState,
    customer_id: i64,
    from: BillingPeriod,
    to: BillingPeriod,
) -> Result<Vec<std::sync::Arc<Month>>, AppError> {
    let stamp = super::cache::stamp(state, false).await?;
    let now = state.clock.now();
    let mut periods = vec![from];
    while *periods.last().expect("one") < to {
        let next = periods.last().expect("one").next();
        periods.push(next);
    }
    let mut found: Vec<Option<std::sync::Arc<Month>>> = periods
        .iter()
        .map(|p| state.caches.usage_months.get(&(customer_id, *p), stamp))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in periods.iter().enumerate().filter(|(i, _)| found[*i].is_none()) {
        let (state, p) = (state.clone(), *p);
        tasks.spawn(async move { (i, rate_month(&state, customer_id, p, now).await) });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, month) = done.map_err(|e| crate::ssr::auth::internal("usage month", e))?;
        let month = std::sync::Arc::new(month?);
        state
            .caches
            .usage_months
            .put((customer_id, periods[i]), stamp, month.clone());
        found[i] = Some(month);
    }
    Ok(found.into_iter().flatten().collect())
}

fn index_of(index: &mut HashMap<String, u32>, list: &mut Vec<String>, key: &str) -> u32 {
    if let Some(i) = index.get(key) {
        return *i;
    }
    list.push(key.to_owned());
    let i = (list.len() - 1) as u32;
    index.insert(key.to_owned(), i);
    i
}

/// [`select`], then the tag filter's lookup of which resources carried the tag.
pub async fn select_in(state: &AppState, usage: &CustomerUsage, q: &UsageQuery) -> Result<Selection, AppError> {
    let mut s = select(usage, q)?;
    hourly::resolve_tags(state, usage, &mut s).await?;
    Ok(s)
}

/// How a query's rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Dim(UsageDim),
    Quantity,
    Cost,
}

/// A query, checked.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Dimensions grouped by, in the CSV's column order.
    pub group_by: Vec<UsageDim>,
    service: Option<String>,
    meter: Option<MeterId>,
    subscription: Option<u32>,
    resource_group: Option<String>,
    tag: Option<TagFilter>,
    /// With a tag filter: the (resource, day) pairs whose records carried the tag.
    tagged: Option<HashSet<(u32, NaiveDate)>>,
    hourly: bool,
    sort: SortKey,
    descending: bool,
    offset: usize,
    page_size: usize,
}

impl Selection {
    /// Whether the query asked for the records' own hours (the hourly CSV).
    pub fn is_hourly(&self) -> bool {
        self.hourly
    }
}

/// Checks a query against a customer's usage: unknown dimensions, meters, sort keys or
/// cursors are a clear `invalid_input`; a user subscription that is not the customer's is
/// `404` whether or not it exists.
pub fn select(usage: &CustomerUsage, q: &UsageQuery) -> Result<Selection, AppError> {
    let mut group_by = Vec::new();
    if q.group_by.trim().is_empty() {
        group_by = vec![UsageDim::Day, UsageDim::Meter, UsageDim::Subscription];
    } else {
        for raw in q.group_by.split(',').filter(|s| !s.trim().is_empty()) {
            let dim = UsageDim::parse(raw).ok_or_else(|| {
                AppError::invalid(
                    "group_by",
                    format!(
                        "“{}” is not a dimension; group by {}.",
                        raw.trim(),
                        UsageDim::ALL.map(|d| d.code()).join(", ")
                    ),
                )
            })?;
            group_by.push(dim);
        }
    }
    group_by.sort();
    group_by.dedup();
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let meter = match text(&q.meter) {
        None => None,
        Some(raw) => {
            let id = MeterId::parse(&raw)
                .map_err(|_| AppError::invalid("meter", format!("“{raw}” is not a meter ID (a GUID).")))?;
            if !usage.meters.contains_key(&id) {
                return Err(AppError::invalid("meter", format!("There is no meter {raw}.")));
            }
            Some(id)
        }
    };
    let subscription = match text(&q.subscription) {
        None => None,
        Some(raw) => Some(
            usage
                .subscriptions
                .iter()
                .position(|g| g.eq_ignore_ascii_case(&raw))
                .ok_or_else(|| {
                    AppError::not_found("subscription_not_found", "That is not one of your user subscriptions.")
                })? as u32,
        ),
    };
    let (descending, key) = match q.sort.trim().strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, q.sort.trim()),
    };
    let sort = match key {
        "" => {
            if group_by.contains(&UsageDim::Day) {
                SortKey::Dim(UsageDim::Day)
            } else {
                SortKey::Cost
            }
        }
        "cost" => SortKey::Cost,
        "quantity" => SortKey::Quantity,
        other => SortKey::Dim(UsageDim::parse(other).filter(|d| group_by.contains(d)).ok_or_else(|| {
            AppError::invalid(
                "sort",
                format!("“{other}” is not a column of these rows; sort by cost, quantity or a dimension grouped by."),
            )
        })?),
    };
    // Without an explicit order, cost reads largest first.
    let descending = descending || (q.sort.trim().is_empty() && sort == SortKey::Cost);
    let offset = match q.cursor.trim() {
        "" => 0,
        raw => raw.parse::<usize>().map_err(|_| {
            AppError::invalid(
                "cursor",
                "This cursor is not one Stackbill gave; start from the first page.",
            )
        })?,
    };
    let page_size = match q.page_size {
        None => DEFAULT_PAGE,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(AppError::invalid(
                "page_size",
                format!("{n} rows a page is not possible; ask for 1 to {MAX_PAGE}."),
            ))
        }
    } as usize;
    let hourly = match q.granularity.trim().to_ascii_lowercase().as_str() {
        "" | "daily" => false,
        "hourly" => true,
        other => {
            return Err(AppError::invalid(
                "granularity",
                format!("“{other}” is not a granularity; ask for daily or hourly."),
            ))
        }
    };
    Ok(Selection {
        group_by,
        service: text(&q.service),
        meter,
        subscription,
        resource_group: text(&q.resource_group).map(|s| s.to_lowercase()),
        tag: TagFilter::parse(&q.tag)?,
        tagged: None,
        hourly,
        sort,
        descending,
        offset,
        page_size,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupKey {
    day: Option<NaiveDate>,
    service: Option<String>,
    meter: Option<MeterId>,
    subscription: Option<u32>,
    resource_group: Option<String>,
    resource: Option<u32>,
    currency: Currency,
}

#[derive(Debug, Clone, Default)]
struct Sums {
    quantity: Decimal,
    cost: Decimal,
    unpriced: bool,
}

impl CustomerUsage {
    fn service_of(&self, meter: &MeterId) -> &str {
        self.meters.get(meter).map(|m| m.service.as_str()).unwrap_or("")
    }

    fn group_of(&self, resource: u32) -> String {
        resource_group(&self.resources[resource as usize])
            .unwrap_or_default()
            .to_lowercase()
    }

    fn matches(&self, c: &Cell, s: &Selection) -> bool {
        s.service
            .as_deref()
            .is_none_or(|v| self.service_of(&c.meter).eq_ignore_ascii_case(v))
            && s.meter.is_none_or(|m| m == c.meter)
            && s.subscription.is_none_or(|x| x == c.subscription)
            && s.resource_group
                .as_deref()
                .is_none_or(|g| self.group_of(c.resource) == g)
            && s.tagged.as_ref().is_none_or(|t| t.contains(&(c.resource, c.day)))
    }

    /// Every row the selection makes, in its order (all pages).
    fn rows(&self, s: &Selection) -> Vec<(GroupKey, Sums)> {
        let has = |d| s.group_by.contains(&d);
        let mut groups: HashMap<GroupKey, Sums> = HashMap::new();
        for c in self.cells.iter().filter(|c| self.matches(c, s)) {
            let key = GroupKey {
                day: has(UsageDim::Day).then_some(c.day),
                service: has(UsageDim::Service).then(|| self.service_of(&c.meter).to_owned()),
                meter: has(UsageDim::Meter).then_some(c.meter),
                subscription: has(UsageDim::Subscription).then_some(c.subscription),
                resource_group: has(UsageDim::ResourceGroup).then(|| self.group_of(c.resource)),
                resource: has(UsageDim::Resource).then_some(c.resource),
                currency: c.currency,
            };
            let e = groups.entry(key).or_default();
            e.quantity += c.quantity;
            e.cost += c.cost;
            e.unpriced |= c.unpriced;
        }
        let mut rows: Vec<(GroupKey, Sums)> = groups.into_iter().collect();
        let name = |m: &Option<MeterId>| m.and_then(|m| self.meters.get(&m)).map(|m| m.name.clone());
        let sub = |x: &Option<u32>| x.map(|i| self.subscription_label(i));
        let res = |x: &Option<u32>| x.map(|i| self.resources[i as usize].to_lowercase());
        rows.sort_by(|(a, x), (b, y)| {
            let primary = match s.sort {
                SortKey::Cost => x.cost.cmp(&y.cost),
                SortKey::Quantity => x.quantity.cmp(&y.quantity),
                SortKey::Dim(UsageDim::Day) => a.day.cmp(&b.day),
                SortKey::Dim(UsageDim::Service) => a.service.cmp(&b.service),
                SortKey::Dim(UsageDim::Meter) => name(&a.meter).cmp(&name(&b.meter)),
                SortKey::Dim(UsageDim::Subscription) => sub(&a.subscription).cmp(&sub(&b.subscription)),
                SortKey::Dim(UsageDim::ResourceGroup) => a.resource_group.cmp(&b.resource_group),
                SortKey::Dim(UsageDim::Resource) => res(&a.resource).cmp(&res(&b.resource)),
            };
            let primary = if s.descending { primary.reverse() } else { primary };
            // Ties: the larger cost first, then the key, so pages never overlap.
            primary.then(y.cost.cmp(&x.cost)).then_with(|| a.cmp(b))
        });
        rows
    }

    fn subscription_label(&self, i: u32) -> String {
        let name = &self.subscription_names[i as usize];
        if name.is_empty() {
            self.subscriptions[i as usize].clone()
        } else {
            name.to_lowercase()
        }
    }

    fn row(&self, key: &GroupKey, sums: &Sums) -> UsageRow {
        let meter = key.meter.and_then(|m| self.meters.get(&m));
        let mut cost = sums.cost;
        cost.rescale(key.currency.exponent());
        UsageRow {
            day: key.day,
            service: key.service.clone(),
            meter_id: key.meter.map(|m| m.to_string()),
            meter_name: key
                .meter
                .map(|m| meter.map(|x| x.name.clone()).unwrap_or_else(|| m.to_string())),
            unit: key.meter.map(|_| meter.map(|x| x.unit.clone()).unwrap_or_default()),
            subscription_id: key.subscription.map(|i| self.subscriptions[i as usize].clone()),
            subscription_name: key.subscription.map(|i| self.subscription_names[i as usize].clone()),
            resource_group: key
                .resource
                .map(|r| {
                    resource_group(&self.resources[r as usize])
                        .unwrap_or_default()
                        .to_owned()
                })
                .or_else(|| {
                    key.resource_group
                        .as_ref()
                        .map(|g| self.group_names.get(g).cloned().unwrap_or_else(|| g.clone()))
                }),
            resource: key.resource.map(|r| self.resources[r as usize].clone()),
            quantity: key.meter.map(|_| sums.quantity.normalize()),
            cost,
            currency: key.currency,
            unpriced: sums.unpriced,
        }
    }

    /// One page of the selection, with its totals and the filters' choices.
    pub fn page(&self, s: &Selection) -> Result<UsagePage, AppError> {
        if s.hourly {
            return Err(AppError::invalid(
                "granularity",
                "Hourly detail is a CSV download (Accept: text/csv, format=csv or usage.csv); pages are daily.",
            ));
        }
        let rows = self.rows(s);
        if s.offset > rows.len() {
            return Err(AppError::invalid(
                "cursor",
                "This cursor is past the last row; start from the first page.",
            ));
        }
        let mut totals: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for (k, v) in &rows {
            *totals.entry(k.currency).or_default() += v.cost;
        }
        let end = (s.offset + s.page_size).min(rows.len());
        Ok(UsagePage {
            customer_id: self.customer_id,
            value: rows[s.offset..end].iter().map(|(k, v)| self.row(k, v)).collect(),
            next_cursor: (end < rows.len()).then(|| end.to_string()),
            total_rows: rows.len(),
            totals: totals
                .into_iter()
                .map(|(c, mut cost)| {
                    cost.rescale(c.exponent());
                    CurrencyTotal { currency: c, cost }
                })
                .collect(),
            group_by: s.group_by.clone(),
            from: self.from.to_string(),
            to: self.to.to_string(),
            choices: self.choices(),
        })
    }

    /// Every row of the selection (the CSV), in its order.
    pub fn all_rows(&self, s: &Selection) -> Vec<UsageRow> {
        self.rows(s).iter().map(|(k, v)| self.row(k, v)).collect()
    }

    fn choices(&self) -> UsageChoices {
        let meters: BTreeSet<MeterId> = self.cells.iter().map(|c| c.meter).collect();
        let mut meter_list: Vec<(String, String)> = meters
            .iter()
            .map(|m| {
                (
                    m.to_string(),
                    self.meters
                        .get(m)
                        .map(|x| x.name.clone())
                        .unwrap_or_else(|| m.to_string()),
                )
            })
            .collect();
        meter_list.sort_by(|a, b| a.1.cmp(&b.1));
        let services: BTreeSet<String> = meters.iter().map(|m| self.service_of(m).to_owned()).collect();
        let groups: BTreeSet<String> = self
            .cells
            .iter()
            .filter_map(|c| resource_group(&self.resources[c.resource as usize]))
            .map(str::to_owned)
            .collect();
        UsageChoices {
            services: services.into_iter().filter(|s| !s.is_empty()).collect(),
            meters: meter_list,
            subscriptions: self
                .subscriptions
                .iter()
                .cloned()
                .zip(self.subscription_names.iter().cloned())
                .collect(),
            resource_groups: groups.into_iter().collect(),
        }
    }
}

/// The explorer's CSV columns, stable for Power BI and Excel imports.
pub const CSV_COLUMNS: [&str; 13] = [
    "day",
    "service",
    "meter_id",
    "meter_name",
    "unit",
    "subscription_id",
    "subscription_name",
    "resource_group",
    "resource",
    "quantity",
    "cost",
    "currency",
    "unpriced",
];

/// Rows as CSV (with the header first when `header`): UTF-8, ISO dates, dot decimals,
/// dimensions not grouped by left empty. The download is written in chunks of these.
pub fn csv_chunk(rows: &[UsageRow], header: bool) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160 + 200));
    let fail = |e: csv::Error| crate::ssr::auth::internal("usage csv", e);
    if header {
        w.write_record(CSV_COLUMNS).map_err(fail)?;
    }
    for r in rows {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            r.day.map(|d| d.to_string()).unwrap_or_default(),
            text(&r.service),
            text(&r.meter_id),
            text(&r.meter_name),
            text(&r.unit),
            text(&r.subscription_id),
            text(&r.subscription_name),
            text(&r.resource_group),
            text(&r.resource),
            r.quantity.map(|q| q.to_string()).unwrap_or_default(),
            r.cost.to_string(),
            r.currency.to_string(),
            r.unpriced.to_string(),
        ])
        .map_err(fail)?;
    }
    w.into_inner().map_err(|e| crate::ssr::auth::internal("usage csv", e))
}

/// A user subscription's cost in the months and its resource groups, costliest first (the
/// customer's main currency only).
#[derive(Debug, Clone, Default)]
pub struct SubscriptionCost {
    /// Σ cost.
    pub cost: Decimal,
    /// The currency.
    pub currency: Option<Currency>,
    /// (resource group, cost).
    pub resource_groups: Vec<(String, Decimal)>,
}

impl CustomerUsage {
    /// Cost per user subscription (by GUID, lower-case) and its resource groups.
    pub fn by_subscription(&self) -> HashMap<String, SubscriptionCost> {
        let mut out: HashMap<String, SubscriptionCost> = HashMap::new();
        let mut groups: HashMap<(u32, String), Decimal> = HashMap::new();
        for c in &self.cells {
            let e = out
                .entry(self.subscriptions[c.subscription as usize].to_lowercase())
                .or_default();
            if e.currency.is_some_and(|x| x != c.currency) {
                continue; // several currencies: the first one's figures only
            }
            e.currency = Some(c.currency);
            e.cost += c.cost;
            *groups.entry((c.subscription, self.group_of(c.resource))).or_default() += c.cost;
        }
        for ((sub, group), cost) in groups {
            if let Some(e) = out.get_mut(&self.subscriptions[sub as usize].to_lowercase()) {
                let name = self.group_names.get(&group).cloned().unwrap_or(group);
                e.resource_groups.push((name, cost));
            }
        }
        for e in out.values_mut() {
            e.resource_groups.retain(|g| !g.1.is_zero());
            e.resource_groups
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            if let Some(c) = e.currency {
                e.cost.rescale(c.exponent());
                e.resource_groups.iter_mut().for_each(|g| g.1.rescale(c.exponent()));
            }
        }
        out
    }
}

/// Bars a ranking shows before "the rest".
pub const TOP: usize = 10;

impl CustomerUsage {
    /// The portal's charts. Amounts in the currency the customer spends most in; `meter`
    /// (an ID) picks the meter whose quantity is charted, else the costliest one.
    pub fn charts(&self, meter: Option<&str>) -> Result<UsageCharts, AppError> {
        let mut by_currency: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for c in &self.cells {
            *by_currency.entry(c.currency).or_default() += c.cost;
        }
        let currency = by_currency.iter().max_by_key(|(_, v)| **v).map(|(c, _)| *c);
        let cells: Vec<&Cell> = self.cells.iter().filter(|c| Some(c.currency) == currency).collect();
        let mut days = Vec::new();
        let mut p = self.from;
        loop {
            days.extend(p.days_iter());
            if p >= self.to {
                break;
            }
            p = p.next();
        }
        let day_index: HashMap<NaiveDate, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        // Daily cost by service, the costliest service first (the bottom of each stack).
        let mut services: BTreeMap<String, Vec<Decimal>> = BTreeMap::new();
        let mut by_meter: HashMap<MeterId, Decimal> = HashMap::new();
        let mut by_resource: HashMap<u32, Decimal> = HashMap::new();
        for c in &cells {
            let Some(i) = day_index.get(&c.day) else { continue };
            let service = match self.service_of(&c.meter) {
                "" => "—".to_owned(),
                s => s.to_owned(),
            };
            services
                .entry(service)
                .or_insert_with(|| vec![Decimal::ZERO; days.len()])[*i] += c.cost;
            *by_meter.entry(c.meter).or_default() += c.cost;
            if c.resource != 0 {
                *by_resource.entry(c.resource).or_default() += c.cost;
            }
        }
        let mut daily_by_service: Vec<Series> = services
            .into_iter()
            .map(|(name, values)| Series { name, values })
            .collect();
        daily_by_service.sort_by_key(|s| std::cmp::Reverse(s.values.iter().copied().sum::<Decimal>()));
        let ranked = |mut v: Vec<Ranked>| {
            v.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
            v.retain(|r| !r.value.is_zero());
            v.truncate(TOP);
            v
        };
        let meter_name = |m: &MeterId| {
            self.meters
                .get(m)
                .map(|x| x.name.clone())
                .unwrap_or_else(|| m.to_string())
        };
        let by_meter_list = ranked(
            by_meter
                .iter()
                .map(|(m, v)| Ranked {
                    label: meter_name(m),
                    detail: self.service_of(m).to_owned(),
                    value: *v,
                })
                .collect(),
        );
        let top_resources = ranked(
            by_resource
                .iter()
                .map(|(r, v)| {
                    let uri = &self.resources[*r as usize];
                    Ranked {
                        label: uri.rsplit('/').find(|s| !s.is_empty()).unwrap_or(uri).to_owned(),
                        detail: resource_group(uri).unwrap_or_default().to_owned(),
                        value: *v,
                    }
                })
                .collect(),
        );
        // The meter of the quantity chart.
        let used: BTreeSet<MeterId> = self.cells.iter().map(|c| c.meter).collect();
        let chosen = match meter.map(str::trim).filter(|m| !m.is_empty()) {
            Some(raw) => {
                let id = MeterId::parse(raw)
                    .map_err(|_| AppError::invalid("meter", format!("“{raw}” is not a meter ID (a GUID).")))?;
                if !self.meters.contains_key(&id) {
                    return Err(AppError::invalid("meter", format!("There is no meter {raw}.")));
                }
                Some(id)
            }
            None => by_meter
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(m, _)| *m)
                .or_else(|| used.iter().next().copied()),
        };
        let mut meter_quantity = Vec::new();
        if let Some(m) = chosen {
            meter_quantity = vec![Decimal::ZERO; days.len()];
            for c in self.cells.iter().filter(|c| c.meter == m) {
                if let Some(i) = day_index.get(&c.day) {
                    meter_quantity[*i] += c.quantity;
                }
            }
            meter_quantity.iter_mut().for_each(|q| *q = q.normalize());
        }
        let mut meters: Vec<(String, String)> = used.iter().map(|m| (m.to_string(), meter_name(m))).collect();
        meters.sort_by(|a, b| a.1.cmp(&b.1));
        let exponent = currency.map(|c| c.exponent()).unwrap_or(2);
        let scale = |mut d: Decimal| {
            d.rescale(exponent);
            d
        };
        Ok(UsageCharts {
            customer_name: self.customer_name.clone(),
            from: self.from.to_string(),
            to: self.to.to_string(),
            currency,
            days,
            daily_by_service: daily_by_service
                .into_iter()
                .map(|s| Series {
                    name: s.name,
                    values: s.values.into_iter().map(scale).collect(),
                })
                .collect(),
            by_meter: by_meter_list
                .into_iter()
                .map(|r| Ranked {
                    value: scale(r.value),
                    ..r
                })
                .collect(),
            top_resources: top_resources
                .into_iter()
                .map(|r| Ranked {
                    value: scale(r.value),
                    ..r
                })
                .collect(),
            meter: chosen.map(|m| {
                let unit = self.meters.get(&m).map(|x| x.unit.clone()).unwrap_or_default();
                (m.to_string(), meter_name(&m), unit)
            }),
            meter_quantity,
            meters,
            unpriced: self.cells.iter().any(|c| c.unpriced),
        })
    }
}

/// A customer's explorer page for a query.
pub async fn explore(state: &AppState, customer_id: i64, q: &UsageQuery) -> Result<UsagePage, AppError> {
    let (from, to) = months(&q.from, &q.to, state.clock.now().date_naive())?;
    let usage = load(state, customer_id, from, to).await?;
    let selection = select_in(state, &usage, q).await?;
    usage.page(&selection)
}

/// A customer's charts for some months.
pub async fn charts(
    state: &AppState,
    customer_id: i64,
    from: &str,
    to: &str,
    meter: Option<&str>,
) -> Result<UsageCharts, AppError> {
    let (from, to) = months(from, to, state.clock.now().date_naive())?;
    load(state, customer_id, from, to).await?.charts(meter)
}

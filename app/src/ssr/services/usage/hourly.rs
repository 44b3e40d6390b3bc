//! The hourly CSV and the tag filter: both read a customer's stored usage records, which
//! only carry the hours and the tags (the rollups the rest of the portal reads do not).
//!
//! The hourly CSV has one row per stored record of the selection, with its part of the
//! money: each resource-day cell's cost (already the invoice's lines split to days and
//! resources, see the parent module) is split over that day's records of the resource and
//! meter by quantity with [`allocate`], so the hourly rows add up to the daily rows and to
//! the invoice, to the cent. It is written a day at a time through a channel: memory holds
//! one day of one customer's records however long the period. A day's records are read by
//! reported time (the index the Azure-compatible endpoints page by) between the first and
//! last reported time its subscription rollups remember, filtered by subscription inside
//! the index — usually the day and the few hours after it.

use super::{Cell, CustomerUsage, Selection};
use crate::billing::{allocate, resource_group, Currency, MeterId};
use crate::error::AppError;
use crate::ssr::db::{self, usage::RecordRow};
use crate::ssr::state::AppState;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use tokio::sync::mpsc;

/// The hourly CSV's columns, stable for Power BI and Excel imports.
pub const HOURLY_CSV_COLUMNS: [&str; 15] = [
    "usage_start",
    "usage_end",
    "service",
    "meter_id",
    "meter_name",
    "unit",
    "subscription_id",
    "subscription_name",
    "resource_group",
    "resource",
    "tags",
    "quantity",
    "cost",
    "currency",
    "unpriced",
];

const DAY_SECS: i64 = 86_400;
/// Stored records read and held at once while writing the hourly CSV (a few MB).
const CHUNK_RECORDS: i64 = 20_000;

/// A tag filter: `key` (any value) or `key:value` (also `key=value`). Keys compare without
/// regard to case, as Azure Resource Manager's do; values exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    key: String,
    value: Option<String>,
}

impl TagFilter {
    /// The filter of a query's `tag`; empty is none.
    pub fn parse(raw: &str) -> Result<Option<TagFilter>, AppError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let (key, value) = match raw.find([':', '=']) {
            Some(i) => (raw[..i].trim(), Some(raw[i + 1..].trim().to_owned())),
            None => (raw, None),
        };
        // Azure's limit for a tag name is 512 characters.
        if key.is_empty() || key.chars().count() > 512 {
            return Err(AppError::invalid(
                "tag",
                format!("“{raw}” is not a tag filter; write a tag name, or name:value like env:prod."),
            ));
        }
        Ok(Some(TagFilter {
            key: key.to_owned(),
            value,
        }))
    }

    /// Whether a record's tags (a JSON object's text as received) carry this tag.
    pub fn matches(&self, tags: &str) -> bool {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(tags) else {
            return false;
        };
        map.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(&self.key)
                && self.value.as_deref().is_none_or(|want| match v {
                    serde_json::Value::String(s) => s == want,
                    other => {
                        // Numbers and booleans, as their JSON text.
                        let text = other.to_string();
                        text == want
                    }
                })
        })
    }
}

fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp()
}

impl CustomerUsage {
    /// The cells' user subscriptions (GUIDs) per registration.
    fn subscriptions_by_registration<'a>(
        &'a self,
        cells: impl Iterator<Item = &'a Cell>,
    ) -> BTreeMap<i64, Vec<String>> {
        let mut out: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
        for c in cells {
            out.entry(c.registration)
                .or_default()
                .insert(&self.subscriptions[c.subscription as usize]);
        }
        out.into_iter()
            .map(|(r, g)| (r, g.into_iter().map(str::to_owned).collect()))
            .collect()
    }
}

/// Fills a selection's tag filter: the (resource, day) pairs of the customer's usage whose
/// records carried the tag that day. A no-op without one.
pub async fn resolve_tags(state: &AppState, usage: &CustomerUsage, s: &mut Selection) -> Result<(), AppError> {
    let Some(tag) = s.tag.clone() else {
        return Ok(());
    };
    let resource_of: HashMap<String, u32> = usage
        .resources
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, uri)| (uri.to_lowercase(), i as u32))
        .collect();
    let (from, to) = (usage.from.first_day(), usage.to.end_day());
    let mut tagged = HashSet::new();
    let mut c = state.db.conn().await?;
    for (registration, guids) in usage.subscriptions_by_registration(usage.cells.iter()) {
        let Some(reported) = db::usage::reported_bounds(&mut c, registration, &guids, from, to).await? else {
            continue;
        };
        let range = db::usage::RecordRange {
            registration_id: registration,
            subscription_guids: &guids,
            from_at: day_start(from),
            to_at: day_start(to),
            reported,
        };
        for (_, uri, day, tags) in db::usage::list_resource_day_tags(&mut c, &range).await? {
            let day = DateTime::from_timestamp(day * DAY_SECS, 0).map(|d| d.date_naive());
            if let (true, Some(r), Some(day)) = (tag.matches(&tags), resource_of.get(&uri.to_lowercase()), day) {
                tagged.insert((*r, day));
            }
        }
    }
    s.tagged = Some(tagged);
    Ok(())
}

/// One row of the hourly CSV.
struct HourlyRow<'a> {
    start: i64,
    end: i64,
    cell: &'a Cell,
    quantity: Decimal,
    cost: Decimal,
    tags: &'a str,
}

/// The hourly CSV of a selection, as chunks (the header first, then a day at a time) on a
/// channel; an error ends it. Stops when the receiver is dropped (the download was
/// cancelled).
pub fn hourly_csv(state: AppState, usage: CustomerUsage, s: Selection) -> mpsc::Receiver<Result<Vec<u8>, AppError>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        if let Err(e) = write_hourly(&state, &usage, &s, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

/// (registration, subscription GUID, meter, resource URI), the last two lower-cased.
type RecordKey = (i64, String, MeterId, String);

async fn write_hourly(
    state: &AppState,
    usage: &CustomerUsage,
    s: &Selection,
    tx: &mpsc::Sender<Result<Vec<u8>, AppError>>,
) -> Result<(), AppError> {
    // The selected cells by day, those of one resource, meter and day merged (one row per
    // record, whatever the rating's sections).
    let mut by_day: BTreeMap<NaiveDate, BTreeMap<RecordKey, Cell>> = BTreeMap::new();
    for c in usage.cells.iter().filter(|c| usage.matches(c, s)) {
        let key = (
            c.registration,
            usage.subscriptions[c.subscription as usize].to_ascii_lowercase(),
            c.meter,
            usage.resources[c.resource as usize].to_lowercase(),
        );
        let cell = by_day.entry(c.day).or_default().entry(key).or_insert_with(|| Cell {
            quantity: Decimal::ZERO,
            cost: Decimal::ZERO,
            unpriced: false,
            ..c.clone()
        });
        cell.quantity += c.quantity;
        cell.cost += c.cost;
        cell.unpriced |= c.unpriced;
    }
    if tx.send(csv_rows(usage, &[], true)).await.is_err() {
        return Ok(());
    }
    // Days in chunks of about CHUNK_RECORDS stored records (the rollups count them): a
    // chunk's records are read with one range of the reported-time index — its days' first
    // to last report — and held while its days are written. A year imported at once shares
    // one reported range, so reading it day by day would scan the whole import every day.
    let Some((&first, &last)) = by_day.keys().next().zip(by_day.keys().next_back()) else {
        return Ok(());
    };
    let registrations = usage.subscriptions_by_registration(by_day.values().flat_map(|m| m.values()));
    let mut stats: BTreeMap<NaiveDate, (i64, i64, i64)> = BTreeMap::new();
    let mut c = state.db.conn().await?;
    for (registration, guids) in &registrations {
        let to = last + chrono::Duration::days(1);
        for (day, n, lo, hi) in db::usage::day_report_stats(&mut c, *registration, guids, first, to).await? {
            let e = stats.entry(day).or_insert((0, i64::MAX, i64::MIN));
            *e = (e.0 + n, e.1.min(lo), e.2.max(hi));
        }
    }
    drop(c);
    let days: Vec<NaiveDate> = by_day.keys().copied().collect();
    let mut next = 0;
    while next < days.len() {
        let chunk_start = next;
        let (mut n, mut lo, mut hi) = (0i64, i64::MAX, i64::MIN);
        while next < days.len() {
            let (count, l, h) = stats.get(&days[next]).copied().unwrap_or((0, i64::MAX, i64::MIN));
            if next > chunk_start && n + count > CHUNK_RECORDS {
                break;
            }
            (n, lo, hi) = (n + count, lo.min(l), hi.max(h));
            next += 1;
        }
        let chunk = &days[chunk_start..next];
        let (from_at, to_at) = (day_start(chunk[0]), day_start(chunk[chunk.len() - 1]) + DAY_SECS);
        let mut records: HashMap<(NaiveDate, RecordKey), Vec<RecordRow>> = HashMap::new();
        if lo <= hi {
            let mut c = state.db.conn().await?;
            for (registration, guids) in &registrations {
                let range = db::usage::RecordRange {
                    registration_id: *registration,
                    subscription_guids: guids,
                    from_at,
                    to_at,
                    reported: (lo, hi),
                };
                for r in db::usage::list_records(&mut c, &range).await? {
                    let meter = db::parse_stored("record meter", &r.meter_id, MeterId::parse)?;
                    let day = db::from_unix(r.usage_start_at)?.date_naive();
                    let key = (
                        *registration,
                        r.subscription_guid.to_ascii_lowercase(),
                        meter,
                        r.resource_uri.to_lowercase(),
                    );
                    records.entry((day, key)).or_default().push(r);
                }
            }
        }
        for day in chunk {
            if !write_day(usage, s, tx, *day, &by_day[day], &mut records).await? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Writes one day's rows; `false` when the download was cancelled.
async fn write_day(
    usage: &CustomerUsage,
    s: &Selection,
    tx: &mpsc::Sender<Result<Vec<u8>, AppError>>,
    day: NaiveDate,
    cells: &BTreeMap<RecordKey, Cell>,
    records: &mut HashMap<(NaiveDate, RecordKey), Vec<RecordRow>>,
) -> Result<bool, AppError> {
    let (from_at, to_at) = (day_start(day), day_start(day) + DAY_SECS);
    let records: HashMap<&RecordKey, Vec<RecordRow>> = cells
        .keys()
        .filter_map(|k| records.remove(&(day, k.clone())).map(|list| (k, list)))
        .collect();
    {
        let mut rows = Vec::new();
        for (key, cell) in cells {
            match records.get(key).filter(|_| cell.resource != 0) {
                Some(list) => {
                    let quantities = list
                        .iter()
                        .map(|r| db::parse_stored("record quantity", &r.quantity, |t| t.parse::<Decimal>()))
                        .collect::<Result<Vec<_>, _>>()?;
                    let costs = allocate(cell.cost, &quantities, cell.currency.exponent());
                    for ((r, quantity), cost) in list.iter().zip(quantities).zip(costs) {
                        if s.tag.as_ref().is_none_or(|t| t.matches(&r.tags)) {
                            rows.push(HourlyRow {
                                start: r.usage_start_at,
                                end: r.usage_end_at,
                                cell,
                                quantity,
                                cost,
                                tags: &r.tags,
                            });
                        }
                    }
                }
                // Usage no stored record explains (rollups kept after their records, or
                // not traced to a resource): one row for the day, so the sums still hold.
                None if s.tag.is_none() => rows.push(HourlyRow {
                    start: from_at,
                    end: to_at,
                    cell,
                    quantity: cell.quantity,
                    cost: cell.cost,
                    tags: "",
                }),
                None => {}
            }
        }
        rows.sort_by(|a, b| {
            (a.start, a.cell.subscription, a.cell.meter, a.cell.resource, a.end).cmp(&(
                b.start,
                b.cell.subscription,
                b.cell.meter,
                b.cell.resource,
                b.end,
            ))
        });
        return Ok(tx.send(csv_rows(usage, &rows, false)).await.is_ok());
    }
}

fn instant(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Rows as CSV: UTF-8, ISO instants in UTC, dot decimals.
fn csv_rows(usage: &CustomerUsage, rows: &[HourlyRow<'_>], header: bool) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 260 + 200));
    let fail = |e: csv::Error| crate::ssr::auth::internal("hourly usage csv", e);
    if header {
        w.write_record(HOURLY_CSV_COLUMNS).map_err(fail)?;
    }
    for r in rows {
        let c = r.cell;
        let meter = usage.meters.get(&c.meter);
        let resource = &usage.resources[c.resource as usize];
        let mut cost = r.cost;
        cost.rescale(c.currency.exponent());
        w.write_record([
            instant(r.start).as_str(),
            &instant(r.end),
            usage.service_of(&c.meter),
            &c.meter.to_string(),
            meter.map(|m| m.name.as_str()).unwrap_or(""),
            meter.map(|m| m.unit.as_str()).unwrap_or(""),
            &usage.subscriptions[c.subscription as usize],
            &usage.subscription_names[c.subscription as usize],
            resource_group(resource).unwrap_or(""),
            resource,
            r.tags,
            &r.quantity.normalize().to_string(),
            &cost.to_string(),
            &Currency::to_string(&c.currency),
            if c.unpriced { "true" } else { "false" },
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| crate::ssr::auth::internal("hourly usage csv", e))
}

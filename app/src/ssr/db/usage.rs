//! Usage records, their daily rollups and ingestion batches.
//!
//! [`store_records`] is the one write path for usage: imports, pushes, the collector and
//! the demo seed all end here, inside the caller's transaction, so a batch's records,
//! corrections, rollup updates and its `ingest_batches` row commit together.

use super::fixed::{from_fixed, to_fixed, ATTO_PER_UNIT};
use super::{sql, AsExecutor, DbError, DbResult, Params};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::FromRow;
use std::collections::{HashMap, HashSet};

/// A record ready to be stored: identifiers resolved to rows, identity hashed.
#[derive(Debug, Clone)]
pub struct StagedRecord<'a> {
    /// 128-bit hash of the record identity.
    pub identity_key: [u8; 16],
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Canonical meter ID (must exist in `meters`).
    pub meter_id: &'a str,
    /// Resource row.
    pub resource_id: i64,
    /// Usage start, Unix seconds.
    pub usage_start_at: i64,
    /// Usage end, Unix seconds.
    pub usage_end_at: i64,
    /// UTC day of the usage start (the rollup day).
    pub usage_on: NaiveDate,
    /// Exact quantity.
    pub quantity: Decimal,
    /// Normalised additional info.
    pub additional_info: &'a str,
    /// Tags as received.
    pub tags: &'a str,
    /// Reported time, Unix seconds.
    pub reported_at: i64,
}

/// What happened to a batch's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// New records stored.
    pub accepted: u64,
    /// Records identical to stored ones (nothing changed).
    pub duplicates: u64,
    /// Records whose identity was stored with another quantity (now replaced).
    pub corrected: u64,
}

/// An ingestion batch to record.
#[derive(Debug, Clone)]
pub struct NewBatch<'a> {
    /// `pull`, `push`, `import` or `demo`.
    pub source: &'a str,
    /// Registration the batch belongs to.
    pub registration_id: Option<i64>,
    /// Who sent it.
    pub actor: &'a str,
    /// File, window or request.
    pub label: &'a str,
}

/// Inserts the batch row (counts filled in by [`finish_batch`]) and returns its id.
pub async fn insert_batch(c: &mut impl AsExecutor, b: &NewBatch<'_>, now: i64) -> DbResult<i64> {
    let q = "INSERT INTO ingest_batches (source, registration_id, actor, label, accepted, duplicates, corrected, \
             quarantined, committed_at) VALUES ($1, $2, $3, $4, 0, 0, 0, 0, $5) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(b.source)
        .bind(b.registration_id)
        .bind(b.actor)
        .bind(b.label)
        .bind(now)
        .fetch_one(e)
        .await)?)
}

/// Writes a batch's final counts.
pub async fn finish_batch(c: &mut impl AsExecutor, id: i64, o: &StoreOutcome, quarantined: u64) -> DbResult<()> {
    let q = "UPDATE ingest_batches SET accepted = $2, duplicates = $3, corrected = $4, quarantined = $5 WHERE id = $1";
    sql!(c, |e| sqlx::query(q)
        .bind(id)
        .bind(o.accepted as i64)
        .bind(o.duplicates as i64)
        .bind(o.corrected as i64)
        .bind(quarantined as i64)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rows per multi-row statement: 12 parameters a row stays under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters, and 500 rows amortise the statement overhead.
const ROWS_PER_STATEMENT: usize = 500;

/// Stores a batch of records: new identities are inserted, identical ones counted as
/// duplicates, changed quantities applied as corrections with history, and the daily
/// rollups moved by exactly the difference. Runs inside the caller's transaction.
///
/// The same identity more than once in one batch: the last delivery is the source's
/// word and the earlier ones are counted as duplicates (superseded) — so re-ingesting
/// the same batch changes nothing, not even the correction history.
pub async fn store_records(
    c: &mut impl AsExecutor,
    batch_id: i64,
    records: &[StagedRecord<'_>],
    now: i64,
) -> DbResult<StoreOutcome> {
    let mut outcome = StoreOutcome::default();
    let mut last: HashMap<[u8; 16], usize> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        last.insert(r.identity_key, i);
    }
    let round: Vec<&StagedRecord<'_>> = records
        .iter()
        .enumerate()
        .filter(|(i, r)| last[&r.identity_key] == *i)
        .map(|(_, r)| r)
        .collect();
    outcome.duplicates += (records.len() - round.len()) as u64;
    let mut daily: HashMap<(i64, &str, NaiveDate), (Decimal, i64)> = HashMap::new();
    let mut by_resource: HashMap<(i64, &str, NaiveDate), (Decimal, i64)> = HashMap::new();
    let (fresh, stored) = insert_new(c, round, now).await?;
    for r in &fresh {
        add_delta(
            &mut daily,
            (r.user_subscription_id, r.meter_id, r.usage_on),
            r.quantity,
            1,
        );
        add_delta(&mut by_resource, (r.resource_id, r.meter_id, r.usage_on), r.quantity, 1);
    }
    outcome.accepted += fresh.len() as u64;
    // Identical deliveries (the common case when data is sent again) need nothing more.
    let (same, changed): (Vec<_>, Vec<_>) = stored.into_iter().partition(|(r, _, old)| *old == r.quantity);
    outcome.duplicates += same.len() as u64;
    let current = lock_for_correction(c, &changed).await?;
    for (r, id, read) in changed {
        let old = current.get(&id).copied().unwrap_or(read);
        if old == r.quantity {
            outcome.duplicates += 1;
            continue;
        }
        correct_record(c, id, old, r.quantity, batch_id, now).await?;
        let delta = r.quantity - old;
        add_delta(&mut daily, (r.user_subscription_id, r.meter_id, r.usage_on), delta, 0);
        add_delta(&mut by_resource, (r.resource_id, r.meter_id, r.usage_on), delta, 0);
        outcome.corrected += 1;
    }
    upsert_rollups(c, "usage_daily", "user_subscription_id", &daily).await?;
    upsert_rollups(c, "usage_daily_by_resource", "resource_id", &by_resource).await?;
    Ok(outcome)
}

fn add_delta<'a>(
    map: &mut HashMap<(i64, &'a str, NaiveDate), (Decimal, i64)>,
    key: (i64, &'a str, NaiveDate),
    quantity: Decimal,
    count: i64,
) {
    let entry = map.entry(key).or_insert((Decimal::ZERO, 0));
    entry.0 += quantity;
    entry.1 += count;
}

/// Before correcting records on PostgreSQL, locks them (`FOR UPDATE`, in id order so
/// concurrent writers cannot deadlock) and returns their quantity *now*: a concurrent
/// writer correcting the same record has either committed — and this reads its value — or
/// waits for this batch. Each correction then moves the rollups from the value it really
/// replaced. Only changed records are locked, so re-sending identical data writes nothing.
/// (SQLite runs one write transaction at a time: the value read is current.)
async fn lock_for_correction(
    c: &mut impl AsExecutor,
    changed: &[(&StagedRecord<'_>, i64, Decimal)],
) -> DbResult<HashMap<i64, Decimal>> {
    let mut current = HashMap::new();
    if c.engine() == super::Engine::Sqlite || changed.is_empty() {
        return Ok(current);
    }
    let mut ids: Vec<i64> = changed.iter().map(|(_, id, _)| *id).collect();
    ids.sort_unstable();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut p = Params::new(c.engine());
        let q = format!(
            "SELECT id, quantity FROM usage_records WHERE id IN ({}) ORDER BY id FOR UPDATE",
            p.list(chunk.len())
        );
        let rows: Vec<(i64, String)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(e).await
        })?;
        for (id, quantity) in rows {
            current.insert(id, stored_quantity(&quantity)?);
        }
    }
    Ok(current)
}

/// A record's stored quantity (exact decimal text).
fn stored_quantity(text: &str) -> DbResult<Decimal> {
    text.parse::<Decimal>()
        .map_err(|e| DbError::Corrupt(format!("usage quantity `{text}`: {e}")))
}

/// The stored id and quantity of records already present.
async fn find_existing(
    c: &mut impl AsExecutor,
    round: &[&StagedRecord<'_>],
) -> DbResult<HashMap<[u8; 16], (i64, Decimal)>> {
    let mut found = HashMap::new();
    for chunk in round.chunks(ROWS_PER_STATEMENT) {
        let mut p = Params::new(c.engine());
        let q = format!(
            "SELECT identity_key, id, quantity FROM usage_records WHERE identity_key IN ({})",
            p.list(chunk.len())
        );
        let rows: Vec<(Vec<u8>, i64, String)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for r in chunk {
                query = query.bind(&r.identity_key[..]);
            }
            query.fetch_all(e).await
        })?;
        for (key, id, quantity) in rows {
            let key: [u8; 16] = key
                .try_into()
                .map_err(|_| DbError::Corrupt("usage identity key is not 16 bytes".into()))?;
            found.insert(key, (id, stored_quantity(&quantity)?));
        }
    }
    Ok(found)
}

/// Records of a round (distinct identities) that were new and are now inserted, and
/// those already stored with their row id and stored quantity.
type Split<'r, 'a> = (Vec<&'r StagedRecord<'a>>, Vec<(&'r StagedRecord<'a>, i64, Decimal)>);

/// Inserts the new records of a round.
///
/// SQLite has one writer at a time, so it looks the identities up first and inserts the
/// new ones. PostgreSQL inserts first (`ON CONFLICT DO NOTHING RETURNING`) — a first
/// delivery, the common case, is then a single statement — and reads back the ones that
/// were already stored. With a concurrent writer of the same records the insert waits
/// for it and then finds them stored: never a unique-key failure. (On SQLite the lookup
/// is the cheaper path: rows come back from its worker thread one message at a time.)
async fn insert_new<'r, 'a>(
    c: &mut impl AsExecutor,
    round: Vec<&'r StagedRecord<'a>>,
    now: i64,
) -> DbResult<Split<'r, 'a>> {
    let mut fresh = Vec::with_capacity(round.len());
    let mut stored = Vec::new();
    match c.engine() {
        super::Engine::Sqlite => {
            let existing = find_existing(c, &round).await?;
            for r in round {
                match existing.get(&r.identity_key) {
                    Some(&(id, old)) => stored.push((r, id, old)),
                    None => fresh.push(r),
                }
            }
            for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
                insert_records(c, chunk, now, None).await?;
            }
        }
        super::Engine::Postgres => {
            // Sorted: concurrent writers lock new identities in the same order.
            let mut round = round;
            round.sort_unstable_by_key(|r| r.identity_key);
            let mut inserted: HashSet<[u8; 16]> = HashSet::with_capacity(round.len());
            for chunk in round.chunks(ROWS_PER_STATEMENT) {
                insert_records(c, chunk, now, Some(&mut inserted)).await?;
            }
            let (new, old): (Vec<_>, Vec<_>) = round.into_iter().partition(|r| inserted.contains(&r.identity_key));
            fresh = new;
            if !old.is_empty() {
                let existing = find_existing(c, &old).await?;
                for r in old {
                    let &(id, quantity) = existing.get(&r.identity_key).ok_or_else(|| {
                        DbError::Corrupt("a usage record conflicted on insert but cannot be read back".into())
                    })?;
                    stored.push((r, id, quantity));
                }
            }
        }
    }
    Ok((fresh, stored))
}

/// Inserts records. With `inserted`, identities already stored are skipped and the
/// inserted ones are added to it; without, every record must be new.
async fn insert_records(
    c: &mut impl AsExecutor,
    chunk: &[&StagedRecord<'_>],
    now: i64,
    inserted: Option<&mut HashSet<[u8; 16]>>,
) -> DbResult<()> {
    let mut p = Params::new(c.engine());
    let q = format!(
        "INSERT INTO usage_records (identity_key, user_subscription_id, meter_id, resource_id, usage_start_at, \
         usage_end_at, quantity, additional_info, tags, reported_at, ingested_at) VALUES {}{}",
        p.rows(chunk.len(), 11),
        if inserted.is_some() {
            " ON CONFLICT (identity_key) DO NOTHING RETURNING identity_key"
        } else {
            ""
        }
    );
    let quantities: Vec<String> = chunk.iter().map(|r| r.quantity.normalize().to_string()).collect();
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for (r, quantity) in chunk.iter().zip(&quantities) {
                query = query
                    .bind(&r.identity_key[..])
                    .bind(r.user_subscription_id)
                    .bind(r.meter_id)
                    .bind(r.resource_id)
                    .bind(r.usage_start_at)
                    .bind(r.usage_end_at)
                    .bind(quantity)
                    .bind(r.additional_info)
                    .bind(r.tags)
                    .bind(r.reported_at)
                    .bind(now);
            }
            query
        }};
    }
    let Some(inserted) = inserted else {
        sql!(c, |e| bound!(sqlx::query(&q))
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
        return Ok(());
    };
    let keys: Vec<Vec<u8>> = sql!(c, |e| bound!(sqlx::query_scalar(&q)).fetch_all(e).await)?;
    for key in keys {
        inserted.insert(
            key.try_into()
                .map_err(|_| DbError::Corrupt("usage identity key is not 16 bytes".into()))?,
        );
    }
    Ok(())
}

async fn correct_record(
    c: &mut impl AsExecutor,
    id: i64,
    old: Decimal,
    new: Decimal,
    batch_id: i64,
    now: i64,
) -> DbResult<()> {
    let new_text = new.normalize().to_string();
    sql!(c, |e| sqlx::query(
        "UPDATE usage_records SET quantity = $2, ingested_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(&new_text)
    .bind(now)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    sql!(c, |e| {
        sqlx::query(
            "INSERT INTO usage_corrections (usage_record_id, old_quantity, new_quantity, batch_id, corrected_at) \
         VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(old.normalize().to_string())
        .bind(&new_text)
        .bind(batch_id)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

async fn upsert_rollups(
    c: &mut impl AsExecutor,
    table: &str,
    key_column: &str,
    deltas: &HashMap<(i64, &str, NaiveDate), (Decimal, i64)>,
) -> DbResult<()> {
    let mut entries = Vec::with_capacity(deltas.len());
    for ((key, meter, day), (quantity, count)) in deltas {
        let (whole, atto) =
            to_fixed(*quantity).ok_or_else(|| DbError::Corrupt(format!("rollup quantity {quantity} out of range")))?;
        entries.push((*key, *meter, *day, whole, atto, *count));
    }
    // Primary-key order (day first): a stable order keeps concurrent writers on PostgreSQL
    // from deadlocking each other, and walks the b-tree forward.
    entries.sort_by(|a, b| (a.2, a.0, a.1).cmp(&(b.2, b.0, b.1)));
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let rows = Params::new(c.engine()).rows(chunk.len(), 6);
        // The carry: atto parts are each < 10^18, so their sum fits an i64 and integer
        // division / remainder split it exactly on both engines.
        let q = format!(
            "INSERT INTO {table} ({key_column}, meter_id, usage_on, quantity_whole, quantity_atto, record_count) \
             VALUES {rows} ON CONFLICT (usage_on, {key_column}, meter_id) DO UPDATE SET \
             quantity_whole = {table}.quantity_whole + excluded.quantity_whole + \
             ({table}.quantity_atto + excluded.quantity_atto) / {ATTO_PER_UNIT}, \
             quantity_atto = ({table}.quantity_atto + excluded.quantity_atto) % {ATTO_PER_UNIT}, \
             record_count = {table}.record_count + excluded.record_count",
        );
        sql!(c, |e| {
            let mut query = sqlx::query(&q);
            for (key, meter, day, whole, atto, count) in chunk {
                query = query
                    .bind(*key)
                    .bind(*meter)
                    .bind(*day)
                    .bind(*whole)
                    .bind(*atto)
                    .bind(*count);
            }
            query.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A usage resource to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceKey {
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Lower-cased resource URI.
    pub resource_key: String,
}

/// Resource rows for `(user subscription, lower-cased URI)` keys, creating missing ones
/// with the URI and location as first seen.
///
/// Known resources are read many keys per statement; the missing ones are inserted many
/// rows per statement (`ON CONFLICT DO NOTHING RETURNING` gives the ids of those actually
/// inserted); any that a concurrent ingestion inserted in between are read again.
pub async fn ensure_resources(
    c: &mut impl AsExecutor,
    wanted: &[(ResourceKey, String, String)],
) -> DbResult<HashMap<ResourceKey, i64>> {
    let mut unique: Vec<&(ResourceKey, String, String)> = Vec::with_capacity(wanted.len());
    let mut seen = HashSet::new();
    for w in wanted {
        if seen.insert(&w.0) {
            unique.push(w);
        }
    }
    let keys: Vec<&ResourceKey> = unique.iter().map(|w| &w.0).collect();
    let mut ids = find_resources(c, &keys).await?;
    // Sorted: concurrent writers lock new keys in the same order (no deadlock).
    let mut missing: Vec<&(ResourceKey, String, String)> =
        unique.into_iter().filter(|w| !ids.contains_key(&w.0)).collect();
    missing.sort_by(|a, b| {
        (a.0.user_subscription_id, &a.0.resource_key).cmp(&(b.0.user_subscription_id, &b.0.resource_key))
    });
    for chunk in missing.chunks(ROWS_PER_STATEMENT) {
        let q = format!(
            "INSERT INTO usage_resources (user_subscription_id, resource_key, resource_uri, location) VALUES {} \
             ON CONFLICT (user_subscription_id, resource_key) DO NOTHING RETURNING user_subscription_id, resource_key, id",
            Params::new(c.engine()).rows(chunk.len(), 4)
        );
        let inserted: Vec<(i64, String, i64)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for (key, uri, location) in chunk {
                query = query
                    .bind(key.user_subscription_id)
                    .bind(&key.resource_key)
                    .bind(uri)
                    .bind(location);
            }
            query.fetch_all(e).await
        })?;
        for (user_subscription_id, resource_key, id) in inserted {
            ids.insert(
                ResourceKey {
                    user_subscription_id,
                    resource_key,
                },
                id,
            );
        }
    }
    let raced: Vec<&ResourceKey> = missing.iter().map(|w| &w.0).filter(|k| !ids.contains_key(*k)).collect();
    if !raced.is_empty() {
        ids.extend(find_resources(c, &raced).await?);
    }
    if let Some(lost) = keys.iter().find(|k| !ids.contains_key(**k)) {
        return Err(DbError::Corrupt(format!(
            "usage resource `{}` was neither found nor created",
            lost.resource_key
        )));
    }
    Ok(ids)
}

/// The stored resources among `keys`.
async fn find_resources(c: &mut impl AsExecutor, keys: &[&ResourceKey]) -> DbResult<HashMap<ResourceKey, i64>> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let q = format!(
            "SELECT user_subscription_id, resource_key, id FROM usage_resources \
             WHERE (user_subscription_id, resource_key) IN (VALUES {})",
            Params::new(c.engine()).rows(chunk.len(), 2)
        );
        let rows: Vec<(i64, String, i64)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for key in chunk {
                query = query.bind(key.user_subscription_id).bind(&key.resource_key);
            }
            query.fetch_all(e).await
        })?;
        for (user_subscription_id, resource_key, id) in rows {
            found.insert(
                ResourceKey {
                    user_subscription_id,
                    resource_key,
                },
                id,
            );
        }
    }
    Ok(found)
}

/// Total stored usage records (from the rollups' counts, not a scan of the records).
pub async fn count_records(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(record_count), 0) AS BIGINT) FROM usage_daily"
    )
    .fetch_one(e)
    .await)?)
}

/// When the last batch committed, and the latest day with usage.
pub async fn latest_activity(c: &mut impl AsExecutor) -> DbResult<(Option<i64>, Option<NaiveDate>)> {
    let committed: Option<i64> = sql!(c, |e| sqlx::query_scalar(
        "SELECT MAX(committed_at) FROM ingest_batches"
    )
    .fetch_one(e)
    .await)?;
    let day: Option<NaiveDate> = sql!(c, |e| sqlx::query_scalar("SELECT MAX(usage_on) FROM usage_daily")
        .fetch_one(e)
        .await)?;
    Ok((committed, day))
}

/// One UTC day of usage, summed over user subscriptions, for a period summary.
#[derive(Debug, Clone, FromRow)]
pub struct DayCountRow {
    /// Day.
    pub usage_on: NaiveDate,
    /// Records that day.
    pub records: i64,
    /// User subscriptions with usage that day.
    pub user_subscriptions: i64,
}

/// Record counts per day between two days (half-open).
pub async fn list_day_counts(c: &mut impl AsExecutor, from: NaiveDate, to: NaiveDate) -> DbResult<Vec<DayCountRow>> {
    let q = "SELECT usage_on, CAST(SUM(record_count) AS BIGINT) AS records, \
             COUNT(DISTINCT user_subscription_id) AS user_subscriptions \
             FROM usage_daily WHERE usage_on >= $1 AND usage_on < $2 GROUP BY usage_on ORDER BY usage_on";
    Ok(sql!(c, |e| sqlx::query_as::<_, DayCountRow>(q)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

/// Distinct user subscriptions with usage between two days (half-open).
pub async fn count_active_subscriptions(c: &mut impl AsExecutor, from: NaiveDate, to: NaiveDate) -> DbResult<i64> {
    Ok(sql!(c, |e| {
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT user_subscription_id) FROM usage_daily WHERE usage_on >= $1 AND usage_on < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(e)
        .await
    })?)
}

/// A daily rollup row.
#[derive(Debug, Clone, FromRow)]
pub struct DailyRow {
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Meter.
    pub meter_id: String,
    /// Day.
    pub usage_on: NaiveDate,
    /// Whole units.
    pub quantity_whole: i64,
    /// 10^-18 units.
    pub quantity_atto: i64,
    /// Records summed.
    pub record_count: i64,
}

impl DailyRow {
    /// The exact quantity.
    pub fn quantity(&self) -> Decimal {
        from_fixed(self.quantity_whole, self.quantity_atto)
    }
}

/// Daily rollups of the given user subscriptions between two days (half-open).
pub async fn list_daily(
    c: &mut impl AsExecutor,
    user_subscription_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<DailyRow>> {
    let mut out = Vec::new();
    for chunk in user_subscription_ids.chunks(ROWS_PER_STATEMENT) {
        let mut p = Params::new(c.engine());
        let q = format!(
            "SELECT user_subscription_id, meter_id, usage_on, quantity_whole, quantity_atto, record_count \
             FROM usage_daily WHERE usage_on >= {} AND usage_on < {} AND user_subscription_id IN ({}) \
             ORDER BY user_subscription_id, meter_id, usage_on",
            p.placeholder(),
            p.placeholder(),
            p.list(chunk.len())
        );
        let rows: Vec<DailyRow> = sql!(c, |e| {
            let mut query = sqlx::query_as::<_, DailyRow>(&q).bind(from).bind(to);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::BASE_VM_SIZE_HOURS;
    use crate::ssr::db::registrations::{insert_registration, NewRegistration};
    use crate::ssr::db::testing::for_each_engine;
    use crate::ssr::db::user_subscriptions::ensure_user_subscriptions;
    use crate::ssr::db::Db;
    use rust_decimal_macros::dec;

    struct Fixture {
        sub: i64,
        resource: i64,
        meter: &'static str,
    }

    async fn fixture(db: &Db) -> Fixture {
        let mut tx = db.begin().await.unwrap();
        let meter = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";
        assert_eq!(meter, BASE_VM_SIZE_HOURS.to_string());
        sqlx_insert_meter(&mut tx, meter).await;
        let reg = insert_registration(
            &mut tx,
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
        let subs = ensure_user_subscriptions(&mut tx, reg, &["1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4".into()], 1)
            .await
            .unwrap();
        let sub = subs["1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4"];
        let key = ResourceKey {
            user_subscription_id: sub,
            resource_key: "/subscriptions/x/vm1".into(),
        };
        let res = ensure_resources(
            &mut tx,
            &[(key.clone(), "/subscriptions/X/vm1".into(), "northwest".into())],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        Fixture {
            sub,
            resource: res[&key],
            meter,
        }
    }

    async fn sqlx_insert_meter(tx: &mut super::super::Tx, id: &str) {
        sql!(tx, |e| sqlx::query(
            "INSERT INTO meters (id, name, unit, service, billing, origin, created_at) \
             VALUES ($1, 'Base VM Size Hours', 'Virtual core hours', 'Compute', 'billable', 'catalogue', 0)"
        )
        .bind(id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
    }

    fn record(f: &Fixture, hour: i64, quantity: Decimal) -> StagedRecord<'static> {
        let start = 1_733_011_200 + hour * 3600; // 2024-12-01T00:00Z
        StagedRecord {
            identity_key: {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&hour.to_be_bytes());
                k
            },
            user_subscription_id: f.sub,
            meter_id: f.meter,
            resource_id: f.resource,
            usage_start_at: start,
            usage_end_at: start + 3600,
            usage_on: chrono::DateTime::from_timestamp(start, 0).unwrap().date_naive(),
            quantity,
            additional_info: "",
            tags: "",
            reported_at: start,
        }
    }

    /// The fixture subscription's rollups of 1 December 2024.
    async fn first_day(c: &mut impl AsExecutor, f: &Fixture) -> Vec<DailyRow> {
        list_daily(
            c,
            &[f.sub],
            "2024-12-01".parse().unwrap(),
            "2024-12-02".parse().unwrap(),
        )
        .await
        .unwrap()
    }

    async fn store(db: &Db, records: &[StagedRecord<'_>]) -> StoreOutcome {
        let mut tx = db.begin().await.unwrap();
        let batch = insert_batch(
            &mut tx,
            &NewBatch {
                source: "import",
                registration_id: None,
                actor: "cli",
                label: "t",
            },
            9,
        )
        .await
        .unwrap();
        let outcome = store_records(&mut tx, batch, records, 10).await.unwrap();
        finish_batch(&mut tx, batch, &outcome, 0).await.unwrap();
        tx.commit().await.unwrap();
        outcome
    }

    #[tokio::test]
    async fn storing_the_same_records_twice_changes_nothing() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            let records: Vec<_> = (0..48).map(|h| record(&f, h, dec!(0.0013440860215053762))).collect();
            assert_eq!(
                store(&db, &records).await,
                StoreOutcome {
                    accepted: 48,
                    duplicates: 0,
                    corrected: 0
                }
            );
            assert_eq!(
                store(&db, &records).await,
                StoreOutcome {
                    accepted: 0,
                    duplicates: 48,
                    corrected: 0
                }
            );
            let mut c = db.conn().await.unwrap();
            assert_eq!(count_records(&mut c).await.unwrap(), 48);
            let day1: NaiveDate = "2024-12-01".parse().unwrap();
            let rows = list_daily(&mut c, &[f.sub], day1, "2025-01-01".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(rows.len(), 2);
            // 24 × 0.0013440860215053762 = 0.0322580645161290288, kept by the rollup to
            // 18 decimal places: 0.032258064516129029 (the records keep the exact text).
            assert_eq!(rows[0].quantity(), dec!(0.032258064516129029));
            assert_eq!(rows[0].record_count, 24);
        })
        .await;
    }

    #[tokio::test]
    async fn a_changed_quantity_is_a_correction_that_moves_the_rollup_by_the_difference() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            store(&db, &[record(&f, 0, dec!(8)), record(&f, 1, dec!(8))]).await;
            let outcome = store(&db, &[record(&f, 0, dec!(2.5)), record(&f, 1, dec!(8))]).await;
            assert_eq!(
                outcome,
                StoreOutcome {
                    accepted: 0,
                    duplicates: 1,
                    corrected: 1
                }
            );
            let mut c = db.conn().await.unwrap();
            let rows = first_day(&mut c, &f).await;
            assert_eq!(rows[0].quantity(), dec!(10.5));
            assert_eq!(rows[0].record_count, 2);
            let history: Vec<(String, String)> = sql!(&mut c, |e| sqlx::query_as(
                "SELECT old_quantity, new_quantity FROM usage_corrections"
            )
            .fetch_all(e)
            .await)
            .unwrap();
            assert_eq!(history, vec![("8".to_owned(), "2.5".to_owned())]);
        })
        .await;
    }

    #[tokio::test]
    async fn concurrent_corrections_of_one_record_keep_the_rollup_equal_to_the_stored_quantity() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            store(&db, &[record(&f, 0, dec!(1))]).await;
            // Writers race to correct the same record; each correction must move the
            // rollup from the value it really replaced (on PostgreSQL the row is locked).
            for round in 0..4 {
                let mut writers = tokio::task::JoinSet::new();
                for q in [5, 7, 11] {
                    let db = db.clone();
                    let rec = record(&f, 0, Decimal::from(q + round * 100));
                    writers.spawn(async move { store(&db, &[rec]).await });
                }
                while let Some(done) = writers.join_next().await {
                    done.unwrap();
                }
            }
            let mut c = db.conn().await.unwrap();
            let stored: String = sql!(&mut c, |e| sqlx::query_scalar("SELECT quantity FROM usage_records")
                .fetch_one(e)
                .await)
            .unwrap();
            let rows = first_day(&mut c, &f).await;
            assert_eq!(rows[0].quantity(), stored.parse::<Decimal>().unwrap());
            assert_eq!(rows[0].record_count, 1);
            // Every correction's old value is the previous one's new value: one chain.
            let history: Vec<(String, String)> = sql!(&mut c, |e| sqlx::query_as(
                "SELECT old_quantity, new_quantity FROM usage_corrections ORDER BY id"
            )
            .fetch_all(e)
            .await)
            .unwrap();
            assert_eq!(history.len(), 12);
            assert_eq!(history[0].0, "1");
            for pair in history.windows(2) {
                assert_eq!(pair[0].1, pair[1].0, "{history:?}");
            }
            assert_eq!(history.last().unwrap().1, stored);
        })
        .await;
    }

    #[tokio::test]
    async fn the_same_identity_twice_in_one_batch_keeps_the_last_delivery() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            let batch = [record(&f, 0, dec!(1)), record(&f, 0, dec!(5)), record(&f, 0, dec!(3))];
            let outcome = store(&db, &batch).await;
            // 1 and 5 are superseded within the batch; 3 is stored.
            assert_eq!(
                outcome,
                StoreOutcome {
                    accepted: 1,
                    duplicates: 2,
                    corrected: 0
                }
            );
            // The same batch again changes nothing and records no correction.
            let again = store(&db, &batch).await;
            assert_eq!(
                again,
                StoreOutcome {
                    accepted: 0,
                    duplicates: 3,
                    corrected: 0
                }
            );
            let mut c = db.conn().await.unwrap();
            let corrections: i64 = sql!(&mut c, |e| sqlx::query_scalar("SELECT COUNT(*) FROM usage_corrections")
                .fetch_one(e)
                .await)
            .unwrap();
            assert_eq!(corrections, 0);
            let mut c = db.conn().await.unwrap();
            let rows = first_day(&mut c, &f).await;
            assert_eq!((rows[0].quantity(), rows[0].record_count), (dec!(3), 1));
        })
        .await;
    }
}

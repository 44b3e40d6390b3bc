//! Usage records, their daily rollups and ingestion batches.
//!
//! [`store_records`] is the one write path for usage: imports, pushes, the collector and
//! the demo seed all end here, inside the caller's transaction, so a batch's records,
//! corrections, rollup updates and its `ingest_batches` row commit together.

use super::fixed::{ExactSum, ATTO_PER_UNIT, FRAC_PER_ATTO};
use super::{sql, AsExecutor, DbError, DbResult, Params};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::FromRow;
use std::collections::{HashMap, HashSet};

/// A record ready to be stored: identifiers resolved to rows, identity hashed.
#[derive(Debug, Clone)]
pub struct StagedRecord<'a> {
    /// 128-bit identity key: the usage hour, then 96 bits of a hash of the identity.
    pub identity_key: [u8; 16],
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Canonical meter ID (must exist in `meters`).
    pub meter_id: &'a str,
    /// The same meter as its 128-bit value (cheap to hash and compare).
    pub meter: u128,
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
    /// Whether the source said when it was reported (a pulled window, a `reportedTime`
    /// field) rather than it being the time it arrived.
    pub reported_by_source: bool,
}

impl StagedRecord<'_> {
    fn bucket_secs(&self) -> i64 {
        self.usage_end_at - self.usage_start_at
    }
}

/// A staged record that could not be stored as it is, and why (it goes to the quarantine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecord {
    /// Position in the staged slice.
    pub index: usize,
    /// What is wrong, naming the record it conflicts with.
    pub reason: String,
}

/// What happened to a batch's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// New records stored.
    pub accepted: u64,
    /// Records identical to stored ones, or superseded by a later delivery of the same
    /// identity and report time in the batch (nothing changed).
    pub duplicates: u64,
    /// Records that replaced a stored quantity (reported at or after the stored one).
    pub corrected: u64,
    /// Records reported before the stored (or a batch sibling's) report time: older
    /// news, which changes nothing.
    pub stale: u64,
    /// Records refused (to the quarantine).
    pub refused: Vec<RefusedRecord>,
    /// Rollup keys whose bucket length this batch checked or set: the caller may skip
    /// checking them again in later batches (see [`store_records`]).
    pub checked_buckets: Vec<BucketKey>,
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

/// A recorded batch with its registration's name.
#[derive(Debug, Clone, FromRow)]
pub struct BatchRow {
    /// Id.
    pub id: i64,
    /// Source.
    pub source: String,
    /// Registration name.
    pub registration_name: Option<String>,
    /// Actor.
    pub actor: String,
    /// Label.
    pub label: String,
    /// Counts.
    pub accepted: i64,
    /// Counts.
    pub duplicates: i64,
    /// Counts.
    pub corrected: i64,
    /// Counts.
    pub quarantined: i64,
    /// Counts.
    pub stale: i64,
    /// Unix seconds.
    pub committed_at: i64,
}

/// Refreshes PostgreSQL's planner statistics of the usage tables after a bulk load.
/// Until autovacuum gets to it (a minute or more), PostgreSQL plans with the statistics of
/// the nearly empty tables, and a reported-time page of the Azure-compatible API becomes
/// one index scan per user subscription (seconds instead of milliseconds). SQLite plans
/// without statistics here (its queries name their index), so nothing is done there.
pub async fn refresh_statistics(c: &mut impl AsExecutor) -> DbResult<()> {
    if c.engine() == super::Engine::Postgres {
        sql!(c, |e| sqlx::query(
            "ANALYZE usage_records, usage_resources, user_subscriptions, usage_daily"
        )
        .execute(e)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// The newest batches.
pub async fn list_recent_batches(c: &mut impl AsExecutor, limit: i64) -> DbResult<Vec<BatchRow>> {
    let q = "SELECT b.id, b.source, r.name AS registration_name, b.actor, b.label, b.accepted, b.duplicates, \
             b.corrected, b.quarantined, b.stale, b.committed_at FROM ingest_batches b \
             LEFT JOIN registrations r ON r.id = b.registration_id ORDER BY b.id DESC LIMIT $1";
    Ok(sql!(c, |e| sqlx::query_as::<_, BatchRow>(q)
        .bind(limit)
        .fetch_all(e)
        .await)?)
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

/// A batch's final counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// New records.
    pub accepted: u64,
    /// Unchanged.
    pub duplicates: u64,
    /// Corrections.
    pub corrected: u64,
    /// Older than stored.
    pub stale: u64,
    /// To the quarantine.
    pub quarantined: u64,
}

/// Writes a batch's final counts.
pub async fn finish_batch(c: &mut impl AsExecutor, id: i64, n: &BatchCounts) -> DbResult<()> {
    let q = "UPDATE ingest_batches SET accepted = $2, duplicates = $3, corrected = $4, quarantined = $5, stale = $6 \
             WHERE id = $1";
    sql!(c, |e| sqlx::query(q)
        .bind(id)
        .bind(n.accepted as i64)
        .bind(n.duplicates as i64)
        .bind(n.corrected as i64)
        .bind(n.quarantined as i64)
        .bind(n.stale as i64)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rows per multi-row statement: 12 parameters a row stays under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters, and 500 rows amortise the statement overhead.
const ROWS_PER_STATEMENT: usize = 500;

/// A stored record as found by its identity key.
#[derive(Debug, Clone)]
struct Stored {
    id: i64,
    quantity: Decimal,
    reported_at: i64,
    /// Whether its identity fields equal the delivered record's (compared in SQL): the key
    /// is a truncated hash, so a key match alone could (however improbably) be another
    /// record.
    same_identity: bool,
}

/// A rollup key with the bucket length its records have: `(day, resource, meter, secs)`.
pub type BucketKey = (NaiveDate, i64, u128, i64);

type RollupKey<'a> = (i64, &'a str, NaiveDate);

/// Rollup changes: exact quantity delta, record-count delta, bucket length, and the
/// first and last reported time of the records involved.
#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    quantity: ExactSum,
    count: i64,
    bucket_secs: i64,
    reported: Option<(i64, i64)>,
}

impl Delta {
    fn reported_at(&mut self, at: i64) {
        self.reported = Some(match self.reported {
            None => (at, at),
            Some((lo, hi)) => (lo.min(at), hi.max(at)),
        });
    }
}

/// Stores a batch of records inside the caller's transaction:
///
/// - a new identity is inserted;
/// - a stored identity with the same quantity is a duplicate (nothing changes, but for the
///   report time when the source reports it again later);
/// - with another quantity it is a **correction** if it was reported at or after the
///   stored record (a later report, or the same report arriving later), replacing the
///   quantity and the report time with history in `usage_corrections`; reported
///   **before** the stored record it is **stale** — older news that changes nothing, so a
///   backfill, an old file or a watermark moved backwards can never revert a correction;
/// - a record whose bucket length differs from the stored records of the same resource,
///   meter and day (daily next to hourly), or whose identity key matches a stored record
///   with other identity fields (a hash collision), is **refused** with a reason naming
///   the record it conflicts with — the caller quarantines it.
///
/// The same identity more than once in one batch: the latest reported delivery counts,
/// ties going to the later one in the batch; the others are counted as duplicates (same
/// report time) or stale (reported earlier). Re-ingesting a batch changes nothing, not
/// even the correction history. The daily rollups move by exactly the difference.
pub async fn store_records(
    c: &mut impl AsExecutor,
    batch_id: i64,
    records: &[StagedRecord<'_>],
    known_buckets: &HashSet<BucketKey>,
    now: i64,
) -> DbResult<StoreOutcome> {
    let mut outcome = StoreOutcome::default();
    // The delivery of each identity that counts: latest reported, then latest in the batch.
    let mut winner: HashMap<[u8; 16], usize> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        match winner.get(&r.identity_key) {
            Some(&w) if records[w].reported_at > r.reported_at => {}
            _ => {
                winner.insert(r.identity_key, i);
            }
        }
    }
    let mut round: Vec<usize> = Vec::with_capacity(winner.len());
    for (i, r) in records.iter().enumerate() {
        let w = winner[&r.identity_key];
        if w == i {
            round.push(i);
        } else if records[w].reported_at > r.reported_at {
            outcome.stale += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    let round = refuse_mixed_buckets(c, records, round, known_buckets, &mut outcome).await?;

    let mut daily: HashMap<RollupKey<'_>, Delta> = HashMap::new();
    let mut by_resource: HashMap<RollupKey<'_>, Delta> = HashMap::new();
    let (fresh, stored) = insert_new(c, records, round, now).await?;
    for &i in &fresh {
        let r = &records[i];
        add_delta(&mut daily, r, r.user_subscription_id, ExactSum::of(r.quantity), 1);
        add_delta(&mut by_resource, r, r.resource_id, ExactSum::of(r.quantity), 1);
    }
    outcome.accepted += fresh.len() as u64;
    let mut candidates = Vec::new();
    for (i, s) in stored {
        let r = &records[i];
        if !s.same_identity {
            let (sub, meter, start, end): (i64, String, i64, i64) = sql!(c, |e| {
                sqlx::query_as(
                "SELECT user_subscription_id, meter_id, usage_start_at, usage_end_at FROM usage_records WHERE id = $1"
            )
            .bind(s.id)
            .fetch_one(e)
            .await
            })?;
            outcome.refused.push(RefusedRecord {
                index: i,
                reason: format!(
                    "its identity key collides with stored usage record {} (subscription row {sub}, meter {meter}, \
                     {}–{}), which has other identity fields; it was not stored",
                    s.id,
                    instant(start),
                    instant(end)
                ),
            });
        } else if s.quantity == r.quantity {
            // Identical deliveries (the common case when data is sent again) need nothing
            // more — unless the source reports the same value *later* (the stamp reported
            // it again): the record then remembers the later report, so an older report
            // arriving afterwards is recognised as stale.
            outcome.duplicates += 1;
            if r.reported_by_source && r.reported_at > s.reported_at {
                // The record moves to its later report: the day's reported bounds follow.
                add_delta(&mut daily, r, r.user_subscription_id, ExactSum::ZERO, 0);
                sql!(c, |e| sqlx::query(
                    "UPDATE usage_records SET reported_at = $2 WHERE id = $1 AND reported_at < $2"
                )
                .bind(s.id)
                .bind(r.reported_at)
                .execute(e)
                .await
                .map(|r| r.rows_affected()))?;
            }
        } else {
            candidates.push((i, s));
        }
    }
    let current = lock_for_correction(c, &candidates).await?;
    for (i, s) in candidates {
        let r = &records[i];
        let (old, old_reported) = current.get(&s.id).copied().unwrap_or((s.quantity, s.reported_at));
        if old == r.quantity {
            outcome.duplicates += 1;
            continue;
        }
        if r.reported_at < old_reported {
            outcome.stale += 1;
            continue;
        }
        correct_record(c, s.id, old, r.quantity, r.reported_at, batch_id, now).await?;
        // new − old, exactly: as a Decimal subtraction it would round whenever the
        // difference needs more than 28 significant digits (1000 − 10⁻²⁸).
        let mut delta = ExactSum::of(r.quantity);
        delta.add(-old);
        add_delta(&mut daily, r, r.user_subscription_id, delta, 0);
        add_delta(&mut by_resource, r, r.resource_id, delta, 0);
        outcome.corrected += 1;
    }
    upsert_rollups(c, "usage_daily", "user_subscription_id", &daily, false).await?;
    upsert_rollups(c, "usage_daily_by_resource", "resource_id", &by_resource, true).await?;
    Ok(outcome)
}

fn instant(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

fn add_delta<'a>(
    map: &mut HashMap<RollupKey<'a>, Delta>,
    r: &StagedRecord<'a>,
    key: i64,
    quantity: ExactSum,
    count: i64,
) {
    let entry = map.entry((key, r.meter_id, r.usage_on)).or_default();
    entry.quantity.add_sum(quantity);
    entry.count += count;
    entry.bucket_secs = r.bucket_secs();
    entry.reported_at(r.reported_at);
}

/// Refuses records whose usage bucket length differs from the other records of the same
/// resource, meter and UTC day — stored ones (the day's rollup remembers their length) or
/// earlier ones of this batch. Azure Stack reports either hourly or daily aggregates of a
/// resource; both kinds over the same hours would bill the usage twice.
async fn refuse_mixed_buckets(
    c: &mut impl AsExecutor,
    records: &[StagedRecord<'_>],
    round: Vec<usize>,
    known: &HashSet<BucketKey>,
    outcome: &mut StoreOutcome,
) -> DbResult<Vec<usize>> {
    // Every (day, resource, meter, bucket length) the batch brings; SQL answers only the
    // ones a stored rollup contradicts — normally none. (Each row SQLite returns crosses
    // from its worker thread on its own, so asking for every stored key would cost a
    // thread hand-off per key of every batch.)
    // Keys an earlier batch of this import checked or set need no second look.
    let mut keys: Vec<(NaiveDate, i64, &str, i64)> = round
        .iter()
        .filter_map(|&i| {
            let r = &records[i];
            let key = (r.usage_on, r.resource_id, r.meter, r.bucket_secs());
            (!known.contains(&key)).then_some((r.usage_on, r.resource_id, r.meter_id, r.bucket_secs()))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut stored: HashMap<(NaiveDate, i64, String, i64), i64> = HashMap::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        // A join with the VALUES list, not `(…) IN (VALUES …)`: SQLite plans the latter as
        // a scan of the whole rollup table per statement; the join probes its primary key.
        let q = format!(
            "SELECT v.column1, v.column2, v.column3, v.column4, d.bucket_secs FROM (VALUES {}) AS v \
             JOIN usage_daily_by_resource d ON d.usage_on = v.column1 AND d.resource_id = v.column2 \
             AND d.meter_id = v.column3 WHERE d.bucket_secs <> 0 AND d.bucket_secs <> v.column4",
            Params::new(c.engine()).rows(chunk.len(), 4)
        );
        let rows: Vec<(NaiveDate, i64, String, i64, i64)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for (day, resource, meter, secs) in chunk {
                query = query.bind(*day).bind(*resource).bind(*meter).bind(*secs);
            }
            query.fetch_all(e).await
        })?;
        for (day, resource, meter, secs, stored_secs) in rows {
            stored.insert((day, resource, meter, secs), stored_secs);
        }
    }
    // Among records of a key with nothing stored, the first accepted one sets its length.
    let mut first_in_batch: HashMap<(NaiveDate, i64, &str), usize> = HashMap::new();
    let mut kept = Vec::with_capacity(round.len());
    for i in round {
        let r = &records[i];
        let key = (r.usage_on, r.resource_id, r.meter_id);
        let conflict = if let Some(&secs) = stored.get(&(key.0, key.1, key.2.to_owned(), r.bucket_secs())) {
            Some(match find_overlapping(c, r).await? {
                Some((id, start, end)) => format!(
                    "it overlaps stored usage record {id} ({}–{}) of the same resource and meter, reported as \
                     {} aggregates; Azure Stack reports a resource either hourly or daily, and both would bill \
                     the same hours twice",
                    instant(start),
                    instant(end),
                    granularity(secs)
                ),
                None => format!(
                    "the stored usage of this resource and meter on {} is in {} aggregates and this record \
                     covers {} seconds; both would bill the same hours twice",
                    r.usage_on,
                    granularity(secs),
                    r.bucket_secs()
                ),
            })
        } else {
            match first_in_batch.get(&key) {
                Some(&j) if records[j].bucket_secs() != r.bucket_secs() => Some(format!(
                    "it overlaps record #{} of the same batch ({}–{}), which reports the same resource and meter \
                     in {} aggregates; both would bill the same hours twice",
                    j + 1,
                    instant(records[j].usage_start_at),
                    instant(records[j].usage_end_at),
                    granularity(records[j].bucket_secs())
                )),
                Some(_) => None,
                None => {
                    first_in_batch.insert(key, i);
                    None
                }
            }
        };
        match conflict {
            Some(reason) => outcome.refused.push(RefusedRecord { index: i, reason }),
            None => kept.push(i),
        }
    }
    let mut checked: Vec<BucketKey> = kept
        .iter()
        .map(|&i| {
            let r = &records[i];
            (r.usage_on, r.resource_id, r.meter, r.bucket_secs())
        })
        .filter(|k| !known.contains(k))
        .collect();
    checked.sort_unstable();
    checked.dedup();
    outcome.checked_buckets = checked;
    Ok(kept)
}

fn granularity(secs: i64) -> String {
    match secs {
        3600 => "hourly".into(),
        86400 => "daily".into(),
        s => format!("{s}-second"),
    }
}

/// One stored record of the same resource and meter overlapping `r`'s hours: found
/// through the identity key's hour prefix (a key range), only on this rare refusal path.
async fn find_overlapping(c: &mut impl AsExecutor, r: &StagedRecord<'_>) -> DbResult<Option<(i64, i64, i64)>> {
    let hour_key = |secs: i64| -> Vec<u8> {
        let mut k = vec![0u8; 16];
        k[..4].copy_from_slice(&(secs.div_euclid(3600) as u32).to_be_bytes());
        k
    };
    // Records start at most a day before they end.
    let lo = hour_key(r.usage_start_at - 86400);
    let hi = hour_key(r.usage_end_at);
    let q =
        "SELECT id, usage_start_at, usage_end_at FROM usage_records WHERE identity_key >= $1 AND identity_key < $2 \
             AND resource_id = $3 AND meter_id = $4 AND usage_start_at < $5 AND usage_end_at > $6 \
             ORDER BY identity_key LIMIT 1";
    Ok(sql!(c, |e| sqlx::query_as(q)
        .bind(&lo)
        .bind(&hi)
        .bind(r.resource_id)
        .bind(r.meter_id)
        .bind(r.usage_end_at)
        .bind(r.usage_start_at)
        .fetch_optional(e)
        .await)?)
}

/// Before correcting records on PostgreSQL, locks them (`FOR UPDATE`, in id order so
/// concurrent writers cannot deadlock) and returns their quantity and report time *now*:
/// a concurrent writer correcting the same record has either committed — and this reads
/// its value — or waits for this batch. Each correction then moves the rollups from the
/// value it really replaced. Only changed records are locked, so re-sending identical data
/// writes nothing. (SQLite runs one write transaction at a time: the value read is current.)
async fn lock_for_correction(
    c: &mut impl AsExecutor,
    changed: &[(usize, Stored)],
) -> DbResult<HashMap<i64, (Decimal, i64)>> {
    let mut current = HashMap::new();
    if c.engine() == super::Engine::Sqlite || changed.is_empty() {
        return Ok(current);
    }
    let mut ids: Vec<i64> = changed.iter().map(|(_, s)| s.id).collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut p = Params::new(c.engine());
        let q = format!(
            "SELECT id, quantity, reported_at FROM usage_records WHERE id IN ({}) ORDER BY id FOR UPDATE",
            p.list(chunk.len())
        );
        let rows: Vec<(i64, String, i64)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(e).await
        })?;
        for (id, quantity, reported_at) in rows {
            current.insert(id, (stored_quantity(&quantity)?, reported_at));
        }
    }
    Ok(current)
}

/// A record's stored quantity (exact decimal text).
fn stored_quantity(text: &str) -> DbResult<Decimal> {
    text.parse::<Decimal>()
        .map_err(|e| DbError::Corrupt(format!("usage quantity `{text}`: {e}")))
}

type StoredRow = (Vec<u8>, i64, String, i64, i64);

/// The stored records among the given records' identity keys, with whether each one's
/// identity fields equal the delivered record's. The comparison happens in SQL, so a
/// re-delivery reads back five narrow columns per record rather than every identity field
/// (each returned row already costs a thread hand-off on SQLite).
async fn find_existing(
    c: &mut impl AsExecutor,
    records: &[StagedRecord<'_>],
    indexes: &[usize],
) -> DbResult<HashMap<[u8; 16], Stored>> {
    let mut found = HashMap::new();
    for chunk in indexes.chunks(ROWS_PER_STATEMENT) {
        let q = format!(
            "SELECT r.identity_key, r.id, r.quantity, r.reported_at, CAST(CASE WHEN \
             r.user_subscription_id = v.column2 AND r.meter_id = v.column3 AND r.resource_id = v.column4 \
             AND r.usage_start_at = v.column5 AND r.usage_end_at = v.column6 AND r.additional_info = v.column7 \
             THEN 1 ELSE 0 END AS BIGINT) FROM (VALUES {}) AS v JOIN usage_records r ON r.identity_key = v.column1",
            Params::new(c.engine()).rows(chunk.len(), 7)
        );
        let rows: Vec<StoredRow> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for &i in chunk {
                let r = &records[i];
                query = query
                    .bind(&r.identity_key[..])
                    .bind(r.user_subscription_id)
                    .bind(r.meter_id)
                    .bind(r.resource_id)
                    .bind(r.usage_start_at)
                    .bind(r.usage_end_at)
                    .bind(r.additional_info);
            }
            query.fetch_all(e).await
        })?;
        for (key, id, quantity, reported_at, same) in rows {
            let key: [u8; 16] = key
                .try_into()
                .map_err(|_| DbError::Corrupt("usage identity key is not 16 bytes".into()))?;
            found.insert(
                key,
                Stored {
                    id,
                    quantity: stored_quantity(&quantity)?,
                    reported_at,
                    same_identity: same == 1,
                },
            );
        }
    }
    Ok(found)
}

/// Inserts the new records of a round (distinct identities, as indexes into `records`)
/// and returns those inserted and those already stored, with the stored row.
///
/// SQLite has one writer at a time, so it looks the identities up first and inserts the
/// new ones. PostgreSQL inserts first (`ON CONFLICT DO NOTHING RETURNING`) — a first
/// delivery, the common case, is then a single statement — and reads back the ones that
/// were already stored. With a concurrent writer of the same records the insert waits
/// for it and then finds them stored: never a unique-key failure. (On SQLite the lookup
/// is the cheaper path: rows come back from its worker thread one message at a time.)
async fn insert_new(
    c: &mut impl AsExecutor,
    records: &[StagedRecord<'_>],
    round: Vec<usize>,
    now: i64,
) -> DbResult<(Vec<usize>, Vec<(usize, Stored)>)> {
    let mut fresh = Vec::with_capacity(round.len());
    let mut stored = Vec::new();
    match c.engine() {
        super::Engine::Sqlite => {
            let mut existing = find_existing(c, records, &round).await?;
            for i in round {
                match existing.remove(&records[i].identity_key) {
                    Some(s) => stored.push((i, s)),
                    None => fresh.push(i),
                }
            }
            for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
                insert_records(c, records, chunk, now, None).await?;
            }
        }
        super::Engine::Postgres => {
            // Sorted: concurrent writers lock new identities in the same order.
            let mut round = round;
            round.sort_unstable_by_key(|&i| records[i].identity_key);
            let mut inserted: HashSet<[u8; 16]> = HashSet::with_capacity(round.len());
            for chunk in round.chunks(ROWS_PER_STATEMENT) {
                insert_records(c, records, chunk, now, Some(&mut inserted)).await?;
            }
            let (new, old): (Vec<usize>, Vec<usize>) = round
                .into_iter()
                .partition(|&i| inserted.contains(&records[i].identity_key));
            fresh = new;
            if !old.is_empty() {
                let mut existing = find_existing(c, records, &old).await?;
                for i in old {
                    let s = existing.remove(&records[i].identity_key).ok_or_else(|| {
                        DbError::Corrupt("a usage record conflicted on insert but cannot be read back".into())
                    })?;
                    stored.push((i, s));
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
    records: &[StagedRecord<'_>],
    chunk: &[usize],
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
    let quantities: Vec<String> = chunk
        .iter()
        .map(|&i| records[i].quantity.normalize().to_string())
        .collect();
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for (&i, quantity) in chunk.iter().zip(&quantities) {
                let r = &records[i];
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

/// Applies a correction: the new quantity and its report time replace the stored ones
/// (so the record is served again in the window of its correction), and the old value is
/// kept in `usage_corrections`.
async fn correct_record(
    c: &mut impl AsExecutor,
    id: i64,
    old: Decimal,
    new: Decimal,
    reported_at: i64,
    batch_id: i64,
    now: i64,
) -> DbResult<()> {
    let new_text = new.normalize().to_string();
    sql!(c, |e| sqlx::query(
        "UPDATE usage_records SET quantity = $2, reported_at = $3, ingested_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(&new_text)
    .bind(reported_at)
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
    deltas: &HashMap<RollupKey<'_>, Delta>,
    with_bucket: bool,
) -> DbResult<()> {
    let mut entries = Vec::with_capacity(deltas.len());
    for ((key, meter, day), d) in deltas {
        let (whole, atto, frac) = d
            .quantity
            .parts()
            .ok_or_else(|| DbError::Corrupt(format!("rollup quantity {} out of range", d.quantity.to_decimal())))?;
        entries.push((
            *key,
            *meter,
            *day,
            whole,
            atto,
            frac,
            d.count,
            d.bucket_secs,
            d.reported,
        ));
    }
    // Primary-key order (day first): a stable order keeps concurrent writers on PostgreSQL
    // from deadlocking each other, and walks the b-tree forward.
    entries.sort_by(|a, b| (a.2, a.0, a.1).cmp(&(b.2, b.0, b.1)));
    let (bucket_col, bucket_set) = if with_bucket {
        (
            ", bucket_secs",
            format!(", bucket_secs = CASE WHEN {table}.bucket_secs = 0 THEN excluded.bucket_secs ELSE {table}.bucket_secs END"),
        )
    } else {
        ("", String::new())
    };
    // The subscription rollup keeps the reported-time bounds of its records (the hourly CSV
    // reads a customer's records by reported time within them). A row whose bounds are
    // unknown (NULL, from before they were kept) stays unknown.
    let (reported_col, reported_set) = if with_bucket {
        ("", String::new())
    } else {
        let (lo, hi) = match c.engine() {
            super::Engine::Sqlite => (
                format!("min({table}.first_reported_at, excluded.first_reported_at)"),
                format!("max({table}.last_reported_at, excluded.last_reported_at)"),
            ),
            super::Engine::Postgres => (
                format!("CASE WHEN {table}.first_reported_at IS NULL THEN NULL ELSE LEAST({table}.first_reported_at, excluded.first_reported_at) END"),
                format!("CASE WHEN {table}.last_reported_at IS NULL THEN NULL ELSE GREATEST({table}.last_reported_at, excluded.last_reported_at) END"),
            ),
        };
        (
            ", first_reported_at, last_reported_at",
            format!(", first_reported_at = {lo}, last_reported_at = {hi}"),
        )
    };
    let cols = if with_bucket { 8 } else { 9 };
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let rows = Params::new(c.engine()).rows(chunk.len(), cols);
        // The carries: frac parts are each < 10^10 and atto parts < 10^18, so every sum
        // fits an i64, and integer division / remainder split them exactly on both engines.
        // Right-hand sides read the row's old values, on both engines.
        let frac_sum = format!("({table}.quantity_frac + excluded.quantity_frac)");
        let atto_sum = format!("({table}.quantity_atto + excluded.quantity_atto + {frac_sum} / {FRAC_PER_ATTO})");
        let q = format!(
            "INSERT INTO {table} ({key_column}, meter_id, usage_on, quantity_whole, quantity_atto, quantity_frac, \
             record_count{bucket_col}{reported_col}) VALUES {rows} ON CONFLICT (usage_on, {key_column}, meter_id) DO UPDATE SET \
             quantity_whole = {table}.quantity_whole + excluded.quantity_whole + {atto_sum} / {ATTO_PER_UNIT}, \
             quantity_atto = {atto_sum} % {ATTO_PER_UNIT}, \
             quantity_frac = {frac_sum} % {FRAC_PER_ATTO}, \
             record_count = {table}.record_count + excluded.record_count{bucket_set}{reported_set}",
        );
        sql!(c, |e| {
            let mut query = sqlx::query(&q);
            for (key, meter, day, whole, atto, frac, count, bucket, reported) in chunk {
                query = query
                    .bind(*key)
                    .bind(*meter)
                    .bind(*day)
                    .bind(*whole)
                    .bind(*atto)
                    .bind(*frac)
                    .bind(*count);
                if with_bucket {
                    query = query.bind(*bucket);
                } else {
                    query = query.bind(reported.map(|r| r.0)).bind(reported.map(|r| r.1));
                }
            }
            query.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// The first and last usage day with stored records (from the ends of the identity
/// key's index: the key starts with the usage hour).
pub async fn record_day_range(c: &mut impl AsExecutor) -> DbResult<Option<(NaiveDate, NaiveDate)>> {
    let (lo, hi): (Option<Vec<u8>>, Option<Vec<u8>>) = sql!(c, |e| sqlx::query_as(
        "SELECT MIN(identity_key), MAX(identity_key) FROM usage_records"
    )
    .fetch_one(e)
    .await)?;
    let day_of = |key: Vec<u8>| -> DbResult<NaiveDate> {
        let hour = u32::from_be_bytes(
            key.get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| DbError::Corrupt("usage identity key is not 16 bytes".into()))?,
        );
        chrono::DateTime::from_timestamp(i64::from(hour) * 3600, 0)
            .map(|t| t.date_naive())
            .ok_or_else(|| DbError::Corrupt(format!("usage hour {hour} out of range")))
    };
    match (lo, hi) {
        (Some(lo), Some(hi)) => Ok(Some((day_of(lo)?, day_of(hi)?))),
        _ => Ok(None),
    }
}

fn day_key(day: NaiveDate, offset_hours: i64) -> Vec<u8> {
    let hour = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0) / 3600 + offset_hours;
    let mut k = vec![0u8; 16];
    k[..4].copy_from_slice(&(hour as u32).to_be_bytes());
    k
}

type DayRecordRow = (i64, i64, String, i64, i64, String, i64);

/// The exact rollups of one UTC day computed from its records:
/// `(per subscription, per resource)`, each `(key, meter) → (sum, records, bucket secs)`.
async fn day_sums(c: &mut impl AsExecutor, day: NaiveDate) -> DbResult<(DaySums, DaySums)> {
    // A day's records have identity keys between the day's first hour and the next
    // day's (the key starts with the usage hour): a range of the unique index.
    let rows: Vec<DayRecordRow> = sql!(c, |e| sqlx::query_as(
        "SELECT user_subscription_id, resource_id, meter_id, usage_start_at, usage_end_at, quantity, reported_at \
         FROM usage_records WHERE identity_key >= $1 AND identity_key < $2"
    )
    .bind(day_key(day, 0))
    .bind(day_key(day, 24))
    .fetch_all(e)
    .await)?;
    let mut by_sub = DaySums::new();
    let mut by_resource = DaySums::new();
    for (sub, resource, meter, start, end, quantity, reported) in rows {
        let q = stored_quantity(&quantity)?;
        for (map, key) in [(&mut by_sub, sub), (&mut by_resource, resource)] {
            let e = map
                .entry((key, meter.clone()))
                .or_insert((ExactSum::ZERO, 0, 0, (reported, reported)));
            e.0.add(q);
            e.1 += 1;
            e.2 = end - start;
            e.3 = (e.3 .0.min(reported), e.3 .1.max(reported));
        }
    }
    Ok((by_sub, by_resource))
}

type DaySums = HashMap<(i64, String), (ExactSum, i64, i64, (i64, i64))>;

fn as_deltas(sums: &DaySums, day: NaiveDate) -> HashMap<RollupKey<'_>, Delta> {
    sums.iter()
        .map(|((key, meter), (sum, count, bucket, reported))| {
            (
                (*key, meter.as_str(), day),
                Delta {
                    quantity: *sum,
                    count: *count,
                    bucket_secs: *bucket,
                    reported: Some(*reported),
                },
            )
        })
        .collect()
}

/// Rebuilds one day's rollups (both tables) exactly from its records; returns how many
/// records the day has. Runs in the caller's transaction.
pub async fn rebuild_day_rollups(c: &mut impl AsExecutor, day: NaiveDate) -> DbResult<i64> {
    let (by_sub, by_resource) = day_sums(c, day).await?;
    for table in ["usage_daily", "usage_daily_by_resource"] {
        let q = format!("DELETE FROM {table} WHERE usage_on = $1");
        sql!(c, |e| sqlx::query(&q)
            .bind(day)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
    }
    upsert_rollups(
        c,
        "usage_daily",
        "user_subscription_id",
        &as_deltas(&by_sub, day),
        false,
    )
    .await?;
    upsert_rollups(
        c,
        "usage_daily_by_resource",
        "resource_id",
        &as_deltas(&by_resource, day),
        true,
    )
    .await?;
    Ok(by_sub.values().map(|v| v.1).sum())
}

/// A rollup that differs from the exact sum of its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupMismatch {
    /// `usage_daily` or `usage_daily_by_resource`.
    pub table: &'static str,
    /// Day.
    pub day: NaiveDate,
    /// User subscription or resource row.
    pub key: i64,
    /// Meter.
    pub meter_id: String,
    /// The rollup's quantity and count (`None`: missing).
    pub rollup: Option<(String, i64)>,
    /// The records' exact sum and count (`None`: no records).
    pub records: Option<(String, i64)>,
}

/// Compares one day's rollups with the exact sums of its records.
pub async fn check_day_rollups(c: &mut impl AsExecutor, day: NaiveDate) -> DbResult<Vec<RollupMismatch>> {
    let (by_sub, by_resource) = day_sums(c, day).await?;
    let mut out = Vec::new();
    for (table, key_col, sums) in [
        ("usage_daily", "user_subscription_id", &by_sub),
        ("usage_daily_by_resource", "resource_id", &by_resource),
    ] {
        let q = format!(
            "SELECT {key_col}, meter_id, quantity_whole, quantity_atto, quantity_frac, record_count FROM {table} \
             WHERE usage_on = $1"
        );
        let rows: Vec<(i64, String, i64, i64, i64, i64)> =
            sql!(c, |e| sqlx::query_as(&q).bind(day).fetch_all(e).await)?;
        let mut seen = HashSet::new();
        for (key, meter, w, a, f, count) in rows {
            let stored = ExactSum::from_parts(w, a, f);
            let expected = sums.get(&(key, meter.clone()));
            seen.insert((key, meter.clone()));
            let same = expected.is_some_and(|(sum, n, _, _)| *sum == stored && *n == count);
            if !same {
                out.push(RollupMismatch {
                    table,
                    day,
                    key,
                    meter_id: meter,
                    rollup: Some((stored.to_decimal().to_string(), count)),
                    records: expected.map(|(sum, n, _, _)| (sum.to_decimal().to_string(), *n)),
                });
            }
        }
        for ((key, meter), (sum, n, _, _)) in sums {
            if !seen.contains(&(*key, meter.clone())) {
                out.push(RollupMismatch {
                    table,
                    day,
                    key: *key,
                    meter_id: meter.clone(),
                    rollup: None,
                    records: Some((sum.to_decimal().to_string(), *n)),
                });
            }
        }
    }
    Ok(out)
}

/// Pending maintenance tasks requested by migrations.
pub async fn list_maintenance_tasks(c: &mut impl AsExecutor) -> DbResult<Vec<String>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT name FROM maintenance_tasks ORDER BY name"
    )
    .fetch_all(e)
    .await)?)
}

/// Marks a maintenance task done.
pub async fn finish_maintenance_task(c: &mut impl AsExecutor, name: &str) -> DbResult<()> {
    sql!(c, |e| sqlx::query("DELETE FROM maintenance_tasks WHERE name = $1")
        .bind(name)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
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
        // Joined with the VALUES list so SQLite probes the unique index (an `IN (VALUES …)`
        // is planned as a scan of the whole table).
        let q = format!(
            "SELECT r.user_subscription_id, r.resource_key, r.id FROM (VALUES {}) AS v \
             JOIN usage_resources r ON r.user_subscription_id = v.column1 AND r.resource_key = v.column2",
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

/// One registration's record counts per day between two days (half-open).
pub async fn registration_day_counts(
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<(NaiveDate, i64)>> {
    let q = "SELECT d.usage_on, CAST(SUM(d.record_count) AS BIGINT) FROM usage_daily d \
             JOIN user_subscriptions us ON us.id = d.user_subscription_id \
             WHERE d.usage_on >= $1 AND d.usage_on < $2 AND us.registration_id = $3 GROUP BY d.usage_on";
    Ok(sql!(c, |e| sqlx::query_as(q)
        .bind(from)
        .bind(to)
        .bind(registration_id)
        .fetch_all(e)
        .await)?)
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
    /// 10^-28 units.
    pub quantity_frac: i64,
    /// Records summed.
    pub record_count: i64,
}

impl DailyRow {
    /// The exact quantity.
    pub fn quantity(&self) -> Decimal {
        super::fixed::from_fixed(self.quantity_whole, self.quantity_atto, self.quantity_frac)
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
            "SELECT user_subscription_id, meter_id, usage_on, quantity_whole, quantity_atto, quantity_frac, \
             record_count FROM usage_daily WHERE usage_on >= {} AND usage_on < {} AND user_subscription_id IN ({}) \
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

/// One stored usage record as the customer portal's hourly CSV shows it.
#[derive(Debug, Clone, FromRow)]
pub struct RecordRow {
    /// The user subscription's GUID.
    pub subscription_guid: String,
    /// The meter.
    pub meter_id: String,
    /// The resource's URI as first received.
    pub resource_uri: String,
    /// Usage start, Unix seconds.
    pub usage_start_at: i64,
    /// Usage end, Unix seconds.
    pub usage_end_at: i64,
    /// Exact quantity as stored.
    pub quantity: String,
    /// Tags as received (a JSON object's text, or empty).
    pub tags: String,
}

/// The reported-time bounds of the records of some user subscriptions (by GUID) of a
/// registration with usage on days in `[from, to)`, from their daily rollups:
/// `(first, last)`, all of Unix time when some rollup does not know its bounds yet, `None`
/// when there is no usage.
pub async fn reported_bounds(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_guids: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Option<(i64, i64)>> {
    let q = format!(
        "SELECT MIN(d.first_reported_at), MAX(d.last_reported_at), CAST(COUNT(*) - COUNT(d.first_reported_at) AS BIGINT) \
         FROM user_subscriptions s JOIN usage_daily d ON d.user_subscription_id = s.id \
         WHERE s.subscription_id IN {} AND s.registration_id = $2 AND d.usage_on >= $3 AND d.usage_on < $4",
        super::json_texts(c.engine())
    );
    let guids = serde_json::Value::from(subscription_guids.to_vec()).to_string();
    let (lo, hi, unknown): (Option<i64>, Option<i64>, i64) = sql!(c, |e| sqlx::query_as(&q)
        .bind(&guids)
        .bind(registration_id)
        .bind(from)
        .bind(to)
        .fetch_one(e)
        .await)?;
    Ok(match (lo, hi, unknown) {
        (_, _, n) if n > 0 => Some((i64::MIN, i64::MAX)),
        (Some(lo), Some(hi), _) => Some((lo, hi)),
        _ => None,
    })
}

/// (day, records, first reported, last reported, rollups not knowing theirs).
type DayStatRow = (NaiveDate, i64, Option<i64>, Option<i64>, i64);

/// Per usage day in `[from, to)` of some user subscriptions (by GUID) of a registration:
/// `(day, records, first reported, last reported)` from the daily rollups, the bounds all
/// of Unix time where some rollup of the day does not know them yet.
pub async fn day_report_stats(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_guids: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<(NaiveDate, i64, i64, i64)>> {
    let q = format!(
        "SELECT d.usage_on, CAST(SUM(d.record_count) AS BIGINT), MIN(d.first_reported_at), MAX(d.last_reported_at), \
         CAST(COUNT(*) - COUNT(d.first_reported_at) AS BIGINT) \
         FROM user_subscriptions s JOIN usage_daily d ON d.user_subscription_id = s.id \
         WHERE s.subscription_id IN {} AND s.registration_id = $2 AND d.usage_on >= $3 AND d.usage_on < $4 \
         GROUP BY d.usage_on ORDER BY d.usage_on",
        super::json_texts(c.engine())
    );
    let guids = serde_json::Value::from(subscription_guids.to_vec()).to_string();
    let rows: Vec<DayStatRow> = sql!(c, |e| sqlx::query_as(&q)
        .bind(&guids)
        .bind(registration_id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(day, n, lo, hi, unknown)| match (lo, hi, unknown) {
            (Some(lo), Some(hi), 0) => (day, n, lo, hi),
            _ => (day, n, i64::MIN, i64::MAX),
        })
        .collect())
}

/// Which records: some user subscriptions (by GUID) of a registration, usage starting in
/// `[from_at, to_at)`, reported in `reported` (both ends included; see
/// [`reported_bounds`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordRange<'a> {
    /// Registration.
    pub registration_id: i64,
    /// User subscription GUIDs.
    pub subscription_guids: &'a [String],
    /// First usage instant.
    pub from_at: i64,
    /// End of usage instants (exclusive).
    pub to_at: i64,
    /// First and last reported instant.
    pub reported: (i64, i64),
}

impl RecordRange<'_> {
    /// `FROM … WHERE …` with the GUIDs as $1 and the rest as $2–$6: the reported-time index
    /// (SQLite is told; it would rather not use an index whose first column is a range).
    fn sql_tail(&self, engine: super::Engine) -> String {
        let hint = match engine {
            super::Engine::Sqlite => " INDEXED BY usage_records_reported",
            super::Engine::Postgres => "",
        };
        format!(
            "FROM usage_records u{hint} JOIN user_subscriptions s ON s.id = u.user_subscription_id \
             JOIN usage_resources r ON r.id = u.resource_id \
             WHERE u.reported_at >= $5 AND u.reported_at <= $6 AND s.subscription_id IN {} \
             AND s.registration_id = $2 AND u.usage_start_at >= $3 AND u.usage_start_at < $4",
            super::json_texts(engine)
        )
    }

    fn guids(&self) -> String {
        serde_json::Value::from(self.subscription_guids.to_vec()).to_string()
    }

    /// Binds $1–$6 of [`Self::sql_tail`] (the GUIDs as `guids`).
    fn bind<'q, DB, O>(
        &self,
        q: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
        guids: &'q String,
    ) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
    where
        DB: sqlx::Database,
        &'q String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        q.bind(guids)
            .bind(self.registration_id)
            .bind(self.from_at)
            .bind(self.to_at)
            .bind(self.reported.0)
            .bind(self.reported.1)
    }
}

/// The records of a range (the customer portal's hourly CSV).
pub async fn list_records(c: &mut impl AsExecutor, range: &RecordRange<'_>) -> DbResult<Vec<RecordRow>> {
    let q = format!(
        "SELECT s.subscription_id AS subscription_guid, u.meter_id, r.resource_uri, u.usage_start_at, \
         u.usage_end_at, u.quantity, u.tags {}",
        range.sql_tail(c.engine())
    );
    let guids = range.guids();
    Ok(sql!(c, |e| range
        .bind(sqlx::query_as::<_, RecordRow>(&q), &guids)
        .fetch_all(e)
        .await)?)
}

/// The distinct tags a range's resources carried per UTC day: `(subscription GUID,
/// resource URI, day number since 1970, tags)`.
pub async fn list_resource_day_tags(
    c: &mut impl AsExecutor,
    range: &RecordRange<'_>,
) -> DbResult<Vec<(String, String, i64, String)>> {
    let q = format!(
        "SELECT DISTINCT s.subscription_id, r.resource_uri, u.usage_start_at / 86400, u.tags {} AND u.tags <> ''",
        range.sql_tail(c.engine())
    );
    let guids = range.guids();
    Ok(sql!(c, |e| range.bind(sqlx::query_as(&q), &guids).fetch_all(e).await)?)
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
                active_from: crate::billing::dated::since_always(),
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
            "INSERT INTO meters (id, name, unit, service, default_billing, origin, created_at) \
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
            // Laid out like the real keys: the usage hour first (range scans by day rely on
            // it), then something unique per record instead of a hash.
            identity_key: {
                let mut k = [0u8; 16];
                k[..4].copy_from_slice(&((start / 3600) as u32).to_be_bytes());
                k[4..12].copy_from_slice(&hour.to_be_bytes());
                k
            },
            user_subscription_id: f.sub,
            meter_id: f.meter,
            meter: crate::billing::MeterId::parse(f.meter).unwrap().as_u128(),
            resource_id: f.resource,
            usage_start_at: start,
            usage_end_at: start + 3600,
            usage_on: chrono::DateTime::from_timestamp(start, 0).unwrap().date_naive(),
            quantity,
            additional_info: "",
            tags: "",
            reported_at: start,
            reported_by_source: true,
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
        let outcome = store_records(&mut tx, batch, records, &HashSet::new(), 10)
            .await
            .unwrap();
        let counts = BatchCounts {
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
            corrected: outcome.corrected,
            stale: outcome.stale,
            quarantined: outcome.refused.len() as u64,
        };
        finish_batch(&mut tx, batch, &counts).await.unwrap();
        tx.commit().await.unwrap();
        StoreOutcome {
            checked_buckets: Vec::new(),
            ..outcome
        }
    }

    #[tokio::test]
    async fn statistics_are_refreshed_on_postgresql_and_nothing_changes_on_sqlite() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            let records: Vec<_> = (0..24).map(|h| record(&f, h, dec!(1))).collect();
            store(&db, &records).await;
            let mut c = db.conn().await.unwrap();
            refresh_statistics(&mut c).await.unwrap();
            if c.engine() == crate::ssr::db::Engine::Postgres {
                // The planner now knows the table's size (it believed it empty before).
                let (tuples,): (f32,) = sql!(&mut c, |e| sqlx::query_as(
                    "SELECT reltuples FROM pg_class WHERE oid = 'usage_records'::regclass"
                )
                .fetch_one(e)
                .await)
                .unwrap();
                assert_eq!(tuples, 24.0);
            }
            assert_eq!(count_records(&mut c).await.unwrap(), 24);
        })
        .await;
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
                    corrected: 0,
                    ..StoreOutcome::default()
                }
            );
            assert_eq!(
                store(&db, &records).await,
                StoreOutcome {
                    accepted: 0,
                    duplicates: 48,
                    corrected: 0,
                    ..StoreOutcome::default()
                }
            );
            let mut c = db.conn().await.unwrap();
            assert_eq!(count_records(&mut c).await.unwrap(), 48);
            let day1: NaiveDate = "2024-12-01".parse().unwrap();
            let rows = list_daily(&mut c, &[f.sub], day1, "2025-01-01".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(rows.len(), 2);
            // 24 × 0.0013440860215053762 = 0.0322580645161290288 exactly (19 decimals; an
            // 18-decimal rollup would hold 0.032258064516129029).
            assert_eq!(rows[0].quantity(), dec!(0.0322580645161290288));
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
                    corrected: 1,
                    ..StoreOutcome::default()
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
                    corrected: 0,
                    ..StoreOutcome::default()
                }
            );
            // The same batch again changes nothing and records no correction.
            let again = store(&db, &batch).await;
            assert_eq!(
                again,
                StoreOutcome {
                    accepted: 0,
                    duplicates: 3,
                    corrected: 0,
                    ..StoreOutcome::default()
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

    fn reported(mut r: StagedRecord<'static>, hours_later: i64) -> StagedRecord<'static> {
        r.reported_at += hours_later * 3600;
        r
    }

    async fn stored(db: &Db) -> Vec<(String, i64)> {
        let mut c = db.conn().await.unwrap();
        sql!(&mut c, |e| sqlx::query_as(
            "SELECT quantity, reported_at FROM usage_records ORDER BY usage_start_at"
        )
        .fetch_all(e)
        .await)
        .unwrap()
    }

    #[tokio::test]
    async fn an_older_report_is_stale_and_never_reverts_a_newer_correction() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            // Reported at 02:00 with 8, corrected by the report of 05:00 to 10.
            store(&db, &[reported(record(&f, 0, dec!(8)), 2)]).await;
            let corrected = store(&db, &[reported(record(&f, 0, dec!(10)), 5)]).await;
            assert_eq!(corrected.corrected, 1);
            // A backfill of the 02:00 window (or an old file) brings the 8 again: stale.
            let backfill = store(&db, &[reported(record(&f, 0, dec!(8)), 2)]).await;
            assert_eq!((backfill.stale, backfill.corrected), (1, 0));
            let t5 = record(&f, 0, dec!(0)).reported_at + 5 * 3600;
            assert_eq!(stored(&db).await, vec![("10".to_owned(), t5)]);
            // The same report time arriving later wins (a window pulled again).
            let again = store(&db, &[reported(record(&f, 0, dec!(11)), 5)]).await;
            assert_eq!(again.corrected, 1);
            // A later report moves the record's report time with the correction.
            store(&db, &[reported(record(&f, 0, dec!(12)), 7)]).await;
            let t7 = t5 + 2 * 3600;
            assert_eq!(stored(&db).await, vec![("12".to_owned(), t7)]);
            let mut c = db.conn().await.unwrap();
            assert_eq!(first_day(&mut c, &f).await[0].quantity(), dec!(12));
            // Within one batch the latest report counts, whatever the order.
            let batch = [reported(record(&f, 1, dec!(3)), 9), reported(record(&f, 1, dec!(1)), 4)];
            let out = store(&db, &batch).await;
            assert_eq!((out.accepted, out.stale), (1, 1));
            assert_eq!(stored(&db).await[1].0, "3");
        })
        .await;
    }

    /// The first day's rollup's reported bounds, and the records' own first and last.
    async fn reported_bounds_of_day(db: &Db) -> (Option<(i64, i64)>, (i64, i64)) {
        let mut c = db.conn().await.unwrap();
        let rollup: (Option<i64>, Option<i64>) = sql!(&mut c, |e| sqlx::query_as(
            "SELECT first_reported_at, last_reported_at FROM usage_daily WHERE usage_on = $1"
        )
        .bind(NaiveDate::from_ymd_opt(2024, 12, 1).unwrap())
        .fetch_one(e)
        .await)
        .unwrap();
        let records: (i64, i64) = sql!(&mut c, |e| sqlx::query_as(
            "SELECT MIN(reported_at), MAX(reported_at) FROM usage_records WHERE usage_start_at < 1733097600"
        )
        .fetch_one(e)
        .await)
        .unwrap();
        (rollup.0.zip(rollup.1), records)
    }

    #[tokio::test]
    async fn a_days_rollup_knows_the_first_and_last_report_of_its_records_through_corrections_and_rebuilds() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            let h = 3600;
            store(
                &db,
                &[reported(record(&f, 3, dec!(1)), 2), reported(record(&f, 5, dec!(1)), 1)],
            )
            .await;
            let (rollup, records) = reported_bounds_of_day(&db).await;
            assert_eq!(rollup, Some(records));
            let t0 = record(&f, 0, dec!(0)).reported_at;
            assert_eq!(records, (t0 + 5 * h, t0 + 6 * h));
            // A correction reported later, and a duplicate reported again later: the record
            // moves, and the bounds follow.
            store(&db, &[reported(record(&f, 3, dec!(2)), 30)]).await;
            assert_eq!(reported_bounds_of_day(&db).await.0.unwrap().1, t0 + 33 * h);
            store(&db, &[reported(record(&f, 5, dec!(1)), 40)]).await;
            let (rollup, records) = reported_bounds_of_day(&db).await;
            assert_eq!(records.1, t0 + 45 * h);
            assert!(
                rollup.is_some_and(|(lo, hi)| lo <= records.0 && hi == records.1),
                "{rollup:?} {records:?}"
            );
            // Bounds a rollup does not know stay unknown until a rebuild fills them exactly.
            let mut c = db.conn().await.unwrap();
            sql!(&mut c, |e| sqlx::query(
                "UPDATE usage_daily SET first_reported_at = NULL, last_reported_at = NULL"
            )
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
            drop(c);
            store(&db, &[reported(record(&f, 7, dec!(1)), 1)]).await;
            assert_eq!(reported_bounds_of_day(&db).await.0, None);
            let mut tx = db.begin().await.unwrap();
            rebuild_day_rollups(&mut tx, NaiveDate::from_ymd_opt(2024, 12, 1).unwrap())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let (rollup, records) = reported_bounds_of_day(&db).await;
            assert_eq!(rollup, Some(records));
        })
        .await;
    }

    #[tokio::test]
    async fn a_daily_record_over_stored_hourly_records_is_refused_naming_the_record_it_overlaps() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            store(&db, &[record(&f, 0, dec!(1)), record(&f, 1, dec!(1))]).await;
            // The same resource and meter, the whole of 1 December, as a daily aggregate.
            let mut daily = record(&f, 0, dec!(24));
            daily.identity_key[15] = 0xdd;
            daily.usage_end_at = daily.usage_start_at + 86400;
            let out = store(&db, &[daily.clone()]).await;
            assert_eq!(out.accepted, 0);
            assert_eq!(out.refused.len(), 1);
            let reason = &out.refused[0].reason;
            assert!(reason.contains("overlaps stored usage record"), "{reason}");
            assert!(reason.contains("2024-12-01T00:00Z–2024-12-01T01:00Z"), "{reason}");
            assert!(reason.contains("hourly"), "{reason}");
            let mut c = db.conn().await.unwrap();
            assert_eq!(
                first_day(&mut c, &f).await[0].quantity(),
                dec!(2),
                "nothing billed twice"
            );
            drop(c);
            // Within one batch too: the first kind of a day wins, the other is refused.
            let mut d2 = daily.clone();
            d2.usage_on = "2024-12-02".parse().unwrap();
            d2.usage_start_at += 86400;
            d2.usage_end_at += 86400;
            d2.identity_key[14] = 0x02;
            let h2 = record(&f, 24 + 3, dec!(1));
            let out = store(&db, &[d2, h2]).await;
            assert_eq!((out.accepted, out.refused.len()), (1, 1));
            assert!(
                out.refused[0].reason.contains("record #1 of the same batch"),
                "{}",
                out.refused[0].reason
            );
        })
        .await;
    }

    #[tokio::test]
    async fn an_identity_key_collision_is_refused_and_never_overwrites_another_record() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            store(&db, &[record(&f, 0, dec!(4))]).await;
            // Same 16-byte key, another record (it starts a minute later): a hash collision.
            let mut other = record(&f, 0, dec!(9));
            other.usage_start_at += 60;
            other.usage_end_at += 60;
            let out = store(&db, &[other]).await;
            assert_eq!((out.accepted, out.corrected, out.refused.len()), (0, 0, 1));
            assert!(
                out.refused[0].reason.contains("collides with stored usage record"),
                "{}",
                out.refused[0].reason
            );
            assert_eq!(stored(&db).await[0].0, "4");
        })
        .await;
    }

    #[tokio::test]
    async fn rollups_are_exact_sums_whatever_the_batching_even_at_28_decimals() {
        for_each_engine(|db| async move {
            let f = fixture(&db).await;
            let quantities = [
                dec!(1000),
                dec!(0.0000000000000000000000000001),
                dec!(0.0013440860215053762),
                dec!(0.000006448477506637573),
                dec!(999999999999.9999999999999999),
                dec!(0.0000000000000000000000000009),
            ];
            let records: Vec<_> = quantities
                .iter()
                .enumerate()
                .map(|(h, q)| record(&f, h as i64, *q))
                .collect();
            // One record per batch here; another fixture below stores them all at once.
            for r in &records {
                store(&db, std::slice::from_ref(r)).await;
            }
            let mut exact = ExactSum::ZERO;
            for q in quantities {
                exact.add(q);
            }
            let mut c = db.conn().await.unwrap();
            let row: (i64, i64, i64) = sql!(&mut c, |e| sqlx::query_as(
                "SELECT quantity_whole, quantity_atto, quantity_frac FROM usage_daily"
            )
            .fetch_one(e)
            .await)
            .unwrap();
            assert_eq!(row, exact.parts().unwrap());
            let day: NaiveDate = "2024-12-01".parse().unwrap();
            assert!(check_day_rollups(&mut c, day).await.unwrap().is_empty());
            // A rollup damaged by hand is found, and a rebuild repairs it exactly.
            sql!(&mut c, |e| sqlx::query(
                "UPDATE usage_daily SET quantity_frac = quantity_frac + 1"
            )
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
            assert_eq!(check_day_rollups(&mut c, day).await.unwrap().len(), 1);
            drop(c);
            let mut tx = db.begin().await.unwrap();
            assert_eq!(rebuild_day_rollups(&mut tx, day).await.unwrap(), 6);
            tx.commit().await.unwrap();
            let mut c = db.conn().await.unwrap();
            assert!(check_day_rollups(&mut c, day).await.unwrap().is_empty());
            assert_eq!(first_day(&mut c, &f).await[0].record_count, 6);
        })
        .await;
    }

    /// One delivery of the randomized test: which identity (hour), which quantity, which
    /// report time (hours after the usage).
    type Delivery = (i64, Decimal, i64);

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
        /// For random sequences of deliveries — duplicates, corrections, stale
        /// re-deliveries — cut into random batches, the stored quantity of every identity is
        /// that of its latest-reported delivery (the last one to arrive among equals), and
        /// every rollup equals the exact sum of its records.
        #[test]
        fn the_latest_report_wins_and_rollups_stay_exact_for_any_deliveries(
            deliveries in proptest::collection::vec(
                (0i64..4, proptest::sample::select(vec![
                    dec!(1), dec!(2.5), dec!(0.0000000000000000000000000001), dec!(0.0013440860215053762), dec!(1000),
                ]), 0i64..3),
                1..14,
            ),
            cuts in proptest::collection::vec(proptest::bool::ANY, 14),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(check_deliveries(deliveries, cuts));
        }
    }

    async fn check_deliveries(deliveries: Vec<Delivery>, cuts: Vec<bool>) {
        for test_db in crate::ssr::db::testing::TestDb::all().await {
            let db = test_db.db.clone();
            let f = fixture(&db).await;
            let staged: Vec<StagedRecord<'static>> = deliveries
                .iter()
                .map(|(hour, q, rep)| reported(record(&f, *hour, *q), *rep))
                .collect();
            let mut batch = Vec::new();
            for (i, r) in staged.iter().enumerate() {
                batch.push(r.clone());
                if cuts[i] || i + 1 == staged.len() {
                    store(&db, &batch).await;
                    batch.clear();
                }
            }
            // The reference: per identity, the greatest report time, then the last arrival.
            let mut expected: HashMap<i64, (i64, usize, Decimal)> = HashMap::new();
            for (i, (hour, q, rep)) in deliveries.iter().enumerate() {
                let e = expected.entry(*hour).or_insert((*rep, i, *q));
                if (*rep, i) >= (e.0, e.1) {
                    *e = (*rep, i, *q);
                }
            }
            let mut c = db.conn().await.unwrap();
            let rows: Vec<(i64, String)> = sql!(&mut c, |e| sqlx::query_as(
                "SELECT usage_start_at, quantity FROM usage_records"
            )
            .fetch_all(e)
            .await)
            .unwrap();
            assert_eq!(rows.len(), expected.len());
            for (start, q) in rows {
                let hour = (start - record(&f, 0, dec!(0)).usage_start_at) / 3600;
                assert_eq!(
                    q.parse::<Decimal>().unwrap(),
                    expected[&hour].2,
                    "hour {hour}: {deliveries:?} {cuts:?}"
                );
            }
            let day: NaiveDate = "2024-12-01".parse().unwrap();
            assert!(
                check_day_rollups(&mut c, day).await.unwrap().is_empty(),
                "{deliveries:?}"
            );
            drop(c);
            test_db.dispose().await;
        }
    }
}

//! Storing usage: the one path by which usage enters the database.
//!
//! A batch (a usage-API page or reported window, a pushed request, a chunk of a file) is
//! stored in one transaction: unknown meters are added as *discovered*, unknown user
//! subscriptions as *unassigned*, records are de-duplicated by identity (a changed
//! quantity is a correction with history), the daily rollups move, rejected records go to
//! the quarantine with their raw text, and the batch row records what happened. Either
//! all of it commits or none of it does.

use crate::billing::{MeterId, SubscriptionId, UsageRecord};
use crate::ingest::{Format, Item, Rejected};
use crate::ssr::db::quarantine::NewQuarantined;
use crate::ssr::db::usage::{BatchCounts, BucketKey, NewBatch, ResourceKey, StagedRecord, StoreOutcome};
use crate::ssr::db::{self, Db, DbResult, Tx};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// Where a batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The collector, from the Azure Stack usage API.
    Pull,
    /// `POST /api/v1/usage`.
    Push,
    /// `stackbill import usage`.
    Import,
    /// `stackbill demo-seed`.
    Demo,
    /// Quarantined records accepted after a fix.
    Reprocess,
}

impl Source {
    /// Storage code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Pull => "pull",
            Source::Push => "push",
            Source::Import => "import",
            Source::Demo => "demo",
            Source::Reprocess => "reprocess",
        }
    }
}

/// A valid record with what storing it needs computed ahead (on any thread: an import
/// prepares records on its reading thread while the previous batch is being stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// 0-based position of the record in its document or request.
    pub index: u64,
    /// The record.
    pub record: UsageRecord,
    /// Its identity key.
    pub identity_key: [u8; 16],
    /// Its lower-cased resource URI.
    pub resource_key: String,
}

/// Prepares a record for a registration.
pub fn prepare(registration_id: i64, index: u64, record: UsageRecord) -> Prepared {
    let resource_key = record.resource_key();
    let identity_key = identity_key(registration_id, &record, &resource_key);
    Prepared {
        index,
        record,
        identity_key,
        resource_key,
    }
}

/// Prepares records for a registration, numbered by their position.
pub fn prepare_all(registration_id: i64, records: Vec<UsageRecord>) -> Vec<Prepared> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| prepare(registration_id, i as u64, r))
        .collect()
}

/// A batch to store.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// Valid records.
    pub records: &'a [Prepared],
    /// Rejected records (to the quarantine).
    pub rejected: &'a [Rejected],
    /// Format of the rejected records' raw text.
    pub format: Format,
    /// Where it came from.
    pub source: Source,
    /// Who sent it (`user:12`, `token:3`, `cli`, `collector`).
    pub actor: &'a str,
    /// File, window or request.
    pub label: &'a str,
    /// The reported window of a pulled batch (Unix seconds): quarantined records keep it,
    /// so a record reprocessed later is stored with the window it was reported in.
    pub reported_at: Option<i64>,
}

impl<'a> Batch<'a> {
    /// A batch of valid records only.
    pub fn records(records: &'a [Prepared], source: Source, actor: &'a str, label: &'a str) -> Self {
        Batch {
            records,
            rejected: &[],
            format: Format::Json,
            source,
            actor,
            label,
            reported_at: None,
        }
    }
}

/// What a stored batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// The `ingest_batches` row.
    pub batch_id: i64,
    /// New records.
    pub accepted: u64,
    /// Records already stored identically (nothing changed).
    pub duplicates: u64,
    /// Records that replaced a stored quantity.
    pub corrected: u64,
    /// Records reported earlier than the stored ones: older news, nothing changed.
    pub stale: u64,
    /// Records put in quarantine (unreadable ones and those refused at storage).
    pub quarantined: u64,
    /// Records refused at storage (a mixed-granularity overlap, an identity collision):
    /// their position in the document and why (up to 100 after [`BatchReport::add`]).
    /// They are among `quarantined`.
    pub refused: Vec<(u64, String)>,
}

impl BatchReport {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: &BatchReport) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.corrected += other.corrected;
        self.stale += other.stale;
        self.quarantined += other.quarantined;
        // Examples only: a long import keeps its memory bounded.
        let room = 100usize.saturating_sub(self.refused.len());
        self.refused.extend(other.refused.iter().take(room).cloned());
        self.batch_id = other.batch_id;
    }
}

/// Identifiers known to be in the database, kept across batches so that a long import
/// does not look up the same subscription, resource or meter a thousand times. Only ever
/// filled with what a *committed* transaction wrote or read.
#[derive(Debug, Default, Clone)]
pub struct IngestCache {
    meters: HashSet<MeterId>,
    subscriptions: HashMap<(i64, SubscriptionId), i64>,
    resources: HashMap<ResourceKey, i64>,
    buckets: HashSet<BucketKey>,
}

/// Most rollup keys whose bucket length the cache remembers (a few days of a large stamp);
/// beyond it the set starts afresh, costing one more lookup per key.
const MAX_CACHED_BUCKETS: usize = 500_000;

impl IngestCache {
    /// Adds what a committed batch learned.
    pub fn learn(&mut self, learned: Learned) {
        self.meters.extend(learned.meters);
        self.subscriptions.extend(learned.subscriptions);
        self.resources.extend(learned.resources);
        if self.buckets.len() + learned.buckets.len() > MAX_CACHED_BUCKETS {
            self.buckets.clear();
        }
        self.buckets.extend(learned.buckets);
    }
}

/// What a batch found out about identifiers; add it to the cache once committed.
#[derive(Debug, Default)]
pub struct Learned {
    meters: Vec<MeterId>,
    subscriptions: Vec<((i64, SubscriptionId), i64)>,
    resources: Vec<(ResourceKey, i64)>,
    buckets: Vec<BucketKey>,
}

/// The 128-bit identity key of a record: the hour of its usage start (4 bytes, big-endian)
/// followed by 96 bits of a SHA-256 of its identity (see [`UsageRecord::identity`]).
///
/// The hour prefix keeps the unique index's inserts near its right edge, since usage
/// arrives roughly in time order: each batch dirties a few index pages instead of pages
/// all over a B-tree of tens of millions of random keys, so the cost of storing a record
/// does not grow with the table. The usage start is part of the identity, so equal
/// identities still give equal keys.
///
/// Collisions: only records of the same usage hour can collide, with 96 bits of hash. By
/// the birthday bound, n records in one hour collide with probability about
/// n² / 2⁹⁷: ≈ 6·10⁻¹⁸ for a million records in an hour (a large stamp), ≈ 6·10⁻¹² for
/// a billion. Improbable is not impossible, so storage compares the identity fields on
/// every key match and quarantines a mismatch instead of overwriting another record.
pub fn identity_key(registration_id: i64, record: &UsageRecord, resource_key: &str) -> [u8; 16] {
    let id = record.identity();
    let mut hasher = Sha256::new();
    hasher.update(registration_id.to_be_bytes());
    hasher.update(id.subscription_id.as_u128().to_be_bytes());
    hasher.update(id.meter_id.as_u128().to_be_bytes());
    hasher.update(id.usage_start.to_be_bytes());
    hasher.update(id.usage_end.to_be_bytes());
    // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
    hasher.update((resource_key.len() as u64).to_be_bytes());
    hasher.update(resource_key.as_bytes());
    hasher.update((id.additional_info.len() as u64).to_be_bytes());
    hasher.update(id.additional_info.as_bytes());
    let digest = hasher.finalize();
    let hour = id.usage_start.div_euclid(3600) as u32;
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&hour.to_be_bytes());
    key[4..].copy_from_slice(&digest[..12]);
    key
}

/// Splits read items into prepared records and rejections.
pub fn split_items(registration_id: i64, items: Vec<Item>) -> (Vec<Prepared>, Vec<Rejected>) {
    let mut records = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for item in items {
        match item {
            Item::Record { index, record } => records.push(prepare(registration_id, index, record)),
            Item::Rejected(r) => rejected.push(r),
        }
    }
    (records, rejected)
}

/// Stores one batch for a registration in its own transaction.
pub async fn ingest_batch(
    db: &Db,
    registration_id: i64,
    batch: &Batch<'_>,
    cache: &mut IngestCache,
    now: i64,
) -> DbResult<BatchReport> {
    // Concurrent writers of overlapping new data take their locks in one order (sorted
    // keys in every phase), so deadlocks should not happen; if PostgreSQL still aborts a
    // batch for one, the whole batch runs again — it is one transaction.
    let mut attempt = 1;
    loop {
        let mut tx = db.begin().await?;
        let stored = match ingest_batch_in(&mut tx, registration_id, batch, cache, now).await {
            Ok(stored) => tx.commit().await.map(|_| stored),
            Err(e) => Err(e),
        };
        match stored {
            Ok((report, learned)) => {
                cache.learn(learned);
                return Ok(report);
            }
            Err(e) if e.is_transient() && attempt < 3 => {
                tracing::warn!(attempt, error = %e, "usage batch aborted by the database; running it again");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Stores one batch inside a caller's transaction (the collector advances its watermark
/// in the same transaction). Add the returned [`Learned`] to the cache after committing.
pub async fn ingest_batch_in(
    tx: &mut Tx,
    registration_id: i64,
    batch: &Batch<'_>,
    cache: &IngestCache,
    now: i64,
) -> DbResult<(BatchReport, Learned)> {
    let mut learned = Learned::default();
    let batch_id = db::usage::insert_batch(
        tx,
        &NewBatch {
            source: batch.source.as_str(),
            registration_id: Some(registration_id),
            actor: batch.actor,
            label: batch.label,
        },
        now,
    )
    .await?;
    let prepared = batch.records;

    let mut new_meters: Vec<MeterId> = prepared
        .iter()
        .map(|p| p.record.meter_id)
        .filter(|m| !cache.meters.contains(m))
        .collect();
    new_meters.sort();
    new_meters.dedup();
    if !new_meters.is_empty() {
        db::meters::insert_discovered_meters(tx, &new_meters, now).await?;
        learned.meters = new_meters;
    }

    let mut subs: HashMap<SubscriptionId, i64> = HashMap::new();
    let mut unknown_subs: Vec<String> = Vec::new();
    for p in prepared {
        let sub = p.record.subscription_id;
        if subs.contains_key(&sub) {
            continue;
        }
        match cache.subscriptions.get(&(registration_id, sub)) {
            Some(id) => {
                subs.insert(sub, *id);
            }
            None => {
                subs.insert(sub, 0);
                unknown_subs.push(sub.to_string());
            }
        }
    }
    if !unknown_subs.is_empty() {
        let found = db::user_subscriptions::ensure_user_subscriptions(tx, registration_id, &unknown_subs, now).await?;
        for (text, id) in found {
            let sub = SubscriptionId::parse(&text).map_err(|e| db::DbError::Corrupt(e.to_string()))?;
            subs.insert(sub, id);
            learned.subscriptions.push(((registration_id, sub), id));
        }
    }

    let keys: Vec<ResourceKey> = prepared
        .iter()
        .map(|p| ResourceKey {
            user_subscription_id: subs[&p.record.subscription_id],
            resource_key: p.resource_key.clone(),
        })
        .collect();
    let mut resources: HashMap<&ResourceKey, i64> = HashMap::with_capacity(keys.len());
    let mut wanted = Vec::new();
    for (key, p) in keys.iter().zip(prepared) {
        if resources.contains_key(key) {
            continue;
        }
        match cache.resources.get(key) {
            Some(id) => {
                resources.insert(key, *id);
            }
            None => {
                resources.insert(key, 0);
                wanted.push((key.clone(), p.record.resource_uri.clone(), p.record.location.clone()));
            }
        }
    }
    if !wanted.is_empty() {
        let found = db::usage::ensure_resources(tx, &wanted).await?;
        for key in keys.iter() {
            if let Some(id) = found.get(key) {
                resources.insert(key, *id);
            }
        }
        learned.resources.extend(found);
    }
    let meters: HashMap<MeterId, String> = prepared
        .iter()
        .map(|p| p.record.meter_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .map(|m| (m, m.to_string()))
        .collect();

    let staged: Vec<StagedRecord<'_>> = prepared
        .iter()
        .zip(&keys)
        .map(|(p, key)| {
            let r = &p.record;
            StagedRecord {
                identity_key: p.identity_key,
                user_subscription_id: key.user_subscription_id,
                meter_id: &meters[&r.meter_id],
                meter: r.meter_id.as_u128(),
                resource_id: resources[key],
                usage_start_at: r.usage_start.timestamp(),
                usage_end_at: r.usage_end.timestamp(),
                usage_on: r.usage_start.date_naive(),
                quantity: r.quantity.value(),
                additional_info: &r.additional_info,
                tags: &r.tags,
                reported_at: r.reported_at.map(|t| t.timestamp()).unwrap_or(now),
                reported_by_source: r.reported_at.is_some(),
            }
        })
        .collect();
    let mut outcome: StoreOutcome = db::usage::store_records(tx, batch_id, &staged, &cache.buckets, now).await?;
    learned.buckets = std::mem::take(&mut outcome.checked_buckets);

    // Records refused at storage are kept in the usage API's shape with their report
    // time, so that reprocessing reads them back exactly.
    let refused_raw: Vec<String> = outcome
        .refused
        .iter()
        .map(|r| crate::ingest::write::usage_api_record(&prepared[r.index].record, true))
        .collect();
    let mut rows: Vec<NewQuarantined<'_>> = batch
        .rejected
        .iter()
        .map(|r| NewQuarantined {
            record_index: r.index as i64,
            format: batch.format.as_str(),
            raw: &r.raw,
            reason: &r.reason,
            reported_at: batch.reported_at,
        })
        .collect();
    rows.extend(outcome.refused.iter().zip(&refused_raw).map(|(r, raw)| NewQuarantined {
        record_index: prepared[r.index].index as i64,
        format: "json",
        raw,
        reason: &r.reason,
        reported_at: batch.reported_at,
    }));
    if !rows.is_empty() {
        db::quarantine::insert_quarantined(tx, batch_id, registration_id, &rows, now).await?;
    }
    let counts = BatchCounts {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        corrected: outcome.corrected,
        stale: outcome.stale,
        quarantined: rows.len() as u64,
    };
    db::usage::finish_batch(tx, batch_id, &counts).await?;
    Ok((
        BatchReport {
            batch_id,
            accepted: counts.accepted,
            duplicates: counts.duplicates,
            corrected: counts.corrected,
            stale: counts.stale,
            quarantined: counts.quarantined,
            refused: outcome
                .refused
                .iter()
                .map(|r| (prepared[r.index].index, r.reason.clone()))
                .collect(),
        },
        learned,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::Quantity;
    use crate::ingest::record::to_api_json;
    use crate::ssr::db::testing::for_each_engine;
    use crate::ssr::db::{registrations::NewRegistration, sql, AsExecutor};
    use chrono::{DateTime, Duration, Utc};

    async fn registration(db: &Db) -> i64 {
        crate::ssr::services::catalogue::sync_meter_catalogue(db, 0)
            .await
            .unwrap();
        let mut c = db.conn().await.unwrap();
        db::registrations::insert_registration(
            &mut c,
            &NewRegistration {
                name: "r",
                base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                resource_group: "azurestack",
                currency: "USD",
                active_from: crate::billing::dated::since_always(),
            },
            0,
        )
        .await
        .unwrap()
    }

    fn record(n: u64, quantity: &str) -> UsageRecord {
        let start: DateTime<Utc> =
            "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours((n % 50) as i64);
        UsageRecord {
            subscription_id: SubscriptionId::from_u128(0x100 + u128::from(n % 3)),
            meter_id: if n.is_multiple_of(2) {
                crate::billing::meter::BASE_VM_SIZE_HOURS
            } else {
                MeterId::from_u128(0xdead)
            },
            usage_start: start,
            usage_end: start + Duration::hours(1),
            quantity: Quantity::parse(quantity).unwrap(),
            resource_uri: format!(
                "/subscriptions/x/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm{}",
                n % 7
            ),
            location: "northwest".into(),
            tags: String::new(),
            additional_info: String::new(),
            reported_at: None,
        }
    }

    /// Everything a batch changes, in a canonical order.
    async fn digest(db: &Db) -> Vec<String> {
        let mut c = db.conn().await.unwrap();
        let records: Vec<(Vec<u8>, String, String)> = sql!(&mut c, |e| sqlx::query_as(
            "SELECT u.identity_key, u.quantity, r.resource_key FROM usage_records u \
             JOIN usage_resources r ON r.id = u.resource_id ORDER BY u.identity_key"
        )
        .fetch_all(e)
        .await)
        .unwrap();
        let daily: Vec<(i64, String, chrono::NaiveDate, i64, i64, i64)> = sql!(&mut c, |e| sqlx::query_as(
            "SELECT user_subscription_id, meter_id, usage_on, quantity_whole, quantity_atto, record_count FROM usage_daily \
             ORDER BY user_subscription_id, meter_id, usage_on"
        )
        .fetch_all(e)
        .await)
        .unwrap();
        // Resource ids depend on insertion order: compare by resource key.
        let by_resource: Vec<(i64, String, String, chrono::NaiveDate, i64, i64, i64)> = sql!(&mut c, |e| {
            sqlx::query_as(
            "SELECT r.user_subscription_id, r.resource_key, d.meter_id, d.usage_on, d.quantity_whole, d.quantity_atto, \
             d.record_count FROM usage_daily_by_resource d JOIN usage_resources r ON r.id = d.resource_id \
             ORDER BY r.user_subscription_id, r.resource_key, d.meter_id, d.usage_on"
        )
        .fetch_all(e)
        .await
        })
        .unwrap();
        let mut out: Vec<String> = records.iter().map(|r| format!("{r:?}")).collect();
        out.extend(daily.iter().map(|r| format!("{r:?}")));
        out.extend(by_resource.iter().map(|r| format!("{r:?}")));
        out
    }

    async fn count(c: &mut impl AsExecutor, table: &str) -> i64 {
        let q = format!("SELECT COUNT(*) FROM {table}");
        sql!(c, |e| sqlx::query_scalar(&q).fetch_one(e).await).unwrap()
    }

    #[tokio::test]
    async fn a_batch_stores_its_good_records_and_quarantines_its_bad_ones_together() {
        for_each_engine(|db| async move {
            let reg = registration(&db).await;
            let records = prepare_all(reg, vec![record(0, "8"), record(1, "0.0013440860215053762")]);
            let rejected = vec![Rejected {
                index: 2,
                raw: "{\"quantity\":-1}".into(),
                reason: "`quantity`: negative".into(),
            }];
            let batch = Batch {
                records: &records,
                rejected: &rejected,
                format: Format::Json,
                source: Source::Push,
                actor: "token:1",
                label: "t",
                reported_at: None,
            };
            let report = ingest_batch(&db, reg, &batch, &mut IngestCache::default(), 100)
                .await
                .unwrap();
            assert_eq!((report.accepted, report.quarantined), (2, 1));
            let mut c = db.conn().await.unwrap();
            let open = db::quarantine::list_open(&mut c, Some(reg), 10).await.unwrap();
            assert_eq!(open.len(), 1);
            assert_eq!((open[0].record_index, open[0].raw.as_str()), (2, "{\"quantity\":-1}"));
            assert_eq!(open[0].batch_id, report.batch_id);
            // The unknown meter was added as discovered, the subscriptions as unassigned.
            let meters = db::meters::list_meters(&mut c, crate::billing::dated::since_always())
                .await
                .unwrap();
            assert!(meters
                .iter()
                .any(|m| m.id == MeterId::from_u128(0xdead).to_string() && m.origin == "discovered"));
            assert_eq!(
                db::user_subscriptions::count_user_subscriptions(&mut c).await.unwrap(),
                (2, 2)
            );
            assert_eq!(count(&mut c, "ingest_batches").await, 1);
        })
        .await;
    }

    #[tokio::test]
    async fn shuffling_a_batch_gives_the_same_stored_state() {
        for_each_engine(|db| async move {
            let reg = registration(&db).await;
            let original: Vec<UsageRecord> = (0..120).map(|n| record(n, &format!("{}.{}", n % 9, n))).collect();
            let mut expected: Option<Vec<String>> = None;
            for seed in [0u64, 1, 2] {
                // Fresh data for every order: wipe what the previous order stored.
                let mut c = db.conn().await.unwrap();
                for table in [
                    "usage_daily_by_resource",
                    "usage_daily",
                    "usage_records",
                    "usage_resources",
                    "ingest_batches",
                ] {
                    let q = format!("DELETE FROM {table}");
                    sql!(&mut c, |e| sqlx::query(&q).execute(e).await.map(|r| r.rows_affected())).unwrap();
                }
                drop(c);
                let mut batch = original.clone();
                let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for i in (1..batch.len()).rev() {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    batch.swap(i, (s % (i as u64 + 1)) as usize);
                }
                // Identical repeats inside the batch change nothing either.
                batch.extend(batch[..10].to_vec());
                let batch = prepare_all(reg, batch);
                let b = Batch::records(&batch, Source::Import, "cli", "t");
                let report = ingest_batch(&db, reg, &b, &mut IngestCache::default(), 7)
                    .await
                    .unwrap();
                assert_eq!((report.accepted, report.duplicates), (120, 10));
                let d = digest(&db).await;
                match &expected {
                    None => expected = Some(d),
                    Some(e) => {
                        let differing: Vec<_> = d.iter().zip(e).filter(|(a, b)| a != b).take(3).collect();
                        assert!(
                            d.len() == e.len() && differing.is_empty(),
                            "order {seed} stored something else: {differing:?}"
                        );
                    }
                }
            }
        })
        .await;
    }

    #[tokio::test]
    async fn the_cache_spares_lookups_without_changing_what_is_stored() {
        for_each_engine(|db| async move {
            let reg = registration(&db).await;
            let mut cache = IngestCache::default();
            let first = prepare_all(reg, (0..30).map(|n| record(n, "1")).collect());
            ingest_batch(
                &db,
                reg,
                &Batch::records(&first, Source::Import, "cli", "a"),
                &mut cache,
                1,
            )
            .await
            .unwrap();
            assert_eq!(cache.subscriptions.len(), 3);
            assert!(!cache.resources.is_empty());
            // The same identities again through the warm cache: all duplicates.
            let report = ingest_batch(
                &db,
                reg,
                &Batch::records(&first, Source::Import, "cli", "b"),
                &mut cache,
                2,
            )
            .await
            .unwrap();
            assert_eq!((report.accepted, report.duplicates), (0, 30));
            // A pushed record in API JSON is identical to the same record stored directly.
            let again = crate::ingest::record::parse_json_record(&to_api_json(&first[0].record)).unwrap();
            let again = [prepare(reg, 0, again)];
            let report = ingest_batch(
                &db,
                reg,
                &Batch::records(&again, Source::Push, "cli", "c"),
                &mut cache,
                3,
            )
            .await
            .unwrap();
            assert_eq!(report.duplicates, 1);
        })
        .await;
    }

    #[tokio::test]
    async fn the_same_records_stored_by_two_writers_at_once_are_stored_once() {
        for_each_engine(|db| async move {
            let reg = registration(&db).await;
            let records = prepare_all(reg, (0..200).map(|n| record(n, "2.5")).collect());
            let (records, db2) = (std::sync::Arc::new(records), db.clone());
            let r2 = records.clone();
            let other = tokio::spawn(async move {
                let b = Batch::records(&r2, Source::Push, "cli", "b");
                ingest_batch(&db2, reg, &b, &mut IngestCache::default(), 2).await
            });
            let b = Batch::records(&records, Source::Push, "cli", "a");
            let one = ingest_batch(&db, reg, &b, &mut IngestCache::default(), 1).await.unwrap();
            let two = other.await.unwrap().unwrap();
            // Whichever committed first stored them; the other found them all stored.
            assert_eq!(one.accepted + two.accepted, 200);
            assert_eq!(one.duplicates + two.duplicates, 200);
            let mut c = db.conn().await.unwrap();
            let (n, days): (i64, i64) = sql!(&mut c, |e| sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM usage_records), (SELECT CAST(SUM(record_count) AS BIGINT) FROM usage_daily)"
            )
            .fetch_one(e)
            .await)
            .unwrap();
            assert_eq!((n, days), (200, 200));
        })
        .await;
    }
}

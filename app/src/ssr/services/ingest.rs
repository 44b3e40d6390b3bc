//! Storing usage: the one path by which parsed usage records enter the database.
//!
//! A batch (a usage-API page, a pushed request, a chunk of a file) is stored in one
//! transaction: unknown meters are added as *discovered*, unknown user subscriptions as
//! *unassigned*, records are de-duplicated by identity (a changed quantity is a
//! correction with history), the daily rollups move, and the batch row records what
//! happened. Either all of it commits or none of it does.

use crate::billing::UsageRecord;
use crate::ssr::db::usage::{NewBatch, ResourceKey, StagedRecord, StoreOutcome};
use crate::ssr::db::{self, Db, DbResult, Tx};
use sha2::{Digest, Sha256};

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
}

impl Source {
    /// Storage code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Pull => "pull",
            Source::Push => "push",
            Source::Import => "import",
            Source::Demo => "demo",
        }
    }
}

/// What a stored batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// The `ingest_batches` row.
    pub batch_id: i64,
    /// New records.
    pub accepted: u64,
    /// Records already stored identically.
    pub duplicates: u64,
    /// Records that replaced a stored quantity.
    pub corrected: u64,
}

/// The 128-bit identity key of a record.
pub fn identity_key(registration_id: i64, record: &UsageRecord) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(registration_id.to_be_bytes());
    hasher.update(record.identity_text().as_bytes());
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Stores one batch of valid records for a registration in its own transaction.
pub async fn ingest_batch(
    db: &Db,
    registration_id: i64,
    records: &[UsageRecord],
    source: Source,
    actor: &str,
    label: &str,
    now: i64,
) -> DbResult<BatchReport> {
    let mut tx = db.begin().await?;
    let report = ingest_batch_in(&mut tx, registration_id, records, source, actor, label, now).await?;
    tx.commit().await?;
    Ok(report)
}

/// Stores one batch inside a caller's transaction (the collector also advances its
/// watermark in the same transaction).
pub async fn ingest_batch_in(
    tx: &mut Tx,
    registration_id: i64,
    records: &[UsageRecord],
    source: Source,
    actor: &str,
    label: &str,
    now: i64,
) -> DbResult<BatchReport> {
    let batch_id = db::usage::insert_batch(
        tx,
        &NewBatch {
            source: source.as_str(),
            registration_id: Some(registration_id),
            actor,
            label,
        },
        now,
    )
    .await?;

    let mut meters: Vec<_> = records.iter().map(|r| r.meter_id).collect();
    meters.sort();
    meters.dedup();
    db::meters::insert_discovered_meters(tx, &meters, now).await?;

    let subscriptions: Vec<String> = records.iter().map(|r| r.subscription_id.to_string()).collect();
    let sub_ids = db::user_subscriptions::ensure_user_subscriptions(tx, registration_id, &subscriptions, now).await?;

    let wanted: Vec<(ResourceKey, String, String)> = records
        .iter()
        .map(|r| {
            let key = ResourceKey {
                user_subscription_id: sub_ids[&r.subscription_id.to_string()],
                resource_key: r.resource_uri.to_lowercase(),
            };
            (key, r.resource_uri.clone(), r.location.clone())
        })
        .collect();
    let resource_ids = db::usage::ensure_resources(tx, &wanted).await?;

    let staged: Vec<StagedRecord> = records
        .iter()
        .zip(&wanted)
        .map(|(r, (key, _, _))| StagedRecord {
            identity_key: identity_key(registration_id, r),
            user_subscription_id: key.user_subscription_id,
            meter_id: r.meter_id.to_string(),
            resource_id: resource_ids[key],
            usage_start_at: r.usage_start.timestamp(),
            usage_end_at: r.usage_end.timestamp(),
            usage_on: r.usage_start.date_naive(),
            quantity: r.quantity.value(),
            additional_info: r.additional_info.clone(),
            tags: r.tags.clone(),
            reported_at: r.reported_at.map(|t| t.timestamp()).unwrap_or(now),
        })
        .collect();
    let outcome: StoreOutcome = db::usage::store_records(tx, batch_id, &staged, now).await?;
    db::usage::finish_batch(tx, batch_id, &outcome, 0).await?;
    Ok(BatchReport {
        batch_id,
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        corrected: outcome.corrected,
    })
}

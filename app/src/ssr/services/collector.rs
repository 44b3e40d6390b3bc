//! The collector's storage: its status per registration, the lease that keeps two runs
//! off one registration, and storing one reported window — its pages, statistics,
//! watermark and lease renewal — in one transaction. The HTTP side (the Azure Stack client
//! and the pull loop) lives in the server; everything it stores goes through here.

use crate::error::{AppError, ErrorKind};
use crate::ingest::{Format, Item};
use crate::ssr::db::{self, collector::WindowStats, Db};
use crate::ssr::services::ingest::{ingest_batch_in, split_items, Batch, BatchReport, IngestCache, Source};
use crate::types::CollectorStatus;
use chrono::{DateTime, Utc};

pub use crate::ssr::db::collector::{CollectorStateRow, LeaseRow};

/// The code of the error when another run took the lease over.
pub const LEASE_LOST: &str = "lease_lost";

/// The collector's state on the named registration, or on every one.
pub async fn status(db: &Db, registration: Option<&str>) -> Result<Vec<CollectorStatus>, AppError> {
    let regs = super::lookup::registrations(db, registration).await?;
    let mut c = db.conn().await?;
    let mut out = Vec::with_capacity(regs.len());
    for r in regs {
        let s = db::collector::find_state(&mut c, r.id).await?;
        out.push(CollectorStatus {
            registration: r.name,
            configured: r.usage_endpoint.is_some(),
            watermark_at: s.as_ref().map(|s| s.watermark_at),
            last_success_at: s.as_ref().and_then(|s| s.last_success_at),
            last_error_at: s.as_ref().and_then(|s| s.last_error_at),
            last_error: s.as_ref().and_then(|s| s.last_error.clone()),
            last_window_records: s.as_ref().map(|s| s.last_window_records),
        });
    }
    Ok(out)
}

/// The stored state of one registration's collector.
pub async fn state(db: &Db, registration_id: i64) -> Result<Option<CollectorStateRow>, AppError> {
    Ok(db::collector::find_state(&mut db.conn().await?, registration_id).await?)
}

/// Starts the watermark of a registration that was never collected.
pub async fn initialise(db: &Db, registration_id: i64, watermark_at: i64, now: i64) -> Result<(), AppError> {
    Ok(db::collector::initialise(&mut db.conn().await?, registration_id, watermark_at, now).await?)
}

/// Records a failed run (the status shows it until the next success).
pub async fn record_error(
    db: &Db,
    registration_id: i64,
    message: &str,
    initial_watermark: i64,
    now: i64,
) -> Result<(), AppError> {
    Ok(db::collector::record_error(&mut db.conn().await?, registration_id, message, initial_watermark, now).await?)
}

/// Takes the registration's lease until `expires_at`; `Err(holder)` when another live run has it.
pub async fn acquire_lease(
    db: &Db,
    registration_id: i64,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> Result<Result<(), LeaseRow>, AppError> {
    Ok(db::collector::acquire_lease(&mut db.conn().await?, registration_id, holder, now, expires_at).await?)
}

/// Gives the lease back.
pub async fn release_lease(db: &Db, registration_id: i64, holder: &str) -> Result<(), AppError> {
    Ok(db::collector::release_lease(&mut db.conn().await?, registration_id, holder).await?)
}

/// One reported window to store.
pub struct Window<'a> {
    /// Registration.
    pub registration_id: i64,
    /// Its start (the reported time every record of it gets).
    pub start: DateTime<Utc>,
    /// Its end.
    pub end: DateTime<Utc>,
    /// The pages read, in order.
    pub pages: Vec<Vec<Item>>,
    /// Move the watermark to the window's end (not for a backfill).
    pub advance: bool,
    /// The lease holder (renewed with the window, or the window is refused).
    pub holder: &'a str,
    /// The renewed lease's expiry.
    pub lease_until: i64,
}

/// What storing a window did.
#[derive(Debug, Default)]
pub struct StoredWindow {
    /// Its statistics (as stored).
    pub stats: WindowStats,
    /// The batches' reports, summed.
    pub report: BatchReport,
}

/// Stores a window in one transaction: every page as a batch (records remember the
/// window as their reported time), the window's statistics, the watermark (never
/// backwards), and the lease renewal — refused with [`LEASE_LOST`] when another run took
/// the registration over, so a stalled run cannot go on writing. `cache` learns the new
/// meters, subscriptions and resources once committed.
pub async fn store_window(db: &Db, w: Window<'_>, cache: &mut IngestCache, now: i64) -> Result<StoredWindow, AppError> {
    let mut tx = db.begin().await?;
    let mut out = StoredWindow {
        stats: WindowStats {
            start_at: w.start.timestamp(),
            end_at: w.end.timestamp(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut learned = Vec::new();
    for (n, items) in w.pages.into_iter().enumerate() {
        let stats = &mut out.stats;
        stats.pages += 1;
        stats.records += items.len() as i64;
        let (mut records, rejected) = split_items(w.registration_id, items);
        for r in &mut records {
            r.record.reported_at = Some(w.start);
        }
        let label = format!("window {} page {}", w.start.format("%Y-%m-%dT%H:%MZ"), n + 1);
        let batch = Batch {
            records: &records,
            rejected: &rejected,
            format: Format::Json,
            source: Source::Pull,
            actor: "collector",
            label: &label,
            reported_at: Some(w.start.timestamp()),
        };
        let (b, l) = ingest_batch_in(&mut tx, w.registration_id, &batch, cache, now).await?;
        stats.accepted += b.accepted as i64;
        stats.duplicates += b.duplicates as i64;
        stats.corrected += b.corrected as i64;
        stats.stale += b.stale as i64;
        stats.quarantined += b.quarantined as i64;
        out.report.add(&b);
        learned.push(l);
    }
    db::collector::insert_window(&mut tx, w.registration_id, &out.stats, now).await?;
    if w.advance {
        db::collector::advance(&mut tx, w.registration_id, w.end.timestamp(), out.stats.records, now).await?;
    }
    if !db::collector::renew_lease(&mut tx, w.registration_id, w.holder, w.lease_until).await? {
        return Err(AppError::new(
            ErrorKind::Conflict,
            LEASE_LOST,
            "The collector's lease expired and another run took over.",
        ));
    }
    tx.commit().await?;
    for l in learned {
        cache.learn(l);
    }
    Ok(out)
}

//! Importing usage documents (`stackbill import usage`, `POST /api/v1/usage`, reprocessing
//! and the ingestion benchmark all go through here). Reading documents is `crate::ingest`'s;
//! this is the pipeline that stores them.
//!
//! A document is checked for well-formedness first — a malformed document is rejected
//! whole, with its line and column, and nothing of it is stored — then read again and
//! stored in batches. The reading runs on a blocking thread and hands batches to the
//! database writers through small bounded channels, so parsing and storing overlap and
//! memory stays bounded by a few batches whatever the size of the file.
//!
//! On PostgreSQL several writers store batches at once (the server does the work of an
//! insert on its own core per connection). Records are routed to writers by user
//! subscription, so each writer owns disjoint records, resources and rollup rows: writers
//! never wait for each other's row locks, and the deliveries of one record keep their file
//! order (a later one corrects an earlier one). SQLite has a single writer.

use crate::ingest::csv_format::read_csv;
use crate::ingest::document::{check_syntax, detect_file_format};
use crate::ingest::json_format::read_json;
use crate::ingest::{DocumentError, Format, Item, ReadError, Rejected};
use crate::ssr::services::ingest::{ingest_batch, split_items, Batch, BatchReport, IngestCache, Prepared, Source};
use crate::ssr::AppState;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Records per batch (and per transaction) when importing files.
pub const DEFAULT_BATCH_SIZE: usize = 10_000;

/// How many rejected records a summary keeps for display.
const EXAMPLES: usize = 50;

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// Records read (accepted, duplicate, corrected or quarantined).
    pub records: u64,
    /// Counts over all batches.
    pub report: BatchReport,
    /// Batches committed.
    pub batches: u64,
    /// The first rejected records, with their positions and reasons.
    pub rejected: Vec<(u64, String)>,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The document is malformed; nothing was stored.
    #[error("{0}")]
    Document(DocumentError),
    /// Reading the input failed.
    #[error("cannot read the input: {0}")]
    Io(String),
    /// Storing failed. Each batch is atomic; batches committed before the failure stay
    /// stored, and importing the document again is safe (they count as duplicates).
    #[error("storing usage failed: {0}; batches committed before it are kept, and importing again is safe")]
    Storage(String),
}

/// Options of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Registration the usage belongs to.
    pub registration_id: i64,
    /// Records per batch.
    pub batch_size: usize,
    /// Where the usage comes from.
    pub source: Source,
    /// Who sent it.
    pub actor: String,
    /// Label of the batches (file name, request).
    pub label: String,
    /// Concurrent batch writers; `None`: the engine's default ([`default_writers`]).
    pub writers: Option<usize>,
}

/// Writers an import uses by default: one on SQLite (one writer at a time), on
/// PostgreSQL one per core up to four (the pool keeps connections for the web).
pub fn default_writers(engine: crate::ssr::db::Engine) -> usize {
    match engine {
        crate::ssr::db::Engine::Sqlite => 1,
        crate::ssr::db::Engine::Postgres => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4),
    }
}

/// Counts bytes read (for progress).
struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports a file: checks it, then stores it in batches. `progress` receives the bytes
/// read so far during the storing pass.
pub async fn import_file(
    state: &AppState,
    path: &Path,
    options: &ImportOptions,
    progress: Option<Arc<AtomicU64>>,
) -> Result<ImportSummary, ImportError> {
    let format = detect_file_format(path).map_err(|e| ImportError::Io(format!("{}: {e}", path.display())))?;
    let check_path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let f = File::open(&check_path).map_err(|e| ImportError::Io(e.to_string()))?;
        check_syntax(BufReader::with_capacity(1 << 20, f), format).map_err(ImportError::Document)
    })
    .await
    .map_err(|e| ImportError::Io(e.to_string()))??;
    let f = File::open(path).map_err(|e| ImportError::Io(e.to_string()))?;
    let bytes = progress.unwrap_or_default();
    let reader = BufReader::with_capacity(1 << 20, Counting { inner: f, bytes });
    let summary = store_stream(state, reader, format, options).await?;
    if summary.report.accepted + summary.report.corrected >= BULK_LOAD {
        let mut c = state.db.conn().await.map_err(|e| ImportError::Storage(e.to_string()))?;
        crate::ssr::db::usage::refresh_statistics(&mut c)
            .await
            .map_err(|e| ImportError::Storage(e.to_string()))?;
    }
    Ok(summary)
}

/// Records stored by one import past which the planner's statistics are refreshed at once
/// rather than when autovacuum next passes (about a tenth of a stamp-month of history).
const BULK_LOAD: u64 = 100_000;

/// One writer's share of a batch: prepared records, rejected items, items read.
type Part = (Vec<Prepared>, Vec<Rejected>, u64);

/// Which writer stores a record: by user subscription (see the module documentation).
fn writer_of(record: &Prepared, writers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    record.record.subscription_id.hash(&mut h);
    (h.finish() % writers as u64) as usize
}

/// Reads a well-formed document and stores it batch by batch.
pub async fn store_stream<R>(
    state: &AppState,
    reader: R,
    format: Format,
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError>
where
    R: BufRead + Send + 'static,
{
    let writers = options
        .writers
        .unwrap_or_else(|| default_writers(state.db.engine()))
        .max(1);
    let batch_size = options.batch_size.max(1);
    let registration_id = options.registration_id;
    let mut senders = Vec::with_capacity(writers);
    let mut receivers = Vec::with_capacity(writers);
    for _ in 0..writers {
        let (tx, rx) = tokio::sync::mpsc::channel::<Part>(2);
        senders.push(tx);
        receivers.push(rx);
    }
    // The reading thread also prepares the records (identity hashes, resource keys), so
    // that work overlaps with the storing of the previous batch on the other core.
    let reader_task = tokio::task::spawn_blocking(move || {
        let mut pending: Vec<Item> = Vec::with_capacity(batch_size);
        let send = |items: Vec<Item>| {
            let n = items.len() as u64;
            let (records, rejected) = split_items(registration_id, items);
            if senders.len() == 1 {
                return senders[0]
                    .blocking_send((records, rejected, n))
                    .map_err(|_| "the writer stopped");
            }
            let mut parts: Vec<Part> = (0..senders.len()).map(|_| (Vec::new(), Vec::new(), 0)).collect();
            for r in records {
                let part = &mut parts[writer_of(&r, senders.len())];
                part.0.push(r);
                part.2 += 1;
            }
            parts[0].2 += rejected.len() as u64;
            parts[0].1 = rejected;
            for (sender, part) in senders.iter().zip(parts) {
                if part.2 > 0 {
                    sender.blocking_send(part).map_err(|_| "a writer stopped")?;
                }
            }
            Ok(())
        };
        let mut sink = |item: Item| {
            pending.push(item);
            if pending.len() >= batch_size {
                send(std::mem::replace(&mut pending, Vec::with_capacity(batch_size)))?;
            }
            Ok::<(), &'static str>(())
        };
        let result = match format {
            Format::Json => read_json(reader, &mut sink, |_| {}),
            Format::Csv => read_csv(reader, &mut sink),
        };
        if result.is_ok() && !pending.is_empty() {
            let _ = send(pending);
        }
        result
    });

    let numbering = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(writers);
    for mut rx in receivers {
        let state = state.clone();
        let options = options.clone();
        let numbering = numbering.clone();
        tasks.push(tokio::spawn(async move {
            let mut summary = ImportSummary::default();
            let mut cache = IngestCache::default();
            while let Some((records, rejected, n)) = rx.recv().await {
                summary.records += n;
                for r in rejected.iter().take(EXAMPLES.saturating_sub(summary.rejected.len())) {
                    summary.rejected.push((r.index, r.reason.clone()));
                }
                let number = numbering.fetch_add(1, Ordering::Relaxed) + 1;
                let label = format!("{} (batch {number})", options.label);
                let batch = Batch {
                    records: &records,
                    rejected: &rejected,
                    format,
                    source: options.source,
                    actor: &options.actor,
                    label: &label,
                    reported_at: None,
                };
                let report = ingest_batch(&state.db, options.registration_id, &batch, &mut cache, state.now_secs())
                    .await
                    .map_err(|e| ImportError::Storage(e.to_string()))?;
                for r in report
                    .refused
                    .iter()
                    .take(EXAMPLES.saturating_sub(summary.rejected.len()))
                {
                    summary.rejected.push(r.clone());
                }
                summary.report.add(&report);
                summary.batches += 1;
            }
            Ok::<ImportSummary, ImportError>(summary)
        }));
    }

    // Every writer runs to its end: one that fails drops its channel, which stops the
    // reader, which closes the others' channels.
    let mut summary = ImportSummary::default();
    let mut failure: Option<ImportError> = None;
    for task in tasks {
        match task.await.map_err(|e| ImportError::Storage(e.to_string())) {
            Ok(Ok(part)) => {
                summary.records += part.records;
                summary.report.add(&part.report);
                summary.batches += part.batches;
                summary.rejected.extend(part.rejected);
            }
            Ok(Err(e)) | Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    summary.rejected.sort_by_key(|(index, _)| *index);
    summary.rejected.truncate(EXAMPLES);
    let read = reader_task.await.map_err(|e| ImportError::Io(e.to_string()))?;
    if let Some(f) = failure {
        return Err(f);
    }
    match read {
        Ok(_) => Ok(summary),
        Err(ReadError::Document(d)) => Err(ImportError::Document(d)),
        Err(ReadError::Sink(e)) => Err(ImportError::Io(e.to_string())),
    }
}

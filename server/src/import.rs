//! Importing usage documents (`stackbill import usage`, `POST /api/v1/usage`, reprocessing
//! and the ingestion benchmark all go through here).
//!
//! A document is checked for well-formedness first — a malformed document is rejected
//! whole, with its line and column, and nothing of it is stored — then read again and
//! stored in batches. The reading runs on a blocking thread and hands batches to the
//! database writer through a small bounded channel, so parsing and storing overlap and
//! memory stays bounded by a few batches whatever the size of the file.

use app::ingest::csv_format::{check_csv_syntax, read_csv};
use app::ingest::json_format::{check_json_syntax, read_json};
use app::ingest::{DocumentError, Format, Item, ReadError, Rejected};
use app::ssr::services::ingest::{ingest_batch, split_items, Batch, BatchReport, IngestCache, Prepared, Source};
use app::ssr::AppState;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Records per batch (and per transaction) when importing files.
pub const DEFAULT_BATCH_SIZE: usize = 5_000;

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
    /// Storing failed; batches before this one are stored (each batch is atomic).
    #[error("storing usage failed: {0}")]
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

/// Detects the format of a file from its first bytes.
pub fn detect_file_format(path: &Path) -> Result<Format, ImportError> {
    let mut head = [0u8; 64];
    let mut f = File::open(path).map_err(|e| ImportError::Io(format!("{}: {e}", path.display())))?;
    let n = f.read(&mut head).map_err(|e| ImportError::Io(e.to_string()))?;
    Ok(Format::detect(&head[..n]))
}

/// Checks that a document is well formed (first pass).
pub fn check_syntax<R: BufRead>(reader: R, format: Format) -> Result<(), DocumentError> {
    match format {
        Format::Json => check_json_syntax(reader),
        Format::Csv => check_csv_syntax(reader),
    }
}

/// Reads every item of a document into memory (small documents: a pushed request).
pub fn read_all(bytes: &[u8], format: Format) -> Result<Vec<Item>, DocumentError> {
    let mut items = Vec::new();
    let sink = |i: Item| {
        items.push(i);
        Ok::<(), std::convert::Infallible>(())
    };
    let result = match format {
        Format::Json => read_json(bytes, sink, |_| {}),
        Format::Csv => read_csv(bytes, sink),
    };
    match result {
        Ok(_) => Ok(items),
        Err(ReadError::Document(d)) => Err(d),
        Err(ReadError::Sink(never)) => match never {},
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
    let format = detect_file_format(path)?;
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
    store_stream(state, reader, format, options).await
}

/// Copies stdin to a temporary file (stdin can only be read once, and a malformed
/// document must be refused before anything is stored) and returns its path.
pub fn spool_stdin() -> Result<PathBuf, ImportError> {
    let path = std::env::temp_dir().join(format!(
        "stackbill-import-{}-{}.tmp",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let mut out = File::create(&path).map_err(|e| ImportError::Io(e.to_string()))?;
    std::io::copy(&mut std::io::stdin().lock(), &mut out).map_err(|e| ImportError::Io(e.to_string()))?;
    Ok(path)
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
    // The reading thread also prepares the records (identity hashes, resource keys), so
    // that work overlaps with the storing of the previous batch on the other core.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<Prepared>, Vec<Rejected>, u64)>(2);
    let batch_size = options.batch_size.max(1);
    let registration_id = options.registration_id;
    let reader_task = tokio::task::spawn_blocking(move || {
        let mut pending: Vec<Item> = Vec::with_capacity(batch_size);
        let send = |items: Vec<Item>| {
            let n = items.len() as u64;
            let (records, rejected) = split_items(registration_id, items);
            tx.blocking_send((records, rejected, n))
                .map_err(|_| "the writer stopped")
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

    let mut summary = ImportSummary::default();
    let mut cache = IngestCache::default();
    let mut failure: Option<ImportError> = None;
    while let Some((records, rejected, n)) = rx.recv().await {
        summary.records += n;
        for r in rejected.iter().take(EXAMPLES.saturating_sub(summary.rejected.len())) {
            summary.rejected.push((r.index, r.reason.clone()));
        }
        let label = format!("{} (batch {})", options.label, summary.batches + 1);
        let batch = Batch {
            records: &records,
            rejected: &rejected,
            format,
            source: options.source,
            actor: &options.actor,
            label: &label,
        };
        match ingest_batch(&state.db, options.registration_id, &batch, &mut cache, state.now_secs()).await {
            Ok(report) => {
                summary.report.add(&report);
                summary.batches += 1;
            }
            Err(e) => {
                failure = Some(ImportError::Storage(e.to_string()));
                break;
            }
        }
    }
    drop(rx);
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

/// Prints progress to stderr (only called when stderr is a terminal).
pub fn spawn_progress(total: u64, bytes: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use std::io::Write;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let done = bytes.load(Ordering::Relaxed);
            let pct = if total > 0 {
                done as f64 * 100.0 / total as f64
            } else {
                0.0
            };
            let width = 30usize;
            let filled = ((pct / 100.0) * width as f64) as usize;
            eprint!(
                "\r  [{}{}] {:5.1}%  {:.1} / {:.1} MB",
                "#".repeat(filled.min(width)),
                " ".repeat(width - filled.min(width)),
                pct,
                done as f64 / 1e6,
                total as f64 / 1e6
            );
            let _ = std::io::stderr().flush();
            if done >= total {
                eprintln!();
                break;
            }
        }
    })
}

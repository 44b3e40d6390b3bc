//! Command-line helpers for importing: spooling stdin to a private file and a progress
//! bar. The import pipeline itself is `app::ssr::services::import`.

use app::ssr::services::import::ImportError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Copies stdin to a temporary file (stdin can only be read once, and a malformed
/// document must be refused before anything is stored) and returns its path.
pub fn spool_stdin() -> Result<PathBuf, ImportError> {
    // A private file (mode 0600, created fresh — never following a planted link): usage
    // data is customers' data, and the temporary directory is shared.
    let random = app::ssr::auth::generate_token();
    let name = &random[app::ssr::auth::TOKEN_PREFIX.len()..];
    let path = std::env::temp_dir().join(format!("stackbill-import-{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&path).map_err(|e| ImportError::Io(e.to_string()))?;
    std::io::copy(&mut std::io::stdin().lock(), &mut out).map_err(|e| ImportError::Io(e.to_string()))?;
    Ok(path)
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

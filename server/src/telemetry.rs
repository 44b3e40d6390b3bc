//! Logging, and a count of the SQL statements the database driver runs (for benchmarks).

use crate::config::{Config, LogFormat};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tracing::subscriber::Interest;
use tracing_subscriber::filter::{DynFilterFn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

static COUNTING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// Installs the global subscriber (once; later calls are ignored, which tests rely on).
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().with_target(false).json().boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(StatementCounter.with_filter(statement_filter()))
        .try_init();
}

/// sqlx reports every statement it runs as an event with the target `sqlx::query`; the
/// counter hears only those, and only while [`count_statements`] counts. Other call sites
/// are never asked about, and sqlx builds its log line only while someone listens, so
/// this costs nothing when not counting.
type Enabled<S> = fn(&tracing::Metadata<'_>, &tracing_subscriber::layer::Context<'_, S>) -> bool;

fn statement_filter<S>() -> DynFilterFn<S, Enabled<S>, fn(&'static tracing::Metadata<'static>) -> Interest> {
    DynFilterFn::new((|meta, _| meta.target() == "sqlx::query" && COUNTING.load(Ordering::Relaxed)) as Enabled<S>)
        .with_callsite_filter(|meta| {
            if meta.target() == "sqlx::query" {
                Interest::sometimes()
            } else {
                Interest::never()
            }
        })
}

struct StatementCounter;

impl<S: tracing::Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `work` and returns its result with the SQL statements the driver ran meanwhile
/// (on every connection of the process: benchmarks measure one thing at a time).
pub async fn count_statements<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
    STATEMENTS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let out = work.await;
    COUNTING.store(false, Ordering::Relaxed);
    (out, STATEMENTS.swap(0, Ordering::Relaxed))
}

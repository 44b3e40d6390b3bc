//! The collector: Stackbill's billing adapter for Azure Stack Hub.
//!
//! For each registration with an admin endpoint, it reads the provider usage API
//! (`Microsoft.Commerce.Admin/subscriberUsageAggregates`, Hourly) for contiguous,
//! hour-aligned **reported** windows from the stored watermark up to the last *settled*
//! hour, following `nextLink` (or `continuationToken`) to the end of each window. A
//! window's records and the advanced watermark are stored in one transaction, so a crash
//! or a failure resumes exactly where it stopped: no gap, no duplicate. Throttling (429),
//! busy (503) and gateway time-outs (504), and connection errors are retried with bounded
//! exponential backoff and jitter. It also reads the stamp's user subscriptions
//! (`Microsoft.Subscriptions.Admin/subscriptions`) to learn which cloud tenant owns each.
//!
//! Late commits: the stamp may still commit records into a reported window shortly after
//! it closes. A window is only pulled once it has been closed for the *settle lag*
//! (default 15 minutes), and every run pulls the last few closed windows again (default
//! the last 2 hours): re-pulled records are duplicates or same-report corrections, so
//! this costs nothing but catches what arrived late.
//!
//! One run at a time: a run holds a lease on its registration (renewed after every
//! window, expiring if the run dies), so the scheduler in `serve` and a manual `stackbill
//! pull` never interleave. The watermark only moves forward; an explicit `--from/--to`
//! backfill leaves it alone, and is safe because an older report never replaces a newer
//! correction.

mod client;

use app::billing::{CloudTenantId, SubscriptionId};
use app::ingest::json_format::read_json;
use app::ingest::{Item, PageLinks, ReadError};
use app::ssr::db::registrations::RegistrationRow;
use app::ssr::services::collector as collector_store;
use app::ssr::services::ingest::{BatchReport, IngestCache};
use app::ssr::services::ownership::{record_stamp_subscriptions, StampSubscription as Learned};
use app::ssr::AppState;
use chrono::{DateTime, Duration, DurationRound, Utc};
use client::Session;
pub use client::{
    http_client, parse_subscriptions_page, parse_token_command, Endpoint, RetryPolicy, StampSubscription,
    SubscriptionsPage, SUBSCRIPTIONS_API_VERSION, USAGE_API_VERSION,
};
use std::time::Duration as StdDuration;
/// When windows are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a reported window must have been closed before it is pulled.
    pub settle: Duration,
    /// How many of the last closed windows every run pulls again.
    pub repull_hours: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            settle: Duration::minutes(15),
            repull_hours: 2,
        }
    }
}

impl Timing {
    /// Checks the settle lag (0 to 1,440 minutes) and the re-pull depth (0 to 24 hours).
    pub fn new(settle_minutes: i64, repull_hours: i64) -> Result<Timing, String> {
        if !(0..=24 * 60).contains(&settle_minutes) {
            return Err(format!(
                "the settle lag must be 0 to 1440 minutes (a day), not {settle_minutes}"
            ));
        }
        if !(0..=24).contains(&repull_hours) {
            return Err(format!("the re-pull depth must be 0 to 24 hours, not {repull_hours}"));
        }
        Ok(Timing {
            settle: Duration::minutes(settle_minutes),
            repull_hours,
        })
    }
}

/// How long a collector lease lasts without renewal (a window never takes this long;
/// a run that died frees its registration after this).
const LEASE_SECS: i64 = 10 * 60;

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// Another run holds the registration's lease.
    #[error("{0}")]
    Busy(String),
    /// The requested range is not one that can be pulled.
    #[error("{0}")]
    InvalidRange(String),
    /// The registration has no (complete) collector configuration.
    #[error("{0}")]
    NotConfigured(String),
    /// No bearer token could be obtained.
    #[error("cannot get a bearer token: {0}")]
    Token(String),
    /// The usage API answered with an error that retrying does not fix, or kept failing.
    #[error("{0}")]
    Api(String),
    /// The database failed.
    #[error("storing usage failed: {0}")]
    Storage(String),
}

/// What a pull did.
#[derive(Debug, Clone, Default)]
pub struct PullReport {
    /// Windows completed.
    pub windows: u64,
    /// Pages read.
    pub pages: u64,
    /// Records read.
    pub records: u64,
    /// Counts.
    pub report: BatchReport,
    /// User subscriptions learned from the stamp.
    pub subscriptions: u64,
    /// Why reading the stamp's subscriptions failed, if it did (usage was still collected).
    pub subscriptions_error: Option<String>,
    /// The watermark after the pull.
    pub watermark: Option<DateTime<Utc>>,
}

/// The collector for one installation.
#[derive(Clone)]
pub struct Collector {
    client: reqwest::Client,
    retry: RetryPolicy,
    timing: Timing,
    /// Who this process is, in lease rows (`serve pid 123`, `pull pid 456`).
    holder: String,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            client: http_client(),
            retry: RetryPolicy::default(),
            timing: Timing::default(),
            holder: format!("run pid {}", std::process::id()),
        }
    }
}

/// Which reported windows to pull.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    /// Explicit start (a backfill); `None`: from the watermark.
    pub from: Option<DateTime<Utc>>,
    /// Explicit end; `None`: the last closed hour.
    pub to: Option<DateTime<Utc>>,
}

fn hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

impl Collector {
    /// A collector with its own retry policy (tests use short delays).
    pub fn with_retry(retry: RetryPolicy) -> Self {
        Collector {
            retry,
            ..Collector::default()
        }
    }

    /// The same collector with other timing.
    pub fn with_timing(self, timing: Timing) -> Self {
        Collector { timing, ..self }
    }

    /// The same collector naming itself `holder` in leases (`serve`, `pull`).
    pub fn named(self, holder: &str) -> Self {
        Collector {
            holder: format!("{holder} pid {}", std::process::id()),
            ..self
        }
    }

    /// Pulls one registration. On failure the error is also recorded in its state.
    pub async fn pull(
        &self,
        state: &AppState,
        reg: &RegistrationRow,
        range: Range,
    ) -> Result<PullReport, CollectorError> {
        let result = self.pull_leased(state, reg, range).await;
        if let Err(e @ (CollectorError::Busy(_) | CollectorError::InvalidRange(_))) = &result {
            // Nothing ran: not a collector failure to record.
            tracing::warn!(registration = %reg.name, error = %e, "collector run not started");
            return result;
        }
        if let Err(e) = &result {
            let initial = first_watermark(state.clock.now()).timestamp();
            let _ = collector_store::record_error(&state.db, reg.id, &e.to_string(), initial, state.now_secs()).await;
            tracing::error!(registration = %reg.name, error = %e, "collector failed");
        }
        result
    }

    /// Takes the registration's lease, pulls, gives the lease back.
    async fn pull_leased(
        &self,
        state: &AppState,
        reg: &RegistrationRow,
        range: Range,
    ) -> Result<PullReport, CollectorError> {
        let now = state.clock.now();
        if let Some(from) = range.from {
            let to = range.to.unwrap_or(now);
            if from > now || to > now {
                return Err(CollectorError::InvalidRange(format!(
                    "the backfill range {} – {} reaches into the future (now is {}); reported windows are pulled once closed",
                    from.to_rfc3339(),
                    to.to_rfc3339(),
                    now.format("%Y-%m-%dT%H:%MZ")
                )));
            }
            if to <= from {
                return Err(CollectorError::InvalidRange(format!(
                    "the backfill range {} – {} is empty or reversed",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                )));
            }
        }
        let now_secs = state.now_secs();
        if let Err(held) =
            collector_store::acquire_lease(&state.db, reg.id, &self.holder, now_secs, now_secs + LEASE_SECS)
                .await
                .map_err(storage)?
        {
            return Err(CollectorError::Busy(format!(
                "registration `{}` is being collected by another run ({}, since {}); try again when it has finished",
                reg.name,
                held.holder,
                DateTime::from_timestamp(held.acquired_at, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default()
            )));
        }
        let result = self.pull_inner(state, reg, range).await;
        let _ = collector_store::release_lease(&state.db, reg.id, &self.holder).await;
        result
    }

    async fn pull_inner(
        &self,
        state: &AppState,
        reg: &RegistrationRow,
        range: Range,
    ) -> Result<PullReport, CollectorError> {
        let endpoint = Endpoint::of(reg)?;
        let seed = (state.now_secs() as u64) ^ (reg.id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut session = Session {
            client: &self.client,
            endpoint: &endpoint,
            retry: &self.retry,
            token: None,
            jitter: seed,
        };
        // Learn who owns the stamp's subscriptions first, so usage is attributed as it
        // arrives. A failure here does not stop usage collection: usage of subscriptions
        // not known yet is stored as unassigned (billed to the base) until a later sync
        // learns the owner, so it is never lost — only attributed later.
        let mut report = PullReport::default();
        match self.sync_subscriptions(state, reg, &mut session).await {
            Ok(learned) => report.subscriptions = learned,
            Err(e @ CollectorError::Token(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(registration = %reg.name, error = %e, "reading the stamp's subscriptions failed");
                report.subscriptions_error = Some(e.to_string());
            }
        }

        let now = state.clock.now();
        // Only windows closed for the settle lag are pulled: the stamp may still be
        // committing records into the last one.
        let last_closed = hour(now - self.timing.settle);
        let explicit = range.from.is_some();
        let current = collector_store::state(&state.db, reg.id).await.map_err(storage)?;
        let start = match (range.from, &current) {
            (Some(from), _) => hour(from),
            // Pull the last closed windows again: what the stamp committed late into them.
            (None, Some(s)) => DateTime::from_timestamp(s.watermark_at, 0)
                .map(|w| w - Duration::hours(self.timing.repull_hours))
                .unwrap_or(last_closed),
            (None, None) => first_watermark(now),
        };
        let end = hour(range.to.unwrap_or(last_closed)).min(last_closed);
        if current.is_none() && !explicit {
            collector_store::initialise(&state.db, reg.id, start.timestamp(), state.now_secs())
                .await
                .map_err(storage)?;
        }

        let mut cache = IngestCache::default();
        let mut window = start;
        while window + Duration::hours(1) <= end {
            let window_end = window + Duration::hours(1);
            let pages = self.fetch_window(&mut session, &endpoint, window, window_end).await?;
            // The window, its statistics, the watermark (never backwards; an explicit range is
            // a backfill and leaves it alone) and the lease renewal: one transaction.
            let stored = collector_store::store_window(
                &state.db,
                collector_store::Window {
                    registration_id: reg.id,
                    start: window,
                    end: window_end,
                    pages,
                    advance: !explicit,
                    holder: &self.holder,
                    lease_until: state.now_secs() + LEASE_SECS,
                },
                &mut cache,
                state.now_secs(),
            )
            .await
            .map_err(|e| {
                if e.code == collector_store::LEASE_LOST {
                    CollectorError::Busy(format!(
                        "the lease on registration `{}` expired and another run took over; stopping",
                        reg.name
                    ))
                } else {
                    storage(e)
                }
            })?;
            let stats = stored.stats;
            report.report.add(&stored.report);
            if !explicit {
                let before = current.as_ref().map_or(i64::MIN, |s| s.watermark_at);
                if window_end.timestamp() > before {
                    report.watermark = Some(window_end);
                }
            }
            report.windows += 1;
            report.pages += stats.pages as u64;
            report.records += stats.records as u64;
            tracing::info!(registration = %reg.name, window = %window, records = stats.records, "window collected");
            window = window_end;
        }
        Ok(report)
    }

    /// Reads every page of one reported window. Nothing is stored here: the caller stores
    /// the whole window in one transaction.
    async fn fetch_window(
        &self,
        session: &mut Session<'_>,
        endpoint: &Endpoint,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Vec<Item>>, CollectorError> {
        let mut url = endpoint.usage_url(start, end);
        let mut pages = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            if !seen.insert(url.to_string()) {
                return Err(CollectorError::Api(format!(
                    "the usage API returned the same next page twice ({url})"
                )));
            }
            let body = session.get(&url).await?;
            let mut items = Vec::new();
            let mut links = PageLinks::default();
            read_json(
                &body.0[..],
                |i| {
                    items.push(i);
                    Ok::<(), std::convert::Infallible>(())
                },
                |l| links = l,
            )
            .map_err(|e| match e {
                ReadError::Document(d) => CollectorError::Api(format!("the usage API returned a malformed page: {d}")),
                ReadError::Sink(never) => match never {},
            })?;
            pages.push(items);
            match endpoint.next_url(&url, &links)? {
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(pages)
    }

    /// Reads the stamp's user subscriptions and records which cloud tenant owns each.
    async fn sync_subscriptions(
        &self,
        state: &AppState,
        reg: &RegistrationRow,
        session: &mut Session<'_>,
    ) -> Result<u64, CollectorError> {
        let mut url = session.endpoint.subscriptions_url();
        let mut subs = Vec::new();
        loop {
            let body = session.get(&url).await?;
            let page = parse_subscriptions_page(&body.0)?;
            if page.skipped > 0 {
                tracing::warn!(registration = %reg.name, skipped = page.skipped, "unreadable entries in the subscriptions list");
            }
            subs.extend(page.value);
            match session.endpoint.next_url(
                &url,
                &PageLinks {
                    next_link: page.next_link,
                    continuation_token: None,
                },
            )? {
                Some(next) => url = next,
                None => break,
            }
        }
        let learned: Vec<Learned> = subs
            .iter()
            .filter_map(|s| {
                let sub = SubscriptionId::parse(&s.subscription_id).ok()?;
                Some(Learned {
                    subscription_id: sub,
                    display_name: s.display_name.clone(),
                    owner_email: s.owner.clone(),
                    offer: s.offer_id.rsplit('/').next().unwrap_or_default().to_owned(),
                    state: s.state.clone(),
                    tenant: s.tenant_id.as_deref().and_then(|t| CloudTenantId::parse(t).ok()),
                })
            })
            .collect();
        record_stamp_subscriptions(state, reg, &learned).await.map_err(storage)
    }
}

/// Runs the collector for every configured registration every `interval` (inside
/// `stackbill serve` when `STACKBILL_COLLECTOR_INTERVAL_MINUTES` is set).
pub fn spawn_scheduler(state: AppState, interval: StdDuration, timing: Timing) {
    tokio::spawn(async move {
        let collector = Collector::default().with_timing(timing).named("serve");
        loop {
            match app::ssr::services::lookup::registrations(&state.db, None).await {
                Ok(regs) => {
                    for reg in regs.iter().filter(|r| r.usage_endpoint.is_some()) {
                        let _ = collector.pull(&state, reg, Range::default()).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "collector: cannot list registrations"),
            }
            tokio::time::sleep(interval).await;
        }
    });
}

/// A storage failure as the collector reports it.
fn storage(e: app::error::AppError) -> CollectorError {
    CollectorError::Storage(e.message)
}

/// Where a registration's collector starts when it has never run: the start of the
/// current month, so this month's invoices are whole.
fn first_watermark(now: DateTime<Utc>) -> DateTime<Utc> {
    app::billing::BillingPeriod::containing(now).start()
}

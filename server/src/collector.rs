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

use app::billing::{CloudTenantId, SubscriptionId};
use app::ingest::json_format::read_json;
use app::ingest::{Item, PageLinks, ReadError};
use app::ssr::db::registrations::RegistrationRow;
use app::ssr::services::collector as collector_store;
use app::ssr::services::ingest::{BatchReport, IngestCache};
use app::ssr::services::ownership::{record_stamp_subscriptions, StampSubscription as Learned};
use app::ssr::AppState;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Deserialize;
use std::time::Duration as StdDuration;

/// The usage API version the stamps serve.
pub const USAGE_API_VERSION: &str = "2015-06-01-preview";
/// The admin subscriptions API version.
pub const SUBSCRIPTIONS_API_VERSION: &str = "2015-11-01";

/// How long a token command may run.
const TOKEN_COMMAND_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// How failures are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request (the first included).
    pub max_attempts: u32,
    /// First backoff.
    pub base: StdDuration,
    /// Longest backoff (also caps `Retry-After`).
    pub cap: StdDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: StdDuration::from_millis(500),
            cap: StdDuration::from_secs(60),
        }
    }
}

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

/// How the bearer token is obtained.
#[derive(Debug, Clone)]
enum TokenSource {
    Env(String),
    /// A program and its arguments, run without a shell.
    Command(Vec<String>),
}

/// A stored token command: a JSON array `["program", "arg", …]` as `registration add
/// --token-command P --token-arg A …` writes it, or (from earlier releases) a command
/// line, which is split on whitespace — never handed to a shell.
pub fn parse_token_command(stored: &str) -> Vec<String> {
    let t = stored.trim();
    if t.starts_with('[') {
        if let Ok(argv) = serde_json::from_str::<Vec<String>>(t) {
            return argv;
        }
    }
    t.split_whitespace().map(str::to_owned).collect()
}

impl TokenSource {
    async fn token(&self) -> Result<String, CollectorError> {
        self.token_within(TOKEN_COMMAND_TIMEOUT).await
    }

    async fn token_within(&self, limit: StdDuration) -> Result<String, CollectorError> {
        match self {
            TokenSource::Env(var) => std::env::var(var)
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| CollectorError::Token(format!("the environment variable {var} is empty or not set"))),
            TokenSource::Command(argv) => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| CollectorError::Token("the token command is empty".into()))?;
                // A hung command (an interactive login prompt, a dead network) must not
                // stop the scheduler: it is killed after `limit`. No shell: the program
                // gets exactly these arguments.
                let run = tokio::process::Command::new(program)
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(limit, run)
                    .await
                    .map_err(|_| {
                        CollectorError::Token(format!(
                            "the token command did not finish within {} s",
                            limit.as_secs_f64()
                        ))
                    })?
                    .map_err(|e| CollectorError::Token(format!("cannot run the token command: {e}")))?;
                if !out.status.success() {
                    // Its output is not repeated: the error is stored and shown to staff,
                    // and a token command's output may hold credentials.
                    return Err(CollectorError::Token(format!(
                        "the token command `{program}` failed ({}); run it by hand to see its message",
                        out.status
                    )));
                }
                let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if token.is_empty() {
                    return Err(CollectorError::Token("the token command printed nothing".into()));
                }
                Ok(token)
            }
        }
    }
}

/// A registration's usage endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    base: url::Url,
    provider_subscription: SubscriptionId,
    token: TokenSource,
}

impl Endpoint {
    /// The endpoint of a registration row, or why it cannot be used.
    pub fn of(reg: &RegistrationRow) -> Result<Endpoint, CollectorError> {
        let not = |m: &str| CollectorError::NotConfigured(format!("registration {}: {m}", reg.name));
        let base = reg
            .usage_endpoint
            .as_deref()
            .ok_or_else(|| not("no usage endpoint is configured"))?;
        let base = url::Url::parse(base.trim_end_matches('/'))
            .map_err(|e| not(&format!("the usage endpoint is not a URL: {e}")))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(not("the usage endpoint must be an https:// URL"));
        }
        let provider = reg
            .provider_subscription_id
            .as_deref()
            .ok_or_else(|| not("no provider subscription is configured"))?;
        let provider_subscription = SubscriptionId::parse(provider).map_err(|e| not(&e.to_string()))?;
        let token = match (&reg.token_env, &reg.token_command) {
            (Some(var), _) => TokenSource::Env(var.clone()),
            (None, Some(cmd)) => TokenSource::Command(parse_token_command(cmd)),
            (None, None) => return Err(not("neither a token variable nor a token command is configured")),
        };
        Ok(Endpoint {
            base,
            provider_subscription,
            token,
        })
    }

    fn usage_url(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> url::Url {
        let mut url = self.base.clone();
        url.set_path(&format!(
            "{}/subscriptions/{}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates",
            self.base.path().trim_end_matches('/'),
            self.provider_subscription
        ));
        url.query_pairs_mut()
            .append_pair("reportedStartTime", &start.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("reportedEndTime", &end.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("aggregationGranularity", "Hourly")
            .append_pair("api-version", USAGE_API_VERSION);
        url
    }

    fn subscriptions_url(&self) -> url::Url {
        let mut url = self.base.clone();
        url.set_path(&format!(
            "{}/subscriptions/{}/providers/Microsoft.Subscriptions.Admin/subscriptions",
            self.base.path().trim_end_matches('/'),
            self.provider_subscription
        ));
        url.query_pairs_mut()
            .append_pair("api-version", SUBSCRIPTIONS_API_VERSION);
        url
    }

    /// Follows `nextLink` only on the same origin: the bearer token must never be sent to
    /// another host.
    fn next_url(&self, current: &url::Url, links: &PageLinks) -> Result<Option<url::Url>, CollectorError> {
        if let Some(next) = &links.next_link {
            let next = current
                .join(next)
                .map_err(|e| CollectorError::Api(format!("nextLink is not a URL: {e}")))?;
            if next.origin() != self.base.origin() {
                return Err(CollectorError::Api(format!(
                    "nextLink points to another host ({next}); not followed"
                )));
            }
            return Ok(Some(next));
        }
        if let Some(token) = &links.continuation_token {
            let mut next = current.clone();
            let pairs: Vec<(String, String)> = current
                .query_pairs()
                .filter(|(k, _)| k != "continuationToken")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("continuationToken", token);
            return Ok(Some(next));
        }
        Ok(None)
    }
}

/// An HTTP client for the stamps' admin endpoints (rustls with the system's trust store,
/// so a stamp's internal CA is trusted once it is installed on the machine).
pub fn http_client() -> reqwest::Client {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(StdDuration::from_secs(15))
        .timeout(StdDuration::from_secs(300))
        .user_agent(concat!("stackbill/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client")
}

struct Session<'a> {
    client: &'a reqwest::Client,
    endpoint: &'a Endpoint,
    retry: &'a RetryPolicy,
    token: Option<String>,
    jitter: u64,
}

impl Session<'_> {
    fn backoff(&mut self, attempt: u32, retry_after: Option<StdDuration>) -> StdDuration {
        // xorshift: enough randomness to spread retries of several collectors apart.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let exp = self.retry.base.saturating_mul(1 << attempt.min(16)).min(self.retry.cap);
        let factor = 0.5 + (self.jitter % 1000) as f64 / 2000.0;
        let delay = exp.mul_f64(factor);
        retry_after.map(|r| r.min(self.retry.cap).max(delay)).unwrap_or(delay)
    }

    /// GETs a URL with retries; returns the body of a 2xx answer.
    async fn get(&mut self, url: &url::Url) -> Result<bytes_body::Body, CollectorError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            if self.token.is_none() {
                self.token = Some(self.endpoint.token.token().await?);
            }
            let token = self.token.clone().unwrap_or_default();
            let result = self.client.get(url.clone()).bearer_auth(&token).send().await;
            let (retryable, message, retry_after) = match result {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp
                        .bytes()
                        .await
                        .map_err(|e| CollectorError::Api(format!("reading {url}: {e}")));
                    match body {
                        Ok(b) => return Ok(bytes_body::Body(b.to_vec())),
                        Err(e) => (true, e.to_string(), None),
                    }
                }
                Ok(resp) if resp.status() == reqwest::StatusCode::UNAUTHORIZED && !refreshed => {
                    // The token may have expired: get a fresh one once.
                    refreshed = true;
                    self.token = None;
                    continue;
                }
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after(v, Utc::now()));
                    let body = resp.text().await.unwrap_or_default();
                    let detail = azure_error(&body).unwrap_or_else(|| body.chars().take(200).collect());
                    let retryable = matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504);
                    (retryable, format!("{status} from the usage API: {detail}"), retry_after)
                }
                Err(e) => (
                    true,
                    format!("cannot reach {}: {e}", url.host_str().unwrap_or("the endpoint")),
                    None,
                ),
            };
            attempt += 1;
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(CollectorError::Api(if retryable {
                    format!("{message} (gave up after {attempt} attempts)")
                } else {
                    message
                }));
            }
            let delay = self.backoff(attempt, retry_after);
            tracing::warn!(%url, attempt, delay_ms = delay.as_millis() as u64, %message, "retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

mod bytes_body {
    /// A response body.
    pub struct Body(pub Vec<u8>);
}

/// `{"error":{"code":…,"message":…}}` → "code: message".
fn azure_error(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
    }
    let e: Envelope = serde_json::from_str(body).ok()?;
    Some(format!(
        "{}: {}",
        e.error.code.unwrap_or_default(),
        e.error.message.unwrap_or_default()
    ))
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

/// A `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<StdDuration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(StdDuration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(StdDuration::ZERO))
}

/// One user subscription as `Microsoft.Subscriptions.Admin/subscriptions` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StampSubscription {
    /// The user subscription.
    pub subscription_id: String,
    /// Its name.
    #[serde(default)]
    pub display_name: String,
    /// The owner's sign-in name.
    #[serde(default)]
    pub owner: String,
    /// The directory (cloud tenant) it belongs to.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The offer's resource id.
    #[serde(default)]
    pub offer_id: String,
    /// Enabled, Disabled, …
    #[serde(default)]
    pub state: String,
}

/// One page of the subscriptions list.
#[derive(Debug, Default)]
pub struct SubscriptionsPage {
    /// Readable entries.
    pub value: Vec<StampSubscription>,
    /// Entries that could not be read (skipped, not fatal).
    pub skipped: usize,
    /// The next page.
    pub next_link: Option<String>,
}

/// Reads a subscriptions page. Entries are read one by one: one odd entry (a field of
/// an unexpected type) skips that entry, not the whole list.
pub fn parse_subscriptions_page(body: &[u8]) -> Result<SubscriptionsPage, CollectorError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        value: Vec<serde_json::Value>,
        #[serde(default)]
        next_link: Option<String>,
    }
    let page: Page = serde_json::from_slice(body)
        .map_err(|e| CollectorError::Api(format!("the subscriptions API returned an unexpected page: {e}")))?;
    let mut out = SubscriptionsPage {
        next_link: page.next_link.filter(|l| !l.is_empty()),
        ..SubscriptionsPage::default()
    };
    for v in page.value {
        match serde_json::from_value::<StampSubscription>(v) {
            Ok(s) => out.value.push(s),
            Err(_) => out.skipped += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_subscriptions_list_is_read_with_owners() {
        let path = format!(
            "{}/../app/tests/fixtures/azure-stack/local-user-subscriptions-list.spec-example.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let spec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let body = spec["responses"]["200"]["body"].to_string();
        let page = parse_subscriptions_page(body.as_bytes()).unwrap();
        assert_eq!((page.value.len(), page.skipped, page.next_link), (4, 0, None));
        let first = &page.value[0];
        assert_eq!(first.subscription_id, "5144634d-7e4d-443b-a304-d27e44220fc6");
        assert_eq!(first.tenant_id.as_deref(), Some("d9b782d5-d098-4374-8f2c-3907cc34611c"));
        assert_eq!(first.owner, "tenantadmin1@msazurestack.onmicrosoft.com");
        assert_eq!(first.offer_id.rsplit('/').next(), Some("balaoffer"));
        assert_eq!(first.state, "Enabled");
    }

    #[test]
    fn one_odd_subscription_entry_is_skipped_not_fatal() {
        let body = br#"{"value":[
            {"subscriptionId":"5144634d-7e4d-443b-a304-d27e44220fc6","tenantId":null,"extra":[1]},
            {"subscriptionId":42},
            {"displayName":"no id"}
        ],"nextLink":""}"#;
        let page = parse_subscriptions_page(body).unwrap();
        assert_eq!((page.value.len(), page.skipped, page.next_link), (1, 2, None));
        assert!(parse_subscriptions_page(b"<html>").is_err());
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after(" 7 ", now), Some(StdDuration::from_secs(7)));
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 10:00:30 GMT", now),
            Some(StdDuration::from_secs(30))
        );
        // A date in the past: retry now (the backoff still applies).
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now),
            Some(StdDuration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    fn argv(parts: &[&str]) -> TokenSource {
        TokenSource::Command(parts.iter().map(|s| s.to_string()).collect())
    }

    #[tokio::test]
    async fn a_hung_token_command_is_stopped() {
        let source = argv(&["sleep", "600"]);
        let started = std::time::Instant::now();
        let err = source
            .token_within(StdDuration::from_millis(300))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish"), "{err}");
        assert!(started.elapsed() < StdDuration::from_secs(10));
        let ok = argv(&["echo", " abc "]).token().await.unwrap();
        assert_eq!(ok, "abc");
    }

    #[tokio::test]
    async fn the_token_command_runs_without_a_shell_and_its_output_never_reaches_the_error() {
        // Shell syntax is just an argument: nothing is expanded or chained.
        let ok = argv(&["echo", "$HOME;", "rm", "-rf", "/"]).token().await.unwrap();
        assert_eq!(ok, "$HOME; rm -rf /");
        // A failing command that prints a secret: the error says it failed, not what it said.
        let err = argv(&["sh", "-c", "echo secret-token-123 >&2; echo secret-token-456; exit 3"])
            .token()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("failed"), "{err}");
        assert!(!err.contains("secret-token"), "{err}");
        assert_eq!(
            parse_token_command(r#"["az","account","get-access-token","--query","accessToken"]"#),
            vec!["az", "account", "get-access-token", "--query", "accessToken"]
        );
        assert_eq!(
            parse_token_command("az account get-access-token"),
            vec!["az", "account", "get-access-token"]
        );
    }
}

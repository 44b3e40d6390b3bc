//! The Azure Stack Hub client: endpoints and their URLs, bearer tokens (an environment
//! variable or a program run without a shell), GET with bounded retries, backoff with
//! jitter and `Retry-After`, Azure's error bodies, and the admin subscriptions list.
//! The pull loop that stores what it reads is in the parent module.

use super::CollectorError;
use app::billing::SubscriptionId;
use app::ingest::PageLinks;
use app::ssr::db::registrations::RegistrationRow;
use chrono::{DateTime, Utc};
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

/// How the bearer token is obtained.
#[derive(Debug, Clone)]
pub(super) enum TokenSource {
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
    pub(super) async fn token(&self) -> Result<String, CollectorError> {
        self.token_within(TOKEN_COMMAND_TIMEOUT).await
    }

    pub(super) async fn token_within(&self, limit: StdDuration) -> Result<String, CollectorError> {
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

    pub(super) fn usage_url(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> url::Url {
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

    pub(super) fn subscriptions_url(&self) -> url::Url {
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
    pub(super) fn next_url(&self, current: &url::Url, links: &PageLinks) -> Result<Option<url::Url>, CollectorError> {
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

pub(super) struct Session<'a> {
    pub(super) client: &'a reqwest::Client,
    pub(super) endpoint: &'a Endpoint,
    pub(super) retry: &'a RetryPolicy,
    pub(super) token: Option<String>,
    pub(super) jitter: u64,
}

impl Session<'_> {
    pub(super) fn backoff(&mut self, attempt: u32, retry_after: Option<StdDuration>) -> StdDuration {
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
    pub(super) async fn get(&mut self, url: &url::Url) -> Result<Body, CollectorError> {
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
                        Ok(b) => return Ok(Body(b.to_vec())),
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

/// `{"error":{"code":…,"message":…}}` → "code: message".
pub(super) fn azure_error(body: &str) -> Option<String> {
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

/// A `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(super) fn retry_after(value: &str, now: DateTime<Utc>) -> Option<StdDuration> {
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

/// A response body.
pub(super) struct Body(pub(super) Vec<u8>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn the_published_subscriptions_list_is_read_with_owners() {
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
    pub(super) fn one_odd_subscription_entry_is_skipped_not_fatal() {
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
    pub(super) fn retry_after_is_read_as_seconds_or_as_an_http_date() {
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

    pub(super) fn argv(parts: &[&str]) -> TokenSource {
        TokenSource::Command(parts.iter().map(|s| s.to_string()).collect())
    }

    #[tokio::test]
    pub(super) async fn a_hung_token_command_is_stopped() {
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
    pub(super) async fn the_token_command_runs_without_a_shell_and_its_output_never_reaches_the_error() {
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

//! Configuration from environment variables, with safe local defaults.
//!
//! Every setting is typed and checked at start-up; a bad value stops the program with a
//! one-line message naming the variable. Secrets (the database password) never appear in
//! `Debug` output or logs.

use app::ssr::db::redact_url;
use std::fmt;
use std::net::SocketAddr;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// A database URL that hides its password when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself (for opening the pool; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redact_url(&self.0))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redact_url(&self.0))
    }
}

/// The company that issues invoices, as printed on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Legal name.
    pub name: String,
    /// Postal address (lines separated by `\n` or `|`).
    pub address: String,
    /// Billing contact email.
    pub email: String,
    /// VAT or tax registration number.
    pub tax_id: String,
    /// Invoice number prefix (`SB`).
    pub invoice_prefix: String,
    /// The logo printed on invoices (`STACKBILL_COMPANY_LOGO`, a PNG or JPEG file), read
    /// and decoded with the configuration: a missing or unreadable file is a configuration
    /// error that names it.
    pub logo: Option<std::sync::Arc<app::ssr::services::invoice_pdf::Logo>>,
}

/// All settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`.
    pub database_url: DatabaseUrl,
    /// `STACKBILL_LISTEN`.
    pub listen: SocketAddr,
    /// `STACKBILL_PUBLIC_URL`.
    pub public_url: String,
    /// `STACKBILL_COOKIE_SECURE` (default: on when the public URL is https).
    pub cookie_secure: bool,
    /// `STACKBILL_SESSION_IDLE_MINUTES`.
    pub session_idle_minutes: i64,
    /// `STACKBILL_TRUST_PROXY`.
    pub trust_proxy: bool,
    /// `STACKBILL_LOG` (falls back to `RUST_LOG`).
    pub log_filter: String,
    /// `STACKBILL_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `STACKBILL_SITE_ROOT` (or `LEPTOS_SITE_ROOT`): the built assets.
    pub site_root: String,
    /// `STACKBILL_DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `LEPTOS_ENV` (`PROD` unless `DEV`).
    pub dev_mode: bool,
    /// `STACKBILL_COMPANY_*` and `STACKBILL_INVOICE_PREFIX`.
    pub company: Company,
    /// `STACKBILL_INGEST_MAX_BYTES`: largest body `POST /api/v1/usage` accepts.
    pub ingest_max_bytes: usize,
    /// `STACKBILL_INVOICE_GRACE_DAYS` (default 3): days after a month ends before its
    /// invoices may be issued, for late usage.
    pub invoice_grace_days: i64,
    /// `STACKBILL_PAYMENT_TERMS_DAYS` (default 30): days from issue to due.
    pub payment_terms_days: i64,
    /// `STACKBILL_INVOICE_FONT`: the CJK font collection invoices are set in (default
    /// Debian's Noto Sans CJK).
    pub invoice_font: String,
    /// `STACKBILL_INGEST_CONCURRENCY`: pushed bodies read at once.
    pub ingest_concurrency: usize,
    /// `STACKBILL_SESSION_MAX_HOURS`: a session ends this long after sign-in, however
    /// active.
    pub session_max_hours: i64,
    /// `STACKBILL_COLLECTOR_INTERVAL_MINUTES`: run the collector inside `serve` this often
    /// (`None`: off).
    pub collector_interval_minutes: Option<i64>,
    /// `STACKBILL_COLLECTOR_SETTLE_MINUTES` and `STACKBILL_COLLECTOR_REPULL_HOURS`: how
    /// long a reported window must have been closed before it is pulled, and how many of
    /// the last closed windows every run pulls again.
    pub collector_timing: crate::collector::Timing,
}

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The default SQLite file, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/stackbill.db";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through a lookup function (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let err = |var: &'static str, message: String| ConfigError { var, message };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "DATABASE_URL",
                format!(
                    "`{}` is not supported; use sqlite:PATH or postgres://USER@HOST:PORT/DB",
                    redact_url(&database_url)
                ),
            ));
        }
        let listen_text = get("STACKBILL_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            err(
                "STACKBILL_LISTEN",
                format!("`{listen_text}` is not an address such as 127.0.0.1:3000"),
            )
        })?;
        let public_url = get("STACKBILL_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(err(
                "STACKBILL_PUBLIC_URL",
                format!("`{public_url}` must start with http:// or https://"),
            ));
        }
        let cookie_secure = match get("STACKBILL_COOKIE_SECURE").as_deref() {
            None | Some("auto") => public_url.starts_with("https://"),
            Some(v) => parse_bool(v)
                .ok_or_else(|| err("STACKBILL_COOKIE_SECURE", format!("`{v}` is not auto, true or false")))?,
        };
        let session_idle_minutes = parse_number(&get, "STACKBILL_SESSION_IDLE_MINUTES", 480, 5, 60 * 24 * 30)?;
        let trust_proxy = match get("STACKBILL_TRUST_PROXY") {
            None => false,
            Some(v) => {
                parse_bool(&v).ok_or_else(|| err("STACKBILL_TRUST_PROXY", format!("`{v}` is not true or false")))?
            }
        };
        let log_filter = get("STACKBILL_LOG")
            .or_else(|| get("RUST_LOG"))
            .unwrap_or_else(|| "info".into());
        let log_format = match get("STACKBILL_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => return Err(err("STACKBILL_LOG_FORMAT", format!("`{v}` is not text or json"))),
        };
        let site_root = get("STACKBILL_SITE_ROOT")
            .or_else(|| get("LEPTOS_SITE_ROOT"))
            .unwrap_or_else(|| "target/site".into());
        let db_max_connections = parse_number(&get, "STACKBILL_DB_MAX_CONNECTIONS", 8, 1, 256)? as u32;
        let dev_mode = get("LEPTOS_ENV").is_some_and(|v| v.eq_ignore_ascii_case("dev"));
        let invoice_prefix = get("STACKBILL_INVOICE_PREFIX").unwrap_or_else(|| "SB".into());
        // The domain's rule, so a prefix accepted here can always number an invoice.
        if let Err(e) = app::billing::InvoiceNumber::validate_prefix(&invoice_prefix) {
            return Err(err("STACKBILL_INVOICE_PREFIX", e.to_string()));
        }
        let company = Company {
            name: get("STACKBILL_COMPANY_NAME").unwrap_or_else(|| "Your CSP Ltd".into()),
            address: get("STACKBILL_COMPANY_ADDRESS").unwrap_or_default(),
            email: get("STACKBILL_COMPANY_EMAIL").unwrap_or_default(),
            tax_id: get("STACKBILL_COMPANY_TAX_ID").unwrap_or_default(),
            invoice_prefix,
            logo: match get("STACKBILL_COMPANY_LOGO").filter(|p| !p.trim().is_empty()) {
                None => None,
                Some(path) => Some(std::sync::Arc::new(
                    app::ssr::services::invoice_pdf::Logo::load(std::path::Path::new(path.trim()))
                        .map_err(|e| err("STACKBILL_COMPANY_LOGO", e))?,
                )),
            },
        };
        let ingest_max_bytes =
            parse_number(&get, "STACKBILL_INGEST_MAX_BYTES", 32 * 1024 * 1024, 1024, 1 << 32)? as usize;
        let ingest_concurrency = parse_number(&get, "STACKBILL_INGEST_CONCURRENCY", 2, 1, 64)? as usize;
        let invoice_grace_days = parse_number(&get, "STACKBILL_INVOICE_GRACE_DAYS", 3, 0, 60)?;
        let payment_terms_days = parse_number(&get, "STACKBILL_PAYMENT_TERMS_DAYS", 30, 0, 365)?;
        let invoice_font =
            get("STACKBILL_INVOICE_FONT").unwrap_or_else(|| app::ssr::services::invoice_pdf::DEFAULT_FONT.to_owned());
        let session_max_hours = parse_number(&get, "STACKBILL_SESSION_MAX_HOURS", 12, 1, 24 * 30)?;
        let collector_interval_minutes = match get("STACKBILL_COLLECTOR_INTERVAL_MINUTES") {
            None => None,
            Some(_) => Some(parse_number(
                &get,
                "STACKBILL_COLLECTOR_INTERVAL_MINUTES",
                15,
                1,
                24 * 60,
            )?),
        };
        let settle = get("STACKBILL_COLLECTOR_SETTLE_MINUTES");
        let repull = get("STACKBILL_COLLECTOR_REPULL_HOURS");
        let number = |var: &'static str, v: &Option<String>, default: i64| -> Result<i64, ConfigError> {
            match v {
                None => Ok(default),
                Some(t) => t
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| err(var, format!("`{t}` is not a whole number"))),
            }
        };
        let settle_minutes = number("STACKBILL_COLLECTOR_SETTLE_MINUTES", &settle, 15)?;
        let repull_hours = number("STACKBILL_COLLECTOR_REPULL_HOURS", &repull, 2)?;
        let collector_timing = crate::collector::Timing::new(settle_minutes, repull_hours).map_err(|m| {
            if (0..=24 * 60).contains(&settle_minutes) {
                err("STACKBILL_COLLECTOR_REPULL_HOURS", m)
            } else {
                err("STACKBILL_COLLECTOR_SETTLE_MINUTES", m)
            }
        })?;
        Ok(Config {
            database_url: DatabaseUrl(database_url),
            listen,
            public_url,
            cookie_secure,
            session_idle_minutes,
            trust_proxy,
            log_filter,
            log_format,
            site_root,
            db_max_connections,
            dev_mode,
            invoice_grace_days,
            payment_terms_days,
            invoice_font,
            company,
            ingest_max_bytes,
            ingest_concurrency,
            session_max_hours,
            collector_interval_minutes,
            collector_timing,
        })
    }

    /// A configuration for tests and tools: the given database, everything else default.
    pub fn for_database(url: &str) -> Config {
        let url = url.to_owned();
        Self::from_lookup(move |k| (k == "DATABASE_URL").then(|| url.clone())).expect("default configuration")
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| ConfigError {
                var,
                message: format!("`{v}` is not a whole number from {min} to {max}"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_local_and_safe() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url.expose(), "sqlite:data/stackbill.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert!(!c.cookie_secure);
        assert!(!c.trust_proxy);
        assert_eq!(c.company.invoice_prefix, "SB");
    }

    #[test]
    fn a_settle_lag_that_is_negative_or_longer_than_a_day_is_refused_by_name() {
        let c = config(&[]).unwrap();
        assert_eq!(c.collector_timing, crate::collector::Timing::default());
        for bad in ["-5", "1441", "soon"] {
            let e = config(&[("STACKBILL_COLLECTOR_SETTLE_MINUTES", bad)]).unwrap_err();
            assert_eq!(e.var, "STACKBILL_COLLECTOR_SETTLE_MINUTES", "{bad}");
        }
        let e = config(&[("STACKBILL_COLLECTOR_SETTLE_MINUTES", "-5")]).unwrap_err();
        assert!(e.to_string().contains("0 to 1440 minutes"), "{e}");
        let e = config(&[("STACKBILL_COLLECTOR_REPULL_HOURS", "25")]).unwrap_err();
        assert_eq!(e.var, "STACKBILL_COLLECTOR_REPULL_HOURS");
        let c = config(&[
            ("STACKBILL_COLLECTOR_SETTLE_MINUTES", "0"),
            ("STACKBILL_COLLECTOR_REPULL_HOURS", "0"),
        ])
        .unwrap();
        assert_eq!(c.collector_timing.settle, chrono::Duration::zero());
    }

    /// A 4 × 2 pixel PNG (blue), written by hand.
    const TINY_PNG: [u8; 73] = [
        137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 2, 8, 2, 0, 0, 0, 240, 202,
        234, 52, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 80, 9, 185, 6, 71, 12, 200, 28, 0, 130, 58, 10, 113, 113,
        232, 136, 44, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
    ];

    #[test]
    fn a_company_logo_is_read_at_start_up_and_a_missing_or_unreadable_one_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("stackbill-logo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("logo.png");
        std::fs::write(&good, TINY_PNG).unwrap();
        let c = config(&[("STACKBILL_COMPANY_LOGO", good.to_str().unwrap())]).unwrap();
        assert_eq!(c.company.logo.as_ref().map(|l| l.pixels()), Some((4, 2)));
        assert!(config(&[]).unwrap().company.logo.is_none());

        let missing = dir.join("missing.png");
        let e = config(&[("STACKBILL_COMPANY_LOGO", missing.to_str().unwrap())]).unwrap_err();
        assert_eq!(e.var, "STACKBILL_COMPANY_LOGO");
        assert!(e.to_string().contains("missing.png"), "{e}");
        let text = dir.join("logo.txt");
        std::fs::write(&text, "not an image").unwrap();
        let e = config(&[("STACKBILL_COMPANY_LOGO", text.to_str().unwrap())]).unwrap_err();
        assert!(e.to_string().contains("is not a PNG or JPEG image"), "{e}");
        let truncated = dir.join("cut.png");
        std::fs::write(&truncated, &TINY_PNG[..40]).unwrap();
        assert!(config(&[("STACKBILL_COMPANY_LOGO", truncated.to_str().unwrap())]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn https_public_urls_make_cookies_secure() {
        let c = config(&[("STACKBILL_PUBLIC_URL", "https://billing.example.com/")]).unwrap();
        assert!(c.cookie_secure);
        assert_eq!(c.public_url, "https://billing.example.com");
        let c = config(&[
            ("STACKBILL_PUBLIC_URL", "https://b.example"),
            ("STACKBILL_COOKIE_SECURE", "false"),
        ])
        .unwrap();
        assert!(!c.cookie_secure);
    }

    #[test]
    fn bad_values_name_their_variable_and_hide_passwords() {
        let e = config(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert_eq!(
            config(&[("STACKBILL_LISTEN", "localhost")]).unwrap_err().var,
            "STACKBILL_LISTEN"
        );
        assert_eq!(
            config(&[("STACKBILL_COOKIE_SECURE", "maybe")]).unwrap_err().var,
            "STACKBILL_COOKIE_SECURE"
        );
        assert_eq!(
            config(&[("STACKBILL_DB_MAX_CONNECTIONS", "0")]).unwrap_err().var,
            "STACKBILL_DB_MAX_CONNECTIONS"
        );
        for prefix in ["a b", "SB-", "-SB", "THIRTEENCHARS"] {
            assert_eq!(
                config(&[("STACKBILL_INVOICE_PREFIX", prefix)]).unwrap_err().var,
                "STACKBILL_INVOICE_PREFIX",
                "{prefix:?}"
            );
        }
        assert_eq!(
            config(&[("STACKBILL_INVOICE_PREFIX", "CSP-TW")])
                .unwrap()
                .company
                .invoice_prefix,
            "CSP-TW"
        );
    }

    #[test]
    fn the_database_password_never_shows_in_debug_output() {
        let c = config(&[("DATABASE_URL", "postgres://billing:s3cret@db:5432/stackbill")]).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("postgres://billing:***@db:5432/stackbill"));
    }
}

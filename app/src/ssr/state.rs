//! Application state shared by server functions, routes and the command line.

use super::clock::Clock;
use super::db::Db;

/// Settings the application code needs (a typed subset of the server configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach Stackbill (`https://billing.example.com`); used in messages.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// Failed sign-ins allowed per account and per client address within the window.
    pub sign_in_max_failures: i64,
    /// The throttling window in seconds.
    pub sign_in_window_secs: i64,
    /// Cookies set by the application are `Secure` (Stackbill is reached over https).
    pub cookie_secure: bool,
    /// Invoice numbers' prefix where a registration has none (`STACKBILL_INVOICE_PREFIX`).
    pub invoice_prefix: String,
    /// Days after a month ends during which late usage may still arrive: its invoices
    /// cannot be issued before (`STACKBILL_INVOICE_GRACE_DAYS`).
    pub invoice_grace_days: i64,
    /// Days from issue to due (`STACKBILL_PAYMENT_TERMS_DAYS`).
    pub payment_terms_days: i64,
    /// The company printed on invoices (`STACKBILL_COMPANY_*`).
    pub company: crate::ssr::services::invoice_pdf::Company,
    /// The CJK font collection invoices are set in (`STACKBILL_INVOICE_FONT`).
    pub invoice_font: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: "http://127.0.0.1:3000".into(),
            trust_proxy: false,
            sign_in_max_failures: 5,
            sign_in_window_secs: 15 * 60,
            cookie_secure: false,
            invoice_prefix: "SB".into(),
            invoice_grace_days: 3,
            payment_terms_days: 30,
            company: crate::ssr::services::invoice_pdf::Company {
                name: "Your CSP Ltd".into(),
                ..Default::default()
            },
            invoice_font: crate::ssr::services::invoice_pdf::DEFAULT_FONT.into(),
        }
    }
}

/// Everything a request handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The clock.
    pub clock: Clock,
    /// Settings.
    pub settings: Settings,
    /// Invoice runs started from the finance screen, with their progress.
    pub jobs: std::sync::Arc<crate::ssr::services::jobs::Jobs>,
    /// Rated figures kept while the data they come from is unchanged.
    pub caches: std::sync::Arc<crate::ssr::services::cache::Caches>,
}

impl AppState {
    /// State over a database with the system clock.
    pub fn new(db: Db, settings: Settings) -> Self {
        AppState {
            db,
            clock: Clock::system(),
            settings,
            jobs: Default::default(),
            caches: Default::default(),
        }
    }

    /// Now, as Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

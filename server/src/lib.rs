//! The `stackbill` server: builds the web application (axum + Leptos SSR), the REST API
//! and the command line around the `app` crate.
//!
//! [`build_app`] assembles the same router that `stackbill serve` runs and the HTTP tests
//! start on port 0, so the tests exercise the real thing.

pub mod cli;
pub mod collector;
pub mod config;
pub mod demo;
pub mod routes;
pub mod telemetry;

use app::ssr::db::{Db, PoolSettings};
use app::ssr::{AppState, Clock, Settings};
use app::{shell, App};
use axum::Router;
use config::Config;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// The axum state: Leptos' options plus the application state.
#[derive(Clone, Debug)]
pub struct ServerState {
    /// Leptos options (asset paths).
    pub leptos: LeptosOptions,
    /// Database, clock and settings.
    pub app: AppState,
    /// Slots for reading pushed usage bodies (each up to `ingest_max_bytes` in memory).
    pub uploads: std::sync::Arc<tokio::sync::Semaphore>,
    /// Largest pushed usage body.
    pub ingest_max_bytes: usize,
}

impl axum::extract::FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.leptos.clone()
    }
}

impl axum::extract::FromRef<ServerState> for AppState {
    fn from_ref(state: &ServerState) -> Self {
        state.app.clone()
    }
}

/// Largest body the pages' server functions accept (a sign-in form is a few hundred
/// bytes); anything larger is answered 413 before it is read.
pub const SERVER_FN_BODY_LIMIT: usize = 64 * 1024;

/// Opens the database, applies migrations and synchronises the meter catalogue. Any
/// failure is returned as a one-line message: the caller must not start serving.
pub async fn open_database(config: &Config, clock: &Clock) -> Result<Db, String> {
    let settings = PoolSettings {
        max_connections: config.db_max_connections,
        ..PoolSettings::default()
    };
    let db = Db::connect(config.database_url.expose(), &settings)
        .await
        .map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    app::ssr::services::catalogue::sync_meter_catalogue(&db, clock.now().timestamp())
        .await
        .map_err(|e| format!("cannot load the meter catalogue: {e}"))?;
    // Work a migration asked for that needs the application (e.g. rebuilding rollups
    // exactly); done once, before anything reads the data.
    app::ssr::services::maintenance::run_pending(&db)
        .await
        .map_err(|e| format!("post-migration maintenance failed: {e}"))?;
    Ok(db)
}

/// The application settings derived from the configuration.
pub fn settings(config: &Config) -> Settings {
    Settings {
        public_url: config.public_url.clone(),
        trust_proxy: config.trust_proxy,
        cookie_secure: config.cookie_secure,
        invoice_prefix: config.company.invoice_prefix.clone(),
        invoice_grace_days: config.invoice_grace_days,
        payment_terms_days: config.payment_terms_days,
        company: app::ssr::services::invoice_pdf::Company {
            name: config.company.name.clone(),
            address: config.company.address.replace("\\n", "\n"),
            email: config.company.email.clone(),
            tax_id: config.company.tax_id.clone(),
            logo: config.company.logo.clone(),
        },
        invoice_font: config.invoice_font.clone(),
        ..Settings::default()
    }
}

/// The app's routes, generated once per process. Generating them runs the whole app with
/// resource loading suppressed by a process-wide flag (leptos_server's
/// `SuppressResourceLoad`): a resource first polled by a page rendering on another thread
/// meanwhile would wait forever (leptos-rs/leptos#4773). A server builds its router once, so
/// that never happens in production; tests build an app per test on parallel threads, and
/// did hang now and then before the list was shared.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Builds the whole web application over an open database.
pub fn build_app(config: &Config, state: AppState) -> Router {
    let leptos = LeptosOptions::builder()
        .output_name("stackbill")
        .site_root(config.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(if config.dev_mode {
            leptos::config::Env::DEV
        } else {
            leptos::config::Env::PROD
        })
        .build();
    let server_state = ServerState {
        leptos,
        app: state.clone(),
        uploads: std::sync::Arc::new(tokio::sync::Semaphore::new(config.ingest_concurrency)),
        ingest_max_bytes: config.ingest_max_bytes,
    };
    // The API page renders the same document `/api/openapi.json` serves.
    app::ssr::services::api_reference::install(routes::openapi::document());
    let policy = std::sync::Arc::new(routes::security::Policy::new(&config.public_url));
    let routes = route_list();
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };

    let store = app::ssr::db::sessions::DbSessionStore::new(state.db.clone())
        .with_max_lifetime(config.session_max_hours * 3600);
    let sessions = SessionManagerLayer::new(store)
        .with_name(routes::security::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.cookie_secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            config.session_idle_minutes,
        )));

    let pages = Router::new()
        .leptos_routes_with_context(&server_state, routes, context.clone(), {
            let leptos = server_state.leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<ServerState, _>(
            context, shell,
        ))
        .layer(axum::middleware::from_fn(routes::server_fn_status::fix_status))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(SERVER_FN_BODY_LIMIT));

    // Outermost first: trace, headers (every answer, refusals included), the same-origin
    // rule (before sessions are loaded or bodies read), then sessions.
    Router::new()
        .merge(routes::health::router())
        .nest("/api/v1", routes::api::router().merge(routes::ingest::router()))
        .route("/api/openapi.json", axum::routing::get(routes::openapi::serve))
        .merge(routes::azure::router())
        .route("/invoices/{file}", axum::routing::get(routes::invoices::pdf))
        .merge(pages)
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            policy.clone(),
            routes::security::require_same_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(policy, routes::security::headers))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(server_state)
}

/// A running server (for tests and `serve`).
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (the same database).
    pub state: AppState,
    /// The serving task.
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Installs rustls' ring crypto provider for HTTPS clients (the collector). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Binds and serves in the background. Port 0 picks a free port.
pub async fn spawn(config: &Config, state: AppState) -> std::io::Result<Running> {
    install_crypto_provider();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let router = build_app(config, state.clone());
    let handle = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    Ok(Running { addr, state, handle })
}

/// Deletes expired sessions and stale sign-in failures every few minutes.
pub fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        use tower_sessions::session_store::ExpiredDeletion;
        let store = app::ssr::db::sessions::DbSessionStore::new(state.db.clone());
        loop {
            tokio::time::sleep(Duration::from_secs(300)).await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
            if let Err(e) = app::ssr::services::accounts::prune_sign_in_failures(&state).await {
                tracing::warn!(error = %e, "could not prune sign-in failures");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

//! Server functions: thin. Each one resolves its caller, asks [`authorize`] for the
//! access it needs, calls a service and returns its result or an [`AppError`].
//!
//! They live at stable URLs under `/api/fn/` so that scripts and tests can call them.
//!
//! [`authorize`]: crate::ssr::auth::authorize
//! [`AppError`]: crate::error::AppError

pub mod account;
pub mod console;
pub mod invoices;
pub mod overview;
pub mod portal;
pub mod prices;
pub mod reference;

#[cfg(feature = "ssr")]
pub mod context {
    //! Request context for server functions.

    use crate::error::AppError;
    use crate::ssr::auth::{self, Access, Caller};
    use crate::ssr::state::AppState;
    use axum::extract::ConnectInfo;
    use http::request::Parts;
    use leptos::prelude::*;
    use std::net::SocketAddr;
    use tower_sessions::Session;

    /// The application state provided to every server function.
    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| auth::internal("context", "AppState missing"))
    }

    /// The request's session.
    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|e| auth::internal("session", e))
    }

    /// The client address (socket peer, or `X-Forwarded-For` behind a trusted proxy).
    pub fn client_addr(state: &AppState) -> String {
        let parts = use_context::<Parts>();
        let peer = parts
            .as_ref()
            .and_then(|p| p.extensions.get::<ConnectInfo<SocketAddr>>())
            .map(|ConnectInfo(addr)| *addr);
        let forwarded = parts
            .as_ref()
            .and_then(|p| p.headers.get("x-forwarded-for"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        auth::client_addr(state, peer, forwarded.as_deref())
    }

    /// The caller (see [`auth::resolve_caller`], shared with `/api/v1`).
    pub async fn caller(state: &AppState) -> Result<Option<Caller>, AppError> {
        let authorization = use_context::<Parts>().and_then(|p| p.headers.get(http::header::AUTHORIZATION).cloned());
        let session = session().await?;
        auth::resolve_caller(state, authorization.as_ref(), Some(&session)).await
    }

    /// The authorisation step of every server function: who is calling, and may they.
    pub async fn require(access: Access) -> Result<(AppState, Caller), AppError> {
        let state = state()?;
        let caller = caller(&state).await?;
        let caller = auth::authorize(caller, access)?;
        Ok((state, caller))
    }

    /// The value of a cookie of the request.
    pub fn cookie(name: &str) -> Option<String> {
        let parts = use_context::<Parts>()?;
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// The `Accept-Language` header of the request.
    pub fn accept_language() -> Option<String> {
        use_context::<Parts>()
            .and_then(|p| p.headers.get(http::header::ACCEPT_LANGUAGE).cloned())
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }
}

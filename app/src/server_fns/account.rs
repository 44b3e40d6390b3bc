//! Signing in and out, and who is signed in.

use crate::error::AppError;
use crate::i18n::Locale;
use crate::types::CurrentUser;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What every page needs to know about the visitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visitor {
    /// The signed-in person, if any.
    pub user: Option<CurrentUser>,
    /// Language for the interface: the user's choice, else the browser's.
    pub locale: Locale,
}

/// Who is signed in (for the navigation and the page guards).
#[server(prefix = "/api/fn", endpoint = "visitor")]
pub async fn get_visitor() -> Result<Visitor, AppError> {
    use super::context;
    let state = context::state()?;
    let browser_locale = context::accept_language()
        .map(|h| Locale::from_accept_language(&h))
        .unwrap_or_default();
    let Some(caller) = context::caller(&state).await? else {
        return Ok(Visitor {
            user: None,
            locale: browser_locale,
        });
    };
    match crate::ssr::services::accounts::signed_in_user(&state, &caller).await? {
        Some(user) => Ok(Visitor {
            locale: user.locale,
            user: Some(user),
        }),
        None => Ok(Visitor {
            user: None,
            locale: browser_locale,
        }),
    }
}

/// The cookie naming a browser that signed in to an account before.
#[cfg(feature = "ssr")]
const DEVICE_COOKIE: &str = "stackbill_device";

/// Signs in with email and password. On success the session id is renewed (so a session
/// id planted before sign-in is worthless) and the browser is sent to the role's home.
#[server(prefix = "/api/fn", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use super::context;
    use crate::ssr::auth::internal;
    use crate::ssr::db::sessions::USER_ID_KEY;
    use crate::ssr::services::accounts;
    use crate::types::Role;
    let state = context::state()?;
    let client = context::client_addr(&state);
    let device = context::cookie(DEVICE_COOKIE);
    let signed_in = accounts::sign_in(&state, &email, &password, &client, device.as_deref()).await?;
    let user = signed_in.user;
    let session = context::session().await?;
    session.cycle_id().await.map_err(|e| internal("session cycle", e))?;
    session
        .insert(USER_ID_KEY, user.id)
        .await
        .map_err(|e| internal("session write", e))?;
    if let Some(token) = signed_in.new_device {
        // Remembers this browser for this account for a year: failed guesses from other
        // browsers never slow it down (see accounts::sign_in).
        let secure = if state.settings.cookie_secure { "; Secure" } else { "" };
        let cookie = format!("{DEVICE_COOKIE}={token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}");
        if let Ok(value) = http::HeaderValue::from_str(&cookie) {
            expect_context::<leptos_axum::ResponseOptions>().append_header(http::header::SET_COOKIE, value);
        }
    }
    let home = Role::parse(&user.role).map(|r| r.home_path()).unwrap_or("/");
    leptos_axum::redirect(home);
    Ok(())
}

/// Signs out: the session is deleted on the server, not only forgotten by the browser.
#[server(prefix = "/api/fn", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::context;
    use crate::ssr::auth::internal;
    use crate::ssr::services::accounts;
    let state = context::state()?;
    if let Some(caller) = context::caller(&state).await? {
        accounts::record_sign_out(&state, &caller, &context::client_addr(&state)).await?;
    }
    let session = context::session().await?;
    session.flush().await.map_err(|e| internal("session delete", e))?;
    leptos_axum::redirect("/sign-in");
    Ok(())
}

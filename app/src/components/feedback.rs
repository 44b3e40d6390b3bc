//! Errors and empty states.

use crate::context::use_locale;
use crate::error::{AppError, ErrorKind};
use crate::i18n::{text, Msg};
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Sets the HTTP status of the server-rendered response (no-op in the browser).
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(code) {
            options.set_status(status);
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

/// Shows an error from a server function: sign-in redirect for 401, a "no access" page
/// for 403, "not found" for 404, the message otherwise — with the matching HTTP status.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let locale = use_locale();
    if error.kind == ErrorKind::Unauthenticated {
        return view! { <Redirect path="/sign-in"/> }.into_any();
    }
    set_status(error.status());
    let (title, body) = match error.kind {
        ErrorKind::Forbidden => (text(locale.get_untracked(), Msg::ForbiddenTitle), error.message.clone()),
        ErrorKind::NotFound => (text(locale.get_untracked(), Msg::NotFoundTitle), error.message.clone()),
        _ => (text(locale.get_untracked(), Msg::ErrorTitle), error.message.clone()),
    };
    view! {
        <section class="panel panel-error" data-testid="error-panel" data-code=error.code.clone()>
            <h1>{title}</h1>
            <p>{body}</p>
            <p><a class="btn" href="/">{move || text(locale.get(), Msg::BackHome)}</a></p>
        </section>
    }
    .into_any()
}

/// A placeholder while a page's data loads.
#[component]
pub fn Loading() -> impl IntoView {
    let locale = use_locale();
    view! { <p class="muted loading">{move || text(locale.get(), Msg::Loading)}</p> }
}

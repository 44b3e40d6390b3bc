//! What every page and component may ask for: who is visiting, the actions that change
//! it, and the visitor's locale. Provided once by the root component; kept apart from
//! `app.rs` so that components and pages depend on it and not on the router.

use crate::error::AppError;
use crate::i18n::Locale;
use crate::server_fns::account::{get_visitor, SignIn, SignOut, Visitor};
use leptos::prelude::*;

/// Who is visiting, and the actions that change it. Provided to every page.
#[derive(Clone, Copy)]
pub struct Auth {
    /// The visitor; refetched after signing in or out.
    pub visitor: Resource<Result<Visitor, AppError>>,
    /// The sign-in action (the sign-in form posts to it).
    pub sign_in: ServerAction<SignIn>,
    /// The sign-out action (the button in the header posts to it).
    pub sign_out: ServerAction<SignOut>,
    /// The visitor's locale (English until known). Created once, under the root owner: a
    /// signal derived inside a page or a Suspense fallback is disposed with it, and a late
    /// re-render of that fallback would then read a disposed value.
    pub locale: Signal<Locale>,
}

/// Creates and provides the [`Auth`] context (the root component calls it once).
pub fn provide_auth() {
    let sign_in = ServerAction::<SignIn>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let visitor = Resource::new(
        move || (sign_in.version().get(), sign_out.version().get()),
        |_| get_visitor(),
    );
    let locale = Signal::derive(move || visitor.get().and_then(Result::ok).map(|v| v.locale).unwrap_or_default());
    provide_context(Auth {
        visitor,
        sign_in,
        sign_out,
        locale,
    });
}

/// The [`Auth`] context.
pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// The locale of the current visitor (English until known).
pub fn use_locale() -> Signal<Locale> {
    use_auth().locale
}

/// Whether the visitor runs, issues and voids invoices (finance and operators). Pages hide
/// those controls otherwise; the services refuse the writes either way.
pub fn use_can_invoice() -> bool {
    use_auth()
        .visitor
        .get_untracked()
        .and_then(Result::ok)
        .and_then(|v| v.user)
        .is_some_and(|u| matches!(u.role, crate::types::Role::Finance | crate::types::Role::Operator))
}

/// Whether the visitor may change things in the console (operators; finance reads only).
/// Pages hide write controls otherwise; the services refuse the writes either way.
pub fn use_can_edit() -> bool {
    use_auth()
        .visitor
        .get_untracked()
        .and_then(Result::ok)
        .and_then(|v| v.user)
        .is_some_and(|u| u.role == crate::types::Role::Operator)
}

//! The 404 page.

use crate::components::feedback::set_status;
use crate::components::layout::{use_locale, Brand};
use crate::i18n::{text, Msg};
use leptos::prelude::*;
use leptos_meta::{Html, Title};

/// Shown for any address that is not a page; answers 404.
#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    let locale = use_locale();
    view! {
        <Title text="Not found · Stackbill"/>
        <Html {..} lang=move || locale.get().tag()/>
        <div class="centered-page">
            <div class="card card-narrow" data-testid="not-found">
                <Brand/>
                <h1>{move || text(locale.get(), Msg::NotFoundTitle)}</h1>
                <p class="muted">{move || text(locale.get(), Msg::NotFoundBody)}</p>
                <p><a class="btn btn-primary" href="/">{move || text(locale.get(), Msg::BackHome)}</a></p>
            </div>
        </div>
    }
}

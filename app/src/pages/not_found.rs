//! The 404 page.

use crate::components::feedback::set_status;
use crate::components::layout::Brand;
use crate::context::use_auth;
use crate::i18n::{text, Msg};
use leptos::prelude::*;
use leptos_meta::{Html, Title};

/// Shown for any address that is not a page; answers 404.
#[component]
pub fn NotFound() -> impl IntoView {
    // Set before anything waits, so the status is in place before the response starts.
    set_status(404);
    let auth = use_auth();
    view! {
        <Title text="Not found · Stackbill"/>
        <Suspense fallback=|| view! { <div class="loading-page"></div> }>
            {move || Suspend::new(async move {
                let locale = auth.visitor.await.map(|v| v.locale).unwrap_or_default();
                view! {
                    <Html {..} lang=locale.tag()/>
                    <div class="centered-page">
                        <div class="card card-narrow" data-testid="not-found">
                            <Brand/>
                            <h1>{text(locale, Msg::NotFoundTitle)}</h1>
                            <p class="muted">{text(locale, Msg::NotFoundBody)}</p>
                            <p><a class="btn btn-primary" href="/">{text(locale, Msg::BackHome)}</a></p>
                        </div>
                    </div>
                }
            })}
        </Suspense>
    }
}

//! The scaffold of every data page: load a resource, show a placeholder while it loads,
//! the error panel (with the right HTTP status) when it fails, the page when it arrives.

use crate::components::feedback::{ErrorPanel, Loading};
use crate::context::use_locale;
use crate::error::AppError;
use crate::i18n::Locale;
use leptos::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

/// Renders `view(data, locale)` once `data` has loaded, or its error.
#[component]
pub fn DataPage<T, F, V>(
    /// The page's data (created by the page with `Resource::new`).
    data: Resource<Result<T, AppError>>,
    /// The page body, given the data and the visitor's locale.
    view: F,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(T, Locale) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let locale = use_locale();
    view! {
        <Suspense fallback=|| view! { <Loading/> }>
            {move || {
                let view = view.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(d) => view(d, locale.get_untracked()).into_any(),
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

//! `/`: sends each person to their role's home.

use crate::context::use_auth;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Redirects to the role's home page (the layout already sent anonymous visitors to the
/// sign-in page).
#[component]
pub fn HomeRedirect() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let target = auth
                    .visitor
                    .await
                    .ok()
                    .and_then(|v| v.user)
                    .map(|u| u.role.home_path())
                    .unwrap_or("/sign-in");
                view! { <Redirect path=target/> }
            })}
        </Suspense>
    }
}

//! `/sign-in`.

use crate::components::layout::Brand;
use crate::context::use_auth;
use crate::error::AppError;
use crate::i18n::{invalid_credentials, retry_in_minutes, text, Locale, Msg};
use leptos::prelude::*;
use leptos_meta::{Html, Title};
use leptos_router::components::Redirect;

fn error_text(locale: Locale, e: &AppError) -> String {
    match e.code.as_str() {
        "invalid_credentials" => invalid_credentials(locale).to_owned(),
        "too_many_attempts" => retry_in_minutes(locale, e.retry_after_secs.unwrap_or(60)),
        _ => e.message.clone(),
    }
}

/// The sign-in form. Works before hydration too: the form posts to the server function,
/// which redirects to the role's home page.
#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Title text="Sign in · Stackbill"/>
        <Suspense fallback=|| view! { <div class="loading-page"></div> }>
            {move || Suspend::new(async move {
                let visitor = auth.visitor.await.ok();
                let locale = visitor.as_ref().map(|v| v.locale).unwrap_or_default();
                if let Some(user) = visitor.and_then(|v| v.user) {
                    return view! { <Redirect path=user.role.home_path()/> }.into_any();
                }
                view! { <SignInForm locale/> }.into_any()
            })}
        </Suspense>
    }
}

#[component]
fn SignInForm(locale: Locale) -> impl IntoView {
    let auth = use_auth();
    let pending = auth.sign_in.pending();
    let error = move || {
        auth.sign_in
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_text(locale, &e))
    };
    view! {
        <Html {..} lang=locale.tag()/>
        <div class="centered-page signin-page">
            <div class="card card-narrow">
                <Brand/>
                <p class="muted tagline">{text(locale, Msg::Tagline)}</p>
                <h1>{text(locale, Msg::SignInTitle)}</h1>
                <ActionForm action=auth.sign_in attr:class="form" attr:data-testid="sign-in-form">
                    <label class="field">
                        <span>{text(locale, Msg::Email)}</span>
                        <input type="email" name="email" autocomplete="username" required maxlength="254"/>
                    </label>
                    <label class="field">
                        <span>{text(locale, Msg::Password)}</span>
                        <input type="password" name="password" autocomplete="current-password" required maxlength="1024"/>
                    </label>
                    <Show when=move || error().is_some()>
                        <p class="form-error" role="alert" data-testid="sign-in-error">{error}</p>
                    </Show>
                    <button type="submit" class="btn btn-primary btn-block" disabled=move || pending.get()>
                        {move || if pending.get() { text(locale, Msg::SigningIn) } else { text(locale, Msg::SignInButton) }}
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}

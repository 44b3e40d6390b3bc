//! Form building blocks for the console: fields that show their own error, a form-level
//! alert, and links that carry a list's filter.
//!
//! Every form is an `ActionForm`: once hydrated it posts with `fetch`; before hydration
//! it is a plain HTML form post to the same server function, which redirects back to the
//! page with the error in the address (`__path`, `__err`). [`form_error`] reads either, so
//! an error appears next to its field with or without JavaScript.

use crate::error::AppError;
use base64::Engine as _;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The error of the last submission to the server function at `path`: the hydrated
/// action's error, else the one a plain form post left in the address.
pub fn form_error<O, V>(value: V, path: &'static str) -> Signal<Option<AppError>>
where
    O: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<O, AppError>>> + Send + Sync + 'static,
{
    let from_url = url_error(path);
    Signal::derive(move || match value.get() {
        Some(Err(e)) => Some(e),
        Some(Ok(_)) => None,
        None => from_url.clone(),
    })
}

/// How many submissions of an action have succeeded (in the browser). A page keys its
/// resource on it when the action's redirect lands on the same address: the page then
/// loads what was saved, while a refused submission keeps what the person typed.
pub fn success_count<O, V>(value: V) -> ReadSignal<u32>
where
    O: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<O, AppError>>> + Send + Sync + 'static,
{
    let (count, set_count) = signal(0u32);
    // Only the browser submits: no effect is created while rendering on the server.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            set_count.update(|n| *n += 1);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (value, set_count);
    count
}

/// How many submissions of an action have succeeded with an outcome that `saved` accepts
/// (an upload that was checked is not a change; one that was saved is).
pub fn success_count_if<O, V>(value: V, saved: fn(&O) -> bool) -> ReadSignal<u32>
where
    O: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<O, AppError>>> + Send + Sync + 'static,
{
    let (count, set_count) = signal(0u32);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(ref o)) if saved(o)) {
            set_count.update(|n| *n += 1);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (value, set_count, saved);
    count
}

/// The error a plain (pre-hydration) form post to `path` left in the address.
fn url_error(path: &str) -> Option<AppError> {
    let query = use_query_map();
    query.with_untracked(|q| {
        if q.get_str("__path") != Some(path) {
            return None;
        }
        let raw = q.get_str("__err")?;
        let bytes = base64::engine::general_purpose::URL_SAFE.decode(raw).ok()?;
        serde_json::from_slice::<AppError>(&bytes).ok()
    })
}

/// The message of `error` if it concerns `field`.
pub fn error_for(error: Signal<Option<AppError>>, field: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || {
        error
            .get()
            .filter(|e| e.field.as_deref() == Some(field))
            .map(|e| e.message)
    })
}

/// A labelled text input (or text area) with its error underneath.
#[component]
pub fn TextField(
    /// Visible label (also the accessible name).
    label: &'static str,
    /// The input's name in the post (`form[name]`).
    name: &'static str,
    /// The field an error names (`name`).
    field: &'static str,
    /// Current value.
    #[prop(into)]
    value: String,
    /// The form's error.
    error: Signal<Option<AppError>>,
    /// `text`, `email`, `date`, …
    #[prop(default = "text")]
    kind: &'static str,
    /// Required.
    #[prop(optional)]
    required: bool,
    /// A multi-line text area.
    #[prop(optional)]
    multiline: bool,
    /// A hint under the label.
    #[prop(optional, into)]
    hint: Option<String>,
    /// Test id of the input.
    #[prop(optional)]
    testid: &'static str,
) -> impl IntoView {
    let message = error_for(error, field);
    let id = format!("f-{field}");
    let described = format!("{id}-error");
    let input = if multiline {
        view! {
            <textarea id=id.clone() name=name rows="3" required=required data-testid=testid
                aria-invalid=move || message.get().is_some().to_string() aria-describedby=described.clone()>{value}</textarea>
        }
        .into_any()
    } else {
        view! {
            <input id=id.clone() type=kind name=name value=value required=required data-testid=testid
                aria-invalid=move || message.get().is_some().to_string() aria-describedby=described.clone()/>
        }
        .into_any()
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|h| view! { <span class="field-hint">{h}</span> })}
            {input}
            <span class="field-error" id=format!("f-{field}-error") role="alert" data-testid=format!("error-{field}")>
                {move || message.get()}
            </span>
        </div>
    }
}

/// The form's error when it names no field shown in the form (or no field at all).
#[component]
pub fn FormAlert(
    /// The form's error.
    error: Signal<Option<AppError>>,
    /// The fields the form shows next to their inputs.
    fields: &'static [&'static str],
) -> impl IntoView {
    let general = move || {
        error
            .get()
            .filter(|e| e.field.as_deref().is_none_or(|f| !fields.contains(&f)))
            .map(|e| e.message)
    };
    view! {
        <Show when=move || general().is_some()>
            <p class="form-error" role="alert" data-testid="form-error">{general}</p>
        </Show>
    }
}

/// A query-string value percent-encoded (everything but unreserved characters).
pub fn encode_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&…` with empty values left out.
pub fn href_with(path: &str, pairs: &[(&str, String)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_what_people_type() {
        assert_eq!(
            href_with(
                "/c",
                &[
                    ("q", "台灣 & co".into()),
                    ("page", String::new()),
                    ("sort", "name".into())
                ]
            ),
            "/c?q=%E5%8F%B0%E7%81%A3%20%26%20co&sort=name"
        );
        assert_eq!(href_with("/c", &[]), "/c");
    }
}

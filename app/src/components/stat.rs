//! Headline figures.

use leptos::prelude::*;

/// A labelled figure with an optional note underneath.
#[component]
pub fn StatCard(
    /// What the figure is.
    label: &'static str,
    /// The figure, already formatted.
    value: String,
    /// A note under it.
    #[prop(optional, into)]
    note: Option<String>,
    /// Test id.
    #[prop(optional)]
    testid: &'static str,
    /// The value is text (a date), not a number: shown smaller.
    #[prop(optional)]
    text: bool,
) -> impl IntoView {
    let class = if text {
        "stat-value stat-value-text"
    } else {
        "stat-value"
    };
    view! {
        <div class="stat" data-testid=testid>
            <div class="stat-label">{label}</div>
            <div class=class>{value}</div>
            {note.map(|n| view! { <div class="stat-note">{n}</div> })}
        </div>
    }
}

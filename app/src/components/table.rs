//! The data table every list screen uses: a header row, numeric columns right-aligned
//! with tabular figures, each cell labelled with its column for the narrow (card) layout,
//! and an empty state.

use leptos::prelude::*;

/// A column: its header and whether it holds figures.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header text.
    pub header: &'static str,
    /// Right-aligned, tabular figures.
    pub numeric: bool,
}

impl Column {
    /// A text column.
    pub fn text(header: &'static str) -> Self {
        Column { header, numeric: false }
    }

    /// A column of figures.
    pub fn num(header: &'static str) -> Self {
        Column { header, numeric: true }
    }
}

/// A table of rows of cells (one view per column).
#[component]
pub fn DataTable(
    /// The columns.
    columns: Vec<Column>,
    /// The rows, one view per column each.
    rows: Vec<Vec<AnyView>>,
    /// Shown instead of the table when there are no rows.
    #[prop(into)]
    empty: String,
    /// Test id of the table.
    #[prop(optional)]
    testid: &'static str,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" data-testid=testid>{empty}</p> }.into_any();
    }
    let head = columns
        .iter()
        .map(|c| view! { <th class=c.numeric.then_some("num")>{c.header}</th> })
        .collect_view();
    let body = rows
        .into_iter()
        .map(|cells| {
            let tds = cells
                .into_iter()
                .zip(columns.iter().copied())
                .map(|(cell, c)| view! { <td class=c.numeric.then_some("num") data-label=c.header>{cell}</td> })
                .collect_view();
            view! { <tr>{tds}</tr> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table" data-testid=testid>
                <thead>
                    <tr>{head}</tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}

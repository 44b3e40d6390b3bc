//! The data table every list screen uses: a header row (optionally with sort links),
//! numeric columns right-aligned with tabular figures, each cell labelled with its column
//! for the narrow (card) layout, and an empty state.

use leptos::prelude::*;

/// A column: its header, whether it holds figures, and how to sort by it.
#[derive(Debug, Clone)]
pub struct Column {
    /// Header text.
    pub header: &'static str,
    /// Right-aligned, tabular figures.
    pub numeric: bool,
    /// The link that sorts by this column, and whether the table is sorted by it now
    /// (`Some(true)`: descending).
    pub sort: Option<(String, Option<bool>)>,
}

impl Column {
    /// A text column.
    pub fn text(header: &'static str) -> Self {
        Column {
            header,
            numeric: false,
            sort: None,
        }
    }

    /// A column of figures.
    pub fn num(header: &'static str) -> Self {
        Column {
            header,
            numeric: true,
            sort: None,
        }
    }

    /// Sortable by following `href`; `current` is `Some(descending)` when sorted by it now.
    pub fn sorted(mut self, href: String, current: Option<bool>) -> Self {
        self.sort = Some((href, current));
        self
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
        .map(|c| {
            let class = c.numeric.then_some("num");
            match &c.sort {
                None => view! { <th class=class scope="col">{c.header}</th> }.into_any(),
                Some((href, current)) => {
                    let aria = match current {
                        Some(true) => "descending",
                        Some(false) => "ascending",
                        None => "none",
                    };
                    let arrow = match current {
                        Some(true) => " ↓",
                        Some(false) => " ↑",
                        None => "",
                    };
                    view! {
                        <th class=class scope="col" aria-sort=aria>
                            <a class="sort-link" href=href.clone()>{c.header}{arrow}</a>
                        </th>
                    }
                    .into_any()
                }
            }
        })
        .collect_view();
    let body = rows
        .into_iter()
        .map(|cells| {
            let tds = cells
                .into_iter()
                .zip(columns.iter())
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

/// "Showing 51–100 of 10,000" with previous and next links; nothing when one page holds
/// everything.
#[component]
pub fn Pager(
    /// Rows before this page.
    offset: i64,
    /// Rows on this page.
    shown: usize,
    /// Rows in all.
    total: i64,
    /// The range text, already formatted for the locale.
    #[prop(into)]
    summary: String,
    /// The previous page's link, if any.
    prev: Option<String>,
    /// The next page's link, if any.
    next: Option<String>,
    /// "Previous" in the visitor's language.
    prev_label: &'static str,
    /// "Next" in the visitor's language.
    next_label: &'static str,
) -> impl IntoView {
    if offset == 0 && shown as i64 >= total {
        return view! { <p class="muted pager-summary" data-testid="pager">{summary}</p> }.into_any();
    }
    view! {
        <nav class="pager" aria-label="Pages" data-testid="pager">
            <span class="muted pager-summary">{summary}</span>
            {prev.map(|h| view! { <a class="btn" href=h rel="prev">{prev_label}</a> })}
            {next.map(|h| view! { <a class="btn" href=h rel="next" data-testid="pager-next">{next_label}</a> })}
        </nav>
    }
    .into_any()
}

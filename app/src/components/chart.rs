//! Charts drawn on the server as SVG: readable before hydration and without any script,
//! each bar carrying its value as an SVG `<title>` (the browser shows it on hover), each
//! chart with a legend and a table of its data for screen readers. Colours come from the
//! Okabe–Ito palette (`.series-0` … `.series-7` in the stylesheet), which stays
//! distinguishable for colour-blind readers.

use leptos::prelude::*;

/// Colours in the palette; more series than this reuse them in order.
pub const PALETTE: usize = 8;

/// One series of a bar chart.
#[derive(Debug, Clone)]
pub struct ChartSeries {
    /// Its name (legend, table header).
    pub name: String,
    /// One value per category.
    pub values: Vec<f64>,
    /// The same values formatted for reading (tooltips, table).
    pub labels: Vec<String>,
}

/// A (stacked) bar chart.
pub struct BarChart<'a> {
    /// What it shows (the SVG's accessible name).
    pub title: String,
    /// The unit of the y axis (`EUR`, `GB*hours`).
    pub unit: String,
    /// The categories along the x axis, formatted.
    pub categories: Vec<String>,
    /// The series, stacked in this order from the bottom.
    pub series: Vec<ChartSeries>,
    /// Formats an axis tick.
    pub tick: &'a dyn Fn(f64) -> String,
    /// The caption of the table view.
    pub table_label: &'static str,
    /// The header of the categories' column in the table view.
    pub category_header: &'static str,
    /// Test id.
    pub testid: &'static str,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 36.0;

/// A round axis maximum at or above `max`, and its tick step (four steps).
pub fn nice_axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| s * 4.0 >= max)
        .unwrap_or(10.0 * magnitude);
    (step * 4.0, step)
}

fn fmt(v: f64) -> String {
    format!("{v:.2}")
}

/// Draws a bar chart (stacked when it has several series), its legend and table view.
pub fn bar_chart(c: BarChart<'_>) -> AnyView {
    let n = c.categories.len().max(1);
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            c.series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0).max(0.0))
                .sum()
        })
        .collect();
    let (max, step) = nice_axis(totals.iter().copied().fold(0.0, f64::max));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.8).max(0.5);
    let y = |v: f64| TOP + plot_h - v / max * plot_h;
    // Grid lines and their labels.
    let grid = (0..=4)
        .map(|k| {
            let v = step * k as f64;
            let gy = fmt(y(v));
            view! {
                <line class="chart-grid" x1=fmt(LEFT) x2=fmt(WIDTH - RIGHT) y1=gy.clone() y2=gy.clone()/>
                <text class="chart-tick" x=fmt(LEFT - 6.0) y=fmt(y(v) + 4.0) text-anchor="end">{(c.tick)(v)}</text>
            }
        })
        .collect_view();
    // At most about eight category labels, evenly spaced.
    let every = n.div_ceil(8).max(1);
    let labels = c
        .categories
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, label)| {
            let x = LEFT + slot * (i as f64 + 0.5);
            view! { <text class="chart-tick" x=fmt(x) y=fmt(HEIGHT - BOTTOM + 16.0) text-anchor="middle">{label.clone()}</text> }
        })
        .collect_view();
    let mut bars = Vec::new();
    for i in 0..c.categories.len() {
        let mut base = 0.0;
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        for (k, s) in c.series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0).max(0.0);
            if v <= 0.0 {
                continue;
            }
            let top = y(base + v);
            let h = (y(base) - top).max(0.5);
            base += v;
            let tip = if c.series.len() > 1 {
                format!(
                    "{} · {}: {}",
                    c.categories[i],
                    s.name,
                    s.labels.get(i).cloned().unwrap_or_default()
                )
            } else {
                format!("{}: {}", c.categories[i], s.labels.get(i).cloned().unwrap_or_default())
            };
            bars.push(view! {
                <rect class=format!("chart-bar series-{}", k % PALETTE) x=fmt(x) y=fmt(top) width=fmt(bar) height=fmt(h)>
                    <title>{tip}</title>
                </rect>
            });
        }
    }
    let legend = (c.series.len() > 1).then(|| {
        view! {
            <ul class="chart-legend">
                {c.series
                    .iter()
                    .enumerate()
                    .map(|(k, s)| view! { <li><span class=format!("swatch series-{}", k % PALETTE)></span>{s.name.clone()}</li> })
                    .collect_view()}
            </ul>
        }
    });
    let table = view! {
        <details class="chart-table">
            <summary>{c.table_label}</summary>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th>{c.category_header}</th>
                            {c.series.iter().map(|s| view! { <th class="num">{s.name.clone()}</th> }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {c.categories
                            .iter()
                            .enumerate()
                            .map(|(i, cat)| view! {
                                <tr>
                                    <td>{cat.clone()}</td>
                                    {c.series
                                        .iter()
                                        .map(|s| view! { <td class="num">{s.labels.get(i).cloned().unwrap_or_default()}</td> })
                                        .collect_view()}
                                </tr>
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </details>
    };
    let label = c.title.clone();
    let title = c.title;
    view! {
        <figure class="chart" data-testid=c.testid>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=label class="chart-svg">
                <title>{title}</title>
                {grid}
                <line class="chart-axis" x1=fmt(LEFT) x2=fmt(WIDTH - RIGHT) y1=fmt(y(0.0)) y2=fmt(y(0.0))/>
                <text class="chart-unit" x=fmt(LEFT) y="12">{c.unit.clone()}</text>
                {bars}
                {labels}
            </svg>
            {legend}
            {table}
        </figure>
    }
    .into_any()
}

/// One bar of a ranking.
#[derive(Debug, Clone)]
pub struct RankedBar {
    /// What it is.
    pub label: String,
    /// A second line (the service of a meter, the group of a resource).
    pub detail: String,
    /// Its value (for the bar's length).
    pub value: f64,
    /// The value formatted.
    pub formatted: String,
}

/// A ranking as horizontal bars: a list whose every item reads as text, with the bar's
/// length drawn in SVG.
pub fn ranking(title: &'static str, items: Vec<RankedBar>, empty: &'static str, testid: &'static str) -> AnyView {
    let max = items.iter().map(|i| i.value).fold(0.0, f64::max);
    if items.is_empty() {
        return view! { <p class="muted" data-testid=testid>{empty}</p> }.into_any();
    }
    view! {
        <ol class="ranking" aria-label=title data-testid=testid>
            {items
                .into_iter()
                .map(|i| {
                    let w = if max > 0.0 { (i.value / max * 100.0).max(0.5) } else { 0.5 };
                    view! {
                        <li>
                            <div class="ranking-text">
                                <span class="ranking-label">{i.label}</span>
                                <span class="muted small">{i.detail}</span>
                                <span class="ranking-value">{i.formatted}</span>
                            </div>
                            <svg class="ranking-bar" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">
                                <rect class="chart-bar series-4" x="0" y="0" width=fmt(w) height="6"/>
                            </svg>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_a_round_number_at_or_above_the_largest_value() {
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
        assert_eq!(nice_axis(95.0), (100.0, 25.0));
        assert_eq!(nice_axis(101.0), (200.0, 50.0));
        assert_eq!(nice_axis(7.3), (8.0, 2.0));
        assert_eq!(nice_axis(1234.0), (2000.0, 500.0));
    }
}

//! `/portal/usage`: a customer's charts and usage explorer. Everything the page shows is in
//! its URL (months, filters, grouping, order, page), so it renders on the server, works
//! before hydration and can be bookmarked or shared; staff add `customer=ID` to view as
//! that customer.

use crate::components::chart::{bar_chart, ranking, BarChart, ChartSeries, RankedBar};
use crate::components::cost::money;
use crate::components::form::href_with;
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::i18n::{format_date, format_decimal, format_quantity, text, Locale, Msg};
use crate::server_fns::portal::{get_portal_charts, get_portal_usage};
use crate::types::{UsageCharts, UsageDim, UsagePage, UsageQuery};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// The page's state, from its URL.
#[derive(Debug, Clone, PartialEq)]
struct PageQuery {
    customer: Option<i64>,
    usage: UsageQuery,
    chart_meter: String,
}

fn page_query(q: &ParamsMap) -> PageQuery {
    let get = |k: &str| q.get(k).unwrap_or_default();
    PageQuery {
        customer: q.get("customer").and_then(|c| c.parse().ok()),
        usage: UsageQuery::from_params(|k| match k {
            // Checkboxes: one `group_by` per ticked dimension.
            "group_by" => q.get_all(k).map(|v| v.join(",")),
            _ => q.get(k),
        }),
        chart_meter: get("chart_meter"),
    }
}

/// The URL's parameters, for links that change one of them.
fn pairs(q: &PageQuery) -> Vec<(&'static str, String)> {
    let u = &q.usage;
    vec![
        ("customer", q.customer.map(|c| c.to_string()).unwrap_or_default()),
        ("from", u.from.clone()),
        ("to", u.to.clone()),
        ("group_by", u.group_by.clone()),
        ("service", u.service.clone()),
        ("meter", u.meter.clone()),
        ("subscription", u.subscription.clone()),
        ("resource_group", u.resource_group.clone()),
        ("tag", u.tag.clone()),
        ("sort", u.sort.clone()),
        ("chart_meter", q.chart_meter.clone()),
    ]
}

fn with(q: &PageQuery, key: &'static str, value: String) -> String {
    let mut p: Vec<(&str, String)> = pairs(q)
        .into_iter()
        .filter(|(k, _)| *k != key && *k != "cursor")
        .collect();
    p.push((key, value));
    href_with("/portal/usage", &p)
}

/// The usage and cost page.
#[component]
pub fn PortalUsagePage() -> impl IntoView {
    let query = use_query_map();
    let current = Memo::new(move |_| query.with(page_query));
    let charts = Resource::new(
        move || current.get(),
        |q| {
            get_portal_charts(
                q.customer,
                q.usage.from.clone(),
                q.usage.to.clone(),
                Some(q.chart_meter.clone()),
            )
        },
    );
    let page = Resource::new(move || current.get(), |q| get_portal_usage(q.customer, q.usage.clone()));
    view! {
        <crate::pages::portal::PortalNav customer=current.get_untracked().customer/>
        <DataPage data=charts view=move |c, locale| view! { <ChartsView c q=current.get_untracked() locale/> }/>
        <DataPage data=page view=move |p, locale| view! { <ExplorerView p q=current.get_untracked() locale/> }/>
    }
}

/// "November 2026", or "February 2025 – January 2026".
fn months_label(from: &str, to: &str, locale: Locale) -> String {
    let name = |m: &str| {
        crate::billing::BillingPeriod::parse(m)
            .map(|p| crate::i18n::format_period(p, locale))
            .unwrap_or_else(|_| m.to_owned())
    };
    if from == to {
        name(from)
    } else {
        format!("{} – {}", name(from), name(to))
    }
}

fn f(v: Decimal) -> f64 {
    v.to_f64().unwrap_or(0.0)
}

#[component]
fn ChartsView(c: UsageCharts, q: PageQuery, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    // Without usage there is no currency, and no amount to format either.
    let amount = move |v: Decimal| c.currency.map(|cur| money(v, cur, locale)).unwrap_or_default();
    let days: Vec<String> = c.days.iter().map(|d| format_date(*d, locale)).collect();
    let tick = move |v: f64| {
        format_decimal(
            Decimal::from_f64_retain(v).unwrap_or_default().round_dp(2),
            locale,
            0,
            2,
        )
    };
    let daily = bar_chart(BarChart {
        title: t(Msg::ChartDailyCost).to_owned(),
        unit: c.currency.map(|cur| cur.to_string()).unwrap_or_default(),
        categories: days.clone(),
        series: c
            .daily_by_service
            .iter()
            .map(|s| ChartSeries {
                name: s.name.clone(),
                values: s.values.iter().map(|v| f(*v)).collect(),
                labels: s.values.iter().map(|v| amount(*v)).collect(),
            })
            .collect(),
        tick: &tick,
        table_label: t(Msg::TableView),
        category_header: t(Msg::Day),
        testid: "chart-daily-cost",
    });
    let bars = |list: &[crate::types::Ranked]| -> Vec<RankedBar> {
        list.iter()
            .map(|r| RankedBar {
                label: r.label.clone(),
                detail: r.detail.clone(),
                value: f(r.value),
                formatted: amount(r.value),
            })
            .collect()
    };
    let by_meter = ranking(
        t(Msg::ChartByMeter),
        bars(&c.by_meter),
        t(Msg::NoCostYet),
        "chart-by-meter",
    );
    let top = ranking(
        t(Msg::ChartTopResources),
        bars(&c.top_resources),
        t(Msg::NoCostYet),
        "chart-top-resources",
    );
    let quantity = c.meter.clone().map(|(_, name, unit)| {
        let unit2 = unit.clone();
        bar_chart(BarChart {
            title: format!("{} — {name}", t(Msg::ChartMeterQuantity)),
            unit: unit.clone(),
            categories: days.clone(),
            series: vec![ChartSeries {
                name: name.clone(),
                values: c.meter_quantity.iter().map(|v| f(*v)).collect(),
                labels: c
                    .meter_quantity
                    .iter()
                    .map(|v| format!("{} {unit2}", format_quantity(*v, locale)))
                    .collect(),
            }],
            tick: &tick,
            table_label: t(Msg::TableView),
            category_header: t(Msg::Day),
            testid: "chart-meter-quantity",
        })
    });
    let chosen = c.meter.clone().map(|m| m.0).unwrap_or_default();
    let hidden = pairs(&q)
        .into_iter()
        .filter(|(k, v)| *k != "chart_meter" && !v.is_empty())
        .map(|(k, v)| view! { <input type="hidden" name=k value=v/> })
        .collect_view();
    view! {
        <Title text=format!("{} · Stackbill", t(Msg::UsageTitle))/>
        <div class="page-head">
            <h1>{t(Msg::UsageTitle)}</h1>
            <p class="muted" data-testid="usage-months-shown">
                {format!("{} · {}", c.customer_name, months_label(&c.from, &c.to, locale))}
            </p>
        </div>
        <MonthsForm customer=q.customer from=c.from.clone() to=c.to.clone() locale/>
        {c.unpriced.then(|| view! { <div class="notice notice-warn" data-testid="usage-unpriced">{t(Msg::UnpricedNote)}</div> })}
        <section class="panel">
            <h2>{t(Msg::ChartDailyCost)}</h2>
            {daily}
        </section>
        <div class="grid-2">
            <section class="panel">
                <h2>{t(Msg::ChartByMeter)}</h2>
                {by_meter}
            </section>
            <section class="panel">
                <h2>{t(Msg::ChartTopResources)}</h2>
                {top}
            </section>
        </div>
        <section class="panel">
            <h2>{t(Msg::ChartMeterQuantity)}</h2>
            <form class="filters" method="get" action="/portal/usage" data-testid="chart-meter-form">
                {hidden}
                <div class="field">
                    <label for="chart_meter">{t(Msg::MeterCol)}</label>
                    <select id="chart_meter" name="chart_meter">
                        {c.meters
                            .iter()
                            .map(|(id, name)| view! { <option value=id.clone() selected=*id == chosen>{name.clone()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <button class="btn" type="submit">{t(Msg::Show)}</button>
            </form>
            {quantity}
        </section>
    }
}

/// The months picked for the whole page (those shown, when none were picked).
#[component]
fn MonthsForm(customer: Option<i64>, from: String, to: String, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    view! {
        <form class="filters panel" method="get" action="/portal/usage" data-testid="usage-months">
            {customer.map(|c| view! { <input type="hidden" name="customer" value=c.to_string()/> })}
            <div class="field">
                <label for="from">{t(Msg::FromMonth)}</label>
                <input id="from" name="from" type="month" value=from/>
            </div>
            <div class="field">
                <label for="to">{t(Msg::ToMonth)}</label>
                <input id="to" name="to" type="month" value=to/>
            </div>
            <button class="btn" type="submit">{t(Msg::Show)}</button>
        </form>
    }
}

fn dim_label(d: UsageDim, locale: Locale) -> &'static str {
    text(
        locale,
        match d {
            UsageDim::Day => Msg::Day,
            UsageDim::Service => Msg::Service,
            UsageDim::Meter => Msg::MeterCol,
            UsageDim::Subscription => Msg::UserSubscriptionLabel,
            UsageDim::ResourceGroup => Msg::ResourceGroupCol,
            UsageDim::Resource => Msg::ResourceCol,
        },
    )
}

#[component]
fn ExplorerView(p: UsagePage, q: PageQuery, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let has = |d| p.group_by.contains(&d);
    // Sortable headers: the current column toggles its direction.
    let sort_link = |key: &str| {
        let current = q.usage.sort.trim_start_matches('-') == key && !q.usage.sort.is_empty();
        let descending = q.usage.sort.starts_with('-');
        let next = if current && !descending {
            format!("-{key}")
        } else {
            key.to_owned()
        };
        (with(&q, "sort", next), current.then_some(descending))
    };
    let mut columns = Vec::new();
    for d in UsageDim::ALL {
        if has(d) {
            let (href, cur) = sort_link(d.code());
            columns.push(Column::text(dim_label(d, locale)).sorted(href, cur));
        }
    }
    if has(UsageDim::Meter) {
        let (href, cur) = sort_link("quantity");
        columns.push(Column::num(t(Msg::QuantityCol)).sorted(href, cur));
    }
    let (href, cur) = sort_link("cost");
    columns.push(Column::num(t(Msg::CostCol)).sorted(href, cur));
    let rows: Vec<Vec<AnyView>> = p
        .value
        .iter()
        .map(|r| {
            let mut cells: Vec<AnyView> = Vec::new();
            if let Some(d) = r.day {
                cells.push(format_date(d, locale).into_any());
            }
            if let Some(s) = &r.service {
                cells.push(s.clone().into_any());
            }
            if let Some(m) = &r.meter_name {
                cells.push(m.clone().into_any());
            }
            if let Some(s) = &r.subscription_id {
                let name = r.subscription_name.clone().unwrap_or_default();
                cells.push(
                    view! { <div>{name}</div><div class="muted small"><code>{s.clone()}</code></div> }.into_any(),
                );
            }
            if has(UsageDim::ResourceGroup) {
                cells.push(r.resource_group.clone().unwrap_or_default().into_any());
            }
            if let Some(res) = &r.resource {
                let short = res.rsplit('/').find(|s| !s.is_empty()).unwrap_or(res).to_owned();
                cells.push(view! { <span title=res.clone()>{short}</span> }.into_any());
            }
            if has(UsageDim::Meter) {
                let q = r.quantity.map(|q| format_quantity(q, locale)).unwrap_or_default();
                cells.push(format!("{q} {}", r.unit.clone().unwrap_or_default()).into_any());
            }
            let cost = money(r.cost, r.currency, locale);
            cells.push(if r.unpriced {
                view! { <span>{cost}" "<span class="badge badge-warn">{t(Msg::UnpricedUsage)}</span></span> }.into_any()
            } else {
                cost.into_any()
            });
            cells
        })
        .collect();
    let next = p.next_cursor.clone().map(|c| {
        let mut pp: Vec<(&str, String)> = pairs(&q);
        pp.push(("cursor", c));
        href_with("/portal/usage", &pp)
    });
    let first = (!q.usage.cursor.is_empty()).then(|| href_with("/portal/usage", &pairs(&q)));
    let csv = {
        let mut pp: Vec<(&str, String)> = pairs(&q)
            .into_iter()
            .filter(|(k, _)| !matches!(*k, "customer" | "chart_meter"))
            .collect();
        if pp.iter().all(|(k, v)| *k != "from" || v.is_empty()) {
            pp.retain(|(k, _)| *k != "from");
            pp.push(("from", p.from.clone()));
        }
        pp.retain(|(_, v)| !v.is_empty());
        pp
    };
    let hourly_csv = {
        let mut pp = csv.clone();
        pp.retain(|(k, _)| !matches!(*k, "group_by" | "sort"));
        pp.push(("granularity", "hourly".to_owned()));
        href_with(&format!("/api/v1/customers/{}/usage.csv", p.customer_id), &pp)
    };
    let csv = href_with(&format!("/api/v1/customers/{}/usage.csv", p.customer_id), &csv);
    let totals = p
        .totals
        .iter()
        .map(|x| money(x.cost, x.currency, locale))
        .collect::<Vec<_>>()
        .join(" · ");
    let option = |value: String, label: String, current: &str| {
        let selected = value.eq_ignore_ascii_case(current);
        view! { <option value=value selected=selected>{label}</option> }
    };
    let u = q.usage.clone();
    let group_boxes = UsageDim::ALL
        .into_iter()
        .map(|d| {
            let id = format!("group-{}", d.code());
            let for_id = id.clone();
            view! {
                <label class="check" for=for_id>
                    <input type="checkbox" id=id name="group_by" value=d.code() checked=has(d)/>
                    {dim_label(d, locale)}
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="panel" data-testid="usage-explorer">
            <div class="page-head page-head-actions">
                <h2>{t(Msg::ExplorerTitle)}</h2>
                <span class="actions">
                    <a class="btn" href=csv data-testid="usage-csv" download="usage.csv">{t(Msg::DownloadCsv)}</a>
                    <a class="btn" href=hourly_csv data-testid="usage-hourly-csv" download="usage-hourly.csv">{t(Msg::DownloadHourlyCsv)}</a>
                </span>
            </div>
            <form class="filters" method="get" action="/portal/usage" data-testid="usage-filters">
                {q.customer.map(|c| view! { <input type="hidden" name="customer" value=c.to_string()/> })}
                <input type="hidden" name="from" value=u.from.clone()/>
                <input type="hidden" name="to" value=u.to.clone()/>
                <fieldset class="field">
                    <legend>{t(Msg::GroupByLabel)}</legend>
                    {group_boxes}
                </fieldset>
                <div class="field">
                    <label for="service">{t(Msg::Service)}</label>
                    <select id="service" name="service">
                        {option(String::new(), t(Msg::AllLabel).to_owned(), &u.service)}
                        {p.choices.services.iter().map(|s| option(s.clone(), s.clone(), &u.service)).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="meter">{t(Msg::MeterCol)}</label>
                    <select id="meter" name="meter">
                        {option(String::new(), t(Msg::AllLabel).to_owned(), &u.meter)}
                        {p.choices.meters.iter().map(|(id, n)| option(id.clone(), n.clone(), &u.meter)).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="subscription">{t(Msg::UserSubscriptionLabel)}</label>
                    <select id="subscription" name="subscription">
                        {option(String::new(), t(Msg::AllLabel).to_owned(), &u.subscription)}
                        {p.choices
                            .subscriptions
                            .iter()
                            .map(|(id, n)| option(id.clone(), if n.is_empty() { id.clone() } else { format!("{n} ({id})") }, &u.subscription))
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="resource_group">{t(Msg::ResourceGroupCol)}</label>
                    <select id="resource_group" name="resource_group">
                        {option(String::new(), t(Msg::AllLabel).to_owned(), &u.resource_group)}
                        {p.choices.resource_groups.iter().map(|g| option(g.clone(), g.clone(), &u.resource_group)).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="tag">{t(Msg::TagFilterLabel)}</label>
                    <input id="tag" name="tag" type="text" value=u.tag.clone() placeholder=t(Msg::TagFilterHint)/>
                </div>
                <button class="btn btn-primary" type="submit" data-testid="usage-apply">{t(Msg::Show)}</button>
            </form>
            <p class="muted" data-testid="usage-summary">
                {format!("{}: {} · {} {}", t(Msg::TotalLabel), totals, format_decimal(Decimal::from(p.total_rows as u64), locale, 0, 0), t(Msg::RowsLabel))}
            </p>
            <DataTable columns rows empty=t(Msg::NoUsageYet) testid="usage-table"/>
            <nav class="pager">
                {first.map(|h| view! { <a class="btn" href=h>{t(Msg::PagerPrev)}</a> })}
                {next.map(|h| view! { <a class="btn" href=h data-testid="usage-next">{t(Msg::PagerNext)}</a> })}
            </nav>
        </section>
    }
}

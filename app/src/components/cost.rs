//! Cost figures: the month-to-date / forecast / last-month tables of the home pages and
//! the unpriced-usage note. Amounts come from the rating service as decimals in their
//! currency and are formatted here with the one money formatter.

use crate::billing::{Currency, Money};
use crate::components::table::{Column, DataTable};
use crate::i18n::{format_money, format_quantity, text, Locale, Msg};
use crate::types::{CostRow, UnpricedUsage};
use leptos::prelude::*;
use rust_decimal::Decimal;

/// An amount in its currency, for the visitor's locale.
pub fn money(amount: Decimal, currency: Currency, locale: Locale) -> String {
    format_money(&Money::new(amount, currency), locale)
}

/// An optional amount (`—` when there is none, e.g. no forecast yet).
pub fn maybe_money(amount: Option<Decimal>, currency: Currency, locale: Locale) -> String {
    amount
        .map(|a| money(a, currency, locale))
        .unwrap_or_else(|| text(locale, Msg::NotAvailable).to_owned())
}

/// A badge saying some usage has no price, listing the meters in its tooltip and for
/// screen readers. Empty when everything is priced.
#[component]
pub fn UnpricedBadge(unpriced: Vec<UnpricedUsage>, locale: Locale) -> impl IntoView {
    if unpriced.is_empty() {
        return ().into_any();
    }
    let detail = unpriced
        .iter()
        .map(|u| format!("{} ({} {})", u.meter_name, format_quantity(u.quantity, locale), u.unit))
        .collect::<Vec<_>>()
        .join(", ");
    let label = text(locale, Msg::UnpricedUsage);
    view! {
        <span class="badge badge-warn" title=detail.clone() data-testid="unpriced">
            {label}
            <span class="visually-hidden">{format!(": {detail}")}</span>
        </span>
    }
    .into_any()
}

/// The list of unpriced meters under a cost panel.
#[component]
pub fn UnpricedList(unpriced: Vec<UnpricedUsage>, locale: Locale) -> impl IntoView {
    if unpriced.is_empty() {
        return ().into_any();
    }
    view! {
        <div class="notice notice-warn" data-testid="unpriced-list">
            <p>{text(locale, Msg::UnpricedNote)}</p>
            <ul>
                {unpriced
                    .into_iter()
                    .map(|u| view! {
                        <li>
                            {u.meter_name}
                            " — "
                            {format_quantity(u.quantity, locale)}
                            " "
                            {u.unit}
                        </li>
                    })
                    .collect_view()}
            </ul>
        </div>
    }
    .into_any()
}

/// Month to date, forecast and last month per row: billing accounts (`customers: false`)
/// or customers.
#[component]
pub fn CostTable(rows: Vec<CostRow>, customers: bool, locale: Locale, testid: &'static str) -> impl IntoView {
    let t = move |m| text(locale, m);
    let mut columns = Vec::new();
    if customers {
        columns.push(Column::text(t(Msg::Customer)));
    } else {
        columns.push(Column::text(t(Msg::RegistrationName)));
        columns.push(Column::text(t(Msg::BillingAccount)));
    }
    columns.extend([
        Column::num(t(Msg::MonthToDate)),
        Column::num(t(Msg::Forecast)),
        Column::num(t(Msg::LastMonth)),
    ]);
    let rows = rows
        .into_iter()
        .map(|r| {
            let mut cells: Vec<AnyView> = Vec::new();
            let who = r.customer_name.clone().unwrap_or_else(|| {
                if customers {
                    format!("{} ({})", t(Msg::TenantWithoutCustomer), r.reference)
                } else {
                    t(Msg::BaseAccountKind).to_owned()
                }
            });
            if customers {
                cells.push(view! { <span>{who}</span> }.into_any());
            } else {
                cells.push(view! { <span>{r.registration.clone()}</span> }.into_any());
                cells.push(
                    view! {
                        <div>{who}</div>
                        <div class="muted small"><code>{r.reference.clone()}</code></div>
                    }
                    .into_any(),
                );
            }
            let c = r.currency;
            cells.push(
                view! {
                    <span data-testid="cost-mtd">{money(r.month_to_date, c, locale)}</span>
                    " "
                    <UnpricedBadge unpriced=r.unpriced.clone() locale/>
                }
                .into_any(),
            );
            cells.push(view! { <span>{maybe_money(r.forecast, c, locale)}</span> }.into_any());
            cells.push(view! { <span>{money(r.last_month, c, locale)}</span> }.into_any());
            cells
        })
        .collect();
    view! { <DataTable columns rows empty=t(Msg::NoCostYet) testid/> }
}

/// "… and N more" under a table that lists only its largest rows.
#[component]
fn More(n: usize, locale: Locale) -> impl IntoView {
    (n > 0).then(|| view! { <p class="muted small">{crate::i18n::and_more(locale, n)}</p> })
}

/// The home pages' cost section: per billing account and per customer, or the reason the
/// figures cannot be computed.
#[component]
pub fn CostPanels(cost: crate::types::CostOverview, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let heading = format!(
        "{} · {}",
        t(Msg::CostTitle),
        crate::i18n::format_period(cost.period, locale)
    );
    if let Some(problem) = cost.problem {
        return view! {
            <section class="panel" data-testid="cost-problem">
                <h2>{heading}</h2>
                <div class="notice notice-warn">
                    <p><strong>{t(Msg::CostUnavailable)}</strong></p>
                    <p>{problem}</p>
                </div>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="panel">
            <h2>{heading}</h2>
            <h3>{t(Msg::CostByAccount)}</h3>
            <CostTable rows=cost.accounts customers=false locale testid="cost-accounts"/>
            <More n=cost.more_accounts locale/>
            <h3>{t(Msg::CostByCustomer)}</h3>
            <CostTable rows=cost.customers customers=true locale testid="cost-customers"/>
            <More n=cost.more_customers locale/>
        </section>
    }
    .into_any()
}

//! `/portal`: a customer's own home.

use crate::components::cost::{maybe_money, UnpricedList};
use crate::components::page::DataPage;
use crate::components::stat::StatCard;
use crate::components::table::{Column, DataTable};
use crate::i18n::{format_count, format_date, text, Locale, Msg};
use crate::server_fns::overview::get_customer_overview;
use crate::types::{AccountKind, CustomerCost, CustomerOverview, PortalCost};
use leptos::prelude::*;
use leptos_meta::Title;

/// The customer's name, how they are billed and their subscriptions.
#[component]
pub fn PortalHome() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_customer_overview());
    let invoices = Resource::new(|| (), |_| crate::server_fns::invoices::get_my_invoices());
    view! {
        <DataPage data view=|o, locale| view! { <PortalView o locale/> }/>
        <DataPage data=invoices view=|list, locale| view! { <PortalInvoices list locale/> }/>
    }
}

/// The customer's issued invoices and credit notes, each with its PDF.
#[component]
fn PortalInvoices(list: Vec<crate::types::InvoiceSummary>, locale: Locale) -> impl IntoView {
    use crate::components::table::{Column, DataTable};
    let t = move |m| text(locale, m);
    let rows: Vec<Vec<AnyView>> = list
        .iter()
        .map(|i| {
            let number = i.number.clone().unwrap_or_default();
            vec![
                view! { <a href=format!("/invoices/{number}.pdf") data-testid="portal-invoice-pdf">{number.clone()}</a> }.into_any(),
                crate::billing::BillingPeriod::parse(&i.period)
                    .map(|p| crate::i18n::format_period(p, locale))
                    .unwrap_or(i.period.clone())
                    .into_any(),
                if i.kind == "credit_note" { t(Msg::CreditNoteTitle) } else { t(Msg::InvoiceTitle) }.into_any(),
                crate::i18n::format_money(&crate::billing::Money::new(i.total, i.currency), locale).into_any(),
                if i.kind == "invoice" {
                    view! { <a href=format!("/invoices/{number}.pdf?detail=true") data-testid="portal-invoice-detail">{t(Msg::PdfWithDetail)}</a> }.into_any()
                } else {
                    "".into_any()
                },
            ]
        })
        .collect();
    view! {
        <section class="panel" data-testid="portal-invoices">
            <h2>{t(Msg::YourInvoices)}</h2>
            <DataTable columns=vec![Column::text(t(Msg::InvoiceNumberLabel)), Column::text(t(Msg::Period)), Column::text(""), Column::num(t(Msg::TotalLabel)), Column::text("")]
                rows empty=t(Msg::NoInvoices) testid="portal-invoices-table"/>
        </section>
    }
}

#[component]
fn PortalView(o: CustomerOverview, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let title = format!("{} · Stackbill", o.name);
    view! {
        <Title text=title/>
        <div class="page-head">
            <h1 data-testid="customer-name">{o.name.clone()}</h1>
            <p class="muted">{t(Msg::PortalTitle)}</p>
        </div>
        <PortalCostPanel cost=o.cost.clone() problem=o.cost_problem.clone() locale/>
        <section class="panel">
            <dl class="facts">
                <div>
                    <dt>{t(Msg::CloudTenant)}</dt>
                    <dd><code>{o.cloud_tenant_id.clone()}</code></dd>
                </div>
            </dl>
        </section>
        <section class="panel">
            <h2>{t(Msg::BillingSubscriptions)}</h2>
            {if o.customer_subscriptions.is_empty() {
                view! { <p class="muted" data-testid="billed-through-base">{t(Msg::BilledThroughProvider)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="customer-subscriptions">
                            <thead>
                                <tr>
                                    <th>{t(Msg::Registration)}</th>
                                    <th>{t(Msg::Subscription)}</th>
                                    <th>{t(Msg::Since)}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {o.customer_subscriptions
                                    .into_iter()
                                    .map(|s| view! {
                                        <tr>
                                            <td data-label=t(Msg::Registration)>{s.registration}</td>
                                            <td data-label=t(Msg::Subscription)><code>{s.subscription_id}</code></td>
                                            <td data-label=t(Msg::Since)>{format_date(s.effective_on, locale)}</td>
                                        </tr>
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }}
        </section>
        <section class="panel">
            <h2>{t(Msg::StackSubscriptions)}</h2>
            {if o.user_subscriptions.is_empty() {
                view! { <p class="muted">{t(Msg::NoStackSubscriptions)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="user-subscriptions">
                            <thead>
                                <tr>
                                    <th>{t(Msg::Name)}</th>
                                    <th>{t(Msg::Subscription)}</th>
                                    <th>{t(Msg::Registration)}</th>
                                    <th>{t(Msg::State)}</th>
                                    <th class="num">{t(Msg::RecordsThisMonth)}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {o.user_subscriptions
                                    .into_iter()
                                    .map(|s| view! {
                                        <tr>
                                            <td data-label=t(Msg::Name)>{s.display_name}</td>
                                            <td data-label=t(Msg::Subscription)><code>{s.subscription_id}</code></td>
                                            <td data-label=t(Msg::Registration)>{s.registration}</td>
                                            <td data-label=t(Msg::State)>{s.state}</td>
                                            <td class="num" data-label=t(Msg::RecordsThisMonth)>
                                                {format_count(s.usage_records_this_month, locale)}
                                            </td>
                                        </tr>
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }}
        </section>
    }
}

/// The customer's money: this month so far, the forecast, last month — in total and per
/// billing account, with unpriced usage listed, or why it cannot be shown.
#[component]
fn PortalCostPanel(cost: Option<PortalCost>, problem: Option<String>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let Some(cost) = cost else {
        return view! {
            <section class="panel" data-testid="cost-problem">
                <h2>{t(Msg::CostTitle)}</h2>
                <div class="notice notice-warn">
                    <p><strong>{t(Msg::CostUnavailable)}</strong></p>
                    <p>{problem.unwrap_or_default()}</p>
                </div>
            </section>
        }
        .into_any();
    };
    let total = |c: &CustomerCost, forecast: bool| {
        let amount = if forecast { c.forecast } else { c.total };
        match c.currency {
            Some(cur) => maybe_money(amount, cur, locale),
            // No usage yet, or accounts in several currencies: the table has the figures.
            None => t(Msg::NotAvailable).to_owned(),
        }
    };
    let this = &cost.this_month;
    let last = &cost.last_month;
    let columns = vec![
        Column::text(t(Msg::Registration)),
        Column::text(t(Msg::BilledTo)),
        Column::num(t(Msg::MonthToDate)),
        Column::num(t(Msg::Forecast)),
        Column::num(t(Msg::LastMonth)),
    ];
    // Accounts of this month, with last month's figure of the same account beside them;
    // then accounts that billed last month only.
    let mut rows: Vec<Vec<AnyView>> = Vec::new();
    let key = |a: &crate::types::AccountCost| (a.registration.clone(), a.billing_account.clone());
    let mut seen = std::collections::HashSet::new();
    for a in this.accounts.iter().chain(last.accounts.iter()) {
        if !seen.insert(key(a)) {
            continue;
        }
        let now = this.accounts.iter().find(|x| key(x) == key(a));
        let before = last.accounts.iter().find(|x| key(x) == key(a));
        let billed_to = match a.kind {
            AccountKind::CustomerSubscription => t(Msg::CustomerSubscriptionKind),
            AccountKind::Base => t(Msg::BaseAccountKind),
        };
        let c = a.currency;
        rows.push(vec![
            view! { <span>{a.registration.clone()}</span> }.into_any(),
            view! { <div>{billed_to}</div><div class="muted small"><code>{a.billing_account.clone()}</code></div> }
                .into_any(),
            view! { <span>{maybe_money(now.map(|x| x.total), c, locale)}</span> }.into_any(),
            view! { <span>{maybe_money(now.and_then(|x| x.forecast), c, locale)}</span> }.into_any(),
            view! { <span>{maybe_money(before.map(|x| x.total), c, locale)}</span> }.into_any(),
        ]);
    }
    view! {
        <section class="panel" data-testid="portal-cost">
            <h2>{t(Msg::CostTitle)}</h2>
            <div class="stats">
                <StatCard label=t(Msg::MonthToDate) value=total(this, false) testid="cost-month-to-date"/>
                <StatCard label=t(Msg::Forecast) value=total(this, true) testid="cost-forecast"/>
                <StatCard label=t(Msg::LastMonth) value=total(last, false) testid="cost-last-month"/>
            </div>
            <DataTable columns rows empty=t(Msg::NoCostYet) testid="cost-accounts"/>
            <UnpricedList unpriced=this.unpriced.clone() locale/>
        </section>
    }
    .into_any()
}

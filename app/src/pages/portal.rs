//! `/portal`: a customer's own home.

use crate::components::cost::{maybe_money, money, UnpricedList};
use crate::components::form::{form_error, success_count, FormAlert};
use crate::components::page::DataPage;
use crate::components::stat::StatCard;
use crate::components::table::{Column, DataTable};
use crate::i18n::{format_count, format_date, text, Locale, Msg};
use crate::server_fns::overview::get_customer_overview;
use crate::server_fns::portal::SetBudget;
use crate::types::{AccountKind, CustomerCost, CustomerOverview, PortalCost};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

/// The customer's name, how they are billed and their subscriptions.
#[component]
pub fn PortalHome() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let customer = Memo::new(move |_| query.with(|q| q.get("customer").and_then(|c| c.parse::<i64>().ok())));
    // Created here so that the overview reloads after a budget is saved.
    let budget = ServerAction::<SetBudget>::new();
    let saved = success_count(budget.value());
    let data = Resource::new(move || (customer.get(), saved.get()), |(c, _)| get_customer_overview(c));
    let invoices = Resource::new(move || customer.get(), crate::server_fns::invoices::get_my_invoices);
    view! {
        <PortalNav customer=customer.get_untracked()/>
        <DataPage data view=move |o, locale| view! { <PortalView o budget locale/> }/>
        <DataPage data=invoices view=|list, locale| view! { <PortalInvoices list locale/> }/>
    }
}

/// The portal's tabs, and — when staff view as a customer — the banner saying so.
#[component]
pub fn PortalNav(customer: Option<i64>) -> impl IntoView {
    let locale = crate::context::use_locale();
    let t = move |m| text(locale.get_untracked(), m);
    // Customers have both pages in the main navigation; staff viewing as a customer get
    // them here, with the customer kept in the links.
    customer.map(|c| {
        view! {
            <div class="banner-view-as" role="status" data-testid="view-as-banner">{t(Msg::ViewingAsCustomer)}</div>
            <nav class="tabs" aria-label=t(Msg::PortalTitle)>
                <a class="tab" href=format!("/portal?customer={c}") data-testid="portal-tab-overview">{t(Msg::NavOverview)}</a>
                <a class="tab" href=format!("/portal/usage?customer={c}") data-testid="portal-tab-usage">{t(Msg::NavUsage)}</a>
            </nav>
        }
    })
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
fn PortalView(o: CustomerOverview, budget: ServerAction<SetBudget>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let title = format!("{} · Stackbill", o.name);
    view! {
        <Title text=title/>
        <div class="page-head">
            <h1 data-testid="customer-name">{o.name.clone()}</h1>
            <p class="muted">{t(Msg::PortalTitle)}</p>
        </div>
        <PortalCostPanel cost=o.cost.clone() problem=o.cost_problem.clone() locale/>
        <BudgetsPanel budgets=o.budgets.clone() can_edit=o.can_edit action=budget locale/>
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
                                    <th class="num">{t(Msg::MonthToDate)}</th>
                                    <th>{t(Msg::ResourceGroupCol)}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {o.user_subscriptions
                                    .into_iter()
                                    .map(|s| {
                                        let groups = resource_groups(&s, locale);
                                        let cost = s.month_to_date.as_ref().map(|c| money(c.cost, c.currency, locale)).unwrap_or_default();
                                        view! {
                                        <tr>
                                            <td data-label=t(Msg::Name)>{s.display_name}</td>
                                            <td data-label=t(Msg::Subscription)><code>{s.subscription_id}</code></td>
                                            <td data-label=t(Msg::Registration)>{s.registration}</td>
                                            <td data-label=t(Msg::State)>{s.state}</td>
                                            <td class="num" data-label=t(Msg::RecordsThisMonth)>
                                                {format_count(s.usage_records_this_month, locale)}
                                            </td>
                                            <td class="num" data-label=t(Msg::MonthToDate) data-testid="subscription-cost">
                                                {cost}
                                            </td>
                                            <td data-label=t(Msg::ResourceGroupCol)>
                                                {groups}
                                            </td>
                                        </tr>
                                    }})
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

/// A subscription's costliest resource groups this month (three, then how many more).
fn resource_groups(s: &crate::types::UserSubscriptionView, locale: Locale) -> String {
    let Some(currency) = s.month_to_date.as_ref().map(|c| c.currency) else {
        return String::new();
    };
    let mut parts: Vec<String> = s
        .resource_groups
        .iter()
        .take(3)
        .map(|g| {
            let name = if g.label.is_empty() { "—" } else { g.label.as_str() };
            format!("{name} ({})", money(g.value, currency, locale))
        })
        .collect();
    if s.resource_groups.len() > 3 {
        parts.push(format!("+{}", s.resource_groups.len() - 3));
    }
    parts.join(", ")
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
    // Where the month is heading against last month, in percent.
    let change = match (this.forecast, last.total, this.currency == last.currency) {
        (Some(f), Some(l), true) if !l.is_zero() => {
            let pct = ((f - l) / l * rust_decimal::Decimal::ONE_HUNDRED).round();
            let sign = if pct.is_sign_positive() && !pct.is_zero() {
                "+"
            } else {
                ""
            };
            format!("{sign}{} %", crate::i18n::format_decimal(pct, locale, 0, 0))
        }
        _ => t(Msg::NotAvailable).to_owned(),
    };
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
                <StatCard label=t(Msg::ForecastVsLastMonth) value=change testid="cost-change"/>
            </div>
            <DataTable columns rows empty=t(Msg::NoCostYet) testid="cost-accounts"/>
            <UnpricedList unpriced=this.unpriced.clone() locale/>
        </section>
    }
    .into_any()
}

/// This month's billing accounts against their budgets: the share used, a warning when the
/// forecast crosses a budget, and (for the customer's own users) a form to set each one.
#[component]
fn BudgetsPanel(
    budgets: Vec<crate::types::BudgetView>,
    can_edit: bool,
    action: ServerAction<SetBudget>,
    locale: Locale,
) -> impl IntoView {
    use crate::types::BudgetState;
    let t = move |m| text(locale, m);
    if budgets.is_empty() {
        return ().into_any();
    }
    let money = |v: rust_decimal::Decimal, c| money(v, c, locale);
    let error = form_error(action.value(), SetBudget::PATH);
    let warnings = budgets
        .iter()
        .filter(|b| b.state != BudgetState::Within)
        .map(|b| {
            let (class, msg) = match b.state {
                BudgetState::Over => ("notice notice-danger", t(Msg::BudgetOver)),
                _ => ("notice notice-warn", t(Msg::BudgetForecastOver)),
            };
            let detail = format!(
                "{} · {}: {} / {}",
                b.registration,
                b.billing_account,
                money(b.forecast.unwrap_or(b.month_to_date), b.currency),
                money(b.amount.unwrap_or_default(), b.currency)
            );
            view! { <div class=class data-testid="budget-warning"><strong>{msg}</strong>" "<span>{detail}</span></div> }
        })
        .collect_view();
    let rows: Vec<Vec<AnyView>> = budgets
        .iter()
        .map(|b| {
            let used = b
                .used_percent
                .map(|p| format!("{} %", crate::i18n::format_decimal(p, locale, 0, 0)))
                .unwrap_or_else(|| t(Msg::NotAvailable).to_owned());
            let form = if can_edit {
                let reg = b.registration.clone();
                let acc = b.billing_account.clone();
                let current = b.amount.map(|a| a.to_string()).unwrap_or_default();
                view! {
                    <ActionForm action attr:class="inline-form" attr:data-testid="budget-form">
                        <input type="hidden" name="registration" value=reg/>
                        <input type="hidden" name="billing_account" value=acc/>
                        <input type="text" name="amount" inputmode="decimal" value=current aria-label=t(Msg::BudgetLabel) size="10"/>
                        <button class="btn" type="submit">{t(Msg::Save)}</button>
                    </ActionForm>
                }
                .into_any()
            } else {
                b.amount.map(|a| money(a, b.currency)).unwrap_or_else(|| t(Msg::NotAvailable).to_owned()).into_any()
            };
            vec![
                view! { <span>{b.registration.clone()}</span><div class="muted small"><code>{b.billing_account.clone()}</code></div> }.into_any(),
                money(b.month_to_date, b.currency).into_any(),
                b.forecast.map(|f| money(f, b.currency)).unwrap_or_default().into_any(),
                view! { <span data-testid="budget-used">{used}</span> }.into_any(),
                form,
            ]
        })
        .collect();
    view! {
        <section class="panel" data-testid="budgets">
            <h2>{t(Msg::BudgetsTitle)}</h2>
            {warnings}
            <FormAlert error fields=&[]/>
            <crate::components::table::DataTable
                columns=vec![
                    Column::text(t(Msg::BillingAccount)),
                    Column::num(t(Msg::MonthToDate)),
                    Column::num(t(Msg::Forecast)),
                    Column::num(t(Msg::BudgetUsed)),
                    Column::text(t(Msg::BudgetLabel)),
                ]
                rows
                empty=t(Msg::NoCostYet)
                testid="budgets-table"
            />
        </section>
    }
    .into_any()
}

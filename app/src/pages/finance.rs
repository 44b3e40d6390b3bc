//! `/finance`: billing periods with usage.

use crate::components::cost::CostPanels;
use crate::components::page::DataPage;
use crate::components::stat::StatCard;
use crate::i18n::{format_count, format_date, format_period, text, Locale, Msg};
use crate::server_fns::overview::get_finance_overview;
use crate::types::FinanceOverview;
use leptos::prelude::*;
use leptos_meta::Title;

/// The billing periods finance works on.
#[component]
pub fn FinanceHome() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_finance_overview());
    view! {
        <Title text="Billing periods · Stackbill"/>
        <DataPage data view=|o, locale| view! { <FinanceView o locale/> }/>
    }
}

#[component]
fn FinanceView(o: FinanceOverview, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    view! {
        <div class="page-head">
            <h1>{t(Msg::FinanceTitle)}</h1>
        </div>
        <section class="stats">
            <StatCard label=t(Msg::Customers) value=format_count(o.customers, locale) testid="stat-customers"/>
            <StatCard label=t(Msg::Registrations) value=format_count(o.registrations, locale) testid="stat-registrations"/>
        </section>
        <CostPanels cost=o.cost.clone() locale/>
        <section class="panel">
            <h2>{t(Msg::PeriodsWithUsage)}</h2>
            {if o.periods.is_empty() {
                view! { <p class="muted">{t(Msg::NoUsageYet)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="periods-table">
                            <thead>
                                <tr>
                                    <th>{t(Msg::Period)}</th>
                                    <th>{t(Msg::Status)}</th>
                                    <th class="num">{t(Msg::UsageRecords)}</th>
                                    <th class="num">{t(Msg::SubscriptionsWithUsage)}</th>
                                    <th>{t(Msg::UsageDays)}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {o.periods
                                    .into_iter()
                                    .map(|p| {
                                        let (status, class) = if p.in_progress {
                                            (t(Msg::InProgress), "badge badge-info")
                                        } else {
                                            (t(Msg::ReadyToInvoice), "badge badge-ok")
                                        };
                                        view! {
                                            <tr>
                                                <td data-label=t(Msg::Period)>{format_period(p.period, locale)}</td>
                                                <td data-label=t(Msg::Status)><span class=class>{status}</span></td>
                                                <td class="num" data-label=t(Msg::UsageRecords)>{format_count(p.usage_records, locale)}</td>
                                                <td class="num" data-label=t(Msg::SubscriptionsWithUsage)>{format_count(p.user_subscriptions, locale)}</td>
                                                <td data-label=t(Msg::UsageDays)>
                                                    {format!("{} – {}", format_date(p.first_usage_on, locale), format_date(p.last_usage_on, locale))}
                                                </td>
                                            </tr>
                                        }
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

//! `/operator`: the operations overview.

use crate::components::cost::CostPanels;
use crate::components::page::DataPage;
use crate::components::stat::StatCard;
use crate::i18n::{format_count, format_date, format_datetime, text, Locale, Msg};
use crate::server_fns::overview::get_operator_overview;
use crate::types::OperatorOverview;
use leptos::prelude::*;
use leptos_meta::Title;

/// Registrations, customers, mapping coverage and ingestion at a glance.
#[component]
pub fn OperatorHome() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_operator_overview());
    view! {
        <Title text="Overview · Stackbill"/>
        <DataPage data view=|o, locale| view! { <OperatorView o locale/> }/>
    }
}

#[component]
fn OperatorView(o: OperatorOverview, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let last = o
        .last_ingestion_at
        .map(|at| format_datetime(at, locale))
        .unwrap_or_else(|| t(Msg::Never).to_owned());
    let latest = o
        .latest_usage_on
        .map(|d| format_date(d, locale))
        .unwrap_or_else(|| t(Msg::Never).to_owned());
    let unassigned = format!(
        "{} {}",
        format_count(o.unassigned_subscriptions, locale),
        t(Msg::Unassigned)
    );
    view! {
        <div class="page-head page-head-actions">
            <h1>{t(Msg::OperatorTitle)}</h1>
            <div class="form-actions">
                <a class="btn" href="/operator/registrations">{t(Msg::Registrations)}</a>
                <a class="btn" href="/operator/ingestion" data-testid="ingestion-link">{t(Msg::IngestionLink)}</a>
            </div>
        </div>
        <section class="stats" data-testid="operator-stats">
            <StatCard label=t(Msg::Registrations) value=format_count(o.registrations.len() as i64, locale) testid="stat-registrations"/>
            <StatCard label=t(Msg::Customers) value=format_count(o.customers, locale) testid="stat-customers"/>
            <StatCard label=t(Msg::MappedTenants) value=format_count(o.mapped_tenants, locale) testid="stat-mapped"/>
            <StatCard label=t(Msg::UnmappedTenants) value=format_count(o.unmapped_tenants, locale) testid="stat-unmapped"/>
            <StatCard label=t(Msg::UserSubscriptions) value=format_count(o.user_subscriptions, locale) note=unassigned testid="stat-user-subscriptions"/>
            <StatCard label=t(Msg::UsageRecords) value=format_count(o.usage_records, locale) note=format!("{}: {}", t(Msg::LatestUsage), latest) testid="stat-usage-records"/>
            <StatCard label=t(Msg::LastIngestion) value=last text=true testid="stat-last-ingestion"/>
            <StatCard label=t(Msg::Meters) value=format_count(o.meters, locale) testid="stat-meters"/>
        </section>
        <CostPanels cost=o.cost.clone() locale/>
        <section class="panel">
            <h2><a href="/operator/registrations" data-testid="registrations-page-link">{t(Msg::Registrations)}</a></h2>
            {if o.registrations.is_empty() {
                view! { <p class="muted">{t(Msg::NoRegistrations)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="registrations-table">
                            <thead>
                                <tr>
                                    <th>{t(Msg::RegistrationName)}</th>
                                    <th>{t(Msg::BaseSubscription)}</th>
                                    <th>{t(Msg::Currency)}</th>
                                    <th>{t(Msg::DefaultPriceSheet)}</th>
                                    <th class="num">{t(Msg::MappedTenants)}</th>
                                    <th class="num">{t(Msg::UserSubscriptions)}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {o.registrations
                                    .into_iter()
                                    .map(|r| view! {
                                        <tr>
                                            <td data-label=t(Msg::RegistrationName)><a href=format!("/operator/registrations/{}", r.id)>{r.name}</a></td>
                                            <td data-label=t(Msg::BaseSubscription)><code>{r.base_subscription_id}</code></td>
                                            <td data-label=t(Msg::Currency)>{r.currency}</td>
                                            <td data-label=t(Msg::DefaultPriceSheet)>{r.price_sheet.unwrap_or_else(|| t(Msg::NoPriceSheet).to_owned())}</td>
                                            <td class="num" data-label=t(Msg::MappedTenants)>{format_count(r.mapped_tenants, locale)}</td>
                                            <td class="num" data-label=t(Msg::UserSubscriptions)>{format_count(r.user_subscriptions, locale)}</td>
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

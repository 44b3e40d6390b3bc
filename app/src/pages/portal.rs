//! `/portal`: a customer's own home.

use crate::components::feedback::{ErrorPanel, Loading};
use crate::components::layout::use_locale;
use crate::i18n::{format_count, format_date, text, Locale, Msg};
use crate::server_fns::overview::get_customer_overview;
use crate::types::CustomerOverview;
use leptos::prelude::*;
use leptos_meta::Title;

/// The customer's name, how they are billed and their subscriptions.
#[component]
pub fn PortalHome() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_customer_overview());
    let locale = use_locale();
    view! {
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(o) => view! { <PortalView o locale=locale.get_untracked()/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
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

//! `/meters`: the meter catalogue.

use crate::billing::MeterBilling;
use crate::components::feedback::{ErrorPanel, Loading};
use crate::context::use_locale;
use crate::i18n::{text, Locale, Msg};
use crate::server_fns::overview::get_meters;
use crate::types::MeterView;
use leptos::prelude::*;
use leptos_meta::Title;

/// Every meter with its unit and whether it is charged.
#[component]
pub fn MetersPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_meters());
    let locale = use_locale();
    view! {
        <Title text="Meters · Stackbill"/>
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(meters) => view! { <MetersView meters locale=locale.get_untracked()/> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MetersView(meters: Vec<MeterView>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    view! {
        <div class="page-head">
            <h1>{t(Msg::MetersTitle)}</h1>
            <p class="muted">{format!("{} {}", meters.len(), t(Msg::Meters).to_lowercase())}</p>
        </div>
        <section class="panel">
            <div class="table-wrap">
                <table class="table" data-testid="meters-table">
                    <thead>
                        <tr>
                            <th>{t(Msg::Service)}</th>
                            <th>{t(Msg::Name)}</th>
                            <th>{t(Msg::Unit)}</th>
                            <th>{t(Msg::Billing)}</th>
                            <th>{t(Msg::MeterId)}</th>
                            <th>{t(Msg::Origin)}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {meters
                            .into_iter()
                            .map(|m| {
                                let (billing, class) = match m.billing {
                                    MeterBilling::Billable => (t(Msg::Billable), "badge badge-ok"),
                                    MeterBilling::ReportOnly => (t(Msg::ReportOnly), "badge badge-muted"),
                                };
                                let origin = if m.origin == "discovered" { t(Msg::Discovered) } else { t(Msg::FromCatalogue) };
                                view! {
                                    <tr>
                                        <td data-label=t(Msg::Service)>{m.service}</td>
                                        <td data-label=t(Msg::Name)>{m.name}</td>
                                        <td data-label=t(Msg::Unit)>{m.unit}</td>
                                        <td data-label=t(Msg::Billing)><span class=class>{billing}</span></td>
                                        <td data-label=t(Msg::MeterId)><code>{m.id}</code></td>
                                        <td data-label=t(Msg::Origin)>{origin}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

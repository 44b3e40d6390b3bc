//! `/meters`: the meter catalogue — searched by name, GUID (any form) or service; each
//! meter billable or report-only from a chosen day (operators); meters discovered in usage
//! (absent from the catalogue) first, with when they were first seen and their records, to
//! be named and given a unit so they can be priced.

use crate::billing::MeterBilling;
use crate::components::form::{form_error, href_with, success_count, FormAlert};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::context::use_can_edit;
use crate::i18n::{format_count, format_datetime, text, Locale, Msg};
use crate::server_fns::console::{get_meter_catalogue, DescribeMeter, SetMeterBilling};
use crate::types::{MeterCatalogue, MeterQuery, MeterView};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The catalogue with its filters and, for operators, its controls.
#[component]
pub fn MetersPage() -> impl IntoView {
    let query = use_query_map();
    let current = Memo::new(move |_| {
        query.with(|m| MeterQuery {
            q: m.get("q").unwrap_or_default(),
            service: m.get("service").unwrap_or_default(),
            origin: m.get("origin").unwrap_or_default(),
            billing: m.get("billing").unwrap_or_default(),
        })
    });
    // Both forms redirect to this page: reload what was saved.
    let billing = ServerAction::<SetMeterBilling>::new();
    let describe = ServerAction::<DescribeMeter>::new();
    let saved_billing = success_count(billing.value());
    let saved_names = success_count(describe.value());
    let data = Resource::new(
        move || (current.get(), saved_billing.get(), saved_names.get()),
        |(q, _, _)| get_meter_catalogue(q),
    );
    view! {
        <Title text="Meters · Stackbill"/>
        <DataPage data view=move |c, locale| view! { <MetersView c q=current.get_untracked() billing describe locale/> }/>
    }
}

#[component]
fn MetersView(
    c: MeterCatalogue,
    q: MeterQuery,
    billing: ServerAction<SetMeterBilling>,
    describe: ServerAction<DescribeMeter>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let billing_error = form_error(billing.value(), SetMeterBilling::PATH);
    let describe_error = form_error(describe.value(), DescribeMeter::PATH);
    let count = c.items.len();
    let (discovered, catalogue): (Vec<MeterView>, Vec<MeterView>) =
        c.items.into_iter().partition(|m| m.origin == "discovered");
    let billing_cell = move |m: &MeterView| {
        let (label, class) = match m.billing {
            MeterBilling::Billable => (t(Msg::Billable), "badge badge-ok"),
            MeterBilling::ReportOnly => (t(Msg::ReportOnly), "badge badge-muted"),
        };
        let badge = view! { <span class=class>{label}</span> };
        if !can_edit {
            return badge.into_any();
        }
        // The other mode, from a day (default today).
        let (to, to_label) = match m.billing {
            MeterBilling::Billable => ("report_only", t(Msg::MakeReportOnly)),
            MeterBilling::ReportOnly => ("billable", t(Msg::MakeBillable)),
        };
        let day_id = format!("day-{}", m.id);
        // The form's children are built later: owned values only.
        let id = m.id.clone();
        // Folded away so that the catalogue stays one line a meter.
        view! {
            {badge}
            <details class="row-action">
                <summary>{t(Msg::Change)}</summary>
                <ActionForm action=billing attr:class="inline-form" attr:data-testid="meter-billing-form">
                    <input type="hidden" name="meter_id" value=id/>
                    <input type="hidden" name="form[billing]" value=to/>
                    <label for=day_id.clone()>{t(Msg::FromDay)}</label>
                    <input id=day_id type="date" name="form[effective_on]"/>
                    <button type="submit" class="btn" data-testid="meter-billing-submit">{to_label}</button>
                </ActionForm>
            </details>
        }
        .into_any()
    };
    let row = move |m: &MeterView| -> Vec<AnyView> {
        vec![
            m.service.clone().into_any(),
            m.name.clone().into_any(),
            m.unit.clone().into_any(),
            billing_cell(m),
            view! { <code>{m.id.clone()}</code> }.into_any(),
        ]
    };
    let columns = || {
        vec![
            Column::text(t(Msg::Service)),
            Column::text(t(Msg::Name)),
            Column::text(t(Msg::Unit)),
            Column::text(t(Msg::Billing)),
            Column::text(t(Msg::MeterId)),
        ]
    };
    let discovered_rows: Vec<Vec<AnyView>> = discovered
        .iter()
        .map(|m| {
            let mut cells = row(m);
            cells.push(m.first_seen.map(|at| format_datetime(at, locale)).unwrap_or_default().into_any());
            cells.push(format_count(m.records.unwrap_or(0), locale).into_any());
            if can_edit {
                let id = m.id.clone();
                let (name, unit, service) = (m.name.clone(), m.unit.clone(), m.service.clone());
                cells.push(
                    view! {
                        <ActionForm action=describe attr:class="inline-form" attr:data-testid="meter-describe-form">
                            <input type="hidden" name="meter_id" value=id/>
                            <input type="text" name="form[name]" required aria-label=t(Msg::Name) placeholder=t(Msg::Name) value=name/>
                            <input type="text" name="form[unit]" required aria-label=t(Msg::Unit) placeholder=t(Msg::Unit) value=unit size="8"/>
                            <input type="text" name="form[service]" required aria-label=t(Msg::Service) placeholder=t(Msg::Service) value=service size="10"/>
                            <button type="submit" class="btn">{t(Msg::Save)}</button>
                        </ActionForm>
                    }
                    .into_any(),
                );
            }
            cells
        })
        .collect();
    let mut discovered_columns = columns();
    discovered_columns.push(Column::text(t(Msg::FirstSeen)));
    discovered_columns.push(Column::num(t(Msg::UsageRecords)));
    if can_edit {
        discovered_columns.push(Column::text(t(Msg::NameIt)));
    }
    let rows: Vec<Vec<AnyView>> = catalogue.iter().map(row).collect();
    let select = |id: &'static str, label: &'static str, current: String, options: Vec<(String, String)>| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <select id=id name=id>
                    {options
                        .into_iter()
                        .map(|(v, l)| {
                            let selected = v == current;
                            view! { <option value=v selected=selected>{l}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
        }
    };
    let mut services = vec![(String::new(), t(Msg::AllStatuses).to_owned())];
    services.extend(c.services.iter().map(|s| (s.clone(), s.clone())));
    let origins = vec![
        (String::new(), t(Msg::AllStatuses).to_owned()),
        ("discovered".to_owned(), t(Msg::Discovered).to_owned()),
        ("catalogue".to_owned(), t(Msg::FromCatalogue).to_owned()),
    ];
    let billings = vec![
        (String::new(), t(Msg::AllStatuses).to_owned()),
        ("billable".to_owned(), t(Msg::Billable).to_owned()),
        ("report_only".to_owned(), t(Msg::ReportOnly).to_owned()),
    ];
    let clear = (!(q.q.is_empty() && q.service.is_empty() && q.origin.is_empty() && q.billing.is_empty()))
        .then(|| href_with("/meters", &[]));
    view! {
        <div class="page-head">
            <h1>{t(Msg::MetersTitle)}</h1>
            <p class="muted" data-testid="meters-count">{format!("{} {}", format_count(count as i64, locale), t(Msg::Meters).to_lowercase())}</p>
        </div>
        <section class="panel">
            <form class="filters" method="get" action="/meters" role="search">
                <div class="field">
                    <label for="q">{t(Msg::SearchLabel)}</label>
                    <input id="q" type="search" name="q" value=q.q.clone() placeholder=t(Msg::MeterSearchHint) data-testid="meter-search"/>
                </div>
                {select("service", t(Msg::Service), q.service.clone(), services)}
                {select("origin", t(Msg::Origin), q.origin.clone(), origins)}
                {select("billing", t(Msg::Billing), q.billing.clone(), billings)}
                <button type="submit" class="btn">{t(Msg::SearchLabel)}</button>
                {clear.map(|h| view! { <a class="btn btn-quiet" href=h>{t(Msg::Cancel)}</a> })}
            </form>
            <FormAlert error=billing_error fields=&[]/>
        </section>
        {(!discovered_rows.is_empty()).then(|| view! {
            <section class="panel panel-attention" data-testid="discovered-meters">
                <h2>{t(Msg::DiscoveredMeters)}</h2>
                <p class="muted">{t(Msg::DiscoveredExplained)}</p>
                <FormAlert error=describe_error fields=&[]/>
                <DataTable columns=discovered_columns rows=discovered_rows empty="" testid="discovered-table"/>
            </section>
        })}
        <section class="panel">
            <DataTable columns=columns() rows empty=t(Msg::NoMetersMatch) testid="meters-table"/>
        </section>
    }
}

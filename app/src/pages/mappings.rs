//! `/operator/mappings`: every mapping in effect on a day across registrations, the CSV
//! export, and the CSV import with its dry run (every row's outcome, or every problem with
//! its row and column, before anything is applied).

use crate::components::form::href_with;
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable, Pager};
use crate::context::use_can_edit;
use crate::i18n::{format_date, showing_range, text, Locale, Msg};
use crate::server_fns::console::{list_mappings, ImportMappings};
use crate::types::{ListPage, MappingImportOutcome, MappingListItem};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    registration: String,
    at: String,
    page: i64,
}

fn href(f: &Filter, page: i64) -> String {
    href_with(
        "/operator/mappings",
        &[
            ("registration", f.registration.clone()),
            ("at", f.at.clone()),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ],
    )
}

/// The registration-wide mapping table, export and import.
#[component]
pub fn MappingsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| Filter {
            registration: q.get("registration").unwrap_or_default(),
            at: q.get("at").unwrap_or_default(),
            page: q.get_str("page").and_then(|p| p.parse().ok()).unwrap_or(1i64).max(1),
        })
    });
    let data = Resource::new(
        move || filter.get(),
        |f| list_mappings(f.registration, f.at, (f.page - 1) * PAGE_SIZE, PAGE_SIZE),
    );
    view! {
        <Title text="Mappings · Stackbill"/>
        <DataPage data view=move |page, locale| view! { <MappingsView page f=filter.get_untracked() locale/> }/>
    }
}

#[component]
fn MappingsView(page: ListPage<MappingListItem>, f: Filter, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let shown = page.items.len();
    let rows: Vec<Vec<AnyView>> = page
        .items
        .iter()
        .map(|m| {
            vec![
                m.registration.clone().into_any(),
                match (&m.customer_id, &m.customer) {
                    (Some(id), Some(name)) => {
                        view! { <a href=format!("/operator/customers/{id}")>{name.clone()}</a> }.into_any()
                    }
                    _ => "".into_any(),
                },
                view! { <code>{m.cloud_tenant_id.clone()}</code> }.into_any(),
                view! { <code>{m.customer_subscription_id.clone()}</code> }.into_any(),
                format_date(m.effective_on, locale).into_any(),
                m.ended_on
                    .map(|d| format_date(d, locale))
                    .unwrap_or_else(|| t(Msg::OpenEnded).to_owned())
                    .into_any(),
            ]
        })
        .collect();
    let columns = vec![
        Column::text(t(Msg::RegistrationName)),
        Column::text(t(Msg::Customer)),
        Column::text(t(Msg::CloudTenant)),
        Column::text(t(Msg::CustomerSubscriptionId)),
        Column::text(t(Msg::FromDay)),
        Column::text(t(Msg::UntilDay)),
    ];
    let summary = showing_range(
        locale,
        (page.offset + 1).min(page.total),
        page.offset + shown as i64,
        page.total,
        page.total_at_least,
    );
    let prev = (f.page > 1).then(|| href(&f, f.page - 1));
    let next = page.has_next().then(|| href(&f, f.page + 1));
    let export = href_with("/api/v1/mappings/export", &[("registration", f.registration.clone())]);
    view! {
        <div class="page-head page-head-actions">
            <h1>{t(Msg::MappingsInEffect)}</h1>
            <a class="btn" href=export download="mappings.csv" data-testid="mappings-export">{t(Msg::DownloadCsv)}</a>
        </div>
        <section class="panel">
            <form class="filters" method="get" action="/operator/mappings">
                <div class="field">
                    <label for="registration">{t(Msg::RegistrationName)}</label>
                    <input id="registration" type="text" name="registration" value=f.registration.clone() placeholder=t(Msg::AllRegistrations)/>
                </div>
                <div class="field">
                    <label for="at">{t(Msg::OnDay)}</label>
                    <input id="at" type="date" name="at" value=f.at.clone()/>
                </div>
                <button type="submit" class="btn">{t(Msg::Show)}</button>
            </form>
            <DataTable columns rows empty=t(Msg::NoMappings) testid="registration-mappings-table"/>
            <Pager offset=page.offset shown total=page.total summary prev next
                prev_label=t(Msg::PagerPrev) next_label=t(Msg::PagerNext)/>
        </section>
        {use_can_edit().then(|| view! { <ImportPanel locale/> })}
    }
}

/// Paste a CSV (files go to `POST /api/v1/mappings/import`), preview every row, then
/// apply the same text.
#[component]
fn ImportPanel(locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let action = ServerAction::<ImportMappings>::new();
    let csv = RwSignal::new(String::new());
    let outcome = move || action.value().get();
    view! {
        <section class="panel" data-testid="mapping-import">
            <h2>{t(Msg::ImportMappings)}</h2>
            <p class="muted"><code>"cloud_tenant_id,customer,registration,customer_subscription_id,effective_on"</code></p>
            <ActionForm action attr:class="form" attr:data-testid="mapping-import-form">
                <div class="field">
                    <label for="import-csv">{t(Msg::CsvText)}</label>
                    <textarea id="import-csv" name="csv" rows="6" class="mono" prop:value=move || csv.get()
                        on:input=move |ev| csv.set(event_target_value(&ev)) data-testid="import-csv"></textarea>
                </div>
                <input type="hidden" name="dry_run" value="true"/>
                <div class="form-actions">
                    <button type="submit" class="btn" data-testid="import-preview">{t(Msg::PreviewImport)}</button>
                </div>
            </ActionForm>
            {move || outcome().map(|o| match o {
                Ok(MappingImportOutcome::Done(report)) => {
                    let rows: Vec<Vec<AnyView>> = report
                        .rows
                        .iter()
                        .map(|r| {
                            let side = |s: &Option<String>| match s {
                                Some(s) => view! { <code>{s.clone()}</code> }.into_any(),
                                None => view! { <span class="badge badge-warn">{t(Msg::BadgeBase)}</span> }.into_any(),
                            };
                            vec![
                                r.row.to_string().into_any(),
                                view! { <code>{r.cloud_tenant_id.clone()}</code> }.into_any(),
                                r.registration.clone().into_any(),
                                format_date(r.effective_on, locale).into_any(),
                                side(&r.before),
                                side(&r.after),
                            ]
                        })
                        .collect();
                    let columns = vec![
                        Column::num(t(Msg::RowCol)),
                        Column::text(t(Msg::CloudTenant)),
                        Column::text(t(Msg::RegistrationName)),
                        Column::text(t(Msg::EffectiveOn)),
                        Column::text(t(Msg::Before)),
                        Column::text(t(Msg::After)),
                    ];
                    let applied = report.applied;
                    view! {
                        <p class=if applied { "note" } else { "muted" } data-testid="import-status">
                            {if applied { t(Msg::ImportApplied) } else { t(Msg::ImportPreviewed) }}
                        </p>
                        <DataTable columns rows empty="" testid="import-rows"/>
                        {(!applied).then(|| view! {
                            <ActionForm action attr:class="form">
                                <input type="hidden" name="csv" value=move || csv.get()/>
                                <input type="hidden" name="dry_run" value="false"/>
                                <button type="submit" class="btn btn-primary" data-testid="import-apply">{t(Msg::ApplyImport)}</button>
                            </ActionForm>
                        })}
                    }
                    .into_any()
                }
                Ok(MappingImportOutcome::Refused { message, rows }) => {
                    let list: Vec<Vec<AnyView>> = rows
                        .iter()
                        .map(|r| vec![r.row.to_string().into_any(), view! { <code>{r.column.clone()}</code> }.into_any(), r.message.clone().into_any()])
                        .collect();
                    view! {
                        <p class="form-error" role="alert" data-testid="import-refused">{message}</p>
                        <DataTable columns=vec![Column::num(t(Msg::RowCol)), Column::text(t(Msg::ColumnCol)), Column::text(t(Msg::Problem))]
                            rows=list empty="" testid="import-errors"/>
                    }
                    .into_any()
                }
                Err(e) => view! { <p class="form-error" role="alert" data-testid="import-refused">{e.message}</p> }.into_any(),
            })}
        </section>
    }
}

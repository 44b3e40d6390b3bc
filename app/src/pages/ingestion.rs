//! `/operator/ingestion`: the newest ingestion batches (imports, pushes, collector windows)
//! with their counts, each registration's collector, and the quarantine — each refused
//! record's raw text and reason, reprocessed (as is or corrected) or discarded (audited).

use crate::components::form::{form_error, success_count, FormAlert};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::context::use_can_edit;
use crate::i18n::{format_count, format_datetime, text, Locale, Msg};
use crate::server_fns::console::{get_ingestion, DiscardQuarantined, ReprocessQuarantined};
use crate::types::IngestionOverview;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

/// The ingestion screen.
#[component]
pub fn IngestionPage() -> impl IntoView {
    let reprocess = ServerAction::<ReprocessQuarantined>::new();
    let discard = ServerAction::<DiscardQuarantined>::new();
    let (r, d) = (success_count(reprocess.value()), success_count(discard.value()));
    let data = Resource::new(move || (r.get(), d.get()), |_| get_ingestion());
    view! {
        <Title text="Ingestion · Stackbill"/>
        <DataPage data view=move |o, locale| view! { <IngestionView o reprocess discard locale/> }/>
    }
}

fn at(secs: Option<i64>, locale: Locale) -> String {
    secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| format_datetime(d, locale))
        .unwrap_or_else(|| text(locale, Msg::Never).to_owned())
}

#[component]
fn IngestionView(
    o: IngestionOverview,
    reprocess: ServerAction<ReprocessQuarantined>,
    discard: ServerAction<DiscardQuarantined>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let errors = [
        form_error(reprocess.value(), ReprocessQuarantined::PATH),
        form_error(discard.value(), DiscardQuarantined::PATH),
    ];
    let error = Signal::derive(move || errors.iter().find_map(|e| e.get()));
    // A record that is still refused after reprocessing says why.
    let still = move || reprocess.value().get().and_then(Result::ok).flatten();
    let n = move |v: i64| format_count(v, locale).into_any();
    let batch_rows: Vec<Vec<AnyView>> = o
        .batches
        .iter()
        .map(|b| {
            vec![
                at(Some(b.committed_at), locale).into_any(),
                b.source.clone().into_any(),
                b.registration.clone().unwrap_or_default().into_any(),
                b.actor.clone().into_any(),
                b.label.clone().into_any(),
                n(b.accepted),
                n(b.duplicates),
                n(b.corrected),
                n(b.quarantined),
            ]
        })
        .collect();
    let collector_rows: Vec<Vec<AnyView>> = o
        .collectors
        .iter()
        .map(|c| {
            vec![
                c.registration.clone().into_any(),
                (if c.configured {
                    t(Msg::Configured)
                } else {
                    t(Msg::NotConfigured)
                })
                .into_any(),
                at(c.watermark_at, locale).into_any(),
                at(c.last_success_at, locale).into_any(),
                c.last_error.clone().unwrap_or_default().into_any(),
            ]
        })
        .collect();
    let quarantine_rows: Vec<Vec<AnyView>> = o
        .quarantine
        .iter()
        .map(|q| {
            let mut cells = vec![
                at(Some(q.received_at), locale).into_any(),
                q.reason.clone().into_any(),
                view! { <code class="raw">{q.raw.clone()}</code> }.into_any(),
            ];
            if can_edit {
                let (id, raw) = (q.id, q.raw.clone());
                cells.push(
                    view! {
                        <div class="row-actions">
                            <details class="row-action">
                                <summary data-testid="reprocess-open">{t(Msg::Reprocess)}</summary>
                                <ActionForm action=reprocess attr:class="form">
                                    <input type="hidden" name="id" value=id/>
                                    <label class="sr-only" for=format!("raw-{id}")>{t(Msg::CorrectedRecord)}</label>
                                    <textarea id=format!("raw-{id}") name="raw" rows="4" class="mono">{raw}</textarea>
                                    <button type="submit" class="btn" data-testid="reprocess">{t(Msg::Reprocess)}</button>
                                </ActionForm>
                            </details>
                            <details class="row-action">
                                <summary>{t(Msg::Discard)}</summary>
                                <ActionForm action=discard attr:class="inline-form">
                                    <input type="hidden" name="id" value=id/>
                                    <button type="submit" class="btn btn-danger" data-testid="discard">{t(Msg::ConfirmChange)}</button>
                                </ActionForm>
                            </details>
                        </div>
                    }
                    .into_any(),
                );
            }
            cells
        })
        .collect();
    let mut quarantine_columns = vec![
        Column::text(t(Msg::Received)),
        Column::text(t(Msg::Reason)),
        Column::text(t(Msg::RawRecord)),
    ];
    if can_edit {
        quarantine_columns.push(Column::text(t(Msg::Change)));
    }
    view! {
        <div class="page-head"><h1>{t(Msg::Ingestion)}</h1></div>
        <FormAlert error fields=&[]/>
        {move || still().map(|reason| view! { <p class="form-error" role="alert" data-testid="still-rejected">{reason}</p> })}
        <section class="panel" data-testid="quarantine-panel">
            <h2>{format!("{} ({})", t(Msg::Quarantine), format_count(o.quarantine_open, locale))}</h2>
            <DataTable columns=quarantine_columns rows=quarantine_rows empty=t(Msg::QuarantineEmpty) testid="quarantine-table"/>
        </section>
        <section class="panel">
            <h2>{t(Msg::Collector)}</h2>
            <DataTable
                columns=vec![
                    Column::text(t(Msg::RegistrationName)),
                    Column::text(t(Msg::Status)),
                    Column::text(t(Msg::Watermark)),
                    Column::text(t(Msg::LastSuccess)),
                    Column::text(t(Msg::LastError)),
                ]
                rows=collector_rows
                empty=t(Msg::NoRegistrations)
                testid="collectors-table"
            />
        </section>
        <section class="panel">
            <h2>{t(Msg::RecentBatches)}</h2>
            <DataTable
                columns=vec![
                    Column::text(t(Msg::Received)),
                    Column::text(t(Msg::SourceCol)),
                    Column::text(t(Msg::RegistrationName)),
                    Column::text(t(Msg::ByActor)),
                    Column::text(t(Msg::Label)),
                    Column::num(t(Msg::Accepted)),
                    Column::num(t(Msg::Duplicates)),
                    Column::num(t(Msg::Corrected)),
                    Column::num(t(Msg::Quarantined)),
                ]
                rows=batch_rows
                empty=t(Msg::NoUsageYet)
                testid="batches-table"
            />
        </section>
    }
}

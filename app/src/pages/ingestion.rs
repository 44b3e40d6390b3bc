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
    // Each upload that lands reloads the batches (outside the body: its state survives).
    let uploaded = RwSignal::new(0u32);
    let upload = RwSignal::new(None::<UploadState>);
    let data = Resource::new(move || (r.get(), d.get(), uploaded.get()), |_| get_ingestion());
    view! {
        <Title text="Ingestion · Stackbill"/>
        <DataPage data view=move |o, locale| view! { <IngestionView o reprocess discard uploaded upload locale/> }/>
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
    uploaded: RwSignal<u32>,
    upload: RwSignal<Option<UploadState>>,
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
        {can_edit.then(|| {
            let registrations: Vec<String> = o.collectors.iter().map(|c| c.registration.clone()).collect();
            view! { <UploadPanel registrations uploaded state=upload locale/> }
        })}
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

/// What an upload came back with (only the browser uploads). Kept by the page, outside the
/// body the reload after an upload renders again.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum UploadState {
    /// Bytes sent of the file's bytes.
    Sending(f64, f64),
    /// The push's answer (counts).
    Done(serde_json::Value),
    /// Refused: the API's message.
    Failed(String),
}

/// A usage file (the usage API's JSON, an array of records, or CSV) sent to
/// `POST /api/v1/usage` — the same import path as the CLI and scripts — with a progress bar.
/// The browser sends the file itself; before hydration the panel points to the CLI and the
/// API instead (a file cannot travel in a plain form post to a JSON endpoint).
#[component]
fn UploadPanel(
    registrations: Vec<String>,
    uploaded: RwSignal<u32>,
    state: RwSignal<Option<UploadState>>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let registration = RwSignal::new(registrations.first().cloned().unwrap_or_default());
    let file_input = NodeRef::<leptos::html::Input>::new();
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let Some(file) = file_input.get().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
                state.set(Some(UploadState::Failed(text(locale, Msg::ChooseFile).to_owned())));
                return;
            };
            state.set(Some(UploadState::Sending(0.0, file.size())));
            send_usage_file(file, registration.get_untracked(), state, uploaded);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, uploaded);
    };
    let options: Vec<AnyView> = registrations
        .into_iter()
        .map(|r| view! { <option value=r.clone()>{r.clone()}</option> }.into_any())
        .collect();
    let status = move || {
        state.get().map(|s| match s {
            UploadState::Sending(sent, total) => view! {
                <p class="muted">{t(Msg::Uploading)}</p>
                <progress max=total value=sent data-testid="upload-progress" aria-label=t(Msg::Uploading)></progress>
            }
            .into_any(),
            UploadState::Done(v) => {
                let n = |k: &str| format_count(v[k].as_i64().unwrap_or(0), locale);
                let rejected = v["rejected"].as_array().map(|r| r.len()).unwrap_or(0) as i64;
                view! {
                    <p class="note" role="status" data-testid="upload-result">
                        {format!(
                            "{}: {} · {}: {} · {}: {} · {}: {} · {}: {}",
                            t(Msg::Accepted), n("accepted"),
                            t(Msg::Duplicates), n("duplicates"),
                            t(Msg::Corrected), n("corrected"),
                            t(Msg::Quarantined), n("quarantined"),
                            t(Msg::Rejected), format_count(rejected, locale),
                        )}
                    </p>
                }
                .into_any()
            }
            UploadState::Failed(message) => {
                view! { <p class="form-error" role="alert" data-testid="upload-error">{message}</p> }.into_any()
            }
        })
    };
    view! {
        <section class="panel" data-testid="upload-panel">
            <h2>{t(Msg::UploadUsage)}</h2>
            <p class="muted">{t(Msg::UploadUsageHint)}</p>
            <form class="form form-inline" on:submit=send data-testid="upload-form">
                <div class="field">
                    <label for="upload-registration">{t(Msg::RegistrationName)}</label>
                    <select id="upload-registration" prop:value=move || registration.get()
                        on:change=move |ev| registration.set(event_target_value(&ev))>{options}</select>
                </div>
                <div class="field">
                    <label for="upload-file">{t(Msg::UsageFile)}</label>
                    <input id="upload-file" type="file" accept=".json,.csv,application/json,text/csv" node_ref=file_input data-testid="upload-file"/>
                </div>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" data-testid="upload-submit">{t(Msg::Upload)}</button>
                </div>
            </form>
            {status}
        </section>
    }
}

/// Sends a file with `XMLHttpRequest`: unlike `fetch`, it reports upload progress.
#[cfg(feature = "hydrate")]
fn send_usage_file(
    file: web_sys::File,
    registration: String,
    state: RwSignal<Option<UploadState>>,
    uploaded: RwSignal<u32>,
) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let fail = move |m: String| state.set(Some(UploadState::Failed(m)));
    let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
        return fail("This browser cannot upload files.".into());
    };
    let url = if registration.is_empty() {
        "/api/v1/usage".to_owned()
    } else {
        format!(
            "/api/v1/usage?registration={}",
            crate::components::form::encode_component(&registration)
        )
    };
    if xhr.open("POST", &url).is_err() {
        return fail("The upload could not start.".into());
    }
    let csv = file.name().to_ascii_lowercase().ends_with(".csv");
    let _ = xhr.set_request_header("Content-Type", if csv { "text/csv" } else { "application/json" });
    let total = file.size();
    let progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
        let all = if e.length_computable() { e.total() } else { total };
        state.set(Some(UploadState::Sending(e.loaded(), all)));
    });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    }
    // One upload at a time, a few a day: the handlers live as long as the page.
    progress.forget();
    let done = xhr.clone();
    let load = Closure::<dyn FnMut()>::new(move || {
        let status = done.status().unwrap_or(0);
        let body: serde_json::Value = done
            .response_text()
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if (200..300).contains(&status) {
            state.set(Some(UploadState::Done(body)));
            uploaded.update(|n| *n += 1);
        } else {
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("The upload was refused.")
                .to_owned();
            let at = match (body["error"]["line"].as_u64(), body["error"]["column"].as_u64()) {
                (Some(l), Some(c)) => format!(" ({l}:{c})"),
                _ => String::new(),
            };
            state.set(Some(UploadState::Failed(format!("{message}{at}"))));
        }
    });
    xhr.set_onload(Some(load.as_ref().unchecked_ref()));
    load.forget();
    let error = Closure::<dyn FnMut()>::new(move || {
        state.set(Some(UploadState::Failed(
            "The connection was lost during the upload.".into(),
        )))
    });
    xhr.set_onerror(Some(error.as_ref().unchecked_ref()));
    error.forget();
    if xhr.send_with_opt_blob(Some(&file)).is_err() {
        fail("The upload could not start.".into());
    }
}

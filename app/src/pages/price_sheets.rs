//! `/operator/price-sheets`: every sheet, where it is in use, and a new one;
//! `/operator/price-sheets/:id`: its effective-dated versions, one version's prices by
//! meter (every pricing model), the billable meters with usage and no price, the CSV
//! download and upload (checked whole, every bad row listed, a preview of last month under
//! the draft before it is saved), one meter's price from a day, and the registrations whose
//! default it is.

use crate::billing::Money;
use crate::components::form::{form_error, href_with, success_count, success_count_if, FormAlert, TextField};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::context::use_can_edit;
use crate::i18n::{format_count, format_date, format_decimal, format_money, format_period, text, Locale, Msg};
use crate::server_fns::prices::{
    get_price_sheet, get_price_sheets, CreatePriceSheet, MakeDefaultSheet, SetCustomerPricing, SetPriceEntry,
    UploadPriceVersion,
};
use crate::types::{
    CustomerTermsView, PreviewSubject, PriceEntryView, PricePreview, PriceSheetDetail, PriceSheetSummary,
    PriceUploadOutcome, UnpricedMeter,
};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The sheets and, for operators, the form that adds one.
#[component]
pub fn PriceSheetsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_price_sheets());
    view! {
        <Title text="Price sheets · Stackbill"/>
        <DataPage data view=|sheets, locale| view! { <SheetsView sheets locale/> }/>
    }
}

#[component]
fn SheetsView(sheets: Vec<PriceSheetSummary>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let action = ServerAction::<CreatePriceSheet>::new();
    let error = form_error(action.value(), CreatePriceSheet::PATH);
    let rows: Vec<Vec<AnyView>> = sheets
        .iter()
        .map(|s| {
            vec![
                view! { <a href=format!("/operator/price-sheets/{}", s.id) data-testid="price-sheet-link">{s.name.clone()}</a> }.into_any(),
                s.currency.code().to_owned().into_any(),
                s.current_from.map(|d| format_date(d, locale)).unwrap_or_else(|| t(Msg::NoPriceSheet).to_owned()).into_any(),
                format_count(s.current_entries, locale).into_any(),
                s.default_for.join(", ").into_any(),
                format_count(s.customers, locale).into_any(),
                format_count(s.versions, locale).into_any(),
            ]
        })
        .collect();
    let columns = vec![
        Column::text(t(Msg::Name)),
        Column::text(t(Msg::Currency)),
        Column::text(t(Msg::CurrentVersionFrom)),
        Column::num(t(Msg::MetersPriced)),
        Column::text(t(Msg::DefaultFor)),
        Column::num(t(Msg::CustomersOwnSheet)),
        Column::num(t(Msg::Versions)),
    ];
    view! {
        <div class="page-head"><h1>{t(Msg::PriceSheets)}</h1></div>
        <section class="panel">
            <DataTable columns rows empty=t(Msg::NoPriceSheets) testid="price-sheets-list"/>
            {use_can_edit().then(|| view! {
                <details class="edit" open=error.get_untracked().is_some()>
                    <summary class="btn" data-testid="new-price-sheet-open">{t(Msg::NewPriceSheet)}</summary>
                    <ActionForm action attr:class="form form-grid" attr:data-testid="price-sheet-form">
                        <TextField label=t(Msg::Name) name="form[name]" field="name" value="" error required=true/>
                        <TextField label=t(Msg::Currency) name="form[currency]" field="currency" value="" error required=true hint="USD, EUR, TWD, CNY"/>
                        <TextField label=t(Msg::Description) name="form[description]" field="description" value="" error/>
                        <FormAlert error fields=&["name", "currency", "description"]/>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="price-sheet-save">{t(Msg::NewPriceSheet)}</button>
                        </div>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}

/// One sheet.
#[component]
pub fn PriceSheetPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.with(|p| p.get_str("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0)));
    let version = Memo::new(move |_| query.with(|q| q.get_str("version").and_then(|v| v.parse::<i64>().ok())));
    // The forms redirect to this page (or, for uploads, stay on it): reload what was saved.
    let entry = ServerAction::<SetPriceEntry>::new();
    let default = ServerAction::<MakeDefaultSheet>::new();
    let upload = ServerAction::<UploadPriceVersion>::new();
    let saved_entries = success_count(entry.value());
    let saved_defaults = success_count(default.value());
    let saved_versions = success_count_if(upload.value(), |o| matches!(o, PriceUploadOutcome::Saved { .. }));
    let data = Resource::new(
        move || {
            (
                id.get(),
                version.get(),
                saved_entries.get(),
                saved_defaults.get(),
                saved_versions.get(),
            )
        },
        |(id, version, ..)| get_price_sheet(id, version),
    );
    // Kept outside the page body so that a reload after saving keeps what was typed.
    let csv = RwSignal::new(String::new());
    view! {
        <Title text="Price sheet · Stackbill"/>
        <DataPage data view=move |d, locale| view! { <SheetView d entry default upload csv locale/> }/>
    }
}

fn model_label(model: &str, locale: Locale) -> &'static str {
    text(
        locale,
        match model {
            "graduated" => Msg::ModelGraduated,
            "volume" => Msg::ModelVolume,
            "package" => Msg::ModelPackage,
            _ => Msg::ModelPerUnit,
        },
    )
}

/// A price as people read it: `0.008 / vCPU-hour`, tiers one a line, `1.50 / 10 GB`.
fn price_text(e: &PriceEntryView, locale: Locale) -> AnyView {
    let p = |v| format_decimal(v, locale, 2, 10);
    match e.model.as_str() {
        "graduated" | "volume" => {
            let tiers: Vec<AnyView> = e
                .tiers
                .iter()
                .map(|t| view! { <li>{format!("≥ {}: {} / {}", format_decimal(t.from, locale, 0, 10), p(t.unit_price), e.billing_unit)}</li> }.into_any())
                .collect();
            view! { <ul class="tiers">{tiers}</ul> }.into_any()
        }
        "package" => format!(
            "{} / {} {}",
            p(e.unit_price),
            format_decimal(e.package_size.unwrap_or_default(), locale, 0, 10),
            e.billing_unit
        )
        .into_any(),
        _ => format!("{} / {}", p(e.unit_price), e.billing_unit).into_any(),
    }
}

fn conversion_text(e: &PriceEntryView, locale: Locale) -> String {
    let factor = format_decimal(e.usage_units_per_billing_unit, locale, 0, 10);
    let hours = if e.per_period_hours {
        text(locale, Msg::TimesPeriodHours)
    } else {
        ""
    };
    format!("{factor} {}{hours}", e.usage_unit)
}

fn unpriced_table(list: &[UnpricedMeter], locale: Locale, testid: &'static str) -> impl IntoView {
    let t = move |m| text(locale, m);
    let rows: Vec<Vec<AnyView>> = list
        .iter()
        .map(|m| {
            vec![
                m.name.clone().into_any(),
                m.unit.clone().into_any(),
                m.records
                    .map(|n| format_count(n, locale))
                    .unwrap_or_else(|| text(locale, Msg::NotAvailable).to_owned())
                    .into_any(),
                view! { <code>{m.meter_id.clone()}</code> }.into_any(),
            ]
        })
        .collect();
    view! {
        <DataTable columns=vec![Column::text(t(Msg::Name)), Column::text(t(Msg::Unit)), Column::num(t(Msg::UsageRecords)), Column::text(t(Msg::MeterId))]
            rows empty="" testid/>
    }
}

#[component]
fn SheetView(
    d: PriceSheetDetail,
    entry: ServerAction<SetPriceEntry>,
    default: ServerAction<MakeDefaultSheet>,
    upload: ServerAction<UploadPriceVersion>,
    csv: RwSignal<String>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let sheet_id = d.summary.id;
    let base = format!("/operator/price-sheets/{sheet_id}");
    let shown_id = d.shown.as_ref().map(|v| v.id);
    let versions: Vec<Vec<AnyView>> = d
        .versions
        .iter()
        .map(|v| {
            let link = href_with(&base, &[("version", v.id.to_string())]);
            let csv_link = format!("/api/v1/price-sheets/{sheet_id}/versions/{}.csv", v.id);
            let shown = Some(v.id) == shown_id;
            vec![
                view! {
                    <a href=link aria-current=shown.then_some("true") data-testid="version-link">{format_date(v.effective_on, locale)}</a>
                    {v.current.then(|| view! { " " <span class="badge badge-ok">{t(Msg::InEffect)}</span> })}
                }
                .into_any(),
                v.ended_on.map(|d| format_date(d, locale)).unwrap_or_else(|| t(Msg::OpenEnded).to_owned()).into_any(),
                format_count(v.entries, locale).into_any(),
                v.note.clone().into_any(),
                view! { <a href=csv_link download="" data-testid="version-csv">{t(Msg::DownloadCsv)}</a> }.into_any(),
            ]
        })
        .collect();
    let entries: Vec<Vec<AnyView>> = d
        .entries
        .iter()
        .map(|e| {
            vec![
                view! { {e.meter_name.clone()} <br/><code class="muted">{e.meter_id.clone()}</code> }.into_any(),
                e.service.clone().into_any(),
                model_label(&e.model, locale).into_any(),
                price_text(e, locale),
                conversion_text(e, locale).into_any(),
            ]
        })
        .collect();
    let uses = |list: &[crate::types::SheetUse], href: &'static str| -> Vec<AnyView> {
        list.iter()
            .map(|u| view! { <li><a href=format!("{href}/{}", u.id)>{u.name.clone()}</a></li> }.into_any())
            .collect()
    };
    let default_for = uses(&d.default_for, "/operator/registrations");
    let customers = uses(&d.customers, "/operator/customers");
    let shown_title = d.shown.as_ref().map(|v| {
        format!(
            "{} {} – {}",
            t(Msg::PricesFrom),
            format_date(v.effective_on, locale),
            v.ended_on
                .map(|e| format_date(e, locale))
                .unwrap_or_else(|| t(Msg::OpenEnded).to_owned())
        )
    });
    let unpriced = d.unpriced.clone();
    view! {
        <div class="page-head">
            <p class="crumbs"><a href="/operator/price-sheets">{t(Msg::PriceSheets)}</a></p>
            <h1 data-testid="price-sheet-title">{d.summary.name.clone()} " " <span class="badge">{d.summary.currency.code().to_owned()}</span></h1>
            <p class="muted">{d.summary.description.clone()}</p>
        </div>
        <section class="panel" data-testid="sheet-uses">
            <h2>{t(Msg::InUse)}</h2>
            <div class="cols">
                <div>
                    <h3>{t(Msg::DefaultFor)}</h3>
                    {if default_for.is_empty() { view! { <p class="muted">{t(Msg::NoPriceSheet)}</p> }.into_any() } else { view! { <ul>{default_for}</ul> }.into_any() }}
                </div>
                <div>
                    <h3>{t(Msg::CustomersOwnSheet)}</h3>
                    {if customers.is_empty() { view! { <p class="muted">{t(Msg::NoPriceSheet)}</p> }.into_any() } else { view! { <ul>{customers}</ul> }.into_any() }}
                </div>
            </div>
            {(can_edit && !d.registrations.is_empty()).then(|| view! { <DefaultForm action=default sheet_id registrations=d.registrations.clone() locale/> })}
        </section>
        <section class="panel">
            <h2>{t(Msg::Versions)}</h2>
            <DataTable columns=vec![Column::text(t(Msg::FromDay)), Column::text(t(Msg::UntilDay)), Column::num(t(Msg::MetersPriced)), Column::text(t(Msg::Note)), Column::text(t(Msg::DownloadCsv))]
                rows=versions empty=t(Msg::NoVersions) testid="versions-table"/>
        </section>
        <section class="panel">
            <h2>{shown_title.unwrap_or_else(|| t(Msg::NoVersions).to_owned())}</h2>
            {(!unpriced.is_empty()).then(|| view! {
                <div class="callout callout-warn" role="status" data-testid="unpriced-meters">
                    <p><strong>{t(Msg::UnpricedMeters)}</strong> " " {format!("({} {})", t(Msg::Since).to_lowercase(), format_date(d.unpriced_since, locale))}</p>
                    {unpriced_table(&unpriced, locale, "unpriced-table")}
                </div>
            })}
            <DataTable columns=vec![Column::text(t(Msg::Meters)), Column::text(t(Msg::Service)), Column::text(t(Msg::PricingModel)), Column::text(t(Msg::Price)), Column::text(t(Msg::UsageUnitsPerBillingUnit))]
                rows=entries empty=t(Msg::NoPrices) testid="entries-table"/>
        </section>
        {can_edit.then(|| view! {
            <EntryForm action=entry sheet_id meters=d.meters.clone() today=d.today locale/>
            <UploadPanel action=upload sheet_id csv locale/>
        })}
    }
}

#[component]
fn DefaultForm(
    action: ServerAction<MakeDefaultSheet>,
    sheet_id: i64,
    registrations: Vec<crate::types::SheetUse>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let error = form_error(action.value(), MakeDefaultSheet::PATH);
    let options: Vec<AnyView> = registrations
        .into_iter()
        .map(|r| view! { <option value=r.id.to_string()>{r.name}</option> }.into_any())
        .collect();
    view! {
        <ActionForm action attr:class="form form-inline" attr:data-testid="default-form">
            <input type="hidden" name="sheet_id" value=sheet_id.to_string()/>
            <div class="field">
                <label for="default-registration">{t(Msg::MakeDefaultFor)}</label>
                <select id="default-registration" name="registration_id">{options}</select>
            </div>
            <TextField label=t(Msg::FromDay) name="effective_on" field="effective_on" value="" error kind="date"/>
            <FormAlert error fields=&["effective_on"]/>
            <div class="form-actions">
                <button type="submit" class="btn" data-testid="default-save">{t(Msg::MakeDefault)}</button>
            </div>
        </ActionForm>
    }
}

#[component]
fn EntryForm(
    action: ServerAction<SetPriceEntry>,
    sheet_id: i64,
    meters: Vec<crate::types::MeterChoice>,
    today: chrono::NaiveDate,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let error = form_error(action.value(), SetPriceEntry::PATH);
    let options: Vec<AnyView> = meters
        .into_iter()
        .map(|m| view! { <option value=m.id.clone()>{format!("{} ({})", m.name, m.unit)}</option> }.into_any())
        .collect();
    let models: Vec<AnyView> = ["per_unit", "graduated", "volume", "package"]
        .into_iter()
        .map(|m| view! { <option value=m>{model_label(m, locale)}</option> }.into_any())
        .collect();
    view! {
        <section class="panel" id="editor">
            <h2>{t(Msg::SetPrice)}</h2>
            <p class="muted">{t(Msg::SetPriceHint)}</p>
            <ActionForm action attr:class="form form-grid" attr:data-testid="entry-form">
                <input type="hidden" name="sheet_id" value=sheet_id.to_string()/>
                <div class="field">
                    <label for="entry-meter">{t(Msg::Meters)}</label>
                    <select id="entry-meter" name="form[meter_id]" data-testid="entry-meter">{options}</select>
                </div>
                <div class="field">
                    <label for="entry-model">{t(Msg::PricingModel)}</label>
                    <select id="entry-model" name="form[model]" data-testid="entry-model">{models}</select>
                </div>
                <TextField label=t(Msg::UnitPriceLabel) name="form[unit_price]" field="unit_price" value="" error hint="0.008"/>
                <TextField label=t(Msg::Tiers) name="form[tiers]" field="tiers" value="" error multiline=true hint=t(Msg::TiersHint)/>
                <TextField label=t(Msg::PackageSize) name="form[package_size]" field="package_size" value="" error/>
                <TextField label=t(Msg::BillingUnit) name="form[billing_unit]" field="billing_unit" value="" error hint=t(Msg::BillingUnitHint)/>
                <TextField label=t(Msg::UsageUnitsPerBillingUnit) name="form[usage_units_per_billing_unit]" field="usage_units_per_billing_unit" value="" error hint="1"/>
                <div class="field field-check">
                    <input id="entry-hours" type="checkbox" name="form[per_period_hours]" value="true"/>
                    <label for="entry-hours">{t(Msg::PerPeriodHours)}</label>
                </div>
                <TextField label=t(Msg::FromDay) name="form[effective_on]" field="effective_on" value=today.to_string() error kind="date"/>
                <FormAlert error fields=&["unit_price", "tiers", "package_size", "billing_unit", "usage_units_per_billing_unit", "effective_on"]/>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" data-testid="entry-save">{t(Msg::SetPrice)}</button>
                </div>
            </ActionForm>
        </section>
    }
}

fn money(amount: rust_decimal::Decimal, currency: crate::billing::Currency, locale: Locale) -> String {
    format_money(&Money::new(amount, currency), locale)
}

fn preview_view(p: PricePreview, locale: Locale) -> AnyView {
    let t = move |m| text(locale, m);
    let rows: Vec<Vec<AnyView>> = p
        .changed
        .iter()
        .map(|r| {
            let who = match &r.subject {
                PreviewSubject::Customer { id, name } => {
                    view! { <a href=format!("/operator/customers/{id}")>{name.clone()}</a> }.into_any()
                }
                PreviewSubject::Tenant { cloud_tenant_id } => {
                    view! { {t(Msg::TenantWithoutCustomer)} " " <code>{cloud_tenant_id.clone()}</code> }.into_any()
                }
                PreviewSubject::Unassigned => t(Msg::UnassignedUsage).into_any(),
            };
            let sign = if r.difference > rust_decimal::Decimal::ZERO {
                "+"
            } else {
                ""
            };
            vec![
                r.registration.clone().into_any(),
                who,
                money(r.current, r.currency, locale).into_any(),
                money(r.draft, r.currency, locale).into_any(),
                format!("{sign}{}", money(r.difference, r.currency, locale)).into_any(),
            ]
        })
        .collect();
    view! {
        <div data-testid="price-preview">
            <h3>{format!(
                "{} {}",
                t(Msg::PreviewOf),
                crate::billing::BillingPeriod::parse(&p.period).map(|m| format_period(m, locale)).unwrap_or(p.period.clone())
            )}</h3>
            {p.unused.then(|| view! { <p class="muted" data-testid="preview-unused">{t(Msg::SheetUnused)}</p> })}
            <DataTable columns=vec![Column::text(t(Msg::RegistrationName)), Column::text(t(Msg::Customer)), Column::num(t(Msg::NowLabel)), Column::num(t(Msg::DraftLabel)), Column::num(t(Msg::Difference))]
                rows empty=t(Msg::NoDifference) testid="preview-table"/>
            <p class="muted">{format!("{} {}", format_count(p.unchanged as i64, locale), t(Msg::UnchangedRows))}</p>
            {(!p.unpriced.is_empty()).then(|| view! {
                <div class="callout callout-warn" role="status" data-testid="preview-unpriced">
                    <p><strong>{t(Msg::UnpricedInDraft)}</strong></p>
                    {unpriced_table(&p.unpriced, locale, "preview-unpriced-table")}
                </div>
            })}
        </div>
    }
    .into_any()
}

/// Paste a version's CSV (or pick the file), check it and preview last month under it,
/// then save the same text as a version from a day.
#[component]
fn UploadPanel(
    action: ServerAction<UploadPriceVersion>,
    sheet_id: i64,
    csv: RwSignal<String>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let day = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let outcome = move || action.value().get();
    view! {
        <section class="panel" data-testid="price-upload">
            <h2>{t(Msg::UploadVersion)}</h2>
            <p class="muted"><code>{crate::types::PRICE_CSV_HEADER}</code></p>
            <p class="muted">{t(Msg::UploadHint)}</p>
            <ActionForm action attr:class="form" attr:data-testid="price-upload-form">
                <input type="hidden" name="sheet_id" value=sheet_id.to_string()/>
                <div class="field">
                    <label for="price-csv">{t(Msg::CsvText)}</label>
                    <textarea id="price-csv" name="form[csv]" rows="8" class="mono" prop:value=move || csv.get()
                        on:input=move |ev| csv.set(event_target_value(&ev)) data-testid="price-csv"></textarea>
                </div>
                <div class="form-grid">
                    <div class="field">
                        <label for="price-day">{t(Msg::FromDay)}</label>
                        <input id="price-day" type="date" name="form[effective_on]" prop:value=move || day.get()
                            on:input=move |ev| day.set(event_target_value(&ev)) data-testid="price-day"/>
                    </div>
                    <div class="field">
                        <label for="price-note">{t(Msg::Note)}</label>
                        <input id="price-note" type="text" name="form[note]" prop:value=move || note.get()
                            on:input=move |ev| note.set(event_target_value(&ev))/>
                    </div>
                </div>
                <input type="hidden" name="save" value="false"/>
                <div class="form-actions">
                    <button type="submit" class="btn" data-testid="price-check">{t(Msg::CheckAndPreview)}</button>
                </div>
            </ActionForm>
            {move || outcome().map(|o| match o {
                Ok(PriceUploadOutcome::Checked(p)) => view! {
                    <p class="note" data-testid="price-upload-status">{t(Msg::UploadChecked)}</p>
                    {preview_view(p, locale)}
                    <ActionForm action attr:class="form">
                        <input type="hidden" name="sheet_id" value=sheet_id.to_string()/>
                        <input type="hidden" name="form[csv]" value=move || csv.get()/>
                        <input type="hidden" name="form[effective_on]" value=move || day.get()/>
                        <input type="hidden" name="form[note]" value=move || note.get()/>
                        <input type="hidden" name="save" value="true"/>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="price-save">{t(Msg::SaveVersion)}</button>
                        </div>
                    </ActionForm>
                }
                .into_any(),
                Ok(PriceUploadOutcome::Saved { effective_on, preview, .. }) => view! {
                    <p class="note" data-testid="price-upload-status">{format!("{} {}", t(Msg::VersionSaved), format_date(effective_on, locale))}</p>
                    {preview_view(preview, locale)}
                }
                .into_any(),
                Ok(PriceUploadOutcome::Refused { message, rows }) => {
                    let list: Vec<Vec<AnyView>> = rows
                        .iter()
                        .map(|r| vec![r.row.to_string().into_any(), view! { <code>{r.column.clone()}</code> }.into_any(), r.message.clone().into_any()])
                        .collect();
                    view! {
                        <p class="form-error" role="alert" data-testid="price-refused">{message}</p>
                        <DataTable columns=vec![Column::num(t(Msg::RowCol)), Column::text(t(Msg::ColumnCol)), Column::text(t(Msg::Problem))]
                            rows=list empty="" testid="price-errors"/>
                    }
                    .into_any()
                }
                Err(e) => view! { <p class="form-error" role="alert" data-testid="price-refused">{e.message}</p> }.into_any(),
            })}
        </section>
    }
}

/// A customer's pricing on its page: its own sheet or the registrations' defaults with a
/// markup or discount, since when, every change, and (operators) a change from a day.
#[component]
pub fn CustomerPricingPanel(
    terms: CustomerTermsView,
    customer_id: i64,
    action: ServerAction<SetCustomerPricing>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let error = form_error(action.value(), SetCustomerPricing::PATH);
    let priced_by = match &terms.own_sheet {
        Some(s) => view! {
            <a href=format!("/operator/price-sheets/{}", s.id)>{s.name.clone()}</a> " " <span class="badge">{t(Msg::OwnSheet)}</span>
        }
        .into_any(),
        None => t(Msg::RegistrationDefaultSheet).into_any(),
    };
    let percent = move |p: &Option<String>| {
        p.as_ref()
            .map(|p| format!("{p} %"))
            .unwrap_or_else(|| t(Msg::NoPriceSheet).to_owned())
    };
    let rows: Vec<Vec<AnyView>> = terms
        .changes
        .iter()
        .map(|ch| {
            vec![
                if ch.effective_on <= crate::billing::dated::since_always() {
                    t(Msg::FromTheStart).into_any()
                } else {
                    format_date(ch.effective_on, locale).into_any()
                },
                ch.own_sheet
                    .clone()
                    .unwrap_or_else(|| t(Msg::RegistrationDefaultSheet).to_owned())
                    .into_any(),
                percent(&ch.markup).into_any(),
                format_count(ch.per_meter as i64, locale).into_any(),
            ]
        })
        .collect();
    let options: Vec<AnyView> = terms
        .sheets
        .iter()
        .map(|s| {
            let selected = terms.own_sheet.as_ref().is_some_and(|o| o.id == s.id);
            view! { <option value=s.id.to_string() selected=selected>{s.name.clone()}</option> }.into_any()
        })
        .collect();
    let markup_now = terms.markup.clone().unwrap_or_default();
    view! {
        <section class="panel" data-testid="pricing-panel">
            <h2>{t(Msg::PricingTitle)}</h2>
            <dl class="facts">
                <dt>{t(Msg::PricedBy)}</dt><dd data-testid="priced-by">{priced_by}</dd>
                <dt>{t(Msg::MarkupLabel)}</dt><dd data-testid="markup-now">{percent(&terms.markup)}</dd>
                <dt>{t(Msg::Since)}</dt><dd>{terms.since.map(|d| format_date(d, locale)).unwrap_or_else(|| t(Msg::FromTheStart).to_owned())}</dd>
            </dl>
            <DataTable columns=vec![Column::text(t(Msg::FromDay)), Column::text(t(Msg::PricedBy)), Column::text(t(Msg::MarkupLabel)), Column::num(t(Msg::PerMeterPercentages))]
                rows empty="" testid="pricing-history"/>
            {use_can_edit().then(|| view! {
                <details class="edit" open=error.get_untracked().is_some()>
                    <summary class="btn" data-testid="pricing-open">{t(Msg::ChangePricing)}</summary>
                    <ActionForm action attr:class="form form-grid" attr:data-testid="pricing-form">
                        <input type="hidden" name="customer_id" value=customer_id.to_string()/>
                        <div class="field">
                            <label for="pricing-sheet">{t(Msg::PricedBy)}</label>
                            <select id="pricing-sheet" name="form[price_sheet]" data-testid="pricing-sheet">
                                <option value="">{t(Msg::RegistrationDefaultSheet)}</option>
                                {options}
                            </select>
                        </div>
                        <TextField label=t(Msg::MarkupLabel) name="form[markup]" field="markup" value=markup_now error hint="15, -10"/>
                        <TextField label=t(Msg::FromDay) name="form[effective_on]" field="effective_on" value="" error kind="date"/>
                        <FormAlert error fields=&["markup", "effective_on"]/>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="pricing-save">{t(Msg::ChangePricing)}</button>
                        </div>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}

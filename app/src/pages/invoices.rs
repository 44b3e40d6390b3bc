//! `/finance/invoices?period=2026-10`: a month's invoices and credit notes — run the month
//! (drafts), review each draft (total, unpriced usage, its PDF), issue it (waiving unpriced
//! usage explicitly), void an issued invoice with a credit note; every PDF.

use crate::billing::Money;
use crate::components::form::{form_error, href_with, success_count, FormAlert};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::i18n::{format_count, format_money, format_period, text, Locale, Msg};
use crate::server_fns::invoices::{
    get_invoices, invoice_run_progress, IssueAllInvoices, IssueInvoice, RunInvoices, VoidInvoice,
};
use crate::types::{InvoiceSummary, RunPhase, RunProgressView};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The page.
#[component]
pub fn InvoicesPage() -> impl IntoView {
    let query = use_query_map();
    let period = Memo::new(move |_| query.with(|q| q.get("period").unwrap_or_default()));
    let run = ServerAction::<RunInvoices>::new();
    let issue = ServerAction::<IssueInvoice>::new();
    let void = ServerAction::<VoidInvoice>::new();
    // A run goes on in the background: its number comes back at once, and the page polls
    // its progress until it has finished, then reloads the list. Kept out here, so that a
    // reload of the list keeps the run's report on screen.
    let progress = RwSignal::new(None::<RunProgressView>);
    let finished = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Some(Ok(job)) = run.value().get() {
            progress.set(Some(RunProgressView {
                phase: RunPhase::Queued,
                done: 0,
                total: 0,
                report: None,
                error: None,
            }));
            poll(job, progress, finished);
        }
    });
    let issue_all = ServerAction::<IssueAllInvoices>::new();
    let (i, a, v) = (
        success_count(issue.value()),
        success_count(issue_all.value()),
        success_count(void.value()),
    );
    let data = Resource::new(
        move || (period.get(), finished.get(), i.get(), a.get(), v.get()),
        |(p, ..)| get_invoices(p),
    );
    view! {
        <Title text="Invoices · Stackbill"/>
        <DataPage data view=move |(p, list), locale| view! { <InvoicesView period=p list run progress issue issue_all void locale/> }/>
    }
}

/// Asks for run `job`'s progress, and again a quarter second later until it has finished.
fn poll(job: u64, progress: RwSignal<Option<RunProgressView>>, finished: RwSignal<u32>) {
    leptos::task::spawn_local(async move {
        let view = invoice_run_progress(job).await.unwrap_or_else(|e| RunProgressView {
            phase: RunPhase::Done,
            done: 0,
            total: 0,
            report: None,
            error: Some(e),
        });
        let done = view.phase == RunPhase::Done;
        progress.set(Some(view));
        if done {
            finished.update(|n| *n += 1);
        } else {
            set_timeout(
                move || poll(job, progress, finished),
                std::time::Duration::from_millis(250),
            );
        }
    });
}

/// The run's progress bar while it runs, its report or error once it has finished.
fn run_status(v: RunProgressView, locale: Locale) -> AnyView {
    let t = move |m| text(locale, m);
    if let Some(e) = v.error {
        return view! { <p class="form-error" role="alert" data-testid="run-error">{e.message}</p> }.into_any();
    }
    if let Some(r) = v.report {
        let n = |k: usize| format_count(k as i64, locale);
        let mut parts = vec![format!("{} {}", n(r.drafts), t(Msg::RunDrafts))];
        if r.replaced > 0 {
            parts.push(format!("{} {}", n(r.replaced as usize), t(Msg::RunReplaced)));
        }
        if r.already_issued > 0 {
            parts.push(format!("{} {}", n(r.already_issued), t(Msg::RunAlreadyIssued)));
        }
        if r.with_unpriced > 0 {
            parts.push(format!("{} {}", n(r.with_unpriced), t(Msg::RunWithUnpriced)));
        }
        let totals = r
            .totals
            .iter()
            .map(|(c, v)| format_money(&Money::new(*v, *c), locale))
            .collect::<Vec<_>>()
            .join(" + ");
        return view! {
            <p class="note" role="status" data-testid="run-report">
                {format!("{} {} · {totals}", t(Msg::RunFinished), parts.join(" · "))}
            </p>
        }
        .into_any();
    }
    let label = match v.phase {
        RunPhase::Queued => t(Msg::RunQueued),
        RunPhase::Rating => t(Msg::RunRating),
        RunPhase::Adjusting => t(Msg::RunAdjusting),
        RunPhase::Drafting => t(Msg::RunDrafting),
        RunPhase::Saving | RunPhase::Done => t(Msg::RunSaving),
    };
    let count = (v.total > 0).then(|| {
        format!(
            " {} / {}",
            format_count(v.done as i64, locale),
            format_count(v.total as i64, locale)
        )
    });
    view! {
        <div class="run-progress" role="status" data-testid="run-progress">
            <progress max=v.total.max(1).to_string() value=v.done.to_string()></progress>
            <span>{label}{count}</span>
        </div>
    }
    .into_any()
}

#[component]
fn InvoicesView(
    period: String,
    list: Vec<InvoiceSummary>,
    run: ServerAction<RunInvoices>,
    progress: RwSignal<Option<RunProgressView>>,
    issue: ServerAction<IssueInvoice>,
    issue_all: ServerAction<IssueAllInvoices>,
    void: ServerAction<VoidInvoice>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let staff = crate::context::use_can_invoice();
    let errors = [
        form_error(run.value(), RunInvoices::PATH),
        form_error(issue.value(), IssueInvoice::PATH),
        form_error(issue_all.value(), IssueAllInvoices::PATH),
        form_error(void.value(), VoidInvoice::PATH),
    ];
    let error = Signal::derive(move || errors.iter().find_map(|e| e.get()));
    let title = crate::billing::BillingPeriod::parse(&period)
        .map(|p| format_period(p, locale))
        .unwrap_or(period.clone());
    let drafts = list.iter().filter(|i| i.status == "draft").count() as i64;
    let rows: Vec<Vec<AnyView>> = list
        .iter()
        .map(|i| {
            let pdf = match &i.number {
                Some(n) => format!("/invoices/{n}.pdf"),
                None => format!("/api/v1/invoices/{}.pdf", i.id),
            };
            let (status, class) = match (i.kind.as_str(), i.status.as_str()) {
                (_, "draft") => (t(Msg::DraftMark), "badge badge-warn"),
                ("credit_note", _) => (t(Msg::CreditNoteTitle), "badge badge-muted"),
                (_, "void") => (t(Msg::Voided), "badge badge-muted"),
                _ => (t(Msg::Issued), "badge badge-ok"),
            };
            let action: AnyView = if !staff {
                "".into_any()
            } else if i.status == "draft" {
                let id = i.id;
                let unpriced = i.unpriced_meters > 0;
                view! {
                    <ActionForm action=issue attr:class="inline-form" attr:data-testid="issue-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        {unpriced.then(|| view! {
                            <label class="check"><input type="checkbox" name="waive" value="true" data-testid="waive"/>" "{t(Msg::WaiveUnpriced)}</label>
                        })}
                        <button type="submit" class="btn btn-primary" data-testid="issue">{t(Msg::IssueAction)}</button>
                    </ActionForm>
                }
                .into_any()
            } else if i.kind == "invoice" && i.status == "issued" {
                let number = i.number.clone().unwrap_or_default();
                view! {
                    <details class="row-action">
                        <summary data-testid="void-open">{t(Msg::VoidAction)}</summary>
                        <ActionForm action=void attr:class="inline-form" attr:data-testid="void-form">
                            <input type="hidden" name="number" value=number/>
                            <span class="muted">{t(Msg::VoidExplained)}</span>
                            <button type="submit" class="btn btn-danger" data-testid="void-confirm">{t(Msg::VoidAction)}</button>
                        </ActionForm>
                    </details>
                }
                .into_any()
            } else {
                "".into_any()
            };
            let detail_pdf = format!("{pdf}?detail=true");
            let detail_link = (i.kind == "invoice").then(|| view! {
                <a class="muted small" href=detail_pdf title=t(Msg::PdfWithDetail) data-testid="invoice-pdf-detail">" +"{t(Msg::UsageDetailTitle)}</a>
            });
            vec![
                view! { <a href=pdf data-testid="invoice-pdf">{i.number.clone().unwrap_or_else(|| format!("#{}", i.id))}</a>" "{detail_link} }.into_any(),
                view! { <span class=class>{status}</span> }.into_any(),
                i.bill_to.name.clone().into_any(),
                if i.account_kind == "base" { t(Msg::BaseAccountKind) } else { t(Msg::CustomerSubscriptionKind) }.into_any(),
                format_money(&Money::new(i.total, i.currency), locale).into_any(),
                change(i.previous_run_total, i.total, i.currency, locale).into_any(),
                i.previous_month_total
                    .map(|v| format_money(&Money::new(v, i.currency), locale))
                    .unwrap_or_default()
                    .into_any(),
                if i.unpriced_meters > 0 {
                    view! { <span class="badge badge-warn">{format_count(i.unpriced_meters as i64, locale)}</span> }.into_any()
                } else {
                    "".into_any()
                },
                action,
            ]
        })
        .collect();
    let columns = vec![
        Column::text(t(Msg::InvoiceNumberLabel)),
        Column::text(t(Msg::Status)),
        Column::text(t(Msg::BillToLabel)),
        Column::text(t(Msg::BillingAccount)),
        Column::num(t(Msg::TotalLabel)),
        Column::num(t(Msg::SinceLastRun)),
        Column::num(t(Msg::LastMonth)),
        Column::text(t(Msg::UnpricedUsage)),
        Column::text(""),
    ];
    let p = period.clone();
    view! {
        <div class="page-head page-head-actions">
            <h1 data-testid="invoices-title">{format!("{} · {title}", t(Msg::NavInvoices))}</h1>
            <form class="filters" method="get" action="/finance/invoices">
                <div class="field">
                    <label for="period">{t(Msg::Period)}</label>
                    <input id="period" type="month" name="period" value=period.clone()/>
                </div>
                <button type="submit" class="btn">{t(Msg::Show)}</button>
            </form>
        </div>
        <FormAlert error fields=&[]/>
        {staff.then(|| view! {
            <section class="panel">
                <ActionForm action=run attr:class="form form-inline" attr:data-testid="run-form">
                    <input type="hidden" name="period" value=p/>
                    <p class="muted">{format!("{} {}", format_count(drafts, locale), t(Msg::DraftsInPeriod))}</p>
                    <button type="submit" class="btn btn-primary" data-testid="run"
                        disabled=move || progress.get().is_some_and(|v| v.phase != RunPhase::Done)>
                        {t(Msg::RunPeriod)}
                    </button>
                </ActionForm>
                {move || progress.get().map(|v| run_status(v, locale))}
                {(drafts > 0).then(|| {
                    let p = period.clone();
                    view! {
                        <ActionForm action=issue_all attr:class="form form-inline" attr:data-testid="issue-all-form">
                            <input type="hidden" name="period" value=p/>
                            <label class="check"><input type="checkbox" name="waive" value="true"/>" "{t(Msg::WaiveUnpriced)}</label>
                            <button type="submit" class="btn" data-testid="issue-all">{t(Msg::IssueAllAction)}</button>
                        </ActionForm>
                    }
                })}
                {move || issue_all.value().get().and_then(Result::ok).map(|r| {
                    let summary = format!(
                        "{} {} · {} {}",
                        format_count(r.issued.len() as i64, locale),
                        t(Msg::IssuedCountLabel),
                        format_count(r.refused.len() as i64, locale),
                        t(Msg::RefusedCountLabel)
                    );
                    view! {
                        <div class="note" role="status" data-testid="issue-all-report">
                            <p>{summary}</p>
                            <ul>
                                {r.refused.into_iter().map(|x| view! { <li>{format!("{} — {}", x.bill_to, x.message)}</li> }).collect_view()}
                            </ul>
                        </div>
                    }
                })}
            </section>
        })}
        <section class="panel">
            <DataTable columns rows empty=t(Msg::NoInvoices) testid="invoices-table"/>
        </section>
        <p class="muted">
            <a href=href_with("/api/v1/invoices.zip", &[("period", period.clone())]) data-testid="invoices-zip">{t(Msg::AllPdfsZip)}</a>
            " · "
            <a href=href_with("/api/v1/invoice-lines.csv", &[("period", period.clone())])>{t(Msg::LinesCsv)}</a>
            " · "
            <a href=href_with("/api/v1/invoices", &[("period", period.clone())])>"JSON"</a>
        </p>
    }
}

/// A draft's change since the previous run: `+1.20 USD`, `±0`, or nothing on a first run.
fn change(
    before: Option<rust_decimal::Decimal>,
    now: rust_decimal::Decimal,
    currency: crate::billing::Currency,
    locale: Locale,
) -> String {
    match before {
        None => String::new(),
        Some(b) if b == now => "±0".to_owned(),
        Some(b) => {
            let d = now - b;
            let sign = if d > rust_decimal::Decimal::ZERO { "+" } else { "" };
            format!("{sign}{}", format_money(&Money::new(d, currency), locale))
        }
    }
}

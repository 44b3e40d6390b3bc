//! `/operator/audit`: every change anywhere in the product, filtered on the server by
//! entity, actor, action and time, newest first, with the same filter as CSV.

use crate::components::form::href_with;
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::i18n::{format_datetime, text, Locale, Msg};
use crate::server_fns::console::list_audit;
use crate::types::{AuditPage, AuditQuery};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn query_from(map: &leptos_router::params::ParamsMap) -> AuditQuery {
    let get = |k: &str| map.get(k).unwrap_or_default();
    AuditQuery {
        entity: get("entity"),
        actor: get("actor"),
        action: get("action"),
        since: get("since"),
        until: get("until"),
        cursor: get("cursor"),
        limit: 50,
    }
}

fn pairs(q: &AuditQuery) -> Vec<(&'static str, String)> {
    vec![
        ("entity", q.entity.clone()),
        ("actor", q.actor.clone()),
        ("action", q.action.clone()),
        ("since", q.since.clone()),
        ("until", q.until.clone()),
    ]
}

/// The audit log.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let current = Memo::new(move |_| query.with(query_from));
    let data = Resource::new(move || current.get(), list_audit);
    view! {
        <Title text="Audit log · Stackbill"/>
        <DataPage data view=move |page, locale| view! { <AuditView page q=current.get_untracked() locale/> }/>
    }
}

/// A JSON value in one short line (strings without quotes).
fn compact(v: &Option<serde_json::Value>) -> String {
    match v {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

#[component]
fn AuditView(page: AuditPage, q: AuditQuery, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let columns = vec![
        Column::text(t(Msg::RecordedAt)),
        Column::text(t(Msg::ByActor)),
        Column::text(t(Msg::AuditAction)),
        Column::text(t(Msg::AuditEntity)),
        Column::text(t(Msg::Change)),
    ];
    let rows = page
        .items
        .iter()
        .map(|e| {
            let who = if e.actor_label.is_empty() {
                e.actor.clone()
            } else {
                format!("{} ({})", e.actor_label, e.actor)
            };
            // Entries without before/after (sign-ins, imports) show their details.
            let change = if e.before.is_none() && e.after.is_none() {
                view! { <span class="audit-json">{compact(&Some(e.details.clone()))}</span> }.into_any()
            } else {
                let side = |v: &Option<serde_json::Value>| {
                    let s = compact(v);
                    if s.is_empty() {
                        t(Msg::NotAvailable).to_owned()
                    } else {
                        s
                    }
                };
                view! {
                    <span class="audit-json">{side(&e.before)}</span>
                    <span class="audit-arrow" aria-label="→">" → "</span>
                    <span class="audit-json">{side(&e.after)}</span>
                }
                .into_any()
            };
            vec![
                format_datetime(e.occurred_at, locale).into_any(),
                who.into_any(),
                view! { <code>{e.action.clone()}</code> }.into_any(),
                view! { <code>{e.subject.clone()}</code> }.into_any(),
                change,
            ]
        })
        .collect();
    let older = page.next_cursor.clone().map(|c| {
        let mut p = pairs(&q);
        p.push(("cursor", c));
        href_with("/operator/audit", &p)
    });
    let newest = (!q.cursor.is_empty()).then(|| href_with("/operator/audit", &pairs(&q)));
    let csv = href_with("/api/v1/audit", &{
        let mut p = pairs(&q);
        p.push(("format", "csv".into()));
        p
    });
    let field = |id: &'static str, label: &'static str, value: String, hint: &'static str| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input id=id name=id type="text" value=value placeholder=hint/>
            </div>
        }
    };
    view! {
        <div class="page-head page-head-actions">
            <h1>{t(Msg::AuditTitle)}</h1>
            <a class="btn" href=csv data-testid="audit-csv" download="audit.csv">{t(Msg::DownloadCsv)}</a>
        </div>
        <section class="panel">
            <form class="filters" method="get" action="/operator/audit" data-testid="audit-filters">
                {field("entity", t(Msg::AuditEntity), q.entity.clone(), "customer, customer:12, cloud_tenant")}
                {field("actor", t(Msg::ByActor), q.actor.clone(), "ops@example.com, token:3, cli")}
                {field("action", t(Msg::AuditAction), q.action.clone(), "mapping, customer.updated")}
                {field("since", t(Msg::FromDay), q.since.clone(), "2026-11-01")}
                {field("until", t(Msg::UntilDay), q.until.clone(), "2026-11-30")}
                <button type="submit" class="btn">{t(Msg::Show)}</button>
            </form>
            <DataTable columns rows empty=t(Msg::NoAuditEntries) testid="audit-table"/>
            <nav class="pager" aria-label="Pages">
                {newest.map(|h| view! { <a class="btn" href=h>{t(Msg::NewestEntries)}</a> })}
                {older.map(|h| view! { <a class="btn" href=h rel="next" data-testid="audit-older">{t(Msg::OlderEntries)}</a> })}
            </nav>
        </section>
    }
}

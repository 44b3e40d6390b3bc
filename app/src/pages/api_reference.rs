//! `/api-reference`: the `/api/v1` reference, rendered on the server from the OpenAPI
//! document the handlers generate (no script, no CDN): operations by tag with their
//! parameters, bodies and answers, then every schema they name, each linked.

use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::i18n::{text, Locale, Msg};
use crate::server_fns::reference::get_api_reference;
use crate::types::{ApiOperation, ApiReference, ApiSchema, ApiType};
use leptos::prelude::*;
use leptos_meta::Title;

/// The reference page.
#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_api_reference());
    view! {
        <Title text="API · Stackbill"/>
        <DataPage data view=|r, locale| view! { <ReferenceView r locale/> }/>
    }
}

/// Text with `code` spans and **strong** words, as the document writes them.
fn prose(s: &str) -> impl IntoView {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                view! { <code>{part.to_owned()}</code> }.into_any()
            } else {
                part.split("**")
                    .enumerate()
                    .map(|(j, words)| {
                        if j % 2 == 1 {
                            view! { <strong>{words.to_owned()}</strong> }.into_any()
                        } else {
                            words.to_owned().into_any()
                        }
                    })
                    .collect_view()
                    .into_any()
            }
        })
        .collect_view()
}

/// A type, its schema linked.
fn type_view(t: &ApiType) -> impl IntoView {
    let schema = t.schema.clone().map(|name| {
        let href = format!("#schema-{name}");
        view! { <a href=href>{name}</a> }
    });
    let media = (!t.media.is_empty()).then(|| view! { <span class="muted">" (" {t.media.clone()} ")"</span> });
    view! {
        <span class="api-type">
            {(!t.before.is_empty()).then(|| format!("{} ", t.before))}
            {schema}
            {(!t.after.is_empty()).then(|| format!(" {}", t.after))}
            {media}
        </span>
    }
}

#[component]
fn ReferenceView(r: ApiReference, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let contents = r
        .sections
        .iter()
        .map(|s| {
            let href = format!("#tag-{}", anchor(&s.name));
            view! { <li><a href=href>{s.name.clone()}</a> <span class="muted">{format!("({})", s.operations.len())}</span></li> }
        })
        .collect_view();
    let sections = r
        .sections
        .into_iter()
        .map(|s| {
            let id = format!("tag-{}", anchor(&s.name));
            let ops = s
                .operations
                .into_iter()
                .map(|op| view! { <OperationView op locale/> })
                .collect_view();
            view! {
                <section class="card api-section" id=id>
                    <h2>{s.name}</h2>
                    <p class="muted">{s.description}</p>
                    {ops}
                </section>
            }
        })
        .collect_view();
    let schemas = r
        .schemas
        .into_iter()
        .map(|s| view! { <SchemaView s locale/> })
        .collect_view();
    view! {
        <div class="page-head">
            <h1>{t(Msg::ApiReference)}</h1>
            <p class="muted">{format!("{} · OpenAPI {}", r.title, r.openapi)}</p>
        </div>
        <p>{t(Msg::ApiIntro)}</p>
        <p>
            <a class="btn" href="/api/openapi.json" download="stackbill-openapi.json" data-testid="openapi-download">
                {t(Msg::ApiDocument)}
            </a>
        </p>
        <section class="card api-intro">
            {r.description.iter().map(|p| view! { <p>{prose(p)}</p> }).collect_view()}
        </section>
        <nav class="card" aria-label=t(Msg::ApiContents)>
            <h2>{t(Msg::ApiContents)}</h2>
            <ul class="api-contents">
                {contents}
                <li><a href="#schemas">{t(Msg::ApiSchemas)}</a></li>
            </ul>
        </nav>
        {sections}
        <section class="card api-section" id="schemas">
            <h2>{t(Msg::ApiSchemas)}</h2>
            {schemas}
        </section>
    }
}

/// `required` or `optional`.
fn requirement(locale: Locale, required: bool) -> &'static str {
    text(locale, if required { Msg::ApiRequired } else { Msg::ApiOptional })
}

/// An anchor from a name (`User subscriptions` → `user-subscriptions`).
fn anchor(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

#[component]
fn OperationView(op: ApiOperation, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let method_class = format!("api-method api-{}", op.method.to_lowercase());
    let params = (!op.params.is_empty()).then(|| {
        let rows = op
            .params
            .iter()
            .map(|p| {
                vec![
                    view! { <code>{p.name.clone()}</code> }.into_any(),
                    p.location.clone().into_any(),
                    type_view(&p.ty).into_any(),
                    requirement(locale, p.required).into_any(),
                    prose(&p.description).into_any(),
                ]
            })
            .collect();
        view! {
            <h4>{t(Msg::ApiParameters)}</h4>
            <DataTable
                columns=vec![
                    Column::text(t(Msg::Name)),
                    Column::text(t(Msg::ApiIn)),
                    Column::text(t(Msg::ApiType)),
                    Column::text(""),
                    Column::text(t(Msg::Description)),
                ]
                rows
                empty=""
            />
        }
    });
    let body = (!op.body.is_empty()).then(|| {
        let required = requirement(locale, op.body_required);
        view! {
            <h4>{t(Msg::ApiRequestBody)} " " <span class="muted">{format!("({required})")}</span></h4>
            <ul>{op.body.iter().map(|b| view! { <li>{type_view(b)}</li> }).collect_view()}</ul>
        }
    });
    let responses = op
        .responses
        .iter()
        .map(|r| {
            let content = r
                .content
                .iter()
                .map(|c| view! { <div>{type_view(c)}</div> })
                .collect_view();
            vec![
                view! { <code>{r.status.clone()}</code> }.into_any(),
                prose(&r.description).into_any(),
                content.into_any(),
            ]
        })
        .collect();
    view! {
        <article class="api-op" id=op.id.clone() data-testid="api-operation">
            <h3>
                <span class=method_class>{op.method.clone()}</span>
                " "
                <code class="api-path">{op.path.clone()}</code>
            </h3>
            <p><strong>{op.summary.clone()}</strong></p>
            {(!op.description.is_empty()).then(|| view! { <p>{prose(&op.description)}</p> })}
            {params}
            {body}
            <h4>{t(Msg::ApiResponses)}</h4>
            <DataTable
                columns=vec![Column::text(t(Msg::Status)), Column::text(t(Msg::Description)), Column::text(t(Msg::ApiBody))]
                rows=responses
                empty=""
            />
        </article>
    }
}

#[component]
fn SchemaView(s: ApiSchema, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let id = format!("schema-{}", s.name);
    let fields = (!s.fields.is_empty()).then(|| {
        let rows = s
            .fields
            .iter()
            .map(|f| {
                vec![
                    view! { <code>{f.name.clone()}</code> }.into_any(),
                    type_view(&f.ty).into_any(),
                    requirement(locale, f.required).into_any(),
                    prose(&f.description).into_any(),
                ]
            })
            .collect();
        view! {
            <DataTable
                columns=vec![
                    Column::text(t(Msg::ApiField)),
                    Column::text(t(Msg::ApiType)),
                    Column::text(""),
                    Column::text(t(Msg::Description)),
                ]
                rows
                empty=""
            />
        }
    });
    view! {
        <article class="api-schema" id=id data-testid="api-schema">
            <h3><code>{s.name.clone()}</code></h3>
            {(!s.description.is_empty()).then(|| view! { <p>{prose(&s.description)}</p> })}
            {(!s.kind.is_empty()).then(|| view! { <p>{prose(&s.kind)}</p> })}
            {fields}
        </article>
    }
}

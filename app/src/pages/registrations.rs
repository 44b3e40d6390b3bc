//! `/operator/registrations`: every registration (stamp) and adding one;
//! `/operator/registrations/:id`: its settings, its collector (settings, watermark, last
//! success, last error — never the token) and its usage records per day for 30 days.

use crate::components::form::{form_error, success_count, FormAlert, TextField};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable};
use crate::context::use_can_edit;
use crate::i18n::{format_count, format_date, format_datetime, text, Locale, Msg};
use crate::server_fns::console::{get_registration_detail, get_registrations, AddRegistration, UpdateRegistration};
use crate::types::{RegistrationDetail, RegistrationSummary};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The registrations and the form that adds one.
#[component]
pub fn RegistrationsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_registrations());
    view! {
        <Title text="Registrations · Stackbill"/>
        <DataPage data view=|regs, locale| view! { <RegistrationsView regs locale/> }/>
    }
}

#[component]
fn RegistrationsView(regs: Vec<RegistrationSummary>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let action = ServerAction::<AddRegistration>::new();
    let error = form_error(action.value(), AddRegistration::PATH);
    let rows: Vec<Vec<AnyView>> = regs
        .iter()
        .map(|r| {
            vec![
                view! { <a href=format!("/operator/registrations/{}", r.id) data-testid="registration-link">{r.name.clone()}</a> }.into_any(),
                view! { <code>{r.base_subscription_id.clone()}</code> }.into_any(),
                r.currency.clone().into_any(),
                r.price_sheet.clone().unwrap_or_else(|| t(Msg::NoPriceSheet).to_owned()).into_any(),
                format_count(r.mapped_tenants, locale).into_any(),
                format_count(r.user_subscriptions, locale).into_any(),
            ]
        })
        .collect();
    let columns = vec![
        Column::text(t(Msg::RegistrationName)),
        Column::text(t(Msg::BaseSubscription)),
        Column::text(t(Msg::Currency)),
        Column::text(t(Msg::DefaultPriceSheet)),
        Column::num(t(Msg::MappedTenants)),
        Column::num(t(Msg::UserSubscriptions)),
    ];
    view! {
        <div class="page-head"><h1>{t(Msg::Registrations)}</h1></div>
        <section class="panel">
            <DataTable columns rows empty=t(Msg::NoRegistrations) testid="registrations-list"/>
            {use_can_edit().then(|| view! {
                <details class="edit" open=error.get_untracked().is_some()>
                    <summary class="btn" data-testid="add-registration-open">{t(Msg::AddRegistration)}</summary>
                    <ActionForm action attr:class="form form-grid" attr:data-testid="registration-form">
                        <TextField label=t(Msg::RegistrationName) name="form[name]" field="name" value="" error required=true hint="azurestack-<cloud id>"/>
                        <TextField label=t(Msg::BaseSubscription) name="form[base_subscription_id]" field="base_subscription_id" value="" error required=true/>
                        <TextField label=t(Msg::ResourceGroup) name="form[resource_group]" field="resource_group" value="azurestack" error/>
                        <TextField label=t(Msg::Currency) name="form[currency]" field="currency" value="" error required=true hint="USD, EUR, TWD, CNY"/>
                        <TextField label=t(Msg::ActiveFrom) name="form[active_from]" field="active_from" value="" error kind="date"/>
                        <TextField label=t(Msg::UsageEndpoint) name="form[usage_endpoint]" field="usage_endpoint" value="" error hint="https://adminmanagement.<region>.<fqdn>"/>
                        <TextField label=t(Msg::ProviderSubscription) name="form[provider_subscription_id]" field="provider_subscription_id" value="" error/>
                        <TextField label=t(Msg::TokenEnv) name="form[token_env]" field="token_env" value="" error hint="AZS_TOKEN"/>
                        <FormAlert error fields=&["name", "base_subscription_id", "resource_group", "currency", "active_from", "usage_endpoint", "provider_subscription_id", "token_env"]/>
                        <div class="form-actions">
                            <button type="submit" class="btn btn-primary" data-testid="registration-save">{t(Msg::AddRegistration)}</button>
                        </div>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}

/// One registration.
#[component]
pub fn RegistrationPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get_str("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0)));
    let update = ServerAction::<UpdateRegistration>::new();
    let saved = success_count(update.value());
    let data = Resource::new(move || (id.get(), saved.get()), |(id, _)| get_registration_detail(id));
    view! {
        <Title text="Registration · Stackbill"/>
        <DataPage data view=move |r, locale| view! { <RegistrationView r update locale/> }/>
    }
}

/// The edit form: settings and collector (the name stays; base subscription and currency
/// only until usage arrives — the service says so next to the field).
#[component]
fn EditRegistration(r: RegistrationDetail, update: ServerAction<UpdateRegistration>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let error = form_error(update.value(), UpdateRegistration::PATH);
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    view! {
        <details class="edit" open=error.get_untracked().is_some()>
            <summary class="btn" data-testid="edit-registration">{t(Msg::EditRegistration)}</summary>
            <ActionForm action=update attr:class="form form-grid" attr:data-testid="registration-edit-form">
                <input type="hidden" name="id" value=r.summary.id.to_string()/>
                <input type="hidden" name="form[name]" value=r.summary.name.clone()/>
                <TextField label=t(Msg::BaseSubscription) name="form[base_subscription_id]" field="base_subscription_id" value=r.summary.base_subscription_id.clone() error required=true/>
                <TextField label=t(Msg::ResourceGroup) name="form[resource_group]" field="resource_group" value=r.resource_group.clone() error/>
                <TextField label=t(Msg::Currency) name="form[currency]" field="currency" value=r.summary.currency.clone() error required=true/>
                <TextField label=t(Msg::UsageEndpoint) name="form[usage_endpoint]" field="usage_endpoint" value=or_empty(&r.usage_endpoint) error hint="https://adminmanagement.<region>.<fqdn>"/>
                <TextField label=t(Msg::ProviderSubscription) name="form[provider_subscription_id]" field="provider_subscription_id" value=or_empty(&r.provider_subscription_id) error/>
                <TextField label=t(Msg::TokenEnv) name="form[token_env]" field="token_env" value=or_empty(&r.token_env) error hint="AZS_TOKEN"/>
                <FormAlert error fields=&["base_subscription_id", "resource_group", "currency", "usage_endpoint", "provider_subscription_id", "token_env"]/>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" data-testid="registration-update">{t(Msg::Save)}</button>
                </div>
            </ActionForm>
        </details>
    }
}

#[component]
fn RegistrationView(r: RegistrationDetail, update: ServerAction<UpdateRegistration>, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let dash = move |v: Option<String>| v.unwrap_or_else(|| t(Msg::NotAvailable).to_owned());
    let at = move |secs: Option<i64>| {
        secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|d| format_datetime(d, locale))
            .unwrap_or_else(|| t(Msg::Never).to_owned())
    };
    let max = r.days.iter().map(|d| d.records).max().unwrap_or(0).max(1);
    let days: Vec<Vec<AnyView>> = r
        .days
        .iter()
        .rev()
        .map(|d| {
            // A <meter>, not a styled span: the Content-Security-Policy allows no inline styles.
            vec![
                format_date(d.day, locale).into_any(),
                format_count(d.records, locale).into_any(),
                view! { <meter class="bar" min="0" max=max value=d.records aria-hidden="true"></meter> }.into_any(),
            ]
        })
        .collect();
    let c = r.collector.clone();
    let edit_copy = r.clone();
    view! {
        <div class="page-head">
            <p class="crumbs"><a href="/operator/registrations">{t(Msg::Registrations)}</a></p>
            <h1 data-testid="registration-title">{r.summary.name.clone()}</h1>
        </div>
        <section class="panel">
            <dl class="facts">
                <dt>{t(Msg::BaseSubscription)}</dt><dd><code>{r.summary.base_subscription_id.clone()}</code></dd>
                <dt>{t(Msg::ResourceGroup)}</dt><dd>{r.resource_group.clone()}</dd>
                <dt>{t(Msg::Currency)}</dt><dd>{r.summary.currency.clone()}</dd>
                <dt>{t(Msg::DefaultPriceSheet)}</dt><dd>{dash(r.summary.price_sheet.clone())}</dd>
                <dt>{t(Msg::ActiveFrom)}</dt><dd>{format_date(r.active_from, locale)}</dd>
                <dt>{t(Msg::MappedTenants)}</dt><dd>{format_count(r.summary.mapped_tenants, locale)}</dd>
                <dt>{t(Msg::UserSubscriptions)}</dt><dd>{format_count(r.summary.user_subscriptions, locale)}</dd>
            </dl>
            {use_can_edit().then(|| view! { <EditRegistration r=edit_copy update locale/> })}
        </section>
        <section class="panel" data-testid="collector-panel">
            <h2>{t(Msg::Collector)}</h2>
            <dl class="facts">
                <dt>{t(Msg::UsageEndpoint)}</dt><dd>{dash(r.usage_endpoint.clone())}</dd>
                <dt>{t(Msg::ProviderSubscription)}</dt><dd>{dash(r.provider_subscription_id.clone())}</dd>
                <dt>{t(Msg::TokenSource)}</dt><dd data-testid="token-source">{dash(r.token_source.clone())}</dd>
                <dt>{t(Msg::Watermark)}</dt><dd>{at(c.watermark_at)}</dd>
                <dt>{t(Msg::LastSuccess)}</dt><dd>{at(c.last_success_at)}</dd>
                <dt>{t(Msg::LastError)}</dt>
                <dd class=c.last_error.is_some().then_some("error-text")>
                    {c.last_error.clone().map(|e| format!("{} — {e}", at(c.last_error_at))).unwrap_or_else(|| t(Msg::NotAvailable).to_owned())}
                </dd>
            </dl>
        </section>
        <section class="panel">
            <h2>{t(Msg::RecordsPerDay)}</h2>
            <DataTable
                columns=vec![Column::text(t(Msg::Day)), Column::num(t(Msg::UsageRecords)), Column::text("")]
                rows=days
                empty=""
                testid="registration-days"
            />
        </section>
    }
}

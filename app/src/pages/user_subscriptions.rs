//! `/operator/user-subscriptions`: every user subscription on the stamps with its owner,
//! and the unassigned queue (`?status=unassigned`) with what each adds to the base
//! subscription this month; operators assign one or many to a cloud tenant.

use crate::components::form::{form_error, href_with, success_count, FormAlert, TextField};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable, Pager};
use crate::context::use_can_edit;
use crate::i18n::{format_count, format_money, showing_range, text, Locale, Msg};
use crate::server_fns::console::{list_user_subscriptions, AssignOwner};
use crate::types::{ListPage, UserSubscriptionItem, UserSubscriptionQuery};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const PAGE_SIZE: i64 = 50;

fn query_from(map: &leptos_router::params::ParamsMap) -> UserSubscriptionQuery {
    let page = map
        .get_str("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    UserSubscriptionQuery {
        registration: map.get("registration").unwrap_or_default(),
        status: map.get("status").unwrap_or_default(),
        q: map.get("q").unwrap_or_default(),
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    }
}

fn href(q: &UserSubscriptionQuery, page: i64) -> String {
    href_with(
        "/operator/user-subscriptions",
        &[
            ("status", q.status.clone()),
            ("registration", q.registration.clone()),
            ("q", q.q.clone()),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ],
    )
}

/// The user subscriptions and the unassigned queue.
#[component]
pub fn UserSubscriptionsPage() -> impl IntoView {
    let query = use_query_map();
    let current = Memo::new(move |_| query.with(query_from));
    // Created here so that the list reloads after an assignment (its redirect lands on
    // the same address, which alone would not load anything again).
    let action = ServerAction::<AssignOwner>::new();
    let assigned = success_count(action.value());
    let data = Resource::new(
        move || (current.get(), assigned.get()),
        |(q, _)| list_user_subscriptions(q),
    );
    view! {
        <Title text="User subscriptions · Stackbill"/>
        <DataPage data view=move |page, locale| view! { <UserSubscriptionsView page q=current.get_untracked() action locale/> }/>
    }
}

#[component]
fn UserSubscriptionsView(
    page: ListPage<UserSubscriptionItem>,
    q: UserSubscriptionQuery,
    action: ServerAction<AssignOwner>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let unassigned = q.status == "unassigned";
    let error = form_error(action.value(), AssignOwner::PATH);
    let mut columns = Vec::new();
    if can_edit && unassigned {
        columns.push(Column::text(t(Msg::Select)));
    }
    columns.extend([
        Column::text(t(Msg::RegistrationName)),
        Column::text(t(Msg::Subscription)),
        Column::text(t(Msg::NameCol)),
    ]);
    // The queue has no owner to show: the stamp's owner sign-in is what identifies it.
    if unassigned {
        columns.push(Column::text(t(Msg::StampOwner)));
    } else {
        columns.extend([Column::text(t(Msg::OwnerTenant)), Column::text(t(Msg::Customer))]);
    }
    columns.push(Column::num(t(Msg::RecordsThisMonth)));
    if unassigned {
        columns.push(Column::num(t(Msg::AddsToBase)));
    }
    let shown = page.items.len();
    let rows: Vec<Vec<AnyView>> = page
        .items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut cells: Vec<AnyView> = Vec::new();
            if can_edit && unassigned {
                let id = format!("pick-{}", s.id);
                cells.push(
                    view! {
                        <label class="sr-only" for=id.clone()>{s.subscription_id.clone()}</label>
                        <input id=id type="checkbox" name=format!("form[subscriptions][{i}]") value=s.id data-testid="pick"/>
                    }
                    .into_any(),
                );
            }
            cells.push(s.registration.clone().into_any());
            cells.push(view! { <code>{s.subscription_id.clone()}</code> }.into_any());
            cells.push(s.display_name.clone().into_any());
            if unassigned {
                cells.push(s.owner_email.clone().into_any());
            } else {
                cells.push(match &s.owner_tenant {
                    Some(t) => view! { <code>{t.clone()}</code> }.into_any(),
                    None => view! { <span class="badge badge-warn">{text(locale, Msg::Unassigned)}</span> }.into_any(),
                });
                cells.push(match (&s.customer_id, &s.customer) {
                    (Some(id), Some(name)) => view! { <a href=format!("/operator/customers/{id}")>{name.clone()}</a> }.into_any(),
                    _ => "".into_any(),
                });
            }
            cells.push(format_count(s.records_this_month, locale).into_any());
            if unassigned {
                let amount = s
                    .base_amount_this_month
                    .map(|a| format_money(&crate::billing::Money::new(a, s.currency), locale))
                    .unwrap_or_else(|| t(Msg::NotAvailable).to_owned());
                cells.push(amount.into_any());
            }
            cells
        })
        .collect();
    let page_no = page.offset / PAGE_SIZE + 1;
    let summary = showing_range(
        locale,
        (page.offset + 1).min(page.total),
        page.offset + shown as i64,
        page.total,
        page.total_at_least,
    );
    let prev = (page_no > 1).then(|| href(&q, page_no - 1));
    let next = page.has_next().then(|| href(&q, page_no + 1));
    let tab = |status: &'static str, label: &'static str| {
        let current = q.status == status;
        let mut target = q.clone();
        target.status = status.to_owned();
        view! {
            <a class=if current { "tab active" } else { "tab" } aria-current=current.then_some("page") href=href(&target, 1)>{label}</a>
        }
    };
    let table = view! {
        <DataTable columns rows empty=t(Msg::NoUserSubscriptions) testid="user-subscriptions-table"/>
    };
    let body = if can_edit && unassigned && shown > 0 {
        view! {
            <ActionForm action attr:class="form" attr:data-testid="assign-form">
                {table}
                <div class="inline-form">
                    <TextField label=t(Msg::AssignTo) name="form[cloud_tenant_id]" field="cloud_tenant_id" value=""
                        error required=true testid="assign-tenant"/>
                    <button type="submit" class="btn btn-primary" data-testid="assign-submit">{t(Msg::AssignSelected)}</button>
                </div>
                <FormAlert error fields=&["cloud_tenant_id"]/>
            </ActionForm>
        }
        .into_any()
    } else {
        table.into_any()
    };
    view! {
        <div class="page-head">
            <h1>{t(Msg::UserSubscriptions)}</h1>
            <p class="muted">{t(Msg::UnassignedExplained)}</p>
        </div>
        <nav class="tabs" aria-label=t(Msg::FilterBilledTo)>
            {tab("", t(Msg::AllStatuses))}
            {tab("unassigned", t(Msg::UnassignedQueue))}
            {tab("assigned", t(Msg::AssignedOnly))}
        </nav>
        <section class="panel">
            <form class="filters" method="get" action="/operator/user-subscriptions" role="search">
                <input type="hidden" name="status" value=q.status.clone()/>
                <div class="field">
                    <label for="q">{t(Msg::SearchLabel)}</label>
                    <input id="q" type="search" name="q" value=q.q.clone() placeholder=t(Msg::SearchSubscriptionHint)/>
                </div>
                <div class="field">
                    <label for="registration">{t(Msg::RegistrationName)}</label>
                    <input id="registration" type="text" name="registration" value=q.registration.clone()/>
                </div>
                <button type="submit" class="btn">{t(Msg::SearchLabel)}</button>
            </form>
            {body}
            <Pager offset=page.offset shown total=page.total summary prev next
                prev_label=t(Msg::PagerPrev) next_label=t(Msg::PagerNext)/>
        </section>
    }
}

//! `/operator/customers…`: the customer list, a customer with its mappings, the new
//! customer form and the confirmation step of a mapping change.
//!
//! Lists are filtered, sorted and paged on the server from the address (`?q=&billed_to=
//! &sort=&desc=&page=`), so every state is a link and works before hydration. A mapping
//! change is a GET form to the confirmation page, which previews exactly what the change
//! does (the service runs it and rolls back) and posts it only when confirmed.

use crate::components::form::{form_error, href_with, success_count, FormAlert, TextField};
use crate::components::page::DataPage;
use crate::components::table::{Column, DataTable, Pager};
use crate::context::{use_can_edit, use_locale};
use crate::error::AppError;
use crate::i18n::{format_count, format_date, mapped_on, showing_range, text, Locale, Msg};
use crate::pages::price_sheets::CustomerPricingPanel;
use crate::server_fns::console::{
    get_customer_detail, list_customers, preview_mapping, ApplyMapping, CreateCustomer, UpdateCustomer,
};
use crate::server_fns::prices::SetCustomerPricing;
use crate::types::{
    BilledToFilter, CustomerDetail, CustomerListItem, CustomerQuery, CustomerSort, ListPage, MappingForm,
    MappingPreview, TenantMapping,
};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

/// Rows per page of the customer list.
const PAGE_SIZE: i64 = 50;

/// The list's state as the address carries it.
fn query_from(map: &ParamsMap) -> CustomerQuery {
    let page = map
        .get_str("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    CustomerQuery {
        q: map.get("q").unwrap_or_default(),
        sort: map.get_str("sort").and_then(CustomerSort::parse).unwrap_or_default(),
        desc: map.get_str("desc") == Some("1"),
        billed_to: map
            .get_str("billed_to")
            .and_then(|b| BilledToFilter::parse(b).ok().flatten()),
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    }
}

/// The address of the list in a given state.
fn list_href(q: &CustomerQuery, sort: CustomerSort, desc: bool, page: i64) -> String {
    let billed_to = match q.billed_to {
        Some(BilledToFilter::Mapped) => "mapped",
        Some(BilledToFilter::Base) => "base",
        None => "",
    };
    href_with(
        "/operator/customers",
        &[
            ("q", q.q.clone()),
            ("billed_to", billed_to.to_owned()),
            (
                "sort",
                if sort == CustomerSort::Name {
                    String::new()
                } else {
                    sort.as_str().to_owned()
                },
            ),
            ("desc", if desc { "1".to_owned() } else { String::new() }),
            ("page", if page > 1 { page.to_string() } else { String::new() }),
        ],
    )
}

/// The "mapped" / "falls back to base" badge shown wherever a customer appears.
#[component]
pub fn MappingBadge(
    /// Registrations on which the tenant is mapped today.
    mapped: i64,
    /// The visitor's language.
    locale: Locale,
) -> impl IntoView {
    if mapped > 0 {
        view! {
            <span class="badge badge-ok" title=mapped_on(locale, mapped) data-testid="badge-mapped">
                {text(locale, Msg::BadgeMapped)}
            </span>
        }
        .into_any()
    } else {
        view! { <span class="badge badge-warn" data-testid="badge-base">{text(locale, Msg::BadgeBase)}</span> }
            .into_any()
    }
}

/// The searchable, sortable, paged customer list.
#[component]
pub fn CustomersPage() -> impl IntoView {
    let query = use_query_map();
    let current = Memo::new(move |_| query.with(query_from));
    let data = Resource::new(move || current.get(), list_customers);
    view! {
        <Title text="Customers · Stackbill"/>
        <DataPage data view=move |page, locale| view! { <CustomersView page q=current.get_untracked() locale/> }/>
    }
}

#[component]
fn CustomersView(page: ListPage<CustomerListItem>, q: CustomerQuery, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let page_no = q.offset / PAGE_SIZE + 1;
    let sort_col = |header: &'static str, sort: CustomerSort| {
        let active = q.sort == sort;
        // A click on the sorted column flips the direction; another column sorts ascending.
        let href = list_href(&q, sort, active && !q.desc, 1);
        Column::text(header).sorted(href, active.then_some(q.desc))
    };
    let columns = vec![
        sort_col(t(Msg::NameCol), CustomerSort::Name),
        sort_col(t(Msg::CloudTenant), CustomerSort::Tenant),
        Column::text(t(Msg::BilledTo)),
        Column::text(t(Msg::Language)),
        Column::num(t(Msg::RecordsThisMonth)),
    ];
    let shown = page.items.len();
    let has_next = page.has_next();
    let rows = page
        .items
        .into_iter()
        .map(|c| {
            vec![
                view! { <a href=format!("/operator/customers/{}", c.id) data-testid="customer-link">{c.name}</a> }
                    .into_any(),
                view! { <code>{c.cloud_tenant_id}</code> }.into_any(),
                view! { <MappingBadge mapped=c.mapped_registrations locale/> }.into_any(),
                c.locale.into_any(),
                format_count(c.records_this_month, locale).into_any(),
            ]
        })
        .collect();
    let summary = showing_range(
        locale,
        (page.offset + 1).min(page.total),
        page.offset + shown as i64,
        page.total,
        page.total_at_least,
    );
    let prev = (page_no > 1).then(|| list_href(&q, q.sort, q.desc, page_no - 1));
    let next = has_next.then(|| list_href(&q, q.sort, q.desc, page_no + 1));
    let billed = |v: &str| match q.billed_to {
        Some(BilledToFilter::Mapped) => v == "mapped",
        Some(BilledToFilter::Base) => v == "base",
        None => v.is_empty(),
    };
    view! {
        <div class="page-head page-head-actions">
            <h1>{t(Msg::NavCustomers)}</h1>
            <div class="form-actions">
                <a class="btn" href="/operator/mappings" data-testid="all-mappings">{t(Msg::MappingsInEffect)}</a>
                {can_edit.then(|| view! {
                    <a class="btn btn-primary" href="/operator/customers/new" data-testid="new-customer">{t(Msg::NewCustomer)}</a>
                })}
            </div>
        </div>
        <section class="panel">
            <form class="filters" method="get" action="/operator/customers" role="search" data-testid="customer-filters">
                <div class="field">
                    <label for="q">{t(Msg::SearchLabel)}</label>
                    <input id="q" type="search" name="q" value=q.q.clone() placeholder=t(Msg::SearchHint) data-testid="customer-search"/>
                </div>
                <div class="field">
                    <label for="billed_to">{t(Msg::FilterBilledTo)}</label>
                    <select id="billed_to" name="billed_to">
                        <option value="" selected=billed("")>{t(Msg::AllCustomers)}</option>
                        <option value="mapped" selected=billed("mapped")>{t(Msg::FilterMapped)}</option>
                        <option value="base" selected=billed("base")>{t(Msg::FilterBase)}</option>
                    </select>
                </div>
                <input type="hidden" name="sort" value=if q.sort == CustomerSort::Name { "" } else { q.sort.as_str() }/>
                <input type="hidden" name="desc" value=if q.desc { "1" } else { "" }/>
                <button type="submit" class="btn">{t(Msg::SearchLabel)}</button>
            </form>
            <DataTable columns rows empty=t(Msg::NoCustomersMatch) testid="customers-table"/>
            <Pager offset=page.offset shown total=page.total summary prev next
                prev_label=t(Msg::PagerPrev) next_label=t(Msg::PagerNext)/>
        </section>
    }
}

/// The fields of the customer form, shared by "new" and "edit".
#[component]
fn CustomerFields(
    /// Current values (empty for a new customer).
    current: Option<CustomerDetail>,
    /// The form's error.
    error: Signal<Option<AppError>>,
    /// The visitor's language.
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let c = current.unwrap_or_else(|| CustomerDetail {
        id: 0,
        name: String::new(),
        cloud_tenant_id: String::new(),
        tenant_display_name: String::new(),
        billing_email: String::new(),
        billing_address: String::new(),
        locale: "en".into(),
        tax_id: String::new(),
        payment_terms_days: None,
        created_at: Default::default(),
        today: Default::default(),
        terms: Default::default(),
        mappings: vec![],
        intervals: vec![],
        history: vec![],
    });
    let current_locale = c.locale.clone();
    view! {
        <TextField label=t(Msg::NameCol) name="form[name]" field="name" value=c.name error required=true testid="customer-name"/>
        <TextField label=t(Msg::CloudTenant) name="form[cloud_tenant_id]" field="cloud_tenant_id" value=c.cloud_tenant_id
            error required=true hint="dbab3982-796f-4d03-9908-044c08aef8a2" testid="customer-tenant"/>
        <TextField label=t(Msg::TenantDisplayName) name="form[tenant_display_name]" field="tenant_display_name"
            value=c.tenant_display_name error/>
        <TextField label=t(Msg::BillingContact) name="form[billing_email]" field="billing_email" value=c.billing_email
            error kind="email"/>
        <TextField label=t(Msg::BillingAddress) name="form[billing_address]" field="billing_address"
            value=c.billing_address error multiline=true/>
        <TextField label=t(Msg::TaxIdLabel) name="form[tax_id]" field="tax_id" value=c.tax_id error testid="customer-tax-id"/>
        <TextField label=t(Msg::PaymentTermsLabel) name="form[payment_terms_days]" field="payment_terms_days"
            value=c.payment_terms_days.map(|d| d.to_string()).unwrap_or_default() error kind="number"
            hint=t(Msg::PaymentTermsHint) testid="customer-terms"/>
        <div class="field">
            <label for="f-locale">{t(Msg::Language)}</label>
            <select id="f-locale" name="form[locale]">
                {Locale::ALL
                    .iter()
                    .map(|l| view! { <option value=l.tag() selected=current_locale == l.tag()>{l.native_name()}</option> })
                    .collect_view()}
            </select>
        </div>
    }
}

const CUSTOMER_FIELDS: &[&str] = &[
    "name",
    "cloud_tenant_id",
    "tenant_display_name",
    "billing_email",
    "billing_address",
    "tax_id",
    "payment_terms_days",
];

/// `/operator/customers/new`.
#[component]
pub fn NewCustomerPage() -> impl IntoView {
    let locale = use_locale().get_untracked();
    let t = move |m| text(locale, m);
    let action = ServerAction::<CreateCustomer>::new();
    let error = form_error(action.value(), CreateCustomer::PATH);
    view! {
        <Title text="New customer · Stackbill"/>
        <div class="page-head"><h1>{t(Msg::NewCustomer)}</h1></div>
        <section class="panel panel-narrow">
            <ActionForm action attr:class="form" attr:data-testid="customer-form">
                <CustomerFields current=None error locale/>
                <FormAlert error fields=CUSTOMER_FIELDS/>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" data-testid="customer-save">{t(Msg::CreateCustomer)}</button>
                    <a class="btn btn-quiet" href="/operator/customers">{t(Msg::Cancel)}</a>
                </div>
            </ActionForm>
        </section>
    }
}

fn customer_id_param() -> i64 {
    use_params_map().with_untracked(|p| p.get_str("id").and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// `/operator/customers/:id`: details, mappings per registration, intervals and history.
#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get_str("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0)));
    // The edit form's redirect lands on this same address: the action's version makes the
    // page load the saved customer.
    let update = ServerAction::<UpdateCustomer>::new();
    let pricing = ServerAction::<SetCustomerPricing>::new();
    let saved = success_count(update.value());
    let priced = success_count(pricing.value());
    let data = Resource::new(
        move || (id.get(), saved.get(), priced.get()),
        |(id, ..)| get_customer_detail(id),
    );
    view! {
        <Title text="Customer · Stackbill"/>
        <DataPage data view=move |c, locale| view! { <CustomerView c update pricing locale/> }/>
    }
}

#[component]
fn CustomerView(
    c: CustomerDetail,
    update: ServerAction<UpdateCustomer>,
    pricing: ServerAction<SetCustomerPricing>,
    locale: Locale,
) -> impl IntoView {
    let t = move |m| text(locale, m);
    let can_edit = use_can_edit();
    let mapped = c.mappings.iter().filter(|m| m.current.is_some()).count() as i64;
    let or_dash = move |v: &str| {
        if v.trim().is_empty() {
            t(Msg::NotAvailable).to_owned()
        } else {
            v.to_owned()
        }
    };
    let error = form_error(update.value(), UpdateCustomer::PATH);
    let open_edit = error.get_untracked().is_some();
    let mapping_rows: Vec<Vec<AnyView>> = c
        .mappings
        .iter()
        .map(|m| mapping_row(m, &c, can_edit, locale))
        .collect();
    let interval_rows: Vec<Vec<AnyView>> = c
        .intervals
        .iter()
        .map(|i| {
            vec![
                i.registration.clone().into_any(),
                view! { <code>{i.subscription_id.clone()}</code> }.into_any(),
                format_date(i.from, locale).into_any(),
                i.to.map(|d| format_date(d, locale))
                    .unwrap_or_else(|| t(Msg::OpenEnded).to_owned())
                    .into_any(),
            ]
        })
        .collect();
    let history_rows: Vec<Vec<AnyView>> = c
        .history
        .iter()
        .map(|h| {
            let target = match &h.subscription {
                Some(s) => view! { <code>{s.clone()}</code> }.into_any(),
                None => view! { <span class="badge badge-warn">{t(Msg::TheBase)}</span> }.into_any(),
            };
            let recorded = chrono::DateTime::from_timestamp(h.recorded_at, 0)
                .map(|at| crate::i18n::format_datetime(at, locale))
                .unwrap_or_default();
            let by = if h.actor_label.is_empty() {
                h.actor.clone()
            } else {
                h.actor_label.clone()
            };
            vec![
                recorded.into_any(),
                h.registration.clone().into_any(),
                format_date(h.effective_on, locale).into_any(),
                view! {
                    {target}
                    {h.replaced.then(|| view! { " " <span class="badge badge-muted">{t(Msg::ReplacedSameDay)}</span> })}
                }
                .into_any(),
                by.into_any(),
                h.source.clone().into_any(),
            ]
        })
        .collect();
    let edit = can_edit.then(|| {
        let current = c.clone();
        view! {
            <details class="edit" open=open_edit>
                <summary class="btn" data-testid="edit-customer">{t(Msg::EditCustomer)}</summary>
                <ActionForm action=update attr:class="form" attr:data-testid="customer-form">
                    <input type="hidden" name="id" value=c.id/>
                    <CustomerFields current=Some(current) error locale/>
                    <FormAlert error fields=CUSTOMER_FIELDS/>
                    <div class="form-actions">
                        <button type="submit" class="btn btn-primary" data-testid="customer-save">{t(Msg::Save)}</button>
                    </div>
                </ActionForm>
            </details>
        }
    });
    view! {
        <div class="page-head">
            <p class="crumbs"><a href="/operator/customers">{t(Msg::NavCustomers)}</a></p>
            <h1 data-testid="customer-title">{c.name.clone()}" " <MappingBadge mapped locale/></h1>
            <p class="muted"><code data-testid="customer-tenant-id">{c.cloud_tenant_id.clone()}</code></p>
            <p><a class="btn" href=format!("/portal?customer={}", c.id) data-testid="view-as-customer">{t(Msg::ViewAsCustomer)}</a></p>
        </div>
        <section class="panel">
            <h2>{t(Msg::CustomerDetails)}</h2>
            <dl class="facts">
                <dt>{t(Msg::TenantDisplayName)}</dt><dd>{or_dash(&c.tenant_display_name)}</dd>
                <dt>{t(Msg::BillingContact)}</dt><dd>{or_dash(&c.billing_email)}</dd>
                <dt>{t(Msg::BillingAddress)}</dt><dd class="multiline">{or_dash(&c.billing_address)}</dd>
                <dt>{t(Msg::TaxIdLabel)}</dt><dd>{or_dash(&c.tax_id)}</dd>
                <dt>{t(Msg::PaymentTermsLabel)}</dt><dd>{c.payment_terms_days.map(|d| d.to_string()).unwrap_or_else(|| t(Msg::PaymentTermsHint).to_owned())}</dd>
                <dt>{t(Msg::Language)}</dt><dd>{c.locale.clone()}</dd>
                <dt>{t(Msg::CreatedOn)}</dt><dd>{crate::i18n::format_datetime(c.created_at, locale)}</dd>
            </dl>
            {edit}
        </section>
        <CustomerPricingPanel terms=c.terms.clone() customer_id=c.id action=pricing locale/>
        <section class="panel" data-testid="mappings-panel">
            <h2>{t(Msg::MappingsTitle)}</h2>
            <DataTable
                columns=vec![
                    Column::text(t(Msg::RegistrationName)),
                    Column::text(t(Msg::BilledToday)),
                    Column::text(t(Msg::Since)),
                    Column::text(t(Msg::Scheduled)),
                    Column::text(t(Msg::Change)),
                ]
                rows=mapping_rows
                empty=t(Msg::NoRegistrations)
                testid="mappings-table"
            />
        </section>
        <section class="panel">
            <h2>{t(Msg::Intervals)}</h2>
            <DataTable
                columns=vec![
                    Column::text(t(Msg::RegistrationName)),
                    Column::text(t(Msg::CustomerSubscriptionId)),
                    Column::text(t(Msg::FromDay)),
                    Column::text(t(Msg::UntilDay)),
                ]
                rows=interval_rows
                empty=t(Msg::NoIntervals)
                testid="intervals-table"
            />
        </section>
        <section class="panel">
            <h2>{t(Msg::History)}</h2>
            <DataTable
                columns=vec![
                    Column::text(t(Msg::RecordedAt)),
                    Column::text(t(Msg::RegistrationName)),
                    Column::text(t(Msg::EffectiveOn)),
                    Column::text(t(Msg::After)),
                    Column::text(t(Msg::ByActor)),
                    Column::text(t(Msg::SourceCol)),
                ]
                rows=history_rows
                empty=t(Msg::NoHistory)
                testid="history-table"
            />
        </section>
    }
}

/// One registration's row: today's state, what is scheduled, and (for operators) the GET
/// forms that lead to the confirmation step.
fn mapping_row(m: &TenantMapping, c: &CustomerDetail, can_edit: bool, locale: Locale) -> Vec<AnyView> {
    let t = move |msg| text(locale, msg);
    let today = c.today.to_string();
    let billed = match &m.current {
        Some(s) => view! {
            <span class="badge badge-ok">{t(Msg::BadgeMapped)}</span>" "<code data-testid="current-subscription">{s.clone()}</code>
        }
        .into_any(),
        None => view! {
            <span class="badge badge-warn">{t(Msg::BadgeBase)}</span>" "<code class="muted">{m.base_subscription_id.clone()}</code>
        }
        .into_any(),
    };
    let upcoming = m
        .upcoming
        .iter()
        .map(|u| format!("{} → {}", format_date(u.from, locale), u.subscription_id))
        .collect::<Vec<_>>()
        .join("; ");
    let action = format!("/operator/customers/{}/mapping", c.id);
    let forms = can_edit.then(|| {
        let sub_id = format!("sub-{}", m.registration_id);
        let day_id = format!("day-{}", m.registration_id);
        let unmap_day_id = format!("unmap-day-{}", m.registration_id);
        view! {
            <form method="get" action=action.clone() class="inline-form" data-testid="map-form">
                <input type="hidden" name="registration" value=m.registration_id/>
                <label class="sr-only" for=sub_id.clone()>{t(Msg::CustomerSubscriptionId)}</label>
                <input id=sub_id type="text" name="customer_subscription_id" required placeholder=t(Msg::CustomerSubscriptionId)
                    value=m.current.clone().unwrap_or_default() size="38" data-testid="map-subscription"/>
                <label class="sr-only" for=day_id.clone()>{t(Msg::EffectiveOn)}</label>
                <input id=day_id type="date" name="effective_on" value=today.clone() data-testid="map-day"/>
                <button type="submit" class="btn" data-testid="map-review">{t(Msg::ReviewChange)}</button>
            </form>
            {m.current.is_some().then(|| view! {
                <form method="get" action=action.clone() class="inline-form" data-testid="unmap-form">
                    <input type="hidden" name="registration" value=m.registration_id/>
                    <input type="hidden" name="customer_subscription_id" value=""/>
                    <label for=unmap_day_id.clone()>{t(Msg::Unmap)}</label>
                    <input id=unmap_day_id type="date" name="effective_on" value=today.clone()/>
                    <button type="submit" class="btn btn-danger" data-testid="unmap-review">{t(Msg::ReviewChange)}</button>
                </form>
            })}
        }
    });
    vec![
        m.registration.clone().into_any(),
        billed,
        m.since.map(|d| format_date(d, locale)).unwrap_or_default().into_any(),
        upcoming.into_any(),
        forms.into_any(),
    ]
}

/// `/operator/customers/:id/mapping?registration=&customer_subscription_id=&effective_on=`:
/// what the change does, confirmed with a post.
#[component]
pub fn MappingConfirmPage() -> impl IntoView {
    let query = use_query_map();
    let customer_id = customer_id_param();
    let form = Memo::new(move |_| {
        query.with(|q| MappingForm {
            registration: q.get("registration").unwrap_or_default(),
            customer_subscription_id: q.get("customer_subscription_id").unwrap_or_default(),
            effective_on: q.get("effective_on").unwrap_or_default(),
        })
    });
    let data = Resource::new(move || form.get(), move |f| preview_mapping(customer_id, f));
    let locale = use_locale();
    view! {
        <Title text="Confirm mapping change · Stackbill"/>
        <Suspense fallback=|| view! { <crate::components::feedback::Loading/> }>
            {move || Suspend::new(async move {
                let locale = locale.get_untracked();
                match data.await {
                    Ok(p) => view! { <ConfirmView p locale/> }.into_any(),
                    // A refused change is not a broken page: say why, next to the way back.
                    Err(e) if e.status() == 422 || e.status() == 409 => view! { <RefusedView e customer_id locale/> }.into_any(),
                    Err(e) => view! { <crate::components::feedback::ErrorPanel error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RefusedView(e: AppError, customer_id: i64, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    crate::components::feedback::set_status(e.status());
    view! {
        <section class="panel panel-error" data-testid="mapping-refused" data-code=e.code.clone()>
            <h1>{t(Msg::ChangeRefused)}</h1>
            <p data-testid="mapping-refused-field">{e.field.clone().unwrap_or_default()}</p>
            <p role="alert">{e.message.clone()}</p>
            <p><a class="btn" href=format!("/operator/customers/{customer_id}")>{t(Msg::BackToCustomer)}</a></p>
        </section>
    }
}

#[component]
fn ConfirmView(p: MappingPreview, locale: Locale) -> impl IntoView {
    let t = move |m| text(locale, m);
    let action = ServerAction::<ApplyMapping>::new();
    let error = form_error(action.value(), ApplyMapping::PATH);
    let side = move |s: &Option<String>, base: &str| match s {
        Some(s) => {
            view! { <span class="badge badge-ok">{t(Msg::BadgeMapped)}</span>" "<code>{s.clone()}</code> }.into_any()
        }
        None => view! { <span class="badge badge-warn">{t(Msg::BadgeBase)}</span>" "<code>{base.to_owned()}</code> }
            .into_any(),
    };
    let back = format!("/operator/customers/{}", p.customer_id);
    view! {
        <div class="page-head">
            <p class="crumbs"><a href=back.clone()>{p.customer.clone()}</a></p>
            <h1>{t(Msg::ConfirmTitle)}</h1>
        </div>
        <section class="panel panel-narrow" data-testid="mapping-preview">
            <dl class="facts">
                <dt>{t(Msg::Customer)}</dt><dd>{p.customer.clone()}</dd>
                <dt>{t(Msg::CloudTenant)}</dt><dd><code>{p.cloud_tenant_id.clone()}</code></dd>
                <dt>{t(Msg::RegistrationName)}</dt><dd>{p.registration.clone()}</dd>
                <dt>{t(Msg::EffectiveOn)}</dt><dd data-testid="preview-day">{format_date(p.effective_on, locale)}</dd>
                <dt>{t(Msg::Before)}</dt><dd data-testid="preview-before">{side(&p.before, &p.base_subscription_id)}</dd>
                <dt>{t(Msg::After)}</dt><dd data-testid="preview-after">{side(&p.after, &p.base_subscription_id)}</dd>
            </dl>
            {p.replaced_same_day.then(|| view! { <p class="note">{t(Msg::ReplacesSameDay)}</p> })}
            <ActionForm action attr:class="form" attr:data-testid="confirm-form">
                <input type="hidden" name="customer_id" value=p.customer_id/>
                <input type="hidden" name="form[registration]" value=p.registration_id/>
                <input type="hidden" name="form[customer_subscription_id]" value=p.after.clone().unwrap_or_default()/>
                <input type="hidden" name="form[effective_on]" value=p.effective_on.to_string()/>
                <FormAlert error fields=&[]/>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" data-testid="confirm-mapping">{t(Msg::ConfirmChange)}</button>
                    <a class="btn btn-quiet" href=back>{t(Msg::Cancel)}</a>
                </div>
            </ActionForm>
        </section>
    }
}

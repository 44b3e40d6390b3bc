//! Customers and their cloud tenants: created or updated by tenant (one customer per
//! directory), with every change in the audit log. The console, the CLI and the demo seed
//! all come through here.

use crate::billing::CloudTenantId;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, customers::NewCustomer, from_unix};
use crate::ssr::services::accounts::{audit, parse_email};
use crate::ssr::state::AppState;
use crate::types::{
    BilledToFilter, CustomerDetail, CustomerForm, CustomerListItem, CustomerQuery, ListPage, MappingInterval,
    TenantMapping, MAX_PAGE_SIZE,
};

/// A customer as entered.
#[derive(Debug, Clone)]
pub struct CustomerInput {
    /// Name, in any script.
    pub name: String,
    /// Its Azure AD directory.
    pub cloud_tenant: CloudTenantId,
    /// The directory's display name (`contoso.onmicrosoft.com`).
    pub tenant_display_name: String,
    /// Where invoices go.
    pub billing_email: String,
    /// Postal address, several lines.
    pub billing_address: String,
    /// Locale of its portal and documents.
    pub locale: Locale,
    /// Tax id (VAT number), printed on its invoices.
    pub tax_id: String,
    /// Days from issue to due (`None`: the installation's default).
    pub payment_terms_days: Option<i64>,
}

impl CustomerInput {
    /// The row to store, for the tenant's row id.
    fn row(&self, cloud_tenant_id: i64) -> NewCustomer<'_> {
        NewCustomer {
            name: &self.name,
            cloud_tenant_id,
            billing_email: &self.billing_email,
            billing_address: &self.billing_address,
            locale: self.locale.tag(),
            tax_id: &self.tax_id,
            payment_terms_days: self.payment_terms_days,
        }
    }
}

/// What [`save_customer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedCustomer {
    /// The customer.
    pub id: i64,
    /// Its tenant's row.
    pub cloud_tenant_row: i64,
    /// Created (else updated).
    pub created: bool,
}

/// Creates the customer of a cloud tenant, or updates the one it already has.
pub async fn save_customer(state: &AppState, by: &Caller, input: CustomerInput) -> Result<SavedCustomer, AppError> {
    by.require(Access::Operator)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "A customer name has 1 to 200 characters."));
    }
    let email = parse_email(&input.billing_email)?;
    let now = state.now_secs();
    let guid = input.cloud_tenant.to_string();
    let mut tx = state.db.begin().await?;
    let tenant_row = db::customers::upsert_cloud_tenant(&mut tx, &guid, input.tenant_display_name.trim(), now).await?;
    let new = NewCustomer {
        name,
        cloud_tenant_id: tenant_row,
        billing_email: &email,
        billing_address: input.billing_address.trim(),
        locale: input.locale.tag(),
        tax_id: input.tax_id.trim(),
        payment_terms_days: input.payment_terms_days,
    };
    let (id, created) = match db::customers::find_customer_by_tenant(&mut tx, tenant_row).await? {
        Some(existing) => {
            db::customers::update_customer(&mut tx, existing.id, &new).await?;
            (existing.id, false)
        }
        None => (db::customers::insert_customer(&mut tx, &new, now).await?, true),
    };
    audit(
        &mut tx,
        by,
        if created {
            "customer.created"
        } else {
            "customer.updated"
        },
        &format!("customer:{id}"),
        serde_json::json!({ "name": name, "cloud_tenant": guid, "locale": input.locale.tag() }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SavedCustomer {
        id,
        cloud_tenant_row: tenant_row,
        created,
    })
}

/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: i64 = 50;

/// Clamps a requested page to what a list serves.
pub fn page_bounds(offset: i64, limit: i64) -> (i64, i64) {
    let limit = if limit <= 0 {
        DEFAULT_PAGE_SIZE
    } else {
        limit.min(MAX_PAGE_SIZE)
    };
    (offset.max(0), limit)
}

/// One page of customers: searched by name words or cloud tenant GUID (any form, or its
/// beginning), filtered by how they are billed today, sorted and paged in the database.
/// Staff only.
pub async fn list_customers(
    state: &AppState,
    by: &Caller,
    query: &CustomerQuery,
) -> Result<ListPage<CustomerListItem>, AppError> {
    by.require(Access::Staff)?;
    let (offset, limit) = page_bounds(query.offset, query.limit);
    let q = query.q.trim();
    let mut filter = db::customers::CustomerFilter {
        sort: query.sort.as_str(),
        desc: query.desc,
        mapped: query.billed_to.map(|b| b == BilledToFilter::Mapped),
        ..Default::default()
    };
    if let Ok(tenant) = CloudTenantId::parse(q) {
        filter.tenant_prefix = Some(tenant.to_string());
    } else if !q.is_empty() {
        filter.name_words = q.split_whitespace().map(str::to_lowercase).collect();
        // Someone pasting the start of a directory GUID ("dbab3982-79") finds it too.
        let hexish = q.to_ascii_lowercase();
        if hexish.len() >= 4 && hexish.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-') {
            filter.tenant_prefix = Some(hexish);
        }
    }
    let now = state.clock.now();
    let today = now.date_naive();
    let month_start = crate::billing::BillingPeriod::containing(now).first_day();
    let mut c = state.db.conn().await?;
    let (rows, total) = db::customers::search_customers(&mut c, &filter, today, offset, limit).await?;
    let tenants: Vec<i64> = rows.iter().map(|r| r.cloud_tenant_id).collect();
    let records = db::customers::records_since_by_tenant(&mut c, &tenants, month_start).await?;
    let items = rows
        .into_iter()
        .map(|r| CustomerListItem {
            records_this_month: records.get(&r.cloud_tenant_id).copied().unwrap_or(0),
            id: r.id,
            name: r.name,
            cloud_tenant_id: r.tenant_guid,
            locale: r.locale,
            mapped_registrations: r.mapped_registrations,
        })
        .collect();
    Ok(ListPage {
        items,
        total,
        total_at_least: false,
        offset,
        limit,
    })
}

/// A customer with its tenant's mapping on every registration, every interval and every
/// recorded change. Staff only.
pub async fn customer_detail(state: &AppState, by: &Caller, id: i64) -> Result<CustomerDetail, AppError> {
    by.require(Access::Staff)?;
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    let customer = db::customers::find_customer(&mut c, id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", format!("There is no customer with id {id}.")))?;
    let tenant_display_name = db::customers::tenant_display_name(&mut c, customer.cloud_tenant_id).await?;
    let registrations = db::registrations::list_registrations(&mut c).await?;
    let rows = db::mappings::list_mappings_of_tenant(&mut c, customer.cloud_tenant_id).await?;
    drop(c);
    let intervals: Vec<MappingInterval> = rows
        .iter()
        .map(|m| MappingInterval {
            registration: m.registration_name.clone(),
            subscription_id: m.subscription_id.clone(),
            from: m.effective_on,
            to: m.ended_on,
        })
        .collect();
    let mappings = registrations
        .iter()
        .map(|reg| {
            let mine: Vec<_> = rows.iter().filter(|m| m.registration_id == reg.id).collect();
            let current = mine
                .iter()
                .find(|m| m.effective_on <= today && m.ended_on.is_none_or(|e| e > today));
            // Since when today's state holds: the current interval's start, or the end of
            // the last interval before today (the tenant fell back to the base then).
            let since = match current {
                Some(m) => Some(m.effective_on),
                None => mine.iter().filter_map(|m| m.ended_on).filter(|e| *e <= today).max(),
            };
            let upcoming = mine
                .iter()
                .filter(|m| m.effective_on > today)
                .map(|m| MappingInterval {
                    registration: reg.name.clone(),
                    subscription_id: m.subscription_id.clone(),
                    from: m.effective_on,
                    to: m.ended_on,
                })
                .collect();
            TenantMapping {
                registration_id: reg.id,
                registration: reg.name.clone(),
                base_subscription_id: reg.base_subscription_id.clone(),
                current: current.map(|m| m.subscription_id.clone()),
                since,
                upcoming,
            }
        })
        .collect();
    let tenant =
        CloudTenantId::parse(&customer.tenant_guid).map_err(|e| crate::ssr::auth::internal("stored tenant", e))?;
    let history = super::mappings::mapping_history(state, by, tenant).await?;
    let terms = super::price_sheets::customer_terms_view(&mut state.db.conn().await?, customer.id, today).await?;
    Ok(CustomerDetail {
        id: customer.id,
        name: customer.name,
        cloud_tenant_id: customer.tenant_guid,
        tenant_display_name,
        billing_email: customer.billing_email,
        billing_address: customer.billing_address,
        locale: customer.locale,
        tax_id: customer.tax_id,
        payment_terms_days: customer.payment_terms_days,
        created_at: from_unix(customer.created_at)?,
        today,
        mappings,
        intervals,
        history,
        terms,
    })
}

/// A customer form checked field by field: the first problem is named with its field.
fn parse_form(form: &CustomerForm) -> Result<CustomerInput, AppError> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "A customer name has 1 to 200 characters."));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "A customer name is one line without control characters.",
        ));
    }
    let cloud_tenant = super::lookup::cloud_tenant(&form.cloud_tenant_id, "cloud_tenant_id")?;
    let billing_email = match form.billing_email.trim() {
        "" => String::new(),
        raw => parse_email(raw).map_err(|e| AppError {
            field: Some("billing_email".into()),
            ..e
        })?,
    };
    let locale = match form.locale.trim() {
        "" => Locale::En,
        raw => Locale::parse(raw).ok_or_else(|| {
            AppError::invalid(
                "locale",
                format!("`{raw}` is not a supported language; use en, fr, nl, zh-TW or zh-CN."),
            )
        })?,
    };
    let tenant_display_name = form.tenant_display_name.trim();
    if tenant_display_name.chars().count() > 256 {
        return Err(AppError::invalid("tenant_display_name", "At most 256 characters."));
    }
    if form.billing_address.chars().count() > 1000 {
        return Err(AppError::invalid("billing_address", "At most 1,000 characters."));
    }
    let tax_id = form.tax_id.trim();
    if tax_id.chars().count() > 64 || tax_id.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "tax_id",
            "A tax id is one line of at most 64 characters.",
        ));
    }
    let payment_terms_days = match form.payment_terms_days.trim() {
        "" => None,
        raw => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|d| (0..=365).contains(d))
                .ok_or_else(|| {
                    AppError::invalid(
                        "payment_terms_days",
                        format!("`{raw}` is not a number of days from 0 to 365 (empty: the default)."),
                    )
                })?,
        ),
    };
    Ok(CustomerInput {
        name: name.to_owned(),
        cloud_tenant,
        tenant_display_name: tenant_display_name.to_owned(),
        billing_email,
        // One line ending, whatever the browser sent.
        billing_address: form.billing_address.trim().replace("\r\n", "\n"),
        locale,
        tax_id: tax_id.to_owned(),
        payment_terms_days,
    })
}

/// The audit view of a customer's editable fields.
fn audit_view(input: &CustomerInput) -> serde_json::Value {
    serde_json::json!({
        "name": input.name, "cloud_tenant": input.cloud_tenant.to_string(), "billing_email": input.billing_email,
        "billing_address": input.billing_address, "locale": input.locale.tag(), "tax_id": input.tax_id,
        "payment_terms_days": input.payment_terms_days,
    })
}

/// The audit view of a stored customer (the same keys as [`audit_view`]).
fn stored_audit_view(c: &db::customers::CustomerRow) -> serde_json::Value {
    serde_json::json!({
        "name": c.name, "cloud_tenant": c.tenant_guid, "billing_email": c.billing_email,
        "billing_address": c.billing_address, "locale": c.locale, "tax_id": c.tax_id,
        "payment_terms_days": c.payment_terms_days,
    })
}

/// Creates a customer from the console or the API. Refused: another customer with the
/// same name (ignoring case) or the same cloud tenant. Operators only; audited.
pub async fn create_customer(state: &AppState, by: &Caller, form: &CustomerForm) -> Result<i64, AppError> {
    by.require(Access::Operator)?;
    let input = parse_form(form)?;
    let now = state.now_secs();
    let guid = input.cloud_tenant.to_string();
    let mut tx = state.db.begin().await?;
    check_unique(&mut tx, &input, None).await?;
    let tenant_row = db::customers::upsert_cloud_tenant(&mut tx, &guid, &input.tenant_display_name, now).await?;
    let id = db::customers::insert_customer(&mut tx, &input.row(tenant_row), now).await?;
    let after = audit_view(&input);
    audit(
        &mut tx,
        by,
        "customer.created",
        &format!("customer:{id}"),
        serde_json::json!({ "before": null, "after": after }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Updates a customer. Moving it to another cloud tenant is allowed only to a tenant no
/// other customer owns (the mappings belong to the tenant and stay with it). Operators
/// only; audited with before and after.
pub async fn update_customer(state: &AppState, by: &Caller, id: i64, form: &CustomerForm) -> Result<(), AppError> {
    by.require(Access::Operator)?;
    let input = parse_form(form)?;
    let now = state.now_secs();
    let guid = input.cloud_tenant.to_string();
    let mut tx = state.db.begin().await?;
    let existing = db::customers::find_customer(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", format!("There is no customer with id {id}.")))?;
    check_unique(&mut tx, &input, Some(id)).await?;
    let tenant_row = db::customers::upsert_cloud_tenant(&mut tx, &guid, &input.tenant_display_name, now).await?;
    db::customers::update_customer(&mut tx, id, &input.row(tenant_row)).await?;
    let before = stored_audit_view(&existing);
    let after = audit_view(&input);
    if before != after {
        audit(
            &mut tx,
            by,
            "customer.updated",
            &format!("customer:{id}"),
            serde_json::json!({ "before": before, "after": after }),
            "",
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn check_unique(tx: &mut db::Tx, input: &CustomerInput, except: Option<i64>) -> Result<(), AppError> {
    if let Some(other) = db::customers::find_other_customer_named(tx, &input.name, except).await? {
        return Err(AppError {
            field: Some("name".into()),
            ..AppError::conflict(
                "customer_name_taken",
                format!(
                    "Customer {other} already has the name `{}`; names tell customers apart on invoices.",
                    input.name
                ),
            )
        });
    }
    let guid = input.cloud_tenant.to_string();
    if let Some(tenant_row) = db::customers::find_cloud_tenant(tx, &guid).await? {
        if let Some(owner) = db::customers::find_customer_by_tenant(tx, tenant_row).await? {
            if Some(owner.id) != except {
                return Err(AppError {
                    field: Some("cloud_tenant_id".into()),
                    ..AppError::conflict(
                        "cloud_tenant_taken",
                        format!(
                            "Cloud tenant {guid} belongs to customer `{}` (id {}); a directory has one customer.",
                            owner.name, owner.id
                        ),
                    )
                });
            }
        }
    }
    Ok(())
}

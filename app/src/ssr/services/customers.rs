//! Customers and their cloud tenants: created or updated by tenant (one customer per
//! directory), with every change in the audit log. The console, the CLI and the demo seed
//! all come through here.

use crate::billing::CloudTenantId;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::ssr::auth::Caller;
use crate::ssr::db::{self, customers::NewCustomer};
use crate::ssr::services::accounts::{audit, parse_email};
use crate::ssr::state::AppState;

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

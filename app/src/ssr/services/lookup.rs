//! Finding things by what people type: a customer by id, cloud tenant GUID (any case or
//! hyphenation) or exact name. The CLI, the API and the console resolve through here.

use crate::billing::CloudTenantId;
use crate::error::AppError;
use crate::ssr::db::{self, Db};

/// The customer id for `key`: a numeric id, a cloud tenant GUID, or an exact name (refused
/// when several customers share it, listing their ids).
pub async fn resolve_customer(db: &Db, key: &str) -> Result<i64, AppError> {
    let mut c = db.conn().await?;
    let not_found = |message: String| AppError::invalid("customer", message);
    if let Ok(id) = key.trim().parse::<i64>() {
        return match db::customers::find_customer(&mut c, id).await? {
            Some(row) => Ok(row.id),
            None => Err(not_found(format!("there is no customer with id {id}"))),
        };
    }
    if let Ok(tenant) = CloudTenantId::parse(key) {
        if let Some(t) = db::customers::find_cloud_tenant(&mut c, &tenant.to_string()).await? {
            if let Some(row) = db::customers::find_customer_by_tenant(&mut c, t).await? {
                return Ok(row.id);
            }
        }
        return Err(not_found(format!("no customer owns the cloud tenant {tenant}")));
    }
    let rows = db::customers::find_customers_by_name(&mut c, key).await?;
    match rows.as_slice() {
        [one] => Ok(one.id),
        [] => Err(not_found(format!("there is no customer named `{key}`"))),
        many => Err(not_found(format!(
            "{} customers are named `{key}`; use the id ({})",
            many.len(),
            many.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The registration named `name`, or the only one when no name is given.
pub async fn resolve_registration(db: &Db, name: Option<&str>) -> Result<db::registrations::RegistrationRow, AppError> {
    let mut c = db.conn().await?;
    match name {
        Some(n) => db::registrations::find_registration_by_name(&mut c, n)
            .await?
            .ok_or_else(|| AppError::invalid("registration", format!("There is no registration named `{n}`."))),
        None => {
            let mut all = db::registrations::list_registrations(&mut c).await?;
            match all.len() {
                1 => Ok(all.remove(0)),
                0 => Err(AppError::invalid(
                    "registration",
                    "No registration exists yet; add one first.",
                )),
                n => Err(AppError::invalid(
                    "registration",
                    format!("There are {n} registrations; name one with ?registration=NAME."),
                )),
            }
        }
    }
}

/// A registration by id (the one an ingest token is scoped to).
pub async fn registration_by_id(db: &Db, id: i64) -> Result<db::registrations::RegistrationRow, AppError> {
    let mut c = db.conn().await?;
    db::registrations::find_registration(&mut c, id)
        .await?
        .ok_or_else(|| AppError::not_found("registration_not_found", "The token's registration no longer exists."))
}

/// The registration named `name`, or every registration.
pub async fn registrations(db: &Db, name: Option<&str>) -> Result<Vec<db::registrations::RegistrationRow>, AppError> {
    match name {
        Some(_) => Ok(vec![resolve_registration(db, name).await?]),
        None => Ok(db::registrations::list_registrations(&mut db.conn().await?).await?),
    }
}

/// A registration by what people type: its id or its exact name (`field` names the input
/// in the error).
pub async fn registration_by_key(
    db: &Db,
    key: &str,
    field: &str,
) -> Result<db::registrations::RegistrationRow, AppError> {
    let key = key.trim();
    let mut c = db.conn().await?;
    let found = match key.parse::<i64>() {
        Ok(id) => db::registrations::find_registration(&mut c, id).await?,
        Err(_) => db::registrations::find_registration_by_name(&mut c, key).await?,
    };
    found.ok_or_else(|| {
        if key.is_empty() {
            AppError::invalid(field, "Choose a registration.")
        } else {
            AppError::invalid(field, format!("There is no registration `{key}`."))
        }
    })
}

/// A UTC day as typed (`YYYY-MM-DD`); empty is `None` (the caller's default, usually
/// today). `field` names the input in the error.
pub fn day(raw: &str, field: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        raw => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::invalid(field, format!("`{raw}` is not a day; expected YYYY-MM-DD."))),
    }
}

/// A cloud tenant (directory) GUID in any case, with or without hyphens or braces.
pub fn cloud_tenant(raw: &str, field: &str) -> Result<CloudTenantId, AppError> {
    CloudTenantId::parse(raw).map_err(|_| {
        AppError::invalid(
            field,
            format!(
                "`{}` is not a directory (cloud tenant) GUID; expected 32 hexadecimal digits such as \
                 dbab3982-796f-4d03-9908-044c08aef8a2.",
                raw.trim()
            ),
        )
    })
}

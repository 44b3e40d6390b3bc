//! Price sheets: named, in one currency, with versions that each start on a UTC day and
//! run until the next one starts. Every version is checked by the billing core's
//! constructors before it is stored, so storage never holds a sheet the core refuses.

use crate::billing::{Currency, PriceEntry, PriceSheetVersion};
use crate::error::AppError;
use crate::ssr::auth::Caller;
use crate::ssr::db::{self, price_sheets::PriceSheetRow, Db};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::periods::check_change_day_anywhere;
use crate::ssr::state::AppState;
use chrono::NaiveDate;

/// The sheet with this name.
pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<PriceSheetRow>, AppError> {
    Ok(db::price_sheets::find_price_sheet_by_name(&mut db.conn().await?, name).await?)
}

/// Creates an empty sheet; a name already taken is a conflict.
pub async fn create_price_sheet(
    state: &AppState,
    by: &Caller,
    name: &str,
    currency: &str,
    description: &str,
) -> Result<i64, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "A price sheet name has 1 to 200 characters."));
    }
    let currency = Currency::parse(currency).map_err(|e| AppError::invalid("currency", e.to_string()))?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    if db::price_sheets::find_price_sheet_by_name(&mut tx, name)
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "price_sheet_exists",
            format!("A price sheet named `{name}` already exists."),
        ));
    }
    let id = db::price_sheets::insert_price_sheet(&mut tx, name, currency.code(), description.trim(), now).await?;
    audit(
        &mut tx,
        by,
        "price_sheet.created",
        &format!("price_sheet:{id}"),
        serde_json::json!({ "name": name, "currency": currency.code() }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The days a sheet's versions start on, oldest first.
pub async fn version_starts(db: &Db, sheet_id: i64) -> Result<Vec<NaiveDate>, AppError> {
    Ok(db::price_sheets::list_versions(&mut db.conn().await?, sheet_id)
        .await?
        .into_iter()
        .map(|v| v.effective_on)
        .collect())
}

/// Adds a version starting on `effective_on` with these entries. It runs until the next
/// version's start (if any) and ends the version before it on that day; a version already
/// starting that day is replaced (same-day replace). Refused inside an invoiced period.
pub async fn add_version(
    state: &AppState,
    by: &Caller,
    sheet_id: i64,
    effective_on: NaiveDate,
    note: &str,
    entries: Vec<PriceEntry>,
) -> Result<i64, AppError> {
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let sheet = db::price_sheets::find_price_sheet(&mut tx, sheet_id)
        .await?
        .ok_or_else(|| AppError::not_found("price_sheet_not_found", "No such price sheet."))?;
    check_change_day_anywhere(&mut tx, effective_on, "effective_on").await?;
    let versions = db::price_sheets::list_versions(&mut tx, sheet_id).await?;
    let next_start = versions
        .iter()
        .map(|v| v.effective_on)
        .filter(|d| *d > effective_on)
        .min();
    // The billing core's checks (unique meters, valid models and units) before storing.
    PriceSheetVersion::new(effective_on, next_start, entries.clone())?;
    if let Some(same) = versions.iter().find(|v| v.effective_on == effective_on) {
        db::price_sheets::delete_version(&mut tx, same.id).await?;
    }
    if let Some(before) = versions
        .iter()
        .filter(|v| v.effective_on < effective_on)
        .max_by_key(|v| v.effective_on)
    {
        db::price_sheets::set_version_end(&mut tx, before.id, Some(effective_on)).await?;
    }
    let id = db::price_sheets::insert_version(&mut tx, sheet_id, effective_on, next_start, note, now).await?;
    for e in &entries {
        let model = serde_json::to_string(&e.model).map_err(|x| crate::ssr::auth::internal("price json", x))?;
        let conversion =
            serde_json::to_string(&e.conversion).map_err(|x| crate::ssr::auth::internal("price json", x))?;
        db::price_sheets::upsert_entry(
            &mut tx,
            id,
            &e.meter_id.to_string(),
            &model,
            &e.billing_unit,
            &conversion,
        )
        .await?;
    }
    audit(
        &mut tx,
        by,
        "price_sheet.version_added",
        &format!("price_sheet:{sheet_id}"),
        serde_json::json!({ "sheet": sheet.name, "effective_on": effective_on, "entries": entries.len() }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

//! When a billing change may take effect.
//!
//! A change to a mapping, an owner or a pricing term takes effect at the start of a UTC
//! day (see `billing::dated`). It may not be dated
//! - before the registration's `active_from` day (billing on it had not started), or
//! - inside a billing period that is locked because invoices were issued for it: an
//!   issued invoice never changes, so neither may what it was computed from.

use crate::billing::BillingPeriod;
use crate::error::AppError;
use crate::ssr::db::{self, registrations::RegistrationRow, AsExecutor, DbResult};
use chrono::NaiveDate;

/// The first day after the latest locked period of a registration (`None`: nothing is
/// locked, every day is open).
pub async fn first_open_day(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<Option<NaiveDate>> {
    Ok(db::periods::latest_locked_period(c, registration_id)
        .await?
        .map(|start| BillingPeriod::of_date(start).end_day()))
}

/// Refuses a change dated `day` on a registration before its start or inside a locked
/// period; `field` names the input for the error.
pub async fn check_change_day(
    c: &mut impl AsExecutor,
    registration: &RegistrationRow,
    day: NaiveDate,
    field: &str,
) -> Result<(), AppError> {
    if day < registration.active_from {
        return Err(AppError::invalid(
            field,
            format!(
                "{day} is before registration `{}` starts ({}); a change cannot take effect before the registration existed.",
                registration.name, registration.active_from
            ),
        ));
    }
    if let Some(open) = first_open_day(c, registration.id).await? {
        if day < open {
            return Err(locked(field, day, open));
        }
    }
    Ok(())
}

/// Refuses a change dated inside a period locked on any registration (customer and meter
/// terms reach every registration).
pub async fn check_change_day_anywhere(c: &mut impl AsExecutor, day: NaiveDate, field: &str) -> Result<(), AppError> {
    if let Some(start) = db::periods::latest_locked_period_anywhere(c).await? {
        let open = BillingPeriod::of_date(start).end_day();
        if day < open {
            return Err(locked(field, day, open));
        }
    }
    Ok(())
}

fn locked(field: &str, day: NaiveDate, open: NaiveDate) -> AppError {
    AppError {
        field: Some(field.to_owned()),
        ..AppError::conflict(
            "period_invoiced",
            format!(
                "{day} is in a billing period that has issued invoices ({}); changes can take effect from {open} on. \
                 Void the period's invoices first to correct it.",
                BillingPeriod::of_date(open.pred_opt().unwrap_or(open))
            ),
        )
    }
}

/// Parses an effective day (`YYYY-MM-DD`), naming the field on error.
pub fn parse_day(raw: &str, field: &str) -> Result<NaiveDate, AppError> {
    raw.trim()
        .parse::<NaiveDate>()
        .map_err(|_| AppError::invalid(field, format!("`{raw}` is not a date (expected YYYY-MM-DD).")))
}

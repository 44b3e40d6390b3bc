//! The meter catalogue in the console: search, billable or report-only from a day on, and
//! naming the meters discovered in usage (absent from the catalogue) so they can be priced.

use crate::billing::{MeterBilling, MeterId};
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, from_unix};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::terms;
use crate::ssr::state::AppState;
use crate::types::{MeterCatalogue, MeterForm, MeterQuery, MeterView};
use chrono::NaiveDate;

/// The catalogue filtered by words of the name, a meter GUID in any form (or its
/// beginning), service, origin and billing mode; discovered meters first, with when they
/// were first seen and how many records they have. Staff only.
pub async fn catalogue(state: &AppState, by: &Caller, q: &MeterQuery) -> Result<MeterCatalogue, AppError> {
    by.require(Access::Staff)?;
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    let rows = db::meters::list_meters(&mut c, today).await?;
    let mut services: Vec<String> = rows.iter().map(|r| r.service.clone()).collect();
    services.sort();
    services.dedup();
    let text = q.q.trim().to_lowercase();
    let guid = MeterId::parse(&text).ok().map(|m| m.to_string());
    let hexish = text.len() >= 4 && text.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-');
    let words: Vec<&str> = text.split_whitespace().collect();
    let matches = |r: &db::meters::MeterRow| {
        let by_text = text.is_empty()
            || guid.as_deref() == Some(r.id.as_str())
            || (hexish && r.id.starts_with(&text))
            || words.iter().all(|w| r.name.to_lowercase().contains(w));
        by_text
            && (q.service.is_empty() || r.service == q.service)
            && (q.origin.is_empty() || r.origin == q.origin)
            && (q.billing.is_empty() || r.billing == q.billing)
    };
    let mut picked: Vec<db::meters::MeterRow> = rows.into_iter().filter(matches).collect();
    // Discovered meters need attention: first.
    picked.sort_by_key(|r| r.origin != "discovered");
    let discovered: Vec<String> = picked
        .iter()
        .filter(|r| r.origin == "discovered")
        .map(|r| r.id.clone())
        .collect();
    let counts = db::meters::record_counts(&mut c, &discovered).await?;
    let items = picked
        .into_iter()
        .map(|r| {
            let meter = r.to_meter()?;
            let discovered = r.origin == "discovered";
            Ok(MeterView {
                id: meter.id.to_string(),
                name: meter.name,
                unit: meter.unit,
                service: meter.service,
                billing: r.billing_on_day()?,
                first_seen: if discovered {
                    Some(from_unix(r.created_at)?)
                } else {
                    None
                },
                records: if discovered {
                    Some(counts.get(&r.id).copied().unwrap_or(0))
                } else {
                    None
                },
                origin: r.origin,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(MeterCatalogue { items, services })
}

fn meter_id(raw: &str) -> Result<MeterId, AppError> {
    MeterId::parse(raw).map_err(|_| AppError::invalid("meter_id", format!("`{}` is not a meter GUID.", raw.trim())))
}

/// Makes a meter billable or report-only from a day (default today). Operators only.
pub async fn set_billing(state: &AppState, by: &Caller, id: &str, form: &MeterForm) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let meter = meter_id(id)?;
    let billing = MeterBilling::parse(form.billing.trim())
        .ok_or_else(|| AppError::invalid("billing", "`billing` is billable or report_only."))?;
    let day = crate::ssr::services::lookup::day(&form.effective_on, "effective_on")?;
    terms::set_meter_billing(state, by, meter, billing, day).await
}

/// Names a discovered meter, gives it a unit and a service. Catalogue meters follow the
/// shipped catalogue and are refused. Operators only; audited with before and after.
pub async fn describe(state: &AppState, by: &Caller, id: &str, form: &MeterForm) -> Result<(), AppError> {
    by.require(Access::Operator)?;
    let meter = meter_id(id)?;
    let (name, unit, service) = (form.name.trim(), form.unit.trim(), form.service.trim());
    for (field, value, max) in [("name", name, 200), ("unit", unit, 50), ("service", service, 100)] {
        if value.is_empty() || value.chars().count() > max {
            return Err(AppError::invalid(
                field,
                format!("The {field} has 1 to {max} characters."),
            ));
        }
    }
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await?;
    let before = db::meters::find_meter(&mut tx, meter, today)
        .await?
        .ok_or_else(|| AppError::not_found("meter_not_found", format!("There is no meter {meter}.")))?;
    if before.origin != "discovered" {
        return Err(AppError::conflict(
            "catalogue_meter",
            format!(
                "{} comes from the Azure Stack usage catalogue; only discovered meters are named here.",
                before.name
            ),
        ));
    }
    db::meters::describe_meter(&mut tx, meter, name, unit, service).await?;
    audit(
        &mut tx,
        by,
        "meter.described",
        &format!("meter:{meter}"),
        serde_json::json!({
            "before": { "name": before.name, "unit": before.unit, "service": before.service },
            "after": { "name": name, "unit": unit, "service": service },
        }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

//! Mappings in bulk: a CSV export of what is mapped, and an import that is checked whole
//! and applied all or nothing, with a dry run that shows every row's outcome first.
//!
//! The one documented header (column order free, names without regard to case):
//!
//! ```text
//! cloud_tenant_id,customer,registration,customer_subscription_id,effective_on
//! ```
//!
//! `customer` (a name or id) is optional; given, it must be the customer of that tenant.
//! An empty `customer_subscription_id` unmaps the tenant (back to the base); an empty
//! `effective_on` is today (UTC). Rows are applied in file order through the same
//! `change_mapping` the console and the API use, in one transaction.

use crate::billing::SubscriptionId;
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db;
pub use crate::ssr::services::csv_input::CsvRefused;
use crate::ssr::services::csv_input::{self, refused, row_error, Layout};
use crate::ssr::services::lookup;
use crate::ssr::services::mappings::{change_mapping_in, ChangeSource, MappingChange};
use crate::ssr::state::AppState;
use crate::types::{MappingImportReport, MappingImportRow};

/// The columns, in the export's order.
pub const COLUMNS: [&str; 5] = [
    "cloud_tenant_id",
    "customer",
    "registration",
    "customer_subscription_id",
    "effective_on",
];

/// The most rows one import takes (a larger change is several files).
pub const MAX_ROWS: usize = 10_000;

/// The largest file one import takes.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The mappings in effect today and those scheduled after it, as CSV (UTF-8, ISO days):
/// importing the file again changes nothing. Staff only.
pub async fn export(state: &AppState, by: &Caller, registration: Option<&str>) -> Result<String, AppError> {
    by.require(Access::Staff)?;
    let registration_id = match registration.map(str::trim).filter(|r| !r.is_empty()) {
        Some(key) => Some(
            crate::ssr::services::lookup::registration_by_key(&state.db, key, "registration")
                .await?
                .id,
        ),
        None => None,
    };
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    let rows = db::mappings::list_current_and_later(&mut c, registration_id, today).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| crate::ssr::auth::internal("mapping csv", e);
    w.write_record(COLUMNS).map_err(fail)?;
    for r in rows {
        w.write_record([
            r.tenant_guid.as_str(),
            r.customer_name.as_deref().unwrap_or(""),
            r.registration_name.as_str(),
            r.subscription_id.as_str(),
            &r.effective_on.to_string(),
        ])
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| crate::ssr::auth::internal("mapping csv", e))?;
    String::from_utf8(bytes).map_err(|e| crate::ssr::auth::internal("mapping csv", e))
}

/// A row read and checked, ready to apply.
struct Parsed {
    row: usize,
    change: MappingChange,
    registration: String,
}

/// Checks a mapping CSV whole, then applies it in one transaction — or, with `dry_run`,
/// runs it and rolls back, so the report says exactly what applying would do. Any problem
/// refuses the file and changes nothing. Operators only.
pub async fn import(
    state: &AppState,
    by: &Caller,
    bytes: &[u8],
    dry_run: bool,
) -> Result<MappingImportReport, CsvRefused> {
    by.require(Access::Operator)?;
    let records = csv_input::read(
        bytes,
        &Layout {
            columns: &COLUMNS,
            required: &["cloud_tenant_id", "registration", "customer_subscription_id"],
            max_bytes: MAX_BYTES,
            max_rows: MAX_ROWS,
        },
    )?;
    let mut problems = Vec::new();
    let mut c = state.db.conn().await.map_err(AppError::from)?;
    let registrations = db::registrations::list_registrations(&mut c)
        .await
        .map_err(AppError::from)?;
    let mut parsed = Vec::new();
    for record in &records {
        let row = record.number;
        let get = |col: &str| record.get(col).to_owned();
        let before = problems.len();
        let tenant = lookup::cloud_tenant(&get("cloud_tenant_id"), "cloud_tenant_id")
            .map_err(|e| row_error(row, "cloud_tenant_id", e.message));
        let reg_key = get("registration");
        let reg = registrations
            .iter()
            .find(|r| r.name == reg_key || reg_key.parse::<i64>().ok() == Some(r.id))
            .ok_or_else(|| row_error(row, "registration", format!("There is no registration `{reg_key}`.")));
        let sub = match get("customer_subscription_id").as_str() {
            "" => Ok(None),
            raw => SubscriptionId::parse(raw).map(Some).map_err(|_| {
                row_error(
                    row,
                    "customer_subscription_id",
                    format!("`{raw}` is not a subscription GUID."),
                )
            }),
        };
        let day =
            lookup::day(&get("effective_on"), "effective_on").map_err(|e| row_error(row, "effective_on", e.message));
        for r in [
            tenant.as_ref().err(),
            reg.as_ref().err(),
            sub.as_ref().err(),
            day.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        {
            problems.push(r.clone());
        }
        if problems.len() > before {
            continue;
        }
        let (tenant, reg, sub, day) = (
            tenant.unwrap_or_else(|_| unreachable!()),
            reg.unwrap_or_else(|_| unreachable!()),
            sub.unwrap_or_default(),
            day.unwrap_or_default(),
        );
        let customer = get("customer");
        if !customer.is_empty() {
            let owner = match db::customers::find_cloud_tenant(&mut c, &tenant.to_string())
                .await
                .map_err(AppError::from)?
            {
                Some(t) => db::customers::find_customer_by_tenant(&mut c, t)
                    .await
                    .map_err(AppError::from)?,
                None => None,
            };
            let matches = owner
                .as_ref()
                .is_some_and(|o| o.name == customer || customer.parse::<i64>().ok() == Some(o.id));
            if !matches {
                let who = owner
                    .map(|o| format!("`{}` (id {})", o.name, o.id))
                    .unwrap_or_else(|| "no customer".into());
                problems.push(row_error(
                    row,
                    "customer",
                    format!("Cloud tenant {tenant} belongs to {who}, not `{customer}`."),
                ));
                continue;
            }
        }
        parsed.push(Parsed {
            row,
            registration: reg.name.clone(),
            change: MappingChange {
                registration_id: reg.id,
                cloud_tenant: tenant,
                subscription: sub,
                effective_on: day,
                source: ChangeSource::Csv,
            },
        });
    }
    drop(c);
    if !problems.is_empty() {
        return Err(refused(problems));
    }

    // Apply in file order; the first refusal (a subscription of another tenant, a day in
    // an invoiced period, …) names its row and undoes every row before it.
    let now = state.now_secs();
    let today = state.clock.now().date_naive();
    let mut tx = state.db.begin().await.map_err(AppError::from)?;
    let mut rows = Vec::with_capacity(parsed.len());
    for p in &parsed {
        match change_mapping_in(&mut tx, by, &p.change, today, now).await {
            Ok(o) => rows.push(MappingImportRow {
                row: p.row as u64,
                cloud_tenant_id: p.change.cloud_tenant.to_string(),
                registration: p.registration.clone(),
                effective_on: o.effective_on,
                before: o.before.map(|s| s.to_string()),
                after: o.after.map(|s| s.to_string()),
                replaced_same_day: o.replaced_same_day,
            }),
            Err(e) => {
                let column = e.field.clone().unwrap_or_default();
                return Err(refused(vec![row_error(p.row, &column, e.message)]));
            }
        }
    }
    if dry_run {
        tx.rollback().await.map_err(AppError::from)?;
    } else {
        tx.commit().await.map_err(AppError::from)?;
    }
    Ok(MappingImportReport {
        dry_run,
        applied: !dry_run,
        rows,
    })
}

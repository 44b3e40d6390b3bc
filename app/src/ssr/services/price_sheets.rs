//! Price sheets: named, in one currency, with versions that each start on a UTC day and
//! run until the next one starts. Every version is checked by the billing core's
//! constructors before it is stored, so storage never holds a sheet the core refuses.

use crate::billing::meter::MeterBilling;
use crate::billing::{
    Adjustment, BillingPeriod, Currency, Meter, MeterId, Percent, PriceEntry, PriceSheetVersion, PricingModel, Section,
    SheetId,
};
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, price_sheets::PriceSheetRow, AsExecutor, Db};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::csv_input::Row;
use crate::ssr::services::lookup;
use crate::ssr::services::periods::check_change_day_anywhere;
use crate::ssr::services::price_csv::{self, KnownMeter};
use crate::ssr::services::rating::{self, Detail, PeriodRating, Scope, WhatIf};
use crate::ssr::services::terms::{
    load_customer_terms, load_registration_terms, set_customer_terms, set_registration_terms, CustomerTermsChange,
    RegistrationTermsChange,
};
use crate::ssr::state::AppState;
use crate::types::{
    CustomerPricingForm, CustomerTermsView, MeterChoice, PreviewRow, PreviewSubject, PriceEntryForm, PriceEntryView,
    PricePreview, PriceSheetDetail, PriceSheetForm, PriceSheetSummary, PriceUploadForm, PriceUploadOutcome,
    PriceVersionView, SheetUse, TermsChangeView, TierView, UnpricedMeter,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

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
    by.require(Access::Operator)?;
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
    by.require(Access::Operator)?;
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

/// The catalogue as the CSV and the editor know it.
async fn known_meters(c: &mut impl AsExecutor, on: NaiveDate) -> Result<HashMap<MeterId, KnownMeter>, AppError> {
    let mut out = HashMap::new();
    for r in db::meters::list_meters(c, on).await? {
        let m = r.to_meter()?;
        out.insert(
            m.id,
            KnownMeter {
                name: m.name,
                unit: m.unit,
            },
        );
    }
    Ok(out)
}

/// A stored version's entries, through the billing core's types.
async fn version_entries(c: &mut impl AsExecutor, version_id: i64) -> Result<Vec<PriceEntry>, AppError> {
    db::price_sheets::list_entries(c, &[version_id])
        .await?
        .iter()
        .map(|e| {
            e.to_entry().map_err(|(what, x)| {
                AppError::new(
                    crate::error::ErrorKind::Conflict,
                    crate::ssr::services::rating::INVALID_DATA,
                    format!(
                        "The stored price of meter {} has a {what} that cannot be read: {x}",
                        e.meter_id
                    ),
                )
            })
        })
        .collect()
}

/// Billable meters with usage over `[from, to)` and no price among `priced`, most records
/// first. With `count`, each one's records are counted (a month of a busy meter is many
/// rows: the preview counts, the sheet's page only asks whether there is usage).
async fn unpriced_meters(
    c: &mut impl AsExecutor,
    priced: &HashSet<MeterId>,
    from: NaiveDate,
    to: NaiveDate,
    count: bool,
) -> Result<Vec<UnpricedMeter>, AppError> {
    if from >= to {
        return Ok(Vec::new());
    }
    // The billable meters without a price, then which of them have usage (index ranges
    // per meter: the window is never scanned whole).
    let mut candidates = Vec::new();
    for r in db::meters::list_meters(c, from).await? {
        let m = r.to_meter()?;
        if r.billing_on_day()? == MeterBilling::Billable && !priced.contains(&m.id) {
            candidates.push((r.id.clone(), m));
        }
    }
    let ids: Vec<String> = candidates.iter().map(|(id, _)| id.clone()).collect();
    let used: HashMap<String, Option<i64>> = if count {
        db::meters::records_of_meters_between(c, &ids, from, to)
            .await?
            .into_iter()
            .map(|(id, n)| (id, Some(n)))
            .collect()
    } else {
        let mut used = HashMap::new();
        for id in &ids {
            if db::meters::has_usage_between(c, id, from, to).await? {
                used.insert(id.clone(), None);
            }
        }
        used
    };
    let mut out = Vec::new();
    for (id, m) in candidates {
        if let Some(records) = used.get(&id) {
            out.push(UnpricedMeter {
                meter_id: id,
                name: m.name,
                unit: m.unit,
                records: *records,
            });
        }
    }
    out.sort_by(|a, b| b.records.cmp(&a.records).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// Where each sheet is in use today: registrations' defaults and customers' own sheets.
async fn uses_today(
    c: &mut impl AsExecutor,
    today: NaiveDate,
) -> Result<(HashMap<i64, Vec<SheetUse>>, HashMap<i64, Vec<i64>>), AppError> {
    let mut defaults: HashMap<i64, Vec<SheetUse>> = HashMap::new();
    for r in db::registrations::list_registrations(c).await? {
        let terms = load_registration_terms(c, r.id).await?;
        if let Some(Some(sheet)) = terms.default_sheet.at(today) {
            defaults
                .entry(sheet.0)
                .or_default()
                .push(SheetUse { id: r.id, name: r.name });
        }
    }
    let mut customers: HashMap<i64, Vec<i64>> = HashMap::new();
    // Only customers with an own sheet on some day can have one today (an index finds them).
    let candidates = db::terms::customers_with_own_sheet(c).await?;
    for (id, terms) in load_customer_terms(c, Some(&candidates)).await? {
        if let Some(Some(sheet)) = terms.pricing.own_sheet.at(today) {
            customers.entry(sheet.0).or_default().push(id);
        }
    }
    Ok((defaults, customers))
}

fn summary_of(
    row: &db::price_sheets::PriceSheetRow,
    versions: &[db::price_sheets::VersionRow],
    counts: &HashMap<i64, i64>,
    default_for: &[SheetUse],
    customers: usize,
    today: NaiveDate,
) -> Result<PriceSheetSummary, AppError> {
    let current = versions
        .iter()
        .filter(|v| v.price_sheet_id == row.id)
        .find(|v| v.effective_on <= today && v.ended_on.is_none_or(|end| today < end));
    Ok(PriceSheetSummary {
        id: row.id,
        name: row.name.clone(),
        currency: db::parse_stored("currency of a price sheet", &row.currency, Currency::parse)?,
        description: row.description.clone(),
        versions: versions.iter().filter(|v| v.price_sheet_id == row.id).count() as i64,
        current_from: current.map(|v| v.effective_on),
        current_entries: current.and_then(|v| counts.get(&v.id)).copied().unwrap_or(0),
        default_for: default_for.iter().map(|u| u.name.clone()).collect(),
        customers: customers as i64,
    })
}

/// Every sheet with its versions in brief and where it is in use. Staff.
pub async fn list(state: &AppState, by: &Caller) -> Result<Vec<PriceSheetSummary>, AppError> {
    by.require(Access::Staff)?;
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    let sheets = db::price_sheets::list_all_price_sheets(&mut c).await?;
    let versions = db::price_sheets::list_all_versions(&mut c).await?;
    let counts = db::price_sheets::entry_counts(&mut c).await?;
    let (defaults, customers) = uses_today(&mut c, today).await?;
    sheets
        .iter()
        .map(|s| {
            summary_of(
                s,
                &versions,
                &counts,
                defaults.get(&s.id).map(Vec::as_slice).unwrap_or_default(),
                customers.get(&s.id).map(Vec::len).unwrap_or(0),
                today,
            )
        })
        .collect()
}

fn entry_view(e: &PriceEntry, meters: &HashMap<MeterId, Meter>) -> PriceEntryView {
    let meter = meters.get(&e.meter_id);
    let (unit_price, tiers, package_size) = match &e.model {
        PricingModel::PerUnit { unit_price } => (unit_price.value(), Vec::new(), None),
        PricingModel::Graduated { tiers } | PricingModel::Volume { tiers } => (
            tiers.first().map(|t| t.unit_price.value()).unwrap_or_default(),
            tiers
                .iter()
                .map(|t| TierView {
                    from: t.from,
                    unit_price: t.unit_price.value(),
                })
                .collect(),
            None,
        ),
        PricingModel::Package {
            package_size,
            package_price,
        } => (package_price.value(), Vec::new(), Some(*package_size)),
    };
    PriceEntryView {
        meter_id: e.meter_id.to_string(),
        meter_name: meter.map(|m| m.name.clone()).unwrap_or_default(),
        service: meter.map(|m| m.service.clone()).unwrap_or_default(),
        usage_unit: meter.map(|m| m.unit.clone()).unwrap_or_default(),
        model: price_csv::model_name(&e.model).to_owned(),
        unit_price,
        tiers,
        package_size,
        billing_unit: e.billing_unit.clone(),
        usage_units_per_billing_unit: e.conversion.factor,
        per_period_hours: e.conversion.per_period_hours,
    }
}

/// A sheet: its versions, one version's entries (`version`, else the one in effect today,
/// else the newest), the billable meters with usage and no price in it, and where the sheet
/// is in use. Staff.
pub async fn detail(
    state: &AppState,
    by: &Caller,
    sheet_id: i64,
    version: Option<i64>,
) -> Result<PriceSheetDetail, AppError> {
    by.require(Access::Staff)?;
    let today = state.clock.now().date_naive();
    let mut c = state.db.conn().await?;
    let row = db::price_sheets::find_price_sheet(&mut c, sheet_id)
        .await?
        .ok_or_else(|| AppError::not_found("price_sheet_not_found", "No such price sheet."))?;
    let versions = db::price_sheets::list_versions(&mut c, sheet_id).await?;
    let counts = db::price_sheets::entry_counts(&mut c).await?;
    let (mut defaults, customers) = uses_today(&mut c, today).await?;
    let default_for = defaults.remove(&sheet_id).unwrap_or_default();
    let customer_ids = customers.get(&sheet_id).cloned().unwrap_or_default();
    let summary = summary_of(&row, &versions, &counts, &default_for, customer_ids.len(), today)?;
    let mut views: Vec<PriceVersionView> = versions
        .iter()
        .map(|v| PriceVersionView {
            id: v.id,
            effective_on: v.effective_on,
            ended_on: v.ended_on,
            note: v.note.clone(),
            entries: counts.get(&v.id).copied().unwrap_or(0),
            current: v.effective_on <= today && v.ended_on.is_none_or(|end| today < end),
        })
        .collect();
    views.reverse();
    let shown = match version {
        Some(id) => Some(
            views
                .iter()
                .find(|v| v.id == id)
                .cloned()
                .ok_or_else(|| AppError::not_found("price_version_not_found", "This sheet has no such version."))?,
        ),
        None => views.iter().find(|v| v.current).or(views.first()).cloned(),
    };
    let catalogue: HashMap<MeterId, Meter> = db::meters::list_meters(&mut c, today)
        .await?
        .iter()
        .map(|r| r.to_meter().map(|m| (m.id, m)))
        .collect::<Result<_, _>>()?;
    let (mut entries, mut unpriced) = (Vec::new(), Vec::new());
    let unpriced_since = BillingPeriod::of_date(today).previous().first_day();
    if let Some(v) = &shown {
        let stored = version_entries(&mut c, v.id).await?;
        let priced: HashSet<MeterId> = stored.iter().map(|e| e.meter_id).collect();
        entries = stored.iter().map(|e| entry_view(e, &catalogue)).collect();
        entries.sort_by(|a, b| a.meter_name.cmp(&b.meter_name).then(a.meter_id.cmp(&b.meter_id)));
        let from = v.effective_on.max(unpriced_since);
        let to = v
            .ended_on
            .unwrap_or(NaiveDate::MAX)
            .min(today.succ_opt().unwrap_or(today));
        unpriced = unpriced_meters(&mut c, &priced, from, to, false).await?;
    }
    let names = db::customers::names_of(&mut c, &customer_ids).await?;
    let mut customers: Vec<SheetUse> = names.into_iter().map(|(id, name)| SheetUse { id, name }).collect();
    customers.sort_by(|a, b| a.name.cmp(&b.name));
    let registrations = db::registrations::list_registrations(&mut c)
        .await?
        .into_iter()
        .filter(|r| r.currency == row.currency)
        .map(|r| SheetUse { id: r.id, name: r.name })
        .collect();
    let mut meters: Vec<MeterChoice> = catalogue
        .values()
        .map(|m| MeterChoice {
            id: m.id.to_string(),
            name: m.name.clone(),
            unit: m.unit.clone(),
        })
        .collect();
    meters.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(PriceSheetDetail {
        summary,
        versions: views,
        shown,
        entries,
        unpriced,
        unpriced_since,
        default_for,
        customers,
        registrations,
        meters,
        today,
    })
}

/// A version as the CSV the upload takes: `(file name, text)`. Staff.
pub async fn version_csv(
    state: &AppState,
    by: &Caller,
    sheet_id: i64,
    version_id: i64,
) -> Result<(String, String), AppError> {
    by.require(Access::Staff)?;
    let mut c = state.db.conn().await?;
    let sheet = db::price_sheets::find_price_sheet(&mut c, sheet_id)
        .await?
        .ok_or_else(|| AppError::not_found("price_sheet_not_found", "No such price sheet."))?;
    let version = db::price_sheets::find_version(&mut c, version_id)
        .await?
        .filter(|v| v.price_sheet_id == sheet_id)
        .ok_or_else(|| AppError::not_found("price_version_not_found", "This sheet has no such version."))?;
    let entries = version_entries(&mut c, version.id).await?;
    let meters = known_meters(&mut c, version.effective_on).await?;
    // ASCII only in the header's file name; the sheet's own name may be in any script.
    let stem: String = sheet
        .name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_matches('-');
    let stem = if stem.is_empty() {
        "price-sheet".to_owned()
    } else {
        stem.to_owned()
    };
    Ok((
        format!("{stem}-{}.csv", version.effective_on),
        price_csv::write(&entries, &meters),
    ))
}

/// Creates a sheet from the console's form. Operators.
pub async fn create(state: &AppState, by: &Caller, form: &PriceSheetForm) -> Result<i64, AppError> {
    create_price_sheet(state, by, &form.name, &form.currency, &form.description).await
}

/// Last month rated with the stored prices and with `entries` in place of the sheet's
/// versions, per customer (and base section), through the rating service both times.
pub async fn preview(state: &AppState, sheet_id: i64, entries: &[PriceEntry]) -> Result<PricePreview, AppError> {
    let now = state.clock.now();
    let period = BillingPeriod::containing(now).previous();
    let sheet = db::price_sheets::find_price_sheet(&mut state.db.conn().await?, sheet_id)
        .await?
        .ok_or_else(|| AppError::not_found("price_sheet_not_found", "No such price sheet."))?;
    let current = rating::rate_period(&state.db, Scope::Everything, period, now, Detail::Lines).await?;
    let what_if = WhatIf {
        sheet: SheetId(sheet_id),
        entries: entries.to_vec(),
    };
    let draft =
        rating::rate_period_with(&state.db, Scope::Everything, period, now, Detail::Lines, Some(&what_if)).await?;
    let mut used = false;
    let mut totals = |r: &PeriodRating| {
        let mut out: BTreeMap<(String, Section), (Decimal, Currency)> = BTreeMap::new();
        for reg in &r.registrations {
            for a in &reg.rating.accounts {
                for s in &a.sections {
                    used |= s.lines.iter().any(|l| l.price_sheet == sheet.name);
                    let t = out
                        .entry((reg.name.clone(), s.section))
                        .or_insert((Decimal::ZERO, reg.currency));
                    t.0 += s.total(reg.currency).amount();
                }
            }
        }
        out
    };
    let before = totals(&current);
    let after = totals(&draft);
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for (key, (now_amount, currency)) in &before {
        let draft_amount = after.get(key).map(|t| t.0).unwrap_or_default();
        if draft_amount == *now_amount {
            unchanged += 1;
            continue;
        }
        let subject = match key.1 {
            Section::Unassigned => PreviewSubject::Unassigned,
            Section::Tenant(t) => match current.customers.get(&t) {
                Some((id, name)) => PreviewSubject::Customer {
                    id: *id,
                    name: name.clone(),
                },
                None => PreviewSubject::Tenant {
                    cloud_tenant_id: t.to_string(),
                },
            },
        };
        // Amounts at the currency's scale (`5.00`, `0.00`), as invoices print them.
        let fixed = |mut d: Decimal| {
            d.rescale(currency.exponent());
            d
        };
        changed.push(PreviewRow {
            registration: key.0.clone(),
            subject,
            current: fixed(*now_amount),
            draft: fixed(draft_amount),
            difference: fixed(draft_amount - now_amount),
            currency: *currency,
        });
    }
    changed.sort_by_key(|r| std::cmp::Reverse(r.difference.abs()));
    let priced: HashSet<MeterId> = entries.iter().map(|e| e.meter_id).collect();
    let unpriced = unpriced_meters(
        &mut state.db.conn().await?,
        &priced,
        period.first_day(),
        period.end_day(),
        true,
    )
    .await?;
    Ok(PricePreview {
        period: period.to_string(),
        changed,
        unchanged,
        unpriced,
        entries: entries.len(),
        unused: !used,
    })
}

/// Checks a version's CSV whole and previews it against last month; with `save`, stores it
/// as a version from `effective_on` (today when empty) too. A refused file is an outcome
/// listing every problem, and nothing is saved. Operators.
pub async fn upload(
    state: &AppState,
    by: &Caller,
    sheet_id: i64,
    csv: &[u8],
    form: &PriceUploadForm,
    save: bool,
) -> Result<PriceUploadOutcome, AppError> {
    by.require(Access::Operator)?;
    let today = state.clock.now().date_naive();
    let day = lookup::day(&form.effective_on, "effective_on")?.unwrap_or(today);
    let mut c = state.db.conn().await?;
    db::price_sheets::find_price_sheet(&mut c, sheet_id)
        .await?
        .ok_or_else(|| AppError::not_found("price_sheet_not_found", "No such price sheet."))?;
    check_change_day_anywhere(&mut c, day, "effective_on").await?;
    let meters = known_meters(&mut c, day).await?;
    drop(c);
    // The file's bytes, not `form.csv`: the CSV reader names the row of bad encoding.
    let entries = match price_csv::parse(csv, &meters) {
        Ok(e) => e,
        Err(refused) if refused.rows.is_empty() => return Err(*refused.error),
        Err(refused) => {
            return Ok(PriceUploadOutcome::Refused {
                message: refused.error.message,
                rows: refused.rows,
            })
        }
    };
    let preview = preview(state, sheet_id, &entries).await?;
    if !save {
        return Ok(PriceUploadOutcome::Checked(preview));
    }
    let note = if form.note.trim().is_empty() {
        "CSV upload"
    } else {
        form.note.trim()
    };
    let version_id = add_version(state, by, sheet_id, day, note, entries).await?;
    Ok(PriceUploadOutcome::Saved {
        version_id,
        effective_on: day,
        preview,
    })
}

/// The form's fields as the CSV's rows, so the editor and the upload share every check:
/// one row, or one per tier line for tiered prices.
fn entry_rows(form: &PriceEntryForm) -> Result<(bool, Vec<Row>), AppError> {
    let tiered = matches!(form.model.trim(), "graduated" | "volume");
    let row = |number: usize, tier_from: &str, price: &str| {
        Row::new(
            number,
            [
                ("meter_id", form.meter_id.clone()),
                ("model", form.model.clone()),
                ("tier_from", tier_from.to_owned()),
                ("unit_price", price.to_owned()),
                ("billing_unit", form.billing_unit.clone()),
                (
                    "usage_units_per_billing_unit",
                    form.usage_units_per_billing_unit.clone(),
                ),
                (
                    "per_period_hours",
                    if form.per_period_hours.is_some() {
                        "true"
                    } else {
                        "false"
                    }
                    .to_owned(),
                ),
                (
                    "package_size",
                    if tiered {
                        String::new()
                    } else {
                        form.package_size.clone()
                    },
                ),
            ],
        )
    };
    if !tiered {
        return Ok((false, vec![row(1, "", &form.unit_price)]));
    }
    let mut rows = Vec::new();
    for (i, line) in form.tiers.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let parts: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ':' || c == ';')
            .filter(|p| !p.is_empty())
            .collect();
        let [from, price] = parts[..] else {
            return Err(AppError::invalid(
                "tiers",
                format!(
                    "Tier line {}: write the tier's start and its price, e.g. `100 0.04`.",
                    i + 1
                ),
            ));
        };
        rows.push(row(i + 1, from, price));
    }
    if rows.is_empty() {
        return Err(AppError::invalid(
            "tiers",
            "A tiered price needs at least one tier line (`0 0.05`).",
        ));
    }
    Ok((true, rows))
}

/// Sets one meter's price from a day on: the version in effect that day, with this entry
/// added or changed, becomes the version from that day (until the next one starts).
/// Operators.
pub async fn set_entry(
    state: &AppState,
    by: &Caller,
    sheet_id: i64,
    form: &PriceEntryForm,
) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let today = state.clock.now().date_naive();
    let day = lookup::day(&form.effective_on, "effective_on")?.unwrap_or(today);
    let (tiered, rows) = entry_rows(form)?;
    let mut c = state.db.conn().await?;
    let meters = known_meters(&mut c, day).await?;
    let entry = match price_csv::entries_from_rows(&rows, &meters) {
        Ok(mut e) => e.remove(0),
        Err(problems) => {
            let p = &problems[0];
            let field = match p.column.as_str() {
                "tier_from" | "unit_price" if tiered => "tiers",
                other => other,
            };
            let message = if tiered && field == "tiers" {
                format!("Tier line {}: {}", p.row, p.message)
            } else {
                p.message.clone()
            };
            return Err(AppError::invalid(field, message));
        }
    };
    let versions = db::price_sheets::list_versions(&mut c, sheet_id).await?;
    let in_effect = versions
        .iter()
        .find(|v| v.effective_on <= day && v.ended_on.is_none_or(|end| day < end));
    let mut entries = match in_effect {
        Some(v) => version_entries(&mut c, v.id).await?,
        None => Vec::new(),
    };
    drop(c);
    let name = meters.get(&entry.meter_id).map(|m| m.name.clone()).unwrap_or_default();
    entries.retain(|e| e.meter_id != entry.meter_id);
    entries.push(entry);
    add_version(state, by, sheet_id, day, &format!("Price of {name} set"), entries).await?;
    Ok(day)
}

/// Makes the sheet a registration's default from a day on (today when empty). Operators.
pub async fn make_default(
    state: &AppState,
    by: &Caller,
    sheet_id: i64,
    registration_id: i64,
    effective_on: &str,
) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let day = lookup::day(effective_on, "effective_on")?;
    set_registration_terms(
        state,
        by,
        registration_id,
        RegistrationTermsChange {
            effective_on: day,
            price_sheet: Some(Some(sheet_id)),
            tax_rate: None,
        },
    )
    .await
}

/// How a customer is priced: today's terms, every change (the last one recorded for a day
/// wins, as rating reads them), and the sheets it may be given.
pub async fn customer_terms_view(
    c: &mut impl AsExecutor,
    customer_id: i64,
    today: NaiveDate,
) -> Result<CustomerTermsView, AppError> {
    let rows = db::terms::list_customer_terms(c, &[customer_id]).await?;
    let terms = load_customer_terms(c, Some(&[customer_id]))
        .await?
        .remove(&customer_id)
        .unwrap_or_default();
    let mut by_day: BTreeMap<NaiveDate, &db::terms::CustomerTermsRow> = BTreeMap::new();
    for r in &rows {
        let keep = by_day
            .get(&r.effective_on)
            .is_none_or(|k| (k.recorded_at, k.id) < (r.recorded_at, r.id));
        if keep {
            by_day.insert(r.effective_on, r);
        }
    }
    let per_meter_on = |day: NaiveDate| terms.pricing.adjustment.at(day).map(|a| a.per_meter.len()).unwrap_or(0);
    let changes: Vec<TermsChangeView> = by_day
        .values()
        .rev()
        .map(|r| TermsChangeView {
            effective_on: r.effective_on,
            own_sheet: r.price_sheet_name.clone(),
            markup: r.adjustment_percent.clone(),
            per_meter: per_meter_on(r.effective_on),
        })
        .collect();
    let current = by_day.range(..=today).next_back().map(|(_, r)| *r);
    let sheets = db::price_sheets::list_all_price_sheets(c)
        .await?
        .into_iter()
        .map(|s| SheetUse { id: s.id, name: s.name })
        .collect();
    Ok(CustomerTermsView {
        own_sheet: current.and_then(|r| {
            Some(SheetUse {
                id: r.price_sheet_id?,
                name: r.price_sheet_name.clone().unwrap_or_default(),
            })
        }),
        markup: current.and_then(|r| r.adjustment_percent.clone()),
        per_meter: per_meter_on(today),
        since: current
            .map(|r| r.effective_on)
            .filter(|d| *d > crate::billing::dated::since_always()),
        changes,
        sheets,
    })
}

/// Gives a customer its own sheet, or the registrations' default sheets with a markup or
/// discount, from a day on (today when empty). A sheet must be in the currency of every
/// registration (a customer's usage may bill on any of them); per-meter percentages in
/// effect that day are kept. Operators.
pub async fn set_customer_pricing(
    state: &AppState,
    by: &Caller,
    customer_id: i64,
    form: &CustomerPricingForm,
) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let today = state.clock.now().date_naive();
    let day = lookup::day(&form.effective_on, "effective_on")?.unwrap_or(today);
    let mut c = state.db.conn().await?;
    let sheet = match form.price_sheet.trim() {
        "" => None,
        raw => {
            let id: i64 = raw
                .parse()
                .map_err(|_| AppError::invalid("price_sheet", format!("`{raw}` is not a price sheet id.")))?;
            let sheet = db::price_sheets::find_price_sheet(&mut c, id)
                .await?
                .ok_or_else(|| AppError::invalid("price_sheet", format!("There is no price sheet {id}.")))?;
            for reg in db::registrations::list_registrations(&mut c).await? {
                if reg.currency != sheet.currency {
                    return Err(AppError::invalid(
                        "price_sheet",
                        format!(
                            "Price sheet `{}` is in {}, registration `{}` invoices in {}.",
                            sheet.name, sheet.currency, reg.name, reg.currency
                        ),
                    ));
                }
            }
            Some(id)
        }
    };
    let overall = match form.markup.trim() {
        "" => None,
        raw => Some(Percent::parse(raw).map_err(|e| AppError::invalid("markup", e.to_string()))?),
    };
    if sheet.is_some() && overall.is_some() {
        return Err(AppError::invalid(
            "markup",
            "A markup or discount applies to the registrations' default sheets; a customer's own sheet carries its own prices.",
        ));
    }
    let kept = load_customer_terms(&mut c, Some(&[customer_id]))
        .await?
        .remove(&customer_id)
        .and_then(|t| t.pricing.adjustment.at(day).cloned())
        .map(|a| a.per_meter)
        .unwrap_or_default();
    drop(c);
    set_customer_terms(
        state,
        by,
        customer_id,
        CustomerTermsChange {
            effective_on: Some(day),
            price_sheet: Some(sheet),
            adjustment: Some(Adjustment {
                overall,
                per_meter: kept,
            }),
            minimum_monthly_charge: None,
            tax_rate: None,
        },
    )
    .await
}

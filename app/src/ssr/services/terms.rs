//! Effective-dated pricing terms: a registration's default price sheet and base tax rate,
//! a customer's own sheet, markup or discount, minimum monthly charge and tax rate, and a
//! meter's billable/report-only mode — setting them from a day on, and loading them as
//! the billing core's dated values.
//!
//! Setting terms records the whole set in effect from that day: fields not given are
//! taken from the terms in effect that day, so one change is one row and the rows are
//! the history. The same-day rule applies (the last change recorded for a day wins).

use crate::billing::dated::{since_always, Dated};
use crate::billing::meter::MeterBilling;
use crate::billing::{Adjustment, CustomerPricing, InvoiceTerms, MeterId, Percent, SheetId, TaxRate};
use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, parse_stored, terms::CustomerTermsRow, AsExecutor, DbError, DbResult};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::periods::{check_change_day, check_change_day_anywhere};
use crate::ssr::state::AppState;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// A registration's terms by day, as the billing core takes them.
#[derive(Debug, Clone, Default)]
pub struct RegistrationTerms {
    /// The default price sheet.
    pub default_sheet: Dated<Option<SheetId>>,
    /// Invoice terms of the base subscription (tax rate; no minimum charge).
    pub base_invoice: Dated<InvoiceTerms>,
}

/// Loads a registration's terms.
pub async fn load_registration_terms(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<RegistrationTerms> {
    let rows = db::terms::list_registration_terms(c, registration_id).await?;
    let mut sheet = Vec::with_capacity(rows.len());
    let mut invoice = Vec::with_capacity(rows.len());
    for r in rows {
        let tax = parse_stored(
            &format!("tax rate of registration terms {}", r.id),
            &r.tax_rate,
            TaxRate::parse,
        )?;
        sheet.push((r.effective_on, r.price_sheet_id.map(SheetId)));
        invoice.push((
            r.effective_on,
            InvoiceTerms {
                minimum_monthly_charge: None,
                tax_rate: tax,
            },
        ));
    }
    Ok(RegistrationTerms {
        default_sheet: Dated::from_changes(sheet),
        base_invoice: Dated::from_changes(invoice),
    })
}

/// A customer's terms by day.
#[derive(Debug, Clone, Default)]
pub struct CustomerTerms {
    /// How its usage is priced.
    pub pricing: CustomerPricing,
    /// Its invoices' minimum charge and tax rate.
    pub invoice: Dated<InvoiceTerms>,
}

fn customer_terms_of(
    rows: &[CustomerTermsRow],
    per_meter: &HashMap<i64, Vec<(String, String)>>,
) -> DbResult<CustomerTerms> {
    let mut own = Vec::with_capacity(rows.len());
    let mut adjustments = Vec::with_capacity(rows.len());
    let mut invoice = Vec::with_capacity(rows.len());
    for r in rows {
        let what = |field: &str| format!("{field} of customer terms {}", r.id);
        let overall = match &r.adjustment_percent {
            Some(p) => Some(parse_stored(&what("markup"), p, Percent::parse)?),
            None => None,
        };
        let mut meters = HashMap::new();
        for (meter, pct) in per_meter.get(&r.id).map(Vec::as_slice).unwrap_or_default() {
            meters.insert(
                parse_stored(&what("meter"), meter, MeterId::parse)?,
                parse_stored(&what("meter markup"), pct, Percent::parse)?,
            );
        }
        let minimum = match &r.minimum_monthly_charge {
            Some(m) => Some(parse_stored(&what("minimum monthly charge"), m, |t| {
                crate::billing::quantity::parse_exact_decimal(t, "minimum monthly charge")
            })?),
            None => None,
        };
        own.push((r.effective_on, r.price_sheet_id.map(SheetId)));
        adjustments.push((
            r.effective_on,
            Adjustment {
                overall,
                per_meter: meters,
            },
        ));
        invoice.push((
            r.effective_on,
            InvoiceTerms {
                minimum_monthly_charge: minimum,
                tax_rate: parse_stored(&what("tax rate"), &r.tax_rate, TaxRate::parse)?,
            },
        ));
    }
    Ok(CustomerTerms {
        pricing: CustomerPricing {
            own_sheet: Dated::from_changes(own),
            adjustment: Dated::from_changes(adjustments),
        },
        invoice: Dated::from_changes(invoice),
    })
}

/// Loads the terms of the given customers (two statements per 500 customers), or of every
/// customer with `None` (two statements, however many customers).
pub async fn load_customer_terms(
    c: &mut impl AsExecutor,
    customer_ids: Option<&[i64]>,
) -> DbResult<HashMap<i64, CustomerTerms>> {
    let (rows, adjustments) = match customer_ids {
        Some(ids) => {
            let rows = db::terms::list_customer_terms(c, ids).await?;
            let terms_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let adjustments = db::terms::list_meter_adjustments(c, &terms_ids).await?;
            (rows, adjustments)
        }
        None => (
            db::terms::list_all_customer_terms(c).await?,
            db::terms::list_all_meter_adjustments(c).await?,
        ),
    };
    let mut per_meter: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (terms_id, meter, pct) in adjustments {
        per_meter.entry(terms_id).or_default().push((meter, pct));
    }
    let mut by_customer: HashMap<i64, Vec<CustomerTermsRow>> = HashMap::new();
    for r in rows {
        by_customer.entry(r.customer_id).or_default().push(r);
    }
    by_customer
        .into_iter()
        .map(|(id, rows)| Ok((id, customer_terms_of(&rows, &per_meter)?)))
        .collect()
}

/// Loads every meter's dated billing-mode changes.
pub async fn load_meter_billing(c: &mut impl AsExecutor) -> DbResult<HashMap<MeterId, Dated<MeterBilling>>> {
    let mut by_meter: HashMap<MeterId, Vec<(NaiveDate, MeterBilling)>> = HashMap::new();
    for r in db::meters::list_billing_changes(c).await? {
        let id = parse_stored("meter id", &r.meter_id, MeterId::parse)?;
        by_meter.entry(id).or_default().push((r.effective_on, r.mode()?));
    }
    Ok(by_meter
        .into_iter()
        .map(|(id, changes)| (id, Dated::from_changes(changes)))
        .collect())
}

/// A change of a registration's terms; fields left `None` keep their value on that day.
#[derive(Debug, Clone, Default)]
pub struct RegistrationTermsChange {
    /// First day (`None`: today).
    pub effective_on: Option<NaiveDate>,
    /// New default sheet (`Some(None)`: no default sheet).
    pub price_sheet: Option<Option<i64>>,
    /// New base tax rate.
    pub tax_rate: Option<TaxRate>,
}

/// Sets a registration's terms from a day on.
pub async fn set_registration_terms(
    state: &AppState,
    by: &Caller,
    registration_id: i64,
    change: RegistrationTermsChange,
) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let reg = db::registrations::find_registration(&mut tx, registration_id)
        .await?
        .ok_or_else(|| AppError::not_found("registration_not_found", "No such registration."))?;
    let day = change.effective_on.unwrap_or(state.clock.now().date_naive());
    check_change_day(&mut tx, &reg, day, "effective_on").await?;
    if let Some(Some(sheet)) = change.price_sheet {
        let row = db::price_sheets::find_price_sheet(&mut tx, sheet)
            .await?
            .ok_or_else(|| AppError::invalid("price_sheet", format!("There is no price sheet {sheet}.")))?;
        if row.currency != reg.currency {
            return Err(AppError::invalid(
                "price_sheet",
                format!(
                    "Price sheet `{}` is in {}, registration `{}` invoices in {}.",
                    row.name, row.currency, reg.name, reg.currency
                ),
            ));
        }
    }
    let rows = db::terms::list_registration_terms(&mut tx, reg.id).await?;
    let current = Dated::from_changes(rows.iter().map(|r| (r.effective_on, r)));
    let (sheet_before, tax_before) = current
        .at(day)
        .map(|r| (r.price_sheet_id, r.tax_rate.clone()))
        .unwrap_or((None, "0".into()));
    let sheet = change.price_sheet.unwrap_or(sheet_before);
    let tax = change
        .tax_rate
        .map(|t| t.value().normalize().to_string())
        .unwrap_or(tax_before.clone());
    db::terms::insert_registration_terms(
        &mut tx,
        &db::terms::NewRegistrationTerms {
            registration_id: reg.id,
            effective_on: day,
            price_sheet_id: sheet,
            tax_rate: &tax,
            actor: &by.actor_code(),
            actor_label: &by.actor_label(),
        },
        now,
    )
    .await?;
    audit(
        &mut tx,
        by,
        "registration.terms_set",
        &format!("registration:{}", reg.id),
        serde_json::json!({
            "effective_on": day,
            "before": { "price_sheet_id": sheet_before, "tax_rate": tax_before },
            "after": { "price_sheet_id": sheet, "tax_rate": tax },
        }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(day)
}

/// A change of a customer's terms; fields left `None` keep their value on that day.
#[derive(Debug, Clone, Default)]
pub struct CustomerTermsChange {
    /// First day (`None`: today).
    pub effective_on: Option<NaiveDate>,
    /// Own price sheet (`Some(None)`: back to the registration's default).
    pub price_sheet: Option<Option<i64>>,
    /// Markup or discount on the default sheet.
    pub adjustment: Option<Adjustment>,
    /// Minimum monthly charge (`Some(None)`: none).
    pub minimum_monthly_charge: Option<Option<Decimal>>,
    /// Tax rate.
    pub tax_rate: Option<TaxRate>,
}

/// Sets a customer's terms from a day on (initial terms when the customer is created use
/// this too, dated from the start).
pub async fn set_customer_terms(
    state: &AppState,
    by: &Caller,
    customer_id: i64,
    change: CustomerTermsChange,
) -> Result<NaiveDate, AppError> {
    by.require(Access::Operator)?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let day = change.effective_on.unwrap_or(state.clock.now().date_naive());
    set_customer_terms_in(&mut tx, by, customer_id, &change, day, now).await?;
    tx.commit().await?;
    Ok(day)
}

/// [`set_customer_terms`] inside a caller's transaction.
pub async fn set_customer_terms_in(
    tx: &mut db::Tx,
    by: &Caller,
    customer_id: i64,
    change: &CustomerTermsChange,
    day: NaiveDate,
    now: i64,
) -> Result<(), AppError> {
    let customer = db::customers::find_customer(tx, customer_id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", "No such customer."))?;
    if day > since_always() {
        check_change_day_anywhere(tx, day, "effective_on").await?;
    }
    if let Some(Some(sheet)) = change.price_sheet {
        if db::price_sheets::find_price_sheet(tx, sheet).await?.is_none() {
            return Err(AppError::invalid(
                "price_sheet",
                format!("There is no price sheet {sheet}."),
            ));
        }
    }
    if let Some(adjustment) = &change.adjustment {
        for meter in adjustment.per_meter.keys() {
            if db::meters::find_meter(tx, *meter, day).await?.is_none() {
                return Err(AppError::invalid(
                    "adjustment",
                    format!("There is no meter {meter} to give a markup or discount."),
                ));
            }
        }
    }
    if let Some(Some(minimum)) = change.minimum_monthly_charge {
        if minimum < Decimal::ZERO {
            return Err(AppError::invalid(
                "minimum_monthly_charge",
                format!("A minimum monthly charge cannot be negative ({minimum})."),
            ));
        }
    }
    let rows = db::terms::list_customer_terms(tx, &[customer_id]).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut per_meter: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (terms_id, meter, pct) in db::terms::list_meter_adjustments(tx, &ids).await? {
        per_meter.entry(terms_id).or_default().push((meter, pct));
    }
    let current = Dated::from_changes(rows.iter().map(|r| (r.effective_on, r)));
    let before = current.at(day).copied();
    let adjustment_before: Adjustment = match before {
        Some(r) => customer_terms_of(std::slice::from_ref(r), &per_meter)
            .map_err(|e: DbError| AppError::from(e))?
            .pricing
            .adjustment
            .at(r.effective_on)
            .cloned()
            .unwrap_or_default(),
        None => Adjustment::default(),
    };
    let sheet = change.price_sheet.unwrap_or(before.and_then(|r| r.price_sheet_id));
    let adjustment = change.adjustment.clone().unwrap_or(adjustment_before);
    let minimum: Option<String> = match change.minimum_monthly_charge {
        Some(m) => m.map(|d| d.normalize().to_string()),
        None => before.and_then(|r| r.minimum_monthly_charge.clone()),
    };
    let tax = match change.tax_rate {
        Some(t) => t.value().normalize().to_string(),
        None => before.map(|r| r.tax_rate.clone()).unwrap_or_else(|| "0".into()),
    };
    let overall = adjustment.overall.map(|p| p.value().to_string());
    let mut meter_adjustments: Vec<(String, String)> = adjustment
        .per_meter
        .iter()
        .map(|(m, p)| (m.to_string(), p.value().to_string()))
        .collect();
    meter_adjustments.sort();
    db::terms::insert_customer_terms(
        tx,
        &db::terms::NewCustomerTerms {
            customer_id,
            effective_on: day,
            price_sheet_id: sheet,
            adjustment_percent: overall.as_deref(),
            meter_adjustments: &meter_adjustments,
            minimum_monthly_charge: minimum.as_deref(),
            tax_rate: &tax,
            actor: &by.actor_code(),
            actor_label: &by.actor_label(),
        },
        now,
    )
    .await?;
    audit(
        tx,
        by,
        "customer.terms_set",
        &format!("customer:{}", customer.id),
        serde_json::json!({
            "effective_on": day,
            "before": before.map(|r| serde_json::json!({
                "price_sheet_id": r.price_sheet_id, "markup": r.adjustment_percent,
                "minimum_monthly_charge": r.minimum_monthly_charge, "tax_rate": r.tax_rate,
            })),
            "after": {
                "price_sheet_id": sheet, "markup": overall, "meter_markups": meter_adjustments,
                "minimum_monthly_charge": minimum, "tax_rate": tax,
            },
        }),
        "",
        now,
    )
    .await?;
    Ok(())
}

/// Makes a meter billable or report-only from a day on.
pub async fn set_meter_billing(
    state: &AppState,
    by: &Caller,
    meter: MeterId,
    billing: MeterBilling,
    effective_on: Option<NaiveDate>,
) -> Result<NaiveDate, AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let now = state.now_secs();
    let day = effective_on.unwrap_or(state.clock.now().date_naive());
    let mut tx = state.db.begin().await?;
    let before = db::meters::find_meter(&mut tx, meter, day)
        .await?
        .ok_or_else(|| AppError::not_found("meter_not_found", format!("There is no meter {meter}.")))?;
    check_change_day_anywhere(&mut tx, day, "effective_on").await?;
    db::meters::insert_billing_change(&mut tx, meter, day, billing, (&by.actor_code(), &by.actor_label()), now).await?;
    audit(
        &mut tx,
        by,
        "meter.billing_set",
        &format!("meter:{meter}"),
        serde_json::json!({ "effective_on": day, "before": before.billing, "after": billing.as_str() }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(day)
}

/// A registration's dated terms.
pub async fn registration_terms(db: &crate::ssr::db::Db, registration_id: i64) -> Result<RegistrationTerms, AppError> {
    Ok(load_registration_terms(&mut db.conn().await?, registration_id).await?)
}

/// Whether a customer has any terms recorded yet.
pub async fn customer_has_terms(db: &crate::ssr::db::Db, customer_id: i64) -> Result<bool, AppError> {
    Ok(!db::terms::list_customer_terms(&mut db.conn().await?, &[customer_id])
        .await?
        .is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::WINDOWS_VM_SIZE_HOURS;
    use crate::billing::BillingPeriod;
    use crate::ssr::db::customers::NewCustomer;
    use crate::ssr::db::testing::for_each_engine;
    use crate::ssr::services::mappings::tests::setup;
    use rust_decimal_macros::dec;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn registration_terms_are_dated_and_a_february_change_leaves_january_alone() {
        for_each_engine(|db| async move {
            let (state, reg) = setup(&db).await;
            let by = Caller::cli();
            let mut c = db.conn().await.unwrap();
            let list = db::price_sheets::insert_price_sheet(&mut c, "list", "USD", "", 0)
                .await
                .unwrap();
            let cheap = db::price_sheets::insert_price_sheet(&mut c, "cheap", "USD", "", 0)
                .await
                .unwrap();
            let euro = db::price_sheets::insert_price_sheet(&mut c, "euro", "EUR", "", 0)
                .await
                .unwrap();
            drop(c);
            let set = |sheet: Option<i64>, tax: Option<&str>, on: &str| RegistrationTermsChange {
                effective_on: Some(day(on)),
                price_sheet: sheet.map(Some),
                tax_rate: tax.map(|t| TaxRate::parse(t).unwrap()),
            };
            set_registration_terms(&state, &by, reg, set(Some(list), Some("19"), "2026-01-01"))
                .await
                .unwrap();
            // 3 February: a cheaper sheet (the tax rate is kept); then, the same day, a
            // correction to it that replaces it.
            set_registration_terms(&state, &by, reg, set(Some(list), None, "2026-02-03"))
                .await
                .unwrap();
            set_registration_terms(&state, &by, reg, set(Some(cheap), None, "2026-02-03"))
                .await
                .unwrap();
            let mut c = db.conn().await.unwrap();
            let t = load_registration_terms(&mut c, reg).await.unwrap();
            assert_eq!(t.default_sheet.at(day("2026-01-31")), Some(&Some(SheetId(list))));
            assert_eq!(t.default_sheet.at(day("2026-02-03")), Some(&Some(SheetId(cheap))));
            let jan = InvoiceTerms::for_period(&t.base_invoice, BillingPeriod::parse("2026-01").unwrap());
            assert_eq!(jan.tax_rate.value(), dec!(19));
            assert_eq!(
                InvoiceTerms::for_period(&t.base_invoice, BillingPeriod::parse("2026-02").unwrap())
                    .tax_rate
                    .value(),
                dec!(19)
            );
            drop(c);
            // A sheet in another currency, a day before the registration starts, a missing
            // sheet: refused with the field named.
            let err = set_registration_terms(&state, &by, reg, set(Some(euro), None, "2026-03-01"))
                .await
                .unwrap_err();
            assert!(err.message.contains("EUR"), "{}", err.message);
            let err = set_registration_terms(&state, &by, reg, set(Some(list), None, "2025-12-01"))
                .await
                .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("effective_on"));
            let err = set_registration_terms(&state, &by, reg, set(Some(999), None, "2026-03-01"))
                .await
                .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("price_sheet"));
        })
        .await;
    }

    #[tokio::test]
    async fn customer_terms_change_one_field_and_keep_the_others_by_day() {
        for_each_engine(|db| async move {
            let (state, _reg) = setup(&db).await;
            let by = Caller::cli();
            let mut c = db.conn().await.unwrap();
            let tenant = db::customers::upsert_cloud_tenant(&mut c, "dbab3982-796f-4d03-9908-044c08aef8a2", "", 0)
                .await
                .unwrap();
            let customer = db::customers::insert_customer(
                &mut c,
                &NewCustomer {
                    name: "台北雲端股份有限公司",
                    cloud_tenant_id: tenant,
                    billing_email: "",
                    billing_address: "",
                    locale: "zh-TW",
                    tax_id: "",
                    payment_terms_days: None,
                },
                0,
            )
            .await
            .unwrap();
            drop(c);
            let pct = |p: &str| Percent::parse(p).unwrap();
            // A markup for a meter that does not exist is a clear error, not a 500.
            let unknown = MeterId::parse("11111111-2222-3333-4444-555555555555").unwrap();
            let err = set_customer_terms(
                &state,
                &by,
                customer,
                CustomerTermsChange {
                    adjustment: Some(Adjustment {
                        overall: None,
                        per_meter: HashMap::from([(unknown, pct("5"))]),
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("adjustment"));
            crate::ssr::services::catalogue::sync_meter_catalogue(&db, 0)
                .await
                .unwrap();
            set_customer_terms(
                &state,
                &by,
                customer,
                CustomerTermsChange {
                    effective_on: Some(since_always()),
                    adjustment: Some(Adjustment {
                        overall: Some(pct("10")),
                        per_meter: HashMap::from([(WINDOWS_VM_SIZE_HOURS, pct("-5"))]),
                    }),
                    minimum_monthly_charge: Some(Some(dec!(250))),
                    tax_rate: Some(TaxRate::parse("5").unwrap()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            // From 3 February only the tax rate changes.
            set_customer_terms(
                &state,
                &by,
                customer,
                CustomerTermsChange {
                    effective_on: Some(day("2026-02-03")),
                    tax_rate: Some(TaxRate::parse("6").unwrap()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let mut c = db.conn().await.unwrap();
            let terms = load_customer_terms(&mut c, Some(&[customer]))
                .await
                .unwrap()
                .remove(&customer)
                .unwrap();
            let feb = terms.pricing.adjustment.at(day("2026-02-10")).unwrap();
            assert_eq!(feb.overall.unwrap().value(), dec!(10));
            assert_eq!(feb.per_meter[&WINDOWS_VM_SIZE_HOURS].value(), dec!(-5));
            let jan = InvoiceTerms::for_period(&terms.invoice, BillingPeriod::parse("2026-01").unwrap());
            let february = InvoiceTerms::for_period(&terms.invoice, BillingPeriod::parse("2026-02").unwrap());
            assert_eq!(
                (jan.tax_rate.value(), jan.minimum_monthly_charge),
                (dec!(5), Some(dec!(250)))
            );
            assert_eq!(february.tax_rate.value(), dec!(6));
            assert_eq!(february.minimum_monthly_charge, Some(dec!(250)));
            drop(c);
            // A negative minimum is refused.
            let err = set_customer_terms(
                &state,
                &by,
                customer,
                CustomerTermsChange {
                    minimum_monthly_charge: Some(Some(dec!(-1))),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("minimum_monthly_charge"));
        })
        .await;
    }

    #[tokio::test]
    async fn a_meter_becomes_report_only_from_a_day_and_rating_sees_it_by_day() {
        for_each_engine(|db| async move {
            let (state, _reg) = setup(&db).await;
            crate::ssr::services::catalogue::sync_meter_catalogue(&db, 0)
                .await
                .unwrap();
            let by = Caller::cli();
            set_meter_billing(
                &state,
                &by,
                WINDOWS_VM_SIZE_HOURS,
                MeterBilling::ReportOnly,
                Some(day("2026-02-03")),
            )
            .await
            .unwrap();
            let mut c = db.conn().await.unwrap();
            let dated = load_meter_billing(&mut c).await.unwrap();
            let d = &dated[&WINDOWS_VM_SIZE_HOURS];
            assert_eq!(
                d.at(day("2026-02-02")),
                None,
                "before the change: the catalogue default"
            );
            assert_eq!(d.at(day("2026-02-03")), Some(&MeterBilling::ReportOnly));
            let unknown = MeterId::parse("11111111-2222-3333-4444-555555555555").unwrap();
            let err = set_meter_billing(&state, &by, unknown, MeterBilling::Billable, None)
                .await
                .unwrap_err();
            assert_eq!(err.code, "meter_not_found");
        })
        .await;
    }
}

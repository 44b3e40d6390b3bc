//! Effective-dated pricing terms of registrations and customers: each row is the whole
//! set of terms from a day on, so a change is one row and the log is the history.

use super::{sql, AsExecutor, DbResult};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A `registration_terms` row.
#[derive(Debug, Clone, FromRow)]
pub struct RegistrationTermsRow {
    /// Id (recording order).
    pub id: i64,
    /// Registration.
    pub registration_id: i64,
    /// First day.
    pub effective_on: NaiveDate,
    /// Default price sheet; `None`: none.
    pub price_sheet_id: Option<i64>,
    /// Its name.
    pub price_sheet_name: Option<String>,
    /// Tax rate in percent on the base subscription's invoices (decimal text).
    pub tax_rate: String,
    /// Unix seconds.
    pub recorded_at: i64,
    /// Who.
    pub actor: String,
    /// Their email or name then.
    pub actor_label: String,
}

/// Registration terms to record.
#[derive(Debug, Clone)]
pub struct NewRegistrationTerms<'a> {
    /// Registration.
    pub registration_id: i64,
    /// First day.
    pub effective_on: NaiveDate,
    /// Default sheet.
    pub price_sheet_id: Option<i64>,
    /// Tax rate (canonical decimal text).
    pub tax_rate: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Email or name.
    pub actor_label: &'a str,
}

/// Appends registration terms.
pub async fn insert_registration_terms(
    c: &mut impl AsExecutor,
    t: &NewRegistrationTerms<'_>,
    now: i64,
) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "INSERT INTO registration_terms (registration_id, effective_on, price_sheet_id, tax_rate, recorded_at, actor, \
         actor_label) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(t.registration_id)
    .bind(t.effective_on)
    .bind(t.price_sheet_id)
    .bind(t.tax_rate)
    .bind(now)
    .bind(t.actor)
    .bind(t.actor_label)
    .fetch_one(e)
    .await)?)
}

/// A registration's terms in recording order.
pub async fn list_registration_terms(
    c: &mut impl AsExecutor,
    registration_id: i64,
) -> DbResult<Vec<RegistrationTermsRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, RegistrationTermsRow>(
        "SELECT t.id, t.registration_id, t.effective_on, t.price_sheet_id, p.name AS price_sheet_name, t.tax_rate, \
         t.recorded_at, t.actor, t.actor_label FROM registration_terms t \
         LEFT JOIN price_sheets p ON p.id = t.price_sheet_id WHERE t.registration_id = $1 ORDER BY t.id"
    )
    .bind(registration_id)
    .fetch_all(e)
    .await)?)
}

/// A `customer_terms` row.
#[derive(Debug, Clone, FromRow)]
pub struct CustomerTermsRow {
    /// Id (recording order).
    pub id: i64,
    /// Customer.
    pub customer_id: i64,
    /// First day.
    pub effective_on: NaiveDate,
    /// Own sheet; `None`: the registration's default with the adjustments.
    pub price_sheet_id: Option<i64>,
    /// Its name.
    pub price_sheet_name: Option<String>,
    /// Overall markup (+) / discount (-) in percent; `None`: none.
    pub adjustment_percent: Option<String>,
    /// Minimum charge per monthly invoice; `None`: none.
    pub minimum_monthly_charge: Option<String>,
    /// Tax rate in percent.
    pub tax_rate: String,
    /// Unix seconds.
    pub recorded_at: i64,
    /// Who.
    pub actor: String,
    /// Their email or name then.
    pub actor_label: String,
}

/// Customer terms to record.
#[derive(Debug, Clone)]
pub struct NewCustomerTerms<'a> {
    /// Customer.
    pub customer_id: i64,
    /// First day.
    pub effective_on: NaiveDate,
    /// Own sheet.
    pub price_sheet_id: Option<i64>,
    /// Overall adjustment (canonical decimal text).
    pub adjustment_percent: Option<&'a str>,
    /// Per-meter adjustments: `(meter id, percent)`.
    pub meter_adjustments: &'a [(String, String)],
    /// Minimum monthly charge (canonical decimal text).
    pub minimum_monthly_charge: Option<&'a str>,
    /// Tax rate (canonical decimal text).
    pub tax_rate: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Email or name.
    pub actor_label: &'a str,
}

/// Appends customer terms with their per-meter adjustments.
pub async fn insert_customer_terms(c: &mut impl AsExecutor, t: &NewCustomerTerms<'_>, now: i64) -> DbResult<i64> {
    let id: i64 = sql!(c, |e| sqlx::query_scalar(
        "INSERT INTO customer_terms (customer_id, effective_on, price_sheet_id, adjustment_percent, \
         minimum_monthly_charge, tax_rate, recorded_at, actor, actor_label) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    )
    .bind(t.customer_id)
    .bind(t.effective_on)
    .bind(t.price_sheet_id)
    .bind(t.adjustment_percent)
    .bind(t.minimum_monthly_charge)
    .bind(t.tax_rate)
    .bind(now)
    .bind(t.actor)
    .bind(t.actor_label)
    .fetch_one(e)
    .await)?;
    for (meter, percent) in t.meter_adjustments {
        sql!(c, |e| sqlx::query(
            "INSERT INTO customer_terms_meter_adjustments (customer_terms_id, meter_id, percent) VALUES ($1, $2, $3)"
        )
        .bind(id)
        .bind(meter)
        .bind(percent)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(id)
}

/// The terms of the given customers, by customer in recording order.
pub async fn list_customer_terms(c: &mut impl AsExecutor, customer_ids: &[i64]) -> DbResult<Vec<CustomerTermsRow>> {
    let q = format!(
        "SELECT t.id, t.customer_id, t.effective_on, t.price_sheet_id, p.name AS price_sheet_name, \
         t.adjustment_percent, t.minimum_monthly_charge, t.tax_rate, t.recorded_at, t.actor, t.actor_label \
         FROM customer_terms t LEFT JOIN price_sheets p ON p.id = t.price_sheet_id \
         WHERE t.customer_id IN {} ORDER BY t.customer_id, t.id",
        super::json_ids(c.engine())
    );
    let ids = super::json_id_list(customer_ids);
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerTermsRow>(&q)
        .bind(&ids)
        .fetch_all(e)
        .await)?)
}

/// Every customer's terms, by customer in recording order (one statement).
pub async fn list_all_customer_terms(c: &mut impl AsExecutor) -> DbResult<Vec<CustomerTermsRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerTermsRow>(
        "SELECT t.id, t.customer_id, t.effective_on, t.price_sheet_id, p.name AS price_sheet_name, \
         t.adjustment_percent, t.minimum_monthly_charge, t.tax_rate, t.recorded_at, t.actor, t.actor_label \
         FROM customer_terms t LEFT JOIN price_sheets p ON p.id = t.price_sheet_id ORDER BY t.customer_id, t.id"
    )
    .fetch_all(e)
    .await)?)
}

/// Every per-meter adjustment: `(terms id, meter id, percent)` (one statement).
pub async fn list_all_meter_adjustments(c: &mut impl AsExecutor) -> DbResult<Vec<(i64, String, String)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT customer_terms_id, meter_id, percent FROM customer_terms_meter_adjustments \
         ORDER BY customer_terms_id, meter_id"
    )
    .fetch_all(e)
    .await)?)
}

/// The per-meter adjustments of the given terms rows: `(terms id, meter id, percent)`.
pub async fn list_meter_adjustments(
    c: &mut impl AsExecutor,
    terms_ids: &[i64],
) -> DbResult<Vec<(i64, String, String)>> {
    let q = format!(
        "SELECT customer_terms_id, meter_id, percent FROM customer_terms_meter_adjustments \
         WHERE customer_terms_id IN {} ORDER BY customer_terms_id, meter_id",
        super::json_ids(c.engine())
    );
    let ids = super::json_id_list(terms_ids);
    Ok(sql!(c, |e| sqlx::query_as(&q).bind(&ids).fetch_all(e).await)?)
}

/// Customers that have (or had, or will have) an own price sheet on some day.
pub async fn customers_with_own_sheet(c: &mut impl AsExecutor) -> DbResult<Vec<i64>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT DISTINCT customer_id FROM customer_terms WHERE price_sheet_id IS NOT NULL"
    )
    .fetch_all(e)
    .await)?)
}

//! Invoices, credit notes, their lines, runs and number series. Issued documents are frozen
//! by triggers (see the migration); this module only ever updates drafts, and an issued
//! invoice's status to `void`.

use super::{sql, AsExecutor, DbResult, Params};
use chrono::NaiveDate;
use sqlx::FromRow;

/// Columns of [`InvoiceRow`].
const COLUMNS: &str = "i.id, i.registration_id, r.name AS registration, i.period_start, i.kind, i.status, i.number, \
     i.account_kind, i.billing_subscription_id, i.customer_id, i.bill_to, i.locale, i.currency, i.subtotal, \
     i.tax_rate, i.tax, i.total, i.unpriced, i.issued_at, i.due_on, i.credit_for, i.voided_by, i.run_id, \
     i.created_at, (SELECT c.number FROM invoices c WHERE c.id = i.credit_for) AS credit_for_number, \
     (SELECT v.number FROM invoices v WHERE v.id = i.voided_by) AS voided_by_number";

/// An `invoices` row with its registration's name.
#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRow {
    /// Id.
    pub id: i64,
    /// Registration.
    pub registration_id: i64,
    /// Its name.
    pub registration: String,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// `invoice` or `credit_note`.
    pub kind: String,
    /// `draft`, `issued` or `void`.
    pub status: String,
    /// The number, once issued.
    pub number: Option<String>,
    /// `customer` or `base`.
    pub account_kind: String,
    /// The billing account's subscription.
    pub billing_subscription_id: String,
    /// The customer (customer accounts).
    pub customer_id: Option<i64>,
    /// JSON bill-to snapshot.
    pub bill_to: String,
    /// Language of the document.
    pub locale: String,
    /// Currency.
    pub currency: String,
    /// Σ lines.
    pub subtotal: String,
    /// Tax rate in percent.
    pub tax_rate: String,
    /// Tax.
    pub tax: String,
    /// Total.
    pub total: String,
    /// JSON list of unpriced usage.
    pub unpriced: String,
    /// Unix seconds.
    pub issued_at: Option<i64>,
    /// Due day.
    pub due_on: Option<NaiveDate>,
    /// The invoice a credit note reverses.
    pub credit_for: Option<i64>,
    /// The credit note that voided this invoice.
    pub voided_by: Option<i64>,
    /// The run that drafted it.
    pub run_id: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Number of `credit_for`.
    pub credit_for_number: Option<String>,
    /// Number of `voided_by`.
    pub voided_by_number: Option<String>,
}

/// A new invoice (a draft; issuing numbers it).
#[derive(Debug, Clone)]
pub struct NewInvoice {
    /// Registration.
    pub registration_id: i64,
    /// Period.
    pub period_start: NaiveDate,
    /// `invoice` or `credit_note`.
    pub kind: &'static str,
    /// `customer` or `base`.
    pub account_kind: &'static str,
    /// Billing subscription.
    pub billing_subscription_id: String,
    /// Customer.
    pub customer_id: Option<i64>,
    /// JSON bill-to.
    pub bill_to: String,
    /// Language.
    pub locale: String,
    /// Currency.
    pub currency: String,
    /// Amounts as exact decimal text.
    pub subtotal: String,
    /// Tax rate.
    pub tax_rate: String,
    /// Tax.
    pub tax: String,
    /// Total.
    pub total: String,
    /// JSON unpriced usage.
    pub unpriced: String,
    /// A credit note's invoice.
    pub credit_for: Option<i64>,
    /// The run.
    pub run_id: Option<i64>,
}

/// An `invoice_lines` row.
#[derive(Debug, Clone, FromRow)]
pub struct LineRow {
    /// Invoice.
    pub invoice_id: i64,
    /// Order on the invoice.
    pub position: i32,
    /// `usage`, `minimum_charge`, `adjustment`.
    pub line_kind: String,
    /// `tenant`, `unassigned` or empty.
    pub section_kind: String,
    /// The section's tenant.
    pub cloud_tenant_id: Option<String>,
    /// Meter.
    pub meter_id: Option<String>,
    /// Meter name.
    pub meter_name: String,
    /// Service.
    pub service: String,
    /// Quantity in billing units.
    pub quantity: Option<String>,
    /// Billing unit.
    pub unit: String,
    /// Price per billing unit.
    pub unit_price: Option<String>,
    /// Unrounded amount.
    pub precise_amount: String,
    /// Amount.
    pub amount: String,
    /// First day of the price version.
    pub price_version_from: Option<NaiveDate>,
    /// Markup or discount.
    pub adjustment: Option<String>,
    /// An adjustment's original invoice.
    pub refers_to: Option<String>,
    /// The section's label when drafted (a fallback tenant's customer).
    pub section_label: String,
}

/// Starts a run.
pub async fn insert_run(
    c: &mut impl AsExecutor,
    period_start: NaiveDate,
    registration_id: Option<i64>,
    actor: &str,
    now: i64,
) -> DbResult<i64> {
    Ok(sql!(c, |e| {
        sqlx::query_scalar(
        "INSERT INTO invoice_runs (period_start, registration_id, started_at, actor) VALUES ($1, $2, $3, $4) RETURNING id"
    )
    .bind(period_start)
    .bind(registration_id)
    .bind(now)
    .bind(actor)
    .fetch_one(e)
    .await
    })?)
}

/// Ends a run with its draft count.
pub async fn finish_run(c: &mut impl AsExecutor, id: i64, drafts: i64, now: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE invoice_runs SET finished_at = $2, drafts = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .bind(drafts)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Holds a registration's drafting until the transaction ends, so runs that overlap replace
/// each other's drafts in turn instead of both adding theirs: a row lock on PostgreSQL; on
/// SQLite the transaction (`BEGIN IMMEDIATE`) already holds the only write lock.
pub async fn lock_for_drafting(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<()> {
    if c.engine() == super::Engine::Postgres {
        sql!(c, |e| sqlx::query(
            "SELECT id FROM registrations WHERE id = $1 FOR UPDATE"
        )
        .bind(registration_id)
        .fetch_optional(e)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// Takes an invoice's row lock until the transaction ends (PostgreSQL; SQLite's write
/// transactions are serial already), so two requests issuing the same draft queue up and
/// the second sees it issued instead of racing to write its usage detail.
pub async fn lock_invoice(c: &mut impl AsExecutor, id: i64) -> DbResult<()> {
    if c.engine() == super::Engine::Postgres {
        sql!(c, |e| sqlx::query("SELECT id FROM invoices WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(e)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// Deletes a registration's drafts of a period (their lines go with them), keeping what each
/// came to in `invoice_draft_history` for the next draft's "since the last run".
pub async fn delete_drafts(c: &mut impl AsExecutor, registration_id: i64, period_start: NaiveDate) -> DbResult<u64> {
    sql!(c, |e| sqlx::query(
        "INSERT INTO invoice_draft_history (run_id, registration_id, period_start, billing_subscription_id, total) \
         SELECT run_id, registration_id, period_start, billing_subscription_id, total FROM invoices \
         WHERE registration_id = $1 AND period_start = $2 AND status = 'draft' AND run_id IS NOT NULL"
    )
    .bind(registration_id)
    .bind(period_start)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(sql!(c, |e| sqlx::query(
        "DELETE FROM invoices WHERE registration_id = $1 AND period_start = $2 AND status = 'draft'"
    )
    .bind(registration_id)
    .bind(period_start)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?)
}

/// The billing subscriptions of a registration's issued invoices for a period.
pub async fn issued_accounts(
    c: &mut impl AsExecutor,
    registration_id: i64,
    period_start: NaiveDate,
) -> DbResult<Vec<String>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT billing_subscription_id FROM invoices WHERE registration_id = $1 AND period_start = $2 \
         AND kind = 'invoice' AND status = 'issued'"
    )
    .bind(registration_id)
    .bind(period_start)
    .fetch_all(e)
    .await)?)
}

/// Inserts invoices, all in one statement (rows as one JSON parameter, so a run's
/// statement count does not grow with its accounts). No `RETURNING`: ids are read back by
/// run and account.
pub async fn insert_invoices(c: &mut impl AsExecutor, rows: &[NewInvoice], now: i64) -> DbResult<()> {
    use super::JsonCol::{Date, Int, Text};
    if rows.is_empty() {
        return Ok(());
    }
    let q = format!(
        "INSERT INTO invoices (registration_id, period_start, kind, status, account_kind, billing_subscription_id, \
         customer_id, bill_to, locale, currency, subtotal, tax_rate, tax, total, unpriced, credit_for, run_id, \
         created_at) {}",
        super::json_rows(
            c.engine(),
            &[Int, Date, Text, Text, Text, Text, Int, Text, Text, Text, Text, Text, Text, Text, Text, Int, Int, Int]
        )
    );
    let json = serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!([
                    r.registration_id,
                    r.period_start.to_string(),
                    r.kind,
                    "draft",
                    r.account_kind,
                    r.billing_subscription_id,
                    r.customer_id,
                    r.bill_to,
                    r.locale,
                    r.currency,
                    r.subtotal,
                    r.tax_rate,
                    r.tax,
                    r.total,
                    r.unpriced,
                    r.credit_for,
                    r.run_id,
                    now
                ])
            })
            .collect(),
    )
    .to_string();
    sql!(c, |e| sqlx::query(&q)
        .bind(&json)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The drafts a run made: `(id, registration, billing subscription)`.
pub async fn drafts_of_run(c: &mut impl AsExecutor, run_id: i64) -> DbResult<Vec<(i64, i64, String)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT id, registration_id, billing_subscription_id FROM invoices WHERE run_id = $1 AND status = 'draft'"
    )
    .bind(run_id)
    .fetch_all(e)
    .await)?)
}

/// Inserts lines, all in one statement (as [`insert_invoices`]).
pub async fn insert_lines(c: &mut impl AsExecutor, rows: &[LineRow]) -> DbResult<()> {
    use super::JsonCol::{Date, Int, Text};
    if rows.is_empty() {
        return Ok(());
    }
    let q = format!(
        "INSERT INTO invoice_lines (invoice_id, position, line_kind, section_kind, cloud_tenant_id, meter_id, \
         meter_name, service, quantity, unit, unit_price, precise_amount, amount, price_version_from, adjustment, \
         refers_to, section_label) {}",
        super::json_rows(
            c.engine(),
            &[Int, Int, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Text, Date, Text, Text, Text]
        )
    );
    let json = serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!([
                    r.invoice_id,
                    r.position,
                    r.line_kind,
                    r.section_kind,
                    r.cloud_tenant_id,
                    r.meter_id,
                    r.meter_name,
                    r.service,
                    r.quantity,
                    r.unit,
                    r.unit_price,
                    r.precise_amount,
                    r.amount,
                    r.price_version_from.map(|d| d.to_string()),
                    r.adjustment,
                    r.refers_to,
                    r.section_label
                ])
            })
            .collect(),
    )
    .to_string();
    sql!(c, |e| sqlx::query(&q)
        .bind(&json)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One invoice by id.
pub async fn find_invoice(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<InvoiceRow>> {
    let q =
        format!("SELECT {COLUMNS} FROM invoices i JOIN registrations r ON r.id = i.registration_id WHERE i.id = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, InvoiceRow>(&q)
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// One invoice or credit note by number.
pub async fn find_by_number(c: &mut impl AsExecutor, number: &str) -> DbResult<Option<InvoiceRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM invoices i JOIN registrations r ON r.id = i.registration_id WHERE i.number = $1"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, InvoiceRow>(&q)
        .bind(number)
        .fetch_optional(e)
        .await)?)
}

/// A period's invoices and credit notes (optionally one registration's, one customer's),
/// numbered ones by number, then drafts.
pub async fn list_invoices(
    c: &mut impl AsExecutor,
    period_start: Option<NaiveDate>,
    registration_id: Option<i64>,
    customer_id: Option<i64>,
) -> DbResult<Vec<InvoiceRow>> {
    let mut p = Params::new(c.engine());
    let mut q =
        format!("SELECT {COLUMNS} FROM invoices i JOIN registrations r ON r.id = i.registration_id WHERE 1 = 1");
    if period_start.is_some() {
        q.push_str(&format!(" AND i.period_start = {}", p.placeholder()));
    }
    if registration_id.is_some() {
        q.push_str(&format!(" AND i.registration_id = {}", p.placeholder()));
    }
    if customer_id.is_some() {
        q.push_str(&format!(" AND i.customer_id = {}", p.placeholder()));
    }
    q.push_str(" ORDER BY i.period_start DESC, i.number IS NULL, i.number, i.id");
    Ok(sql!(c, |e| {
        let mut query = sqlx::query_as::<_, InvoiceRow>(&q);
        if let Some(d) = period_start {
            query = query.bind(d);
        }
        if let Some(r) = registration_id {
            query = query.bind(r);
        }
        if let Some(cu) = customer_id {
            query = query.bind(cu);
        }
        query.fetch_all(e).await
    })?)
}

/// An invoice's lines in order.
pub async fn list_lines(c: &mut impl AsExecutor, invoice_id: i64) -> DbResult<Vec<LineRow>> {
    Ok(sql!(c, |e| {
        sqlx::query_as::<_, LineRow>(
        "SELECT invoice_id, position, line_kind, section_kind, cloud_tenant_id, meter_id, meter_name, service, quantity, \
         unit, unit_price, precise_amount, amount, price_version_from, adjustment, refers_to, section_label FROM invoice_lines \
         WHERE invoice_id = $1 ORDER BY position"
    )
    .bind(invoice_id)
    .fetch_all(e)
    .await
    })?)
}

/// Takes the next number of a series, in the caller's transaction (gapless: a rollback
/// gives it back).
pub async fn next_number(c: &mut impl AsExecutor, prefix: &str, year: i32) -> DbResult<i64> {
    sql!(c, |e| {
        sqlx::query(
        "INSERT INTO invoice_sequences (prefix, year, last_value) VALUES ($1, $2, 0) ON CONFLICT (prefix, year) DO NOTHING"
    )
    .bind(prefix)
    .bind(year)
    .execute(e)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(sql!(c, |e| sqlx::query_scalar(
        "UPDATE invoice_sequences SET last_value = last_value + 1 WHERE prefix = $1 AND year = $2 RETURNING last_value"
    )
    .bind(prefix)
    .bind(year)
    .fetch_one(e)
    .await)?)
}

/// Issues a draft: its number, when, its due day and its final bill-to.
pub async fn set_issued(
    c: &mut impl AsExecutor,
    id: i64,
    number: &str,
    issued_at: i64,
    due_on: NaiveDate,
    bill_to: &str,
) -> DbResult<u64> {
    Ok(sql!(c, |e| sqlx::query(
        "UPDATE invoices SET status = 'issued', number = $2, issued_at = $3, due_on = $4, bill_to = $5 \
         WHERE id = $1 AND status = 'draft'"
    )
    .bind(id)
    .bind(number)
    .bind(issued_at)
    .bind(due_on)
    .bind(bill_to)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Voids an issued invoice, naming its credit note (the only change an issued invoice takes).
pub async fn set_void(c: &mut impl AsExecutor, id: i64, credit_note: i64) -> DbResult<u64> {
    Ok(sql!(c, |e| sqlx::query(
        "UPDATE invoices SET status = 'void', voided_by = $2 WHERE id = $1 AND status = 'issued' AND kind = 'invoice'"
    )
    .bind(id)
    .bind(credit_note)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Issued invoices left on a registration's period (the period unlocks when none are).
pub async fn count_issued(c: &mut impl AsExecutor, registration_id: i64, period_start: NaiveDate) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM invoices WHERE registration_id = $1 AND period_start = $2 AND kind = 'invoice' \
         AND status = 'issued'"
    )
    .bind(registration_id)
    .bind(period_start)
    .fetch_one(e)
    .await)?)
}

/// A registration's own invoice prefix, if it has one.
pub async fn invoice_prefix(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<Option<String>> {
    Ok(sql!(c, |e| sqlx::query_scalar::<_, Option<String>>(
        "SELECT invoice_prefix FROM registrations WHERE id = $1"
    )
    .bind(registration_id)
    .fetch_optional(e)
    .await)?
    .flatten())
}

/// The credit note reversing an invoice, if any (drafted or issued).
pub async fn credit_note_of(c: &mut impl AsExecutor, invoice_id: i64) -> DbResult<Option<i64>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT id FROM invoices WHERE credit_for = $1 ORDER BY id DESC LIMIT 1"
    )
    .bind(invoice_id)
    .fetch_optional(e)
    .await)?)
}

/// The lines of every numbered document (issued, void, credit note) of a period, by
/// invoice and position.
pub async fn list_lines_of_period(c: &mut impl AsExecutor, period_start: NaiveDate) -> DbResult<Vec<LineRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, LineRow>(
        "SELECT l.invoice_id, l.position, l.line_kind, l.section_kind, l.cloud_tenant_id, l.meter_id, l.meter_name, \
         l.service, l.quantity, l.unit, l.unit_price, l.precise_amount, l.amount, l.price_version_from, l.adjustment, \
         l.refers_to, l.section_label FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
         WHERE i.period_start = $1 AND i.status <> 'draft' ORDER BY i.number, l.position"
    )
    .bind(period_start)
    .fetch_all(e)
    .await)?)
}

/// What each account's draft of a period came to in the latest run before `run_id`s:
/// `(registration, billing subscription, run, total)`.
pub async fn previous_draft_totals(
    c: &mut impl AsExecutor,
    period_start: NaiveDate,
) -> DbResult<Vec<(i64, String, i64, String)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT registration_id, billing_subscription_id, run_id, total FROM invoice_draft_history \
         WHERE period_start = $1 ORDER BY run_id"
    )
    .bind(period_start)
    .fetch_all(e)
    .await)?)
}

/// A row of an invoice's usage detail (see the migration).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DetailRow {
    /// The user subscription's GUID.
    pub user_subscription_id: String,
    /// Its resource group (`""`: not in the resource URI).
    pub resource_group: String,
    /// The meter.
    pub meter_id: String,
    /// Its name.
    pub meter_name: String,
    /// Quantity, exact decimal text.
    pub quantity: String,
    /// Unit.
    pub unit: String,
    /// The subscription's precise (unrounded) share of the meter's money, on the first of
    /// the meter's rows (else `""`): a subscription's rows add up to its cost.
    pub amount: String,
}

/// Stores a draft's usage detail (one statement), just before it is issued.
pub async fn insert_usage_detail(c: &mut impl AsExecutor, invoice_id: i64, rows: &[DetailRow]) -> DbResult<()> {
    use super::JsonCol::{Int, Text};
    if rows.is_empty() {
        return Ok(());
    }
    let q = format!(
        "INSERT INTO invoice_usage_detail (invoice_id, position, user_subscription_id, resource_group, meter_id, \
         meter_name, quantity, unit, amount) {}",
        super::json_rows(c.engine(), &[Int, Int, Text, Text, Text, Text, Text, Text, Text])
    );
    let json = serde_json::Value::Array(
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                serde_json::json!([
                    invoice_id,
                    i + 1,
                    r.user_subscription_id,
                    r.resource_group,
                    r.meter_id,
                    r.meter_name,
                    r.quantity,
                    r.unit,
                    r.amount
                ])
            })
            .collect(),
    )
    .to_string();
    sql!(c, |e| sqlx::query(&q)
        .bind(&json)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// An invoice's stored usage detail, in order.
pub async fn list_usage_detail(c: &mut impl AsExecutor, invoice_id: i64) -> DbResult<Vec<DetailRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, DetailRow>(
        "SELECT user_subscription_id, resource_group, meter_id, meter_name, quantity, unit, amount \
         FROM invoice_usage_detail WHERE invoice_id = $1 ORDER BY position"
    )
    .bind(invoice_id)
    .fetch_all(e)
    .await)?)
}

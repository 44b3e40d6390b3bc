//! Invoicing: month-end runs that draft one invoice per billing account from the rating
//! service, issuing a draft (a gapless number, the bill-to frozen, the period locked),
//! voiding an issued invoice with a credit note that reverses it line by line.
//!
//! The money comes from `rating::rate_period` and `billing::build_invoice` only; this
//! module stores what they computed. An issued document never changes: the services only
//! update drafts, and the database's triggers refuse anything else (see the migration).

use crate::billing::invoice::{build_invoice, InvoiceTerms, LineKind};
use crate::billing::rating::AccountRating;
use crate::billing::{
    adjustments, with_adjustments, BillingAccount, BillingPeriod, CloudTenantId, Currency, InvoiceLine, InvoiceNumber,
    IssuedUsage, MeterId, Section, SubscriptionId, TaxRate,
};
use crate::error::{AppError, ErrorKind};
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, invoices::InvoiceRow, invoices::LineRow, invoices::NewInvoice, parse_stored};
use crate::ssr::services::accounts::audit;
use crate::ssr::services::jobs::{report, Progress};
use crate::ssr::services::lookup;
use crate::ssr::services::rating::{self, Detail, Scope};
use crate::ssr::services::terms::{load_customer_terms, load_registration_terms};
use crate::ssr::state::AppState;
use crate::types::{
    BillTo, InvoiceDetail, InvoiceLineView, InvoiceRunReport, InvoiceSummary, IssueAllReport, IssueRefusal, RunPhase,
    RunProgressView,
};
use chrono::{Datelike, Duration};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

fn period_of(raw: &str) -> Result<BillingPeriod, AppError> {
    BillingPeriod::parse(raw.trim()).map_err(|e| AppError::invalid("period", e.to_string()))
}

fn decimal(what: &str, raw: &str) -> Result<Decimal, AppError> {
    Ok(parse_stored(what, raw, |t| t.parse::<Decimal>())?)
}

/// A month that can be run: well-formed and begun.
fn runnable_period(state: &AppState, raw: &str) -> Result<BillingPeriod, AppError> {
    let period = period_of(raw)?;
    if period.start() > state.clock.now() {
        return Err(AppError::invalid(
            "period",
            format!("{period} has not begun; a month is invoiced once it has started (and issued once it has ended)."),
        ));
    }
    Ok(period)
}

/// Starts [`run`] for all registrations in the background and answers its number at once;
/// the finance screen polls [`run_progress`] with it. Finance or operators.
pub fn start_run(state: &AppState, by: &Caller, period: &str) -> Result<u64, AppError> {
    by.require(Access::Finance)?;
    let period = runnable_period(state, period)?.to_string();
    let (id, job) = state.jobs.start(by.actor_code());
    let (state, by) = (state.clone(), by.clone());
    tokio::spawn(async move {
        let outcome = run(&state, &by, &period, None, Some(&job.progress)).await;
        job.finish(outcome);
    });
    Ok(id)
}

/// How far the caller's run `id` has come, and its report once it has finished; 404 for a
/// run that is not the caller's or is long finished.
pub fn run_progress(state: &AppState, by: &Caller, id: u64) -> Result<RunProgressView, AppError> {
    by.require(Access::Finance)?;
    state
        .jobs
        .get(id, &by.actor_code())
        .map(|j| j.view())
        .ok_or_else(|| AppError::not_found("run_not_found", format!("There is no invoice run {id} of yours.")))
}

/// Drafts one invoice per billing account with usage in the period — each customer
/// subscription's, and each registration's base subscription invoice with a section per
/// fallback tenant and one for unassigned usage. Re-running replaces the period's drafts
/// and nothing else: accounts already issued are left alone. Finance or operators.
pub async fn run(
    state: &AppState,
    by: &Caller,
    period: &str,
    registration: Option<&str>,
    progress: Option<&Progress>,
) -> Result<InvoiceRunReport, AppError> {
    by.require(Access::Finance)?;
    let period = runnable_period(state, period)?;
    let now = state.clock.now();
    let reg = match registration.map(str::trim).filter(|r| !r.is_empty()) {
        Some(key) => Some(lookup::registration_by_key(&state.db, key, "registration").await?),
        None => None,
    };
    let scope = reg
        .as_ref()
        .map(|r| Scope::Registration(r.id))
        .unwrap_or(Scope::Everything);
    report(progress, RunPhase::Rating, 0);
    let started = std::time::Instant::now();
    let rated = rating::rate_period(&state.db, scope, period, now, Detail::Lines).await?;
    let rated_at = started.elapsed();
    let mut statements = rated.statements;

    let mut c = state.db.conn().await?;
    let customer_ids: Vec<i64> = rated.customers.values().map(|(id, _)| *id).collect();
    let customers: HashMap<i64, db::customers::CustomerRow> = db::customers::list_by_ids(&mut c, &customer_ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let terms = load_customer_terms(&mut c, Some(&customer_ids)).await?;
    statements += 3;

    // Late and corrected usage of the month before: for each of its issued invoices, what it
    // charged against that month rated now, per section and meter, becomes adjustment lines
    // on this month's draft of the same account (referring to the invoice's number).
    let prev = period.previous();
    let mut adjust: HashMap<(i64, String), Vec<InvoiceLine>> = HashMap::new();
    let prev_issued: Vec<InvoiceRow> =
        db::invoices::list_invoices(&mut c, Some(prev.first_day()), reg.as_ref().map(|r| r.id), None)
            .await?
            .into_iter()
            .filter(|r| r.kind == "invoice" && r.status == "issued")
            .collect();
    statements += 1;
    if !prev_issued.is_empty() {
        report(progress, RunPhase::Adjusting, 0);
        let lines = db::invoices::list_lines_of_period(&mut c, prev.first_day()).await?;
        drop(c);
        let rerated = rating::rate_period(&state.db, scope, prev, now, Detail::Lines).await?;
        statements += 1 + rerated.statements;
        for inv in &prev_issued {
            let usage: Vec<IssuedUsage> = lines
                .iter()
                .filter(|l| l.invoice_id == inv.id && l.line_kind == "usage")
                .map(issued_usage)
                .collect::<Result<_, AppError>>()?;
            let sub = parse_stored(
                "billing subscription",
                &inv.billing_subscription_id,
                SubscriptionId::parse,
            )?;
            let account = rerated
                .registrations
                .iter()
                .find(|r| r.registration_id == inv.registration_id)
                .and_then(|r| r.rating.account(sub));
            let currency = parse_stored("currency", &inv.currency, Currency::parse)?;
            let lines = adjustments(&usage, account, inv.number.as_deref().unwrap_or_default(), currency);
            if !lines.is_empty() {
                adjust.insert((inv.registration_id, inv.billing_subscription_id.clone()), lines);
            }
        }
    } else {
        drop(c);
    }

    let now_secs = state.now_secs();
    let mut tx = state.db.begin().await?;
    let run_id = db::invoices::insert_run(
        &mut tx,
        period.first_day(),
        reg.as_ref().map(|r| r.id),
        &by.actor_code(),
        now_secs,
    )
    .await?;
    report(
        progress,
        RunPhase::Drafting,
        rated.registrations.iter().map(|r| r.rating.accounts.len() as u64).sum(),
    );
    let mut deleting = std::time::Duration::ZERO;
    let mut drafts: Vec<(NewInvoice, Vec<LineRow>)> = Vec::new();
    let (mut replaced, mut already_issued, mut with_unpriced) = (0u64, 0usize, 0usize);
    let mut totals: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for r in &rated.registrations {
        db::invoices::lock_for_drafting(&mut tx, r.registration_id).await?;
        let issued: HashSet<String> = db::invoices::issued_accounts(&mut tx, r.registration_id, period.first_day())
            .await?
            .into_iter()
            .collect();
        let t = std::time::Instant::now();
        replaced += db::invoices::delete_drafts(&mut tx, r.registration_id, period.first_day()).await?;
        deleting += t.elapsed();
        let reg_terms = load_registration_terms(&mut tx, r.registration_id).await?;
        // The lock (a statement on PostgreSQL only), issued accounts, the drafts replaced (two), terms.
        statements += if state.db.engine() == db::Engine::Postgres {
            5
        } else {
            4
        };
        let base_terms = InvoiceTerms::for_period(&reg_terms.base_invoice, period);
        // Accounts with adjustments for the month before but no usage this month: a draft of
        // their adjustments alone, so late usage is never dropped with a customer who left.
        let leftovers: Vec<AccountRating> = prev_issued
            .iter()
            .filter(|inv| {
                inv.registration_id == r.registration_id
                    && adjust.contains_key(&(inv.registration_id, inv.billing_subscription_id.clone()))
            })
            .filter_map(|inv| {
                let sub = SubscriptionId::parse(&inv.billing_subscription_id).ok()?;
                if r.rating.account(sub).is_some() {
                    return None;
                }
                let account = if inv.account_kind == "base" {
                    BillingAccount::Base { subscription: sub }
                } else {
                    let bill: BillTo = serde_json::from_str(&inv.bill_to).ok()?;
                    BillingAccount::Customer {
                        subscription: sub,
                        tenant: CloudTenantId::parse(bill.cloud_tenant_id.as_deref()?).ok()?,
                    }
                };
                Some(AccountRating {
                    account,
                    sections: Vec::new(),
                })
            })
            .collect();
        for account in r.rating.accounts.iter().chain(leftovers.iter()) {
            if let Some(p) = progress {
                p.step();
            }
            let subscription = account.account.subscription().to_string();
            if issued.contains(&subscription) {
                already_issued += 1;
                continue;
            }
            let (kind, customer, invoice_terms) = match account.account {
                BillingAccount::Customer { tenant, .. } => {
                    let customer = rated.customers.get(&tenant).map(|(id, _)| *id);
                    let t = customer
                        .and_then(|id| terms.get(&id))
                        .map(|t| InvoiceTerms::for_period(&t.invoice, period))
                        .unwrap_or_else(|| InvoiceTerms {
                            minimum_monthly_charge: None,
                            tax_rate: TaxRate::ZERO,
                        });
                    ("customer", customer, t)
                }
                BillingAccount::Base { .. } => ("base", None, base_terms.clone()),
            };
            // No usage this month (adjustments only): nothing for a minimum charge to top up.
            let invoice_terms = if account.sections.is_empty() {
                InvoiceTerms {
                    minimum_monthly_charge: None,
                    ..invoice_terms
                }
            } else {
                invoice_terms
            };
            let invoice = with_adjustments(
                build_invoice(account, period, r.currency, &invoice_terms)?,
                adjust
                    .remove(&(r.registration_id, subscription.clone()))
                    .unwrap_or_default(),
            )?;
            let row = customer.and_then(|id| customers.get(&id));
            let bill_to = match row {
                Some(cu) => BillTo {
                    name: cu.name.clone(),
                    address: cu.billing_address.clone(),
                    email: cu.billing_email.clone(),
                    cloud_tenant_id: Some(cu.tenant_guid.clone()),
                    billing_subscription_id: subscription.clone(),
                    tax_id: cu.tax_id.clone(),
                },
                None => BillTo {
                    name: r.name.clone(),
                    billing_subscription_id: subscription.clone(),
                    ..BillTo::default()
                },
            };
            let unpriced: Vec<serde_json::Value> = invoice
                .unpriced
                .iter()
                .map(|(section, u)| {
                    serde_json::json!({
                        "meter_id": u.meter_id.to_string(), "meter_name": u.meter_name, "unit": u.usage_unit,
                        "quantity": u.quantity.value().normalize().to_string(),
                        "cloud_tenant_id": match section { Section::Tenant(t) => Some(t.to_string()), Section::Unassigned => None },
                    })
                })
                .collect();
            if !unpriced.is_empty() {
                with_unpriced += 1;
            }
            *totals.entry(r.currency).or_default() += invoice.total.amount();
            let lines = invoice
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let (line_kind, section_kind, tenant, meter, meter_name, from, adjustment) = match &l.kind {
                        LineKind::Usage {
                            section,
                            meter_id,
                            meter_name,
                            price_version_from,
                            adjustment,
                        } => (
                            "usage",
                            match section {
                                Section::Tenant(_) => "tenant",
                                Section::Unassigned => "unassigned",
                            },
                            match section {
                                Section::Tenant(t) => Some(t.to_string()),
                                Section::Unassigned => None,
                            },
                            Some(meter_id.to_string()),
                            meter_name.clone(),
                            Some(*price_version_from),
                            adjustment.map(|a| a.value().to_string()),
                        ),
                        LineKind::MinimumCharge => ("minimum_charge", "", None, None, String::new(), None, None),
                        LineKind::Adjustment {
                            section,
                            meter_id,
                            meter_name,
                            ..
                        } => (
                            "adjustment",
                            match section {
                                Section::Tenant(_) => "tenant",
                                Section::Unassigned => "unassigned",
                            },
                            match section {
                                Section::Tenant(t) => Some(t.to_string()),
                                Section::Unassigned => None,
                            },
                            Some(meter_id.to_string()),
                            meter_name.clone(),
                            None,
                            None,
                        ),
                    };
                    let refers_to = match &l.kind {
                        LineKind::Adjustment { refers_to, .. } => Some(refers_to.clone()),
                        _ => None,
                    };
                    let service = match &l.kind {
                        LineKind::Usage { meter_id, .. } | LineKind::Adjustment { meter_id, .. } => {
                            rated.service_of(*meter_id)
                        }
                        LineKind::MinimumCharge => String::new(),
                    };
                    LineRow {
                        invoice_id: 0,
                        position: i as i32 + 1,
                        line_kind: line_kind.into(),
                        section_kind: section_kind.into(),
                        cloud_tenant_id: tenant,
                        meter_id: meter,
                        meter_name,
                        service,
                        quantity: l.quantity.map(|q| q.normalize().to_string()),
                        unit: l.unit.clone(),
                        unit_price: l.unit_price.map(|p| p.normalize().to_string()),
                        precise_amount: l.precise_amount.to_string(),
                        amount: l.amount.amount().to_string(),
                        price_version_from: from,
                        adjustment,
                        refers_to,
                        section_label: match &l.kind {
                            LineKind::Usage {
                                section: Section::Tenant(t),
                                ..
                            }
                            | LineKind::Adjustment {
                                section: Section::Tenant(t),
                                ..
                            } => rated.customers.get(t).map(|(_, name)| name.clone()).unwrap_or_default(),
                            _ => String::new(),
                        },
                    }
                })
                .collect();
            drafts.push((
                NewInvoice {
                    registration_id: r.registration_id,
                    period_start: period.first_day(),
                    kind: "invoice",
                    account_kind: kind,
                    billing_subscription_id: subscription,
                    customer_id: customer,
                    bill_to: serde_json::to_string(&bill_to).map_err(|e| crate::ssr::auth::internal("bill-to", e))?,
                    locale: row.map(|cu| cu.locale.clone()).unwrap_or_else(|| "en".into()),
                    currency: r.currency.code().to_owned(),
                    subtotal: invoice.subtotal.amount().to_string(),
                    tax_rate: invoice.tax_rate.value().normalize().to_string(),
                    tax: invoice.tax.amount().to_string(),
                    total: invoice.total.amount().to_string(),
                    unpriced: serde_json::Value::Array(unpriced).to_string(),
                    credit_for: None,
                    run_id: Some(run_id),
                },
                lines,
            ));
        }
    }
    report(progress, RunPhase::Saving, 0);
    let rows: Vec<NewInvoice> = drafts.iter().map(|(d, _)| d.clone()).collect();
    let built_at = started.elapsed();
    db::invoices::insert_invoices(&mut tx, &rows, now_secs).await?;
    let ids: HashMap<(i64, String), i64> = db::invoices::drafts_of_run(&mut tx, run_id)
        .await?
        .into_iter()
        .map(|(id, reg, sub)| ((reg, sub), id))
        .collect();
    let mut lines = Vec::new();
    for (d, ls) in drafts {
        let id = ids
            .get(&(d.registration_id, d.billing_subscription_id.clone()))
            .copied()
            .ok_or_else(|| crate::ssr::auth::internal("invoice run", "a draft was not stored"))?;
        lines.extend(ls.into_iter().map(|l| LineRow { invoice_id: id, ..l }));
    }
    db::invoices::insert_lines(&mut tx, &lines).await?;
    // The run's row, the drafts, their ids, their lines, the run finished, the audit entry.
    statements += 6;
    db::invoices::finish_run(&mut tx, run_id, rows.len() as i64, state.now_secs()).await?;
    audit(
        &mut tx,
        by,
        "invoice.run",
        &format!("invoice_run:{run_id}"),
        serde_json::json!({ "period": period.to_string(), "registration": reg.as_ref().map(|r| r.name.clone()),
                            "drafts": rows.len(), "replaced": replaced, "already_issued": already_issued }),
        "",
        now_secs,
    )
    .await?;
    let written_at = started.elapsed();
    tx.commit().await?;
    // Where a run's time goes, for operators sizing month-end (and the benchmark).
    tracing::info!(
        period = %period,
        drafts = rows.len(),
        rating_ms = rated_at.as_millis() as u64,
        replacing_drafts_ms = deleting.as_millis() as u64,
        drafting_ms = (built_at - rated_at - deleting).as_millis() as u64,
        writing_ms = (written_at - built_at).as_millis() as u64,
        commit_ms = (started.elapsed() - written_at).as_millis() as u64,
        "invoice run finished"
    );
    Ok(InvoiceRunReport {
        run_id,
        period: period.to_string(),
        drafts: rows.len(),
        replaced,
        already_issued,
        totals: totals.into_iter().collect(),
        with_unpriced,
        statements,
    })
}

fn summary_of(r: &InvoiceRow) -> Result<InvoiceSummary, AppError> {
    let what = |f: &str| format!("{f} of invoice {}", r.id);
    let unpriced: serde_json::Value = serde_json::from_str(&r.unpriced).unwrap_or_default();
    Ok(InvoiceSummary {
        id: r.id,
        number: r.number.clone(),
        kind: r.kind.clone(),
        status: r.status.clone(),
        registration: r.registration.clone(),
        period: BillingPeriod::of_date(r.period_start).to_string(),
        account_kind: r.account_kind.clone(),
        billing_subscription_id: r.billing_subscription_id.clone(),
        customer_id: r.customer_id,
        bill_to: serde_json::from_str(&r.bill_to).unwrap_or_default(),
        locale: r.locale.clone(),
        currency: parse_stored(&what("currency"), &r.currency, Currency::parse)?,
        subtotal: decimal(&what("subtotal"), &r.subtotal)?,
        tax_rate: decimal(&what("tax rate"), &r.tax_rate)?,
        tax: decimal(&what("tax"), &r.tax)?,
        total: decimal(&what("total"), &r.total)?,
        unpriced_meters: unpriced.as_array().map(Vec::len).unwrap_or(0),
        issued_at: r.issued_at,
        due_on: r.due_on,
        credit_for: r.credit_for_number.clone(),
        voided_by: r.voided_by_number.clone(),
        previous_run_total: None,
        previous_month_total: None,
    })
}

fn line_of(l: &LineRow) -> Result<InvoiceLineView, AppError> {
    let opt = |f: &str, v: &Option<String>| -> Result<Option<Decimal>, AppError> {
        v.as_deref().map(|t| decimal(f, t)).transpose()
    };
    Ok(InvoiceLineView {
        line_kind: l.line_kind.clone(),
        section_kind: l.section_kind.clone(),
        cloud_tenant_id: l.cloud_tenant_id.clone(),
        meter_id: l.meter_id.clone(),
        meter_name: l.meter_name.clone(),
        service: l.service.clone(),
        quantity: opt("quantity", &l.quantity)?,
        unit: l.unit.clone(),
        unit_price: opt("unit price", &l.unit_price)?,
        amount: decimal("amount", &l.amount)?,
        price_version_from: l.price_version_from,
        adjustment: l.adjustment.clone(),
        section_label: l.section_label.clone(),
        refers_to: l.refers_to.clone(),
    })
}

/// Finds an invoice by number, or a draft by id, as the caller may see it: staff see every
/// one, a customer's users and tokens only their customer's issued documents; anything else
/// is "not found" (never "forbidden": a number must not confirm it exists).
async fn visible(state: &AppState, by: &Caller, key: &str) -> Result<InvoiceRow, AppError> {
    by.require(Access::SignedIn)?;
    let missing = || AppError::not_found("invoice_not_found", format!("There is no invoice {key}."));
    let mut c = state.db.conn().await?;
    let row = match key.parse::<i64>() {
        Ok(id) => db::invoices::find_invoice(&mut c, id).await?,
        Err(_) => db::invoices::find_by_number(&mut c, key.trim()).await?,
    }
    .ok_or_else(missing)?;
    if by.require(Access::Staff).is_ok() {
        return Ok(row);
    }
    let mine = by.customer_id.is_some() && row.customer_id == by.customer_id && row.status != "draft";
    if mine {
        Ok(row)
    } else {
        Err(missing())
    }
}

/// One invoice with its lines.
pub async fn detail(state: &AppState, by: &Caller, key: &str) -> Result<InvoiceDetail, AppError> {
    let row = visible(state, by, key).await?;
    let mut c = state.db.conn().await?;
    let lines = db::invoices::list_lines(&mut c, row.id).await?;
    Ok(InvoiceDetail {
        summary: summary_of(&row)?,
        lines: lines.iter().map(line_of).collect::<Result<_, _>>()?,
        unpriced: serde_json::from_str(&row.unpriced).unwrap_or_default(),
        usage_detail: Vec::new(),
    })
}

/// One customer's issued invoices and credit notes (never drafts): its portal, for its own
/// users or staff viewing as it. The caller has been authorised for this customer.
pub async fn customer_invoices(state: &AppState, customer_id: i64) -> Result<Vec<InvoiceSummary>, AppError> {
    let mut c = state.db.conn().await?;
    db::invoices::list_invoices(&mut c, None, None, Some(customer_id))
        .await?
        .iter()
        .filter(|r| r.status != "draft")
        .map(summary_of)
        .collect()
}

/// A period's invoices (staff: all, drafts included; a customer: its own issued ones).
pub async fn list(
    state: &AppState,
    by: &Caller,
    period: Option<&str>,
    registration: Option<&str>,
) -> Result<Vec<InvoiceSummary>, AppError> {
    by.require(Access::SignedIn)?;
    let period = period
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(period_of)
        .transpose()?;
    let reg = match registration.map(str::trim).filter(|r| !r.is_empty()) {
        Some(key) => Some(lookup::registration_by_key(&state.db, key, "registration").await?.id),
        None => None,
    };
    let staff = by.require(Access::Staff).is_ok();
    let customer = if staff {
        None
    } else {
        Some(
            by.customer_id
                .ok_or_else(|| AppError::new(ErrorKind::Forbidden, "forbidden", "No invoices here."))?,
        )
    };
    let mut c = state.db.conn().await?;
    let rows = db::invoices::list_invoices(&mut c, period.map(|p| p.first_day()), reg, customer).await?;
    let mut out: Vec<InvoiceSummary> = rows
        .iter()
        .filter(|r| staff || r.status != "draft")
        .map(summary_of)
        .collect::<Result<_, _>>()?;
    // For finance reviewing a month: each draft against the previous run and each invoice
    // against the same account's issued invoice of the month before.
    if let (true, Some(p)) = (staff, period) {
        // Both keyed by account once: a month of a thousand accounts is looked up, not scanned.
        let mut history: HashMap<(i64, String), Vec<(i64, String)>> = HashMap::new();
        for (reg_id, sub, run, total) in db::invoices::previous_draft_totals(&mut c, p.first_day()).await? {
            history.entry((reg_id, sub)).or_default().push((run, total));
        }
        let before: HashMap<(i64, String), String> =
            db::invoices::list_invoices(&mut c, Some(p.previous().first_day()), reg, None)
                .await?
                .into_iter()
                .filter(|b| b.kind == "invoice" && b.status == "issued")
                .map(|b| ((b.registration_id, b.billing_subscription_id), b.total))
                .collect();
        let rows_by_id: HashMap<i64, &InvoiceRow> = rows.iter().map(|r| (r.id, r)).collect();
        for s in out.iter_mut().filter(|s| s.kind == "invoice") {
            let Some(row) = rows_by_id.get(&s.id) else { continue };
            let key = (row.registration_id, row.billing_subscription_id.clone());
            if s.status == "draft" {
                let run = row.run_id.unwrap_or(i64::MAX);
                // History is by run, oldest first: the last one before this draft's run.
                s.previous_run_total = history
                    .get(&key)
                    .and_then(|runs| runs.iter().rev().find(|(r, _)| *r < run))
                    .and_then(|(_, total)| total.parse().ok());
            }
            s.previous_month_total = before.get(&key).and_then(|t| t.parse().ok());
        }
    }
    Ok(out)
}

/// Issues a draft: refused while the month is open for late usage (its end plus the grace
/// days) and while it has unpriced usage unless `waive_unpriced` (recorded in the audit
/// log). In one transaction: the next number of the registration's series, the bill-to as
/// the customer is now, the due day, the period locked against back-dated changes.
pub async fn issue(state: &AppState, by: &Caller, invoice_id: i64, waive_unpriced: bool) -> Result<String, AppError> {
    by.require(Access::Finance)?;
    let now = state.clock.now();
    let now_secs = state.now_secs();
    // The checks, then the usage detail (a rating: outside the transaction, which would
    // hold the write lock meanwhile), then the transaction that issues.
    let mut c = state.db.conn().await?;
    let row = db::invoices::find_invoice(&mut c, invoice_id)
        .await?
        .ok_or_else(|| AppError::not_found("invoice_not_found", format!("There is no draft {invoice_id}.")))?;
    drop(c);
    if row.status != "draft" || row.kind != "invoice" {
        return Err(AppError::conflict(
            "invoice_not_draft",
            format!(
                "Invoice {} is {}; only drafts are issued.",
                row.number.clone().unwrap_or_else(|| invoice_id.to_string()),
                row.status
            ),
        ));
    }
    let period = BillingPeriod::of_date(row.period_start);
    let open_until = period.end() + Duration::days(state.settings.invoice_grace_days);
    if now < open_until {
        return Err(AppError::conflict(
            "period_open",
            format!(
                "{period} is still open for late usage until {}; issue its invoices from then on.",
                open_until.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    let unpriced: serde_json::Value = serde_json::from_str(&row.unpriced).unwrap_or_default();
    let names: Vec<String> = unpriced
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["meter_name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !names.is_empty() && !waive_unpriced {
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        return Err(AppError::conflict(
            "unpriced_usage",
            format!(
                "This invoice has usage with no price ({}); price those meters and run the period again, or issue it with the unpriced usage waived.",
                unique.join(", ")
            ),
        ));
    }
    let (detail, detail_money) = super::invoice_detail::compute(state, &row).await?;
    let mut c = state.db.conn().await?;
    let charged: Decimal = db::invoices::list_lines(&mut c, row.id)
        .await?
        .iter()
        .filter(|l| l.line_kind == "usage")
        .map(|l| decimal("amount", &l.precise_amount))
        .sum::<Result<Decimal, AppError>>()?;
    drop(c);
    // Shares divide a line's money by quantity (exact to ~28 digits), so compare far below
    // a cent rather than digit for digit.
    if (charged - detail_money).abs() > Decimal::new(1, 9) {
        return Err(AppError::conflict(
            "draft_outdated",
            format!(
                "The usage or prices of {period} changed after this draft was made (it charges {charged}, the month rates at {detail_money} now); run the month again, review the new draft and issue that.",
                charged = charged.normalize(),
                detail_money = detail_money.normalize()
            ),
        ));
    }
    let mut tx = state.db.begin().await?;
    db::invoices::lock_invoice(&mut tx, invoice_id).await?;
    let row = db::invoices::find_invoice(&mut tx, invoice_id)
        .await?
        .filter(|r| r.status == "draft")
        .ok_or_else(|| AppError::conflict("invoice_not_draft", "The draft was issued or replaced meanwhile."))?;
    db::invoices::insert_usage_detail(&mut tx, row.id, &detail).await?;
    // The bill-to and payment terms as the customer is now, frozen from here on.
    let mut bill_to: BillTo = serde_json::from_str(&row.bill_to).unwrap_or_default();
    let mut terms_days = state.settings.payment_terms_days;
    if let Some(id) = row.customer_id {
        if let Some(cu) = db::customers::find_customer(&mut tx, id).await? {
            bill_to.name = cu.name;
            bill_to.address = cu.billing_address;
            bill_to.email = cu.billing_email;
            bill_to.tax_id = cu.tax_id;
            terms_days = cu.payment_terms_days.unwrap_or(terms_days);
        }
    }
    let number = allocate_number(&mut tx, state, row.registration_id, now.year()).await?;
    let due = now.date_naive() + Duration::days(terms_days);
    let bill_to_json = serde_json::to_string(&bill_to).map_err(|e| crate::ssr::auth::internal("bill-to", e))?;
    let updated = db::invoices::set_issued(&mut tx, row.id, &number, now_secs, due, &bill_to_json).await?;
    if updated != 1 {
        return Err(AppError::conflict(
            "invoice_not_draft",
            "The draft was issued or replaced meanwhile.",
        ));
    }
    db::periods::lock_period(
        &mut tx,
        row.registration_id,
        row.period_start,
        &by.actor_code(),
        now_secs,
    )
    .await?;
    audit(
        &mut tx,
        by,
        "invoice.issued",
        &format!("invoice:{number}"),
        serde_json::json!({ "id": row.id, "number": number, "period": period.to_string(), "total": row.total,
                            "currency": row.currency, "waived_unpriced": (!names.is_empty()).then_some(names) }),
        "",
        now_secs,
    )
    .await?;
    tx.commit().await?;
    Ok(number)
}

async fn allocate_number(
    tx: &mut db::Tx,
    state: &AppState,
    registration_id: i64,
    year: i32,
) -> Result<String, AppError> {
    let prefix = db::invoices::invoice_prefix(tx, registration_id)
        .await?
        .unwrap_or_else(|| state.settings.invoice_prefix.clone());
    let next = db::invoices::next_number(tx, &prefix, year).await?;
    let sequence = u32::try_from(next).map_err(|_| crate::ssr::auth::internal("invoice number", "series exhausted"))?;
    Ok(InvoiceNumber::new(&prefix, year, sequence)?.to_string())
}

/// Issues every draft of a period (optionally one registration's), each in its own
/// transaction: a draft that is refused (unpriced usage without a waiver, outdated, the
/// month still open) is reported with why and the others are issued all the same. Errors
/// that are not refusals (the database gone) stop it.
pub async fn issue_all(
    state: &AppState,
    by: &Caller,
    period: &str,
    registration: Option<&str>,
    waive_unpriced: bool,
) -> Result<IssueAllReport, AppError> {
    by.require(Access::Finance)?;
    let drafts: Vec<InvoiceSummary> = list(state, by, Some(period), registration)
        .await?
        .into_iter()
        .filter(|i| i.status == "draft")
        .collect();
    let mut report = IssueAllReport::default();
    for d in drafts {
        match issue(state, by, d.id, waive_unpriced).await {
            Ok(number) => report.issued.push(number),
            Err(e) if matches!(e.kind, ErrorKind::Conflict | ErrorKind::Invalid | ErrorKind::NotFound) => {
                report.refused.push(IssueRefusal {
                    id: d.id,
                    bill_to: d.bill_to.name,
                    code: e.code,
                    message: e.message,
                })
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Voids an issued invoice: a credit note with its own number from the same series,
/// reversing every line, issued in the same transaction; the invoice is marked void and
/// names it. The period unlocks when no issued invoice is left in it.
pub async fn void(state: &AppState, by: &Caller, number: &str) -> Result<String, AppError> {
    by.require(Access::Finance)?;
    let now = state.clock.now();
    let now_secs = state.now_secs();
    let mut tx = state.db.begin().await?;
    let found = db::invoices::find_by_number(&mut tx, number.trim())
        .await?
        .ok_or_else(|| AppError::not_found("invoice_not_found", format!("There is no invoice {number}.")))?;
    // Two voids of one invoice queue up here; the second reads it void and is refused.
    db::invoices::lock_invoice(&mut tx, found.id).await?;
    let row = db::invoices::find_invoice(&mut tx, found.id)
        .await?
        .ok_or_else(|| AppError::not_found("invoice_not_found", format!("There is no invoice {number}.")))?;
    if row.kind != "invoice" || row.status != "issued" {
        let what = if row.kind == "credit_note" {
            "a credit note".to_owned()
        } else {
            row.status.clone()
        };
        return Err(AppError::conflict(
            "invoice_not_issued",
            format!("{number} is {what}; only issued invoices are voided."),
        ));
    }
    let neg = |raw: &str| -> Result<String, AppError> { Ok((-decimal("amount", raw)?).to_string()) };
    let credit = NewInvoice {
        registration_id: row.registration_id,
        period_start: row.period_start,
        kind: "credit_note",
        account_kind: if row.account_kind == "base" { "base" } else { "customer" },
        billing_subscription_id: row.billing_subscription_id.clone(),
        customer_id: row.customer_id,
        bill_to: row.bill_to.clone(),
        locale: row.locale.clone(),
        currency: row.currency.clone(),
        subtotal: neg(&row.subtotal)?,
        tax_rate: row.tax_rate.clone(),
        tax: neg(&row.tax)?,
        total: neg(&row.total)?,
        unpriced: "[]".into(),
        credit_for: Some(row.id),
        run_id: None,
    };
    db::invoices::insert_invoices(&mut tx, std::slice::from_ref(&credit), now_secs).await?;
    let credit_id = db::invoices::credit_note_of(&mut tx, row.id)
        .await?
        .ok_or_else(|| crate::ssr::auth::internal("void", "the credit note was not stored"))?;
    let lines = db::invoices::list_lines(&mut tx, row.id).await?;
    let reversed: Vec<LineRow> = lines
        .iter()
        .map(|l| {
            Ok(LineRow {
                invoice_id: credit_id,
                quantity: l.quantity.as_deref().map(neg).transpose()?,
                precise_amount: neg(&l.precise_amount)?,
                amount: neg(&l.amount)?,
                ..l.clone()
            })
        })
        .collect::<Result<_, AppError>>()?;
    db::invoices::insert_lines(&mut tx, &reversed).await?;
    let credit_number = allocate_number(&mut tx, state, row.registration_id, now.year()).await?;
    db::invoices::set_issued(
        &mut tx,
        credit_id,
        &credit_number,
        now_secs,
        now.date_naive(),
        &row.bill_to,
    )
    .await?;
    if db::invoices::set_void(&mut tx, row.id, credit_id).await? != 1 {
        return Err(AppError::conflict(
            "invoice_not_issued",
            format!("{number} was voided meanwhile."),
        ));
    }
    if db::invoices::count_issued(&mut tx, row.registration_id, row.period_start).await? == 0 {
        db::periods::unlock_period(&mut tx, row.registration_id, row.period_start).await?;
    }
    audit(
        &mut tx,
        by,
        "invoice.voided",
        &format!("invoice:{number}"),
        serde_json::json!({ "number": number, "credit_note": credit_number, "total": row.total, "currency": row.currency }),
        "",
        now_secs,
    )
    .await?;
    tx.commit().await?;
    Ok(credit_number)
}

/// The invoice fonts, parsed once per process and path (a CJK collection is tens of MB).
fn fonts(path: &str) -> Result<std::sync::Arc<super::invoice_pdf::Fonts>, AppError> {
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<super::invoice_pdf::Fonts>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(f) = cache.lock().ok().and_then(|c| c.get(path).cloned()) {
        return Ok(f);
    }
    let loaded =
        Arc::new(
            super::invoice_pdf::Fonts::load(std::path::Path::new(path)).map_err(|e| {
                AppError::new(
            ErrorKind::Unavailable,
            "invoice_font_missing",
            format!("Invoices cannot be rendered: {e}. Install Debian's fonts-noto-cjk or set STACKBILL_INVOICE_FONT."),
        )
            })?,
        );
    if let Ok(mut c) = cache.lock() {
        c.insert(path.to_owned(), loaded.clone());
    }
    Ok(loaded)
}

/// An invoice as PDF, for whoever may see it (404 otherwise): `(file name, bytes)`.
/// Rendered from the stored document only, so the same invoice gives the same bytes;
/// `with_detail` adds its usage detail pages (stored at issue; a draft's from today's usage).
pub async fn pdf(state: &AppState, by: &Caller, key: &str, with_detail: bool) -> Result<(String, Vec<u8>), AppError> {
    let mut d = detail(state, by, key).await?;
    let with_detail = with_detail && d.summary.kind == "invoice";
    if with_detail {
        let mut c = state.db.conn().await?;
        let rows = if d.summary.status == "draft" {
            let row = db::invoices::find_invoice(&mut c, d.summary.id)
                .await?
                .ok_or_else(|| AppError::not_found("invoice_not_found", "This draft was replaced meanwhile."))?;
            drop(c);
            super::invoice_detail::compute(state, &row).await?.0
        } else {
            db::invoices::list_usage_detail(&mut c, d.summary.id).await?
        };
        d.usage_detail = super::invoice_detail::view(&rows)?;
    }
    let fonts = fonts(&state.settings.invoice_font)?;
    let company = state.settings.company.clone();
    let stem = match &d.summary.number {
        Some(n) => n.clone(),
        None => format!("draft-{}", d.summary.id),
    };
    let name = if with_detail {
        format!("{stem}-detail.pdf")
    } else {
        format!("{stem}.pdf")
    };
    // Rendering is CPU work: off the async workers.
    let bytes = tokio::task::spawn_blocking(move || super::invoice_pdf::render(&d, &company, &fonts))
        .await
        .map_err(|e| crate::ssr::auth::internal("invoice pdf", e))??;
    Ok((name, bytes))
}

/// The columns of the invoice-lines export, in order (stable: Power BI and accounting
/// imports rely on them).
pub const LINE_COLUMNS: [&str; 21] = [
    "invoice_number",
    "kind",
    "status",
    "registration",
    "period",
    "billing_subscription_id",
    "customer_id",
    "bill_to",
    "currency",
    "position",
    "line_kind",
    "section",
    "cloud_tenant_id",
    "section_label",
    "meter_id",
    "meter_name",
    "service",
    "quantity",
    "unit",
    "unit_price",
    "amount",
];

/// Every line of a period's numbered documents (issued, void and credit notes; drafts are
/// not accounting documents) as rows of [`LINE_COLUMNS`]: ISO dates, dot decimals, UTF-8.
/// Staff only.
pub async fn lines_export(state: &AppState, by: &Caller, period: &str) -> Result<Vec<Vec<String>>, AppError> {
    by.require(Access::Staff)?;
    let period = period_of(period)?;
    let mut c = state.db.conn().await?;
    let invoices: HashMap<i64, InvoiceSummary> =
        db::invoices::list_invoices(&mut c, Some(period.first_day()), None, None)
            .await?
            .iter()
            .filter(|r| r.status != "draft")
            .map(|r| Ok((r.id, summary_of(r)?)))
            .collect::<Result<_, AppError>>()?;
    let lines = db::invoices::list_lines_of_period(&mut c, period.first_day()).await?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(lines
        .iter()
        .filter_map(|l| {
            let i = invoices.get(&l.invoice_id)?;
            Some(vec![
                i.number.clone().unwrap_or_default(),
                i.kind.clone(),
                i.status.clone(),
                i.registration.clone(),
                i.period.clone(),
                i.billing_subscription_id.clone(),
                i.customer_id.map(|c| c.to_string()).unwrap_or_default(),
                i.bill_to.name.clone(),
                i.currency.code().to_owned(),
                l.position.to_string(),
                l.line_kind.clone(),
                l.section_kind.clone(),
                opt(&l.cloud_tenant_id),
                l.section_label.clone(),
                opt(&l.meter_id),
                l.meter_name.clone(),
                l.service.clone(),
                opt(&l.quantity),
                l.unit.clone(),
                opt(&l.unit_price),
                l.amount.clone(),
            ])
        })
        .collect())
}

/// The export's rows as CSV with its header.
pub fn lines_csv(rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| crate::ssr::auth::internal("invoice lines csv", e);
    w.write_record(LINE_COLUMNS).map_err(fail)?;
    for r in rows {
        w.write_record(r).map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| crate::ssr::auth::internal("invoice lines csv", e))
}

/// What an issued usage line charged, for comparing with the month rated again.
fn issued_usage(l: &LineRow) -> Result<IssuedUsage, AppError> {
    let section = match (l.section_kind.as_str(), &l.cloud_tenant_id) {
        ("tenant", Some(t)) => Section::Tenant(parse_stored("cloud tenant", t, CloudTenantId::parse)?),
        _ => Section::Unassigned,
    };
    Ok(IssuedUsage {
        section,
        meter_id: parse_stored("meter", l.meter_id.as_deref().unwrap_or_default(), MeterId::parse)?,
        meter_name: l.meter_name.clone(),
        unit: l.unit.clone(),
        quantity: l
            .quantity
            .as_deref()
            .map(|q| decimal("quantity", q))
            .transpose()?
            .unwrap_or_default(),
        amount: decimal("amount", &l.amount)?,
    })
}

/// Every numbered document of a period (issued, void, credit notes) as PDFs in one zip,
/// `{number}.pdf` each, for finance. Deterministic like the PDFs (fixed entry times).
pub async fn period_zip(state: &AppState, by: &Caller, period: &str) -> Result<(String, Vec<u8>), AppError> {
    by.require(Access::Staff)?;
    let period = period_of(period)?;
    // Two statements for the whole month (documents, then every line), not two per document.
    let mut c = state.db.conn().await?;
    let rows: Vec<InvoiceRow> = db::invoices::list_invoices(&mut c, Some(period.first_day()), None, None)
        .await?
        .into_iter()
        .filter(|r| r.status != "draft")
        .collect();
    let mut lines: HashMap<i64, Vec<InvoiceLineView>> = HashMap::new();
    for l in db::invoices::list_lines_of_period(&mut c, period.first_day()).await? {
        lines.entry(l.invoice_id).or_default().push(line_of(&l)?);
    }
    drop(c);
    let details: Vec<InvoiceDetail> = rows
        .iter()
        .map(|r| {
            Ok(InvoiceDetail {
                summary: summary_of(r)?,
                lines: lines.remove(&r.id).unwrap_or_default(),
                unpriced: serde_json::from_str(&r.unpriced).unwrap_or_default(),
                usage_detail: Vec::new(),
            })
        })
        .collect::<Result<_, AppError>>()?;
    let fonts = fonts(&state.settings.invoice_font)?;
    let company = state.settings.company.clone();
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, AppError> {
        use std::io::Write;
        let fail = |e: &dyn std::fmt::Display| crate::ssr::auth::internal("invoice zip", e.to_string());
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        for d in &details {
            let pdf = super::invoice_pdf::render(d, &company, &fonts)?;
            let name = format!(
                "{}.pdf",
                d.summary.number.clone().unwrap_or_else(|| d.summary.id.to_string())
            );
            zip.start_file(name, options).map_err(|e| fail(&e))?;
            zip.write_all(&pdf).map_err(|e| fail(&e))?;
        }
        Ok(zip.finish().map_err(|e| fail(&e))?.into_inner())
    })
    .await
    .map_err(|e| crate::ssr::auth::internal("invoice zip", e))??;
    Ok((format!("invoices-{period}.zip"), bytes))
}

/// The columns of the invoices export, in order (stable).
pub const INVOICE_COLUMNS: [&str; 17] = [
    "invoice_number",
    "kind",
    "status",
    "registration",
    "period",
    "account_kind",
    "billing_subscription_id",
    "customer_id",
    "bill_to",
    "currency",
    "subtotal",
    "tax_rate",
    "tax",
    "total",
    "issued_on",
    "due_on",
    "credit_for",
];

/// Documents as CSV rows of [`INVOICE_COLUMNS`] (UTF-8, ISO dates, dot decimals).
pub fn invoices_csv(list: &[InvoiceSummary]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| crate::ssr::auth::internal("invoices csv", e);
    w.write_record(INVOICE_COLUMNS).map_err(fail)?;
    for i in list {
        let issued = i
            .issued_at
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|d| d.date_naive().to_string())
            .unwrap_or_default();
        w.write_record([
            i.number.clone().unwrap_or_default(),
            i.kind.clone(),
            i.status.clone(),
            i.registration.clone(),
            i.period.clone(),
            i.account_kind.clone(),
            i.billing_subscription_id.clone(),
            i.customer_id.map(|c| c.to_string()).unwrap_or_default(),
            i.bill_to.name.clone(),
            i.currency.code().to_owned(),
            i.subtotal.to_string(),
            i.tax_rate.to_string(),
            i.tax.to_string(),
            i.total.to_string(),
            issued,
            i.due_on.map(|d| d.to_string()).unwrap_or_default(),
            i.credit_for.clone().unwrap_or_default(),
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| crate::ssr::auth::internal("invoices csv", e))
}

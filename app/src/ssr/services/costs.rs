//! Cost figures for people and scripts: every billing account's total in a period, a
//! customer's cost over its accounts, and the home pages' month-to-date, forecast and
//! last-month tables. All of it is read from [`rating::rate_period`]; nothing here sums
//! money from SQL.

use super::rating::{self, Detail, PeriodRating, RegistrationRating, Scope};
use crate::billing::{
    AccountRating, BillingAccount, BillingPeriod, CloudTenantId, Currency, Rating, Section, UnratedLine,
};
use crate::error::AppError;
use crate::ssr::db::Db;
use crate::types::{AccountCost, AccountKind, CostOverview, CostRow, CustomerCost, PeriodCost, UnpricedUsage};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Rounds to the currency's minor unit and shows every decimal of it (`12.50`, not `12.5`).
fn amount(currency: Currency, value: Decimal) -> Decimal {
    let mut v = currency.round(value);
    v.rescale(currency.exponent());
    v
}

fn unpriced(lines: impl IntoIterator<Item = UnratedLine>) -> Vec<UnpricedUsage> {
    merge_unpriced(
        lines
            .into_iter()
            .map(|u| UnpricedUsage {
                meter_id: u.meter_id.to_string(),
                meter_name: u.meter_name,
                unit: u.usage_unit,
                quantity: u.quantity.value(),
            })
            .collect(),
    )
}

fn account_unpriced(a: &AccountRating) -> Vec<UnpricedUsage> {
    unpriced(a.sections.iter().flat_map(|s| s.unpriced.iter().cloned()))
}

/// The same account's total in another rating of the period (the forecast).
fn total_in(rating: Option<&Rating>, account: &BillingAccount, currency: Currency) -> Option<Decimal> {
    rating.map(|f| {
        f.accounts
            .iter()
            .find(|x| x.account == *account)
            .map(|x| x.total(currency).amount())
            .unwrap_or(Decimal::ZERO)
    })
}

fn section_total_in(
    rating: Option<&Rating>,
    account: &BillingAccount,
    section: Section,
    currency: Currency,
) -> Option<Decimal> {
    rating.map(|f| {
        f.accounts
            .iter()
            .filter(|x| x.account == *account)
            .flat_map(|x| x.sections.iter())
            .filter(|s| s.section == section)
            .map(|s| s.total(currency).amount())
            .sum()
    })
}

fn account_cost(p: &PeriodRating, r: &RegistrationRating, a: &AccountRating) -> AccountCost {
    let (kind, customer) = match a.account {
        BillingAccount::Customer { tenant, .. } => (AccountKind::CustomerSubscription, p.customers.get(&tenant)),
        BillingAccount::Base { .. } => (AccountKind::Base, None),
    };
    AccountCost {
        registration: r.name.clone(),
        billing_account: a.account.subscription().to_string(),
        kind,
        customer_id: customer.map(|c| c.0),
        customer_name: customer.map(|c| c.1.clone()),
        currency: r.currency,
        total: amount(r.currency, a.total(r.currency).amount()),
        forecast: total_in(r.forecast.as_ref(), &a.account, r.currency).map(|f| amount(r.currency, f)),
        unpriced: account_unpriced(a),
    }
}

/// Customer subscriptions first, then base subscriptions; by registration and name.
fn sort_accounts(accounts: &mut [AccountCost]) {
    accounts.sort_by(|a, b| {
        (
            a.kind == AccountKind::Base,
            &a.registration,
            &a.customer_name,
            &a.billing_account,
        )
            .cmp(&(
                b.kind == AccountKind::Base,
                &b.registration,
                &b.customer_name,
                &b.billing_account,
            ))
    });
}

fn accounts_of(p: &PeriodRating) -> Vec<AccountCost> {
    let mut out: Vec<AccountCost> = p
        .registrations
        .iter()
        .flat_map(|r| r.rating.accounts.iter().map(move |a| account_cost(p, r, a)))
        .collect();
    sort_accounts(&mut out);
    out
}

/// The period a caller named (`YYYY-MM`), or the month in progress at `now`.
pub fn period_or_current(raw: Option<&str>, now: DateTime<Utc>) -> Result<BillingPeriod, AppError> {
    match raw {
        Some(raw) => BillingPeriod::parse(raw).map_err(|e| AppError::invalid("period", e.to_string())),
        None => Ok(BillingPeriod::containing(now)),
    }
}

/// Every billing account's figures for `period` (`stackbill cost`); with a customer, that
/// customer's part of each account that bills its usage.
pub async fn period_cost(
    db: &Db,
    scope: Scope,
    period: BillingPeriod,
    as_of: DateTime<Utc>,
) -> Result<PeriodCost, AppError> {
    let p = rating::rate_period(db, scope, period, as_of, Detail::Lines).await?;
    Ok(PeriodCost {
        period,
        accounts: accounts_of(&p),
    })
}

/// A customer's cost in `period` over every account that bills its usage. The caller has
/// been authorised for this customer; an unknown id is 404.
pub async fn customer_cost(
    db: &Db,
    customer_id: i64,
    period: BillingPeriod,
    as_of: DateTime<Utc>,
) -> Result<CustomerCost, AppError> {
    let p = rating::rate_period(db, Scope::Customer(customer_id), period, as_of, Detail::Lines).await?;
    let accounts = accounts_of(&p);
    let currencies: std::collections::BTreeSet<Currency> = accounts.iter().map(|a| a.currency).collect();
    let currency = match currencies.len() {
        0 => None,
        1 => currencies.first().copied(),
        _ => None,
    };
    let single = currencies.len() <= 1;
    let total = single.then(|| accounts.iter().map(|a| a.total).sum::<Decimal>());
    let forecast = if single && accounts.iter().all(|a| a.forecast.is_some()) && period_started(period, as_of) {
        Some(accounts.iter().filter_map(|a| a.forecast).sum::<Decimal>())
    } else {
        None
    };
    let all_unpriced = unpriced(
        p.registrations
            .iter()
            .flat_map(|r| r.rating.accounts.iter())
            .flat_map(|a| a.sections.iter())
            .flat_map(|s| s.unpriced.iter().cloned()),
    );
    Ok(CustomerCost {
        customer_id,
        period,
        currency,
        total: total.map(|t| currency.map(|c| amount(c, t)).unwrap_or(t)),
        forecast: forecast.map(|f| currency.map(|c| amount(c, f)).unwrap_or(f)),
        accounts,
        unpriced: all_unpriced,
    })
}

fn period_started(period: BillingPeriod, as_of: DateTime<Utc>) -> bool {
    as_of >= period.start()
}

/// Month to date, forecast and last month per billing account and per customer, for the
/// operator's and finance's home pages. Data the billing core refuses becomes an
/// explanation on the page, not an error page.
pub async fn cost_overview(db: &Db, as_of: DateTime<Utc>) -> Result<CostOverview, AppError> {
    let period = BillingPeriod::containing(as_of);
    let previous = period.previous();
    let mut overview = CostOverview {
        period,
        previous,
        accounts: Vec::new(),
        customers: Vec::new(),
        more_accounts: 0,
        more_customers: 0,
        problem: None,
    };
    let rated = async {
        let now = rating::rate_period(db, Scope::Everything, period, as_of, Detail::Lines).await?;
        let before = rating::rate_period(db, Scope::Everything, previous, as_of, Detail::Lines).await?;
        Ok::<_, AppError>((now, before))
    }
    .await;
    let (now, before) = match rated {
        Ok(x) => x,
        Err(e) if e.code == rating::INVALID_DATA => {
            overview.problem = Some(e.message);
            return Ok(overview);
        }
        Err(e) => return Err(e),
    };
    (overview.accounts, overview.more_accounts) = largest(account_rows(&now, &before));
    (overview.customers, overview.more_customers) = largest(customer_rows(&now, &before));
    Ok(overview)
}

/// Rows a home page lists per table: the largest this month (then last month). Every
/// account is in `stackbill cost` and the API; the console pages through all of them.
pub const HOME_ROWS: usize = 20;

fn largest(mut rows: Vec<CostRow>) -> (Vec<CostRow>, usize) {
    // Stable: equal amounts keep the order by registration and name.
    rows.sort_by_key(|r| std::cmp::Reverse((r.month_to_date, r.last_month)));
    let more = rows.len().saturating_sub(HOME_ROWS);
    rows.truncate(HOME_ROWS);
    (rows, more)
}

fn account_rows(now: &PeriodRating, before: &PeriodRating) -> Vec<CostRow> {
    let mut rows: BTreeMap<(String, String), CostRow> = BTreeMap::new();
    let mut add = |p: &PeriodRating, current: bool| {
        for a in accounts_of(p) {
            let row = rows
                .entry((a.registration.clone(), a.billing_account.clone()))
                .or_insert_with(|| CostRow {
                    registration: a.registration.clone(),
                    reference: a.billing_account.clone(),
                    kind: Some(a.kind),
                    customer_id: a.customer_id,
                    customer_name: a.customer_name.clone(),
                    currency: a.currency,
                    month_to_date: amount(a.currency, Decimal::ZERO),
                    forecast: current.then(|| amount(a.currency, Decimal::ZERO)),
                    last_month: amount(a.currency, Decimal::ZERO),
                    unpriced: Vec::new(),
                });
            if current {
                row.month_to_date = a.total;
                row.forecast = a.forecast;
                row.unpriced = a.unpriced;
            } else {
                row.last_month = a.total;
            }
        }
    };
    add(now, true);
    add(before, false);
    let mut out: Vec<CostRow> = rows.into_values().collect();
    out.sort_by(|a, b| {
        (
            a.kind == Some(AccountKind::Base),
            &a.registration,
            &a.customer_name,
            &a.reference,
        )
            .cmp(&(
                b.kind == Some(AccountKind::Base),
                &b.registration,
                &b.customer_name,
                &b.reference,
            ))
    });
    out
}

/// One row per customer (or tenant without a customer record) and currency, summing its
/// sections over every account.
fn customer_rows(now: &PeriodRating, before: &PeriodRating) -> Vec<CostRow> {
    let mut rows: BTreeMap<(CloudTenantId, Currency), CostRow> = BTreeMap::new();
    let mut add = |p: &PeriodRating, current: bool| {
        for r in &p.registrations {
            for a in &r.rating.accounts {
                for s in &a.sections {
                    let Section::Tenant(tenant) = s.section else { continue };
                    let customer = now.customers.get(&tenant).or_else(|| before.customers.get(&tenant));
                    let zero = amount(r.currency, Decimal::ZERO);
                    let row = rows.entry((tenant, r.currency)).or_insert_with(|| CostRow {
                        registration: String::new(),
                        reference: tenant.to_string(),
                        kind: None,
                        customer_id: customer.map(|c| c.0),
                        customer_name: customer.map(|c| c.1.clone()),
                        currency: r.currency,
                        month_to_date: zero,
                        forecast: Some(zero),
                        last_month: zero,
                        unpriced: Vec::new(),
                    });
                    let total = s.total(r.currency).amount();
                    if current {
                        row.month_to_date = amount(r.currency, row.month_to_date + total);
                        let f = section_total_in(r.forecast.as_ref(), &a.account, s.section, r.currency)
                            .unwrap_or(Decimal::ZERO);
                        row.forecast = row.forecast.map(|x| amount(r.currency, x + f));
                        let mut merged = std::mem::take(&mut row.unpriced);
                        merged.extend(unpriced(s.unpriced.iter().cloned()));
                        row.unpriced = merge_unpriced(merged);
                    } else {
                        row.last_month = amount(r.currency, row.last_month + total);
                    }
                }
            }
        }
    };
    add(now, true);
    add(before, false);
    let mut out: Vec<CostRow> = rows.into_values().collect();
    out.sort_by(|a, b| {
        (a.customer_name.is_none(), &a.customer_name, &a.reference).cmp(&(
            b.customer_name.is_none(),
            &b.customer_name,
            &b.reference,
        ))
    });
    out
}

fn merge_unpriced(lines: Vec<UnpricedUsage>) -> Vec<UnpricedUsage> {
    let mut by_meter: BTreeMap<String, UnpricedUsage> = BTreeMap::new();
    for u in lines {
        by_meter
            .entry(u.meter_id.clone())
            .and_modify(|x| x.quantity += u.quantity)
            .or_insert(u);
    }
    by_meter.into_values().collect()
}

const CSV_HEADER: [&str; 10] = [
    "period",
    "registration",
    "billing_account",
    "kind",
    "customer_id",
    "customer_name",
    "currency",
    "total",
    "forecast",
    "unpriced_meters",
];

fn kind_code(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::CustomerSubscription => "customer_subscription",
        AccountKind::Base => "base",
    }
}

/// The figures as CSV: UTF-8, one row per account, dot decimals, stable columns
/// (`period,registration,billing_account,kind,customer_id,customer_name,currency,total,
/// forecast,unpriced_meters`; unpriced meters as `meter-id=quantity` joined by `;`).
pub fn to_csv(figures: &PeriodCost) -> Result<String, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| crate::ssr::auth::internal("cost csv", e);
    w.write_record(CSV_HEADER).map_err(fail)?;
    for a in &figures.accounts {
        let unpriced = a
            .unpriced
            .iter()
            .map(|u| format!("{}={}", u.meter_id, u.quantity.normalize()))
            .collect::<Vec<_>>()
            .join(";");
        w.write_record([
            figures.period.to_string(),
            a.registration.clone(),
            a.billing_account.clone(),
            kind_code(a.kind).to_owned(),
            a.customer_id.map(|i| i.to_string()).unwrap_or_default(),
            a.customer_name.clone().unwrap_or_default(),
            a.currency.code().to_owned(),
            a.total.to_string(),
            a.forecast.map(|f| f.to_string()).unwrap_or_default(),
            unpriced,
        ])
        .map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| crate::ssr::auth::internal("cost csv", e))?;
    String::from_utf8(bytes).map_err(|e| crate::ssr::auth::internal("cost csv", e))
}

/// Columns a character takes in a terminal: East Asian wide and full-width characters take
/// two (Hangul, CJK, kana, full-width forms), the rest one.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// The figures as an aligned text table for a terminal (names in Chinese take two columns
/// a character, and are padded as such).
pub fn to_table(figures: &PeriodCost) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "Registration".into(),
        "Billing account".into(),
        "Kind".into(),
        "Customer".into(),
        "Total".into(),
        "Forecast".into(),
        "Unpriced meters".into(),
    ]];
    for a in &figures.accounts {
        rows.push([
            a.registration.clone(),
            a.billing_account.clone(),
            kind_code(a.kind).into(),
            a.customer_name.clone().unwrap_or_else(|| "-".into()),
            format!("{} {}", a.currency.code(), a.total),
            a.forecast
                .map(|f| format!("{} {f}", a.currency.code()))
                .unwrap_or_else(|| "-".into()),
            a.unpriced.len().to_string(),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(display_width(cell));
        }
    }
    let mut out = format!("Cost for {} ({} accounts)\n", figures.period, figures.accounts.len());
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let pad = w - display_width(cell);
                if (4..=5).contains(&i) {
                    format!("{}{cell}", " ".repeat(pad))
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{display_width, largest, HOME_ROWS};
    use crate::billing::Currency;
    use crate::types::CostRow;
    use rust_decimal::Decimal;

    #[test]
    fn a_home_page_lists_the_largest_rows_and_counts_the_rest() {
        let rows: Vec<CostRow> = (0..HOME_ROWS as i64 + 5)
            .map(|n| CostRow {
                registration: "azs".into(),
                reference: format!("account {n}"),
                kind: None,
                customer_id: Some(n),
                customer_name: Some(format!("Customer {n}")),
                currency: Currency::USD,
                month_to_date: Decimal::new(n * 100, 2),
                forecast: None,
                last_month: Decimal::ZERO,
                unpriced: Vec::new(),
            })
            .collect();
        let (listed, more) = largest(rows);
        assert_eq!((listed.len(), more), (HOME_ROWS, 5));
        assert_eq!(listed[0].customer_id, Some(HOME_ROWS as i64 + 4));
        assert!(listed.windows(2).all(|w| w[0].month_to_date >= w[1].month_to_date));
    }

    #[test]
    fn chinese_names_take_two_columns_a_character() {
        assert_eq!(display_width("Fabrikam Télécom SA"), 19);
        assert_eq!(display_width("台灣雲端股份有限公司"), 20);
        assert_eq!(display_width("北京数据科技有限公司 Ltd"), 24);
    }
}

//! Customers' monthly budgets per billing account: set in the portal by the customer's own
//! users; the overview shows the share used and warns when the forecast crosses it.

use crate::billing::{Currency, SubscriptionId};
use crate::error::{AppError, ErrorKind};
use crate::ssr::auth::Caller;
use crate::ssr::db;
use crate::ssr::services::accounts::audit;
use crate::ssr::state::AppState;
use crate::types::{AccountCost, BudgetState, BudgetView};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The largest budget accepted (a typing slip, not a plan, beyond this).
const MAX_BUDGET: i64 = 1_000_000_000_000;

/// How spending stands against a budget: over once spent beyond it, warned when the
/// forecast crosses it.
pub fn budget_state(month_to_date: Decimal, forecast: Option<Decimal>, budget: Decimal) -> BudgetState {
    if month_to_date > budget {
        BudgetState::Over
    } else if forecast.is_some_and(|f| f > budget) {
        BudgetState::ForecastOver
    } else {
        BudgetState::Within
    }
}

/// A budget as typed: a positive amount in the currency's minor units at most.
pub fn parse_budget(raw: &str, currency: Currency) -> Result<Decimal, AppError> {
    let raw = raw.trim();
    let bad = |why: String| AppError::invalid("amount", why);
    let amount = Decimal::from_str(raw).map_err(|_| {
        bad(format!(
            "“{raw}” is not an amount; write it with a dot for decimals, like 1500.00."
        ))
    })?;
    if amount <= Decimal::ZERO {
        return Err(bad("A budget is more than zero; leave it empty to remove it.".into()));
    }
    if amount.normalize().scale() > currency.exponent() {
        return Err(bad(format!(
            "{currency} has {} decimal places; {raw} has more.",
            currency.exponent()
        )));
    }
    if amount > Decimal::from(MAX_BUDGET) {
        return Err(bad(format!("{raw} is more than any monthly budget Stackbill takes.")));
    }
    Ok(amount)
}

/// The budget rows of a customer's overview: one per billing account of this month or
/// last, with the budget set for it, if any.
pub async fn views(state: &AppState, customer_id: i64, accounts: &[AccountCost]) -> Result<Vec<BudgetView>, AppError> {
    let mut c = state.db.conn().await?;
    let set = db::budgets::list_budgets(&mut c, customer_id).await?;
    drop(c);
    Ok(accounts
        .iter()
        .map(|a| {
            let amount = set
                .iter()
                .find(|b| b.registration == a.registration && b.billing_subscription_id == a.billing_account)
                .and_then(|b| Decimal::from_str(&b.amount).ok());
            let used_percent = amount
                .filter(|b| !b.is_zero())
                .map(|b| (a.total / b * Decimal::ONE_HUNDRED).round());
            BudgetView {
                registration: a.registration.clone(),
                billing_account: a.billing_account.clone(),
                currency: a.currency,
                amount,
                month_to_date: a.total,
                forecast: a.forecast,
                used_percent,
                state: amount
                    .map(|b| budget_state(a.total, a.forecast, b))
                    .unwrap_or(BudgetState::Within),
            }
        })
        .collect())
}

/// Sets, replaces or (with an empty amount) removes the budget of one of the customer's
/// billing accounts: its own customer subscriptions of the registration, now or before,
/// or the registration's base. Only the customer's own users set budgets — staff viewing
/// as a customer read.
pub async fn set_budget(
    state: &AppState,
    by: &Caller,
    customer_id: i64,
    registration: &str,
    billing_account: &str,
    amount: &str,
) -> Result<(), AppError> {
    if by.customer_id != Some(customer_id) {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "view_as_read_only",
            "Budgets are set by the customer's own users; viewing as a customer is read-only.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let customer = db::customers::find_customer(&mut tx, customer_id)
        .await?
        .ok_or_else(|| AppError::not_found("customer_not_found", "This customer does not exist."))?;
    let reg = db::registrations::find_registration_by_name(&mut tx, registration.trim())
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "registration",
                format!("There is no registration “{}”.", registration.trim()),
            )
        })?;
    let account = SubscriptionId::parse(billing_account.trim())
        .map_err(|_| AppError::invalid("billing_account", "The billing account is a subscription GUID."))?
        .to_string();
    let own = db::mappings::list_mappings_of_tenant(&mut tx, customer.cloud_tenant_id)
        .await?
        .iter()
        .any(|m| m.registration_id == reg.id && m.subscription_id.eq_ignore_ascii_case(&account));
    if !own && !reg.base_subscription_id.eq_ignore_ascii_case(&account) {
        return Err(AppError::not_found(
            "billing_account_not_found",
            format!("{account} is not one of your billing accounts on {}.", reg.name),
        ));
    }
    let currency = Currency::parse(&reg.currency).map_err(|e| crate::ssr::auth::internal("currency", e))?;
    let now = state.now_secs();
    let amount = amount.trim();
    let details = if amount.is_empty() {
        db::budgets::delete_budget(&mut tx, customer_id, reg.id, &account).await?;
        serde_json::json!({ "registration": reg.name, "billing_account": account, "amount": null })
    } else {
        let value = parse_budget(amount, currency)?;
        db::budgets::upsert_budget(&mut tx, customer_id, reg.id, &account, &value.to_string(), now).await?;
        serde_json::json!({ "registration": reg.name, "billing_account": account, "amount": value.to_string(), "currency": currency.to_string() })
    };
    audit(
        &mut tx,
        by,
        "budget.set",
        &format!("customer:{customer_id}"),
        details,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_forecast_crossing_the_budget_warns_and_spending_beyond_it_is_over() {
        assert_eq!(budget_state(dec!(50), Some(dec!(90)), dec!(100)), BudgetState::Within);
        assert_eq!(budget_state(dec!(50), Some(dec!(100)), dec!(100)), BudgetState::Within);
        assert_eq!(
            budget_state(dec!(50), Some(dec!(100.01)), dec!(100)),
            BudgetState::ForecastOver
        );
        assert_eq!(
            budget_state(dec!(100.01), Some(dec!(150)), dec!(100)),
            BudgetState::Over
        );
        assert_eq!(budget_state(dec!(10), None, dec!(100)), BudgetState::Within);
    }

    #[test]
    fn budgets_are_positive_amounts_in_the_currencys_minor_units() {
        assert_eq!(parse_budget(" 1500.50 ", Currency::USD).unwrap(), dec!(1500.50));
        assert_eq!(parse_budget("1500.500", Currency::USD).unwrap(), dec!(1500.5));
        for bad in ["-5", "0", "abc", "NaN", "1,5", "1.001", "1e20", "99999999999999"] {
            let e = parse_budget(bad, Currency::USD).unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.field.as_deref()),
                ("invalid_input", Some("amount")),
                "{bad}"
            );
        }
    }
}

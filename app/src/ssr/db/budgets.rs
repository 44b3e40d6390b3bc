//! Customers' monthly budgets per billing account.

use super::{sql, AsExecutor, DbResult};
use sqlx::FromRow;

/// A budget.
#[derive(Debug, Clone, FromRow)]
pub struct BudgetRow {
    /// The registration's name.
    pub registration: String,
    /// The billing account's subscription.
    pub billing_subscription_id: String,
    /// Exact decimal string.
    pub amount: String,
}

/// A customer's budgets.
pub async fn list_budgets(c: &mut impl AsExecutor, customer_id: i64) -> DbResult<Vec<BudgetRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, BudgetRow>(
        "SELECT r.name AS registration, b.billing_subscription_id, b.amount FROM budgets b \
         JOIN registrations r ON r.id = b.registration_id WHERE b.customer_id = $1 \
         ORDER BY r.name, b.billing_subscription_id"
    )
    .bind(customer_id)
    .fetch_all(e)
    .await)?)
}

/// Sets (or replaces) a budget.
pub async fn upsert_budget(
    c: &mut impl AsExecutor,
    customer_id: i64,
    registration_id: i64,
    billing_subscription_id: &str,
    amount: &str,
    now: i64,
) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "INSERT INTO budgets (customer_id, registration_id, billing_subscription_id, amount, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id, registration_id, billing_subscription_id) \
         DO UPDATE SET amount = excluded.amount, updated_at = excluded.updated_at"
    )
    .bind(customer_id)
    .bind(registration_id)
    .bind(billing_subscription_id)
    .bind(amount)
    .bind(now)
    .execute(e)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Removes a budget; `true` when there was one.
pub async fn delete_budget(
    c: &mut impl AsExecutor,
    customer_id: i64,
    registration_id: i64,
    billing_subscription_id: &str,
) -> DbResult<bool> {
    Ok(sql!(c, |e| sqlx::query(
        "DELETE FROM budgets WHERE customer_id = $1 AND registration_id = $2 AND billing_subscription_id = $3"
    )
    .bind(customer_id)
    .bind(registration_id)
    .bind(billing_subscription_id)
    .execute(e)
    .await
    .map(|r| r.rows_affected() > 0))?)
}

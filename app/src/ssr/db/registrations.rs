//! Registrations (stamps) and their base subscriptions.

use super::{sql, AsExecutor, DbResult};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A `registrations` row.
#[derive(Debug, Clone, FromRow)]
pub struct RegistrationRow {
    /// Id.
    pub id: i64,
    /// Registration name.
    pub name: String,
    /// Base subscription (canonical GUID).
    pub base_subscription_id: String,
    /// Azure resource group of the registration resource.
    pub resource_group: String,
    /// Invoice currency.
    pub currency: String,
    /// First day billing may be dated on (mappings, owners, terms).
    pub active_from: NaiveDate,
    /// Unix seconds.
    pub created_at: i64,
    /// Azure Stack admin endpoint the collector reads (`https://adminmanagement.…`).
    pub usage_endpoint: Option<String>,
    /// The Default Provider Subscription the usage API is called on.
    pub provider_subscription_id: Option<String>,
    /// Environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// Command printing a bearer token.
    pub token_command: Option<String>,
}

const COLUMNS: &str = "id, name, base_subscription_id, resource_group, currency, active_from, \
                       created_at, usage_endpoint, provider_subscription_id, token_env, token_command";

/// A registration to create.
#[derive(Debug, Clone)]
pub struct NewRegistration<'a> {
    /// Name.
    pub name: &'a str,
    /// Canonical base subscription GUID.
    pub base_subscription_id: &'a str,
    /// Resource group.
    pub resource_group: &'a str,
    /// ISO currency code.
    pub currency: &'a str,
    /// First day billing may be dated on.
    pub active_from: NaiveDate,
}

/// Inserts a registration and returns its id.
pub async fn insert_registration(c: &mut impl AsExecutor, r: &NewRegistration<'_>, now: i64) -> DbResult<i64> {
    let q = "INSERT INTO registrations (name, base_subscription_id, resource_group, currency, active_from, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(r.name)
        .bind(r.base_subscription_id)
        .bind(r.resource_group)
        .bind(r.currency)
        .bind(r.active_from)
        .bind(now)
        .fetch_one(e)
        .await)?)
}

/// Updates a registration's settings (everything but its name).
pub async fn update_registration(c: &mut impl AsExecutor, id: i64, r: &NewRegistration<'_>) -> DbResult<()> {
    let q = "UPDATE registrations SET base_subscription_id = $2, resource_group = $3, currency = $4, \
             active_from = $5 WHERE id = $1";
    sql!(c, |e| sqlx::query(q)
        .bind(id)
        .bind(r.base_subscription_id)
        .bind(r.resource_group)
        .bind(r.currency)
        .bind(r.active_from)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether any user subscription of the registration has sent usage.
pub async fn has_usage(c: &mut impl AsExecutor, id: i64) -> DbResult<bool> {
    let found: Option<i64> = sql!(c, |e| sqlx::query_scalar(
        "SELECT us.id FROM user_subscriptions us WHERE us.registration_id = $1 \
         AND EXISTS (SELECT 1 FROM usage_daily d WHERE d.user_subscription_id = us.id) LIMIT 1"
    )
    .bind(id)
    .fetch_optional(e)
    .await)?;
    Ok(found.is_some())
}

/// The registration with this name.
pub async fn find_registration_by_name(c: &mut impl AsExecutor, name: &str) -> DbResult<Option<RegistrationRow>> {
    let q = format!("SELECT {COLUMNS} FROM registrations WHERE name = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, RegistrationRow>(&q)
        .bind(name)
        .fetch_optional(e)
        .await)?)
}

/// Every registration by name.
pub async fn list_registrations(c: &mut impl AsExecutor) -> DbResult<Vec<RegistrationRow>> {
    let q = format!("SELECT {COLUMNS} FROM registrations ORDER BY name");
    Ok(sql!(c, |e| sqlx::query_as::<_, RegistrationRow>(&q)
        .fetch_all(e)
        .await)?)
}

/// The registration with this id.
pub async fn find_registration(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<RegistrationRow>> {
    let q = format!("SELECT {COLUMNS} FROM registrations WHERE id = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, RegistrationRow>(&q)
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// Where the collector reads a registration's usage.
#[derive(Debug, Clone, Default)]
pub struct CollectorConfig<'a> {
    /// Admin endpoint.
    pub usage_endpoint: Option<&'a str>,
    /// Default Provider Subscription.
    pub provider_subscription_id: Option<&'a str>,
    /// Token environment variable.
    pub token_env: Option<&'a str>,
    /// Token command.
    pub token_command: Option<&'a str>,
}

/// Sets (or clears) the collector configuration of a registration.
pub async fn set_collector_config(c: &mut impl AsExecutor, id: i64, cfg: &CollectorConfig<'_>) -> DbResult<()> {
    let q = "UPDATE registrations SET usage_endpoint = $2, provider_subscription_id = $3, token_env = $4, \
             token_command = $5 WHERE id = $1";
    sql!(c, |e| sqlx::query(q)
        .bind(id)
        .bind(cfg.usage_endpoint)
        .bind(cfg.provider_subscription_id)
        .bind(cfg.token_env)
        .bind(cfg.token_command)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A registration with its headline counts.
#[derive(Debug, Clone, FromRow)]
pub struct RegistrationSummaryRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Base subscription.
    pub base_subscription_id: String,
    /// Currency.
    pub currency: String,
    /// Name of the default price sheet in effect today.
    pub price_sheet: Option<String>,
    /// Tenants with a customer subscription in effect here today.
    pub mapped_tenants: i64,
    /// User subscriptions on this stamp.
    pub user_subscriptions: i64,
}

/// Registrations with their counts as of `today`, by name.
pub async fn list_registration_summaries(
    c: &mut impl AsExecutor,
    today: NaiveDate,
) -> DbResult<Vec<RegistrationSummaryRow>> {
    let q = format!(
        "SELECT r.id, r.name, r.base_subscription_id, r.currency, \
         (SELECT p.name FROM registration_terms rt JOIN price_sheets p ON p.id = rt.price_sheet_id \
          WHERE rt.registration_id = r.id AND rt.effective_on <= $1 ORDER BY rt.effective_on DESC, rt.id DESC LIMIT 1) \
          AS price_sheet, \
         (SELECT COUNT(*) FROM customer_subscriptions cs WHERE cs.registration_id = r.id AND {}) AS mapped_tenants, \
         (SELECT COUNT(*) FROM user_subscriptions us WHERE us.registration_id = r.id) AS user_subscriptions \
         FROM registrations r ORDER BY r.name",
        super::mappings::IN_EFFECT_ON_1
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, RegistrationSummaryRow>(&q)
        .bind(today)
        .fetch_all(e)
        .await)?)
}

/// Number of registrations.
pub async fn count_registrations(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar("SELECT COUNT(*) FROM registrations")
        .fetch_one(e)
        .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn registrations_are_inserted_found_and_summarised() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let new = NewRegistration {
                name: "azurestack-northwest",
                base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                resource_group: "azurestack",
                currency: "USD",
                active_from: crate::billing::dated::since_always(),
            };
            let id = insert_registration(&mut c, &new, 1).await.unwrap();
            let found = find_registration_by_name(&mut c, "azurestack-northwest")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.id, id);
            assert_eq!(found.currency, "USD");
            update_registration(
                &mut c,
                id,
                &NewRegistration {
                    currency: "EUR",
                    ..new.clone()
                },
            )
            .await
            .unwrap();
            let summaries = list_registration_summaries(&mut c, "2026-01-01".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(summaries.len(), 1);
            assert_eq!(
                (summaries[0].currency.as_str(), summaries[0].mapped_tenants),
                ("EUR", 0)
            );
            assert!(insert_registration(&mut c, &new, 2)
                .await
                .unwrap_err()
                .is_unique_violation());
            assert_eq!(count_registrations(&mut c).await.unwrap(), 1);
        })
        .await;
    }
}

//! Registrations: adding a stamp and configuring where its usage is collected.

use crate::billing::{Currency, SubscriptionId};
use crate::error::AppError;
use crate::ssr::auth::Caller;
use crate::ssr::db::{self, registrations::CollectorConfig, registrations::NewRegistration};
use crate::ssr::services::accounts::audit;
use crate::ssr::state::AppState;

/// Where the collector reads usage, as given by an operator.
#[derive(Debug, Clone, Default)]
pub struct CollectorInput {
    /// Admin endpoint (`https://adminmanagement.{region}.{fqdn}`).
    pub usage_endpoint: Option<String>,
    /// Default Provider Subscription.
    pub provider_subscription: Option<String>,
    /// Environment variable holding a bearer token.
    pub token_env: Option<String>,
    /// Command printing a bearer token.
    pub token_command: Option<String>,
}

/// A registration to add.
#[derive(Debug, Clone)]
pub struct RegistrationInput {
    /// Name (as in Azure: usually `azurestack-<cloud id>`).
    pub name: String,
    /// Base (default) subscription.
    pub base_subscription: String,
    /// Resource group of the registration resource.
    pub resource_group: String,
    /// Invoice currency.
    pub currency: String,
    /// Collector configuration.
    pub collector: CollectorInput,
}

/// Checks a collector configuration: all or nothing, https, one token source.
pub fn check_collector(c: &CollectorInput) -> Result<(), AppError> {
    let any = c.usage_endpoint.is_some()
        || c.provider_subscription.is_some()
        || c.token_env.is_some()
        || c.token_command.is_some();
    if !any {
        return Ok(());
    }
    let endpoint = c
        .usage_endpoint
        .as_deref()
        .ok_or_else(|| AppError::invalid("usage-endpoint", "The collector needs the stamp's admin endpoint."))?;
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        return Err(AppError::invalid(
            "usage-endpoint",
            format!("`{endpoint}` is not an https:// URL."),
        ));
    }
    let provider = c.provider_subscription.as_deref().ok_or_else(|| {
        AppError::invalid(
            "provider-subscription",
            "The collector needs the Default Provider Subscription.",
        )
    })?;
    SubscriptionId::parse(provider).map_err(|e| AppError::invalid("provider-subscription", e.to_string()))?;
    match (&c.token_env, &c.token_command) {
        (Some(_), Some(_)) => Err(AppError::invalid(
            "token-env",
            "Give either --token-env or --token-command, not both.",
        )),
        (None, None) => Err(AppError::invalid(
            "token-env",
            "The collector needs --token-env VAR or --token-command CMD.",
        )),
        _ => Ok(()),
    }
}

/// Adds a registration (with its collector configuration, if any).
pub async fn add_registration(state: &AppState, by: &Caller, input: RegistrationInput) -> Result<i64, AppError> {
    let name = input.name.trim();
    if name.is_empty() || name.len() > 90 {
        return Err(AppError::invalid("name", "A registration name has 1 to 90 characters."));
    }
    let base = SubscriptionId::parse(&input.base_subscription)
        .map_err(|e| AppError::invalid("subscription", e.to_string()))?;
    let currency = Currency::parse(&input.currency).map_err(|e| AppError::invalid("currency", e.to_string()))?;
    check_collector(&input.collector)?;
    let provider = input
        .collector
        .provider_subscription
        .as_deref()
        .and_then(|p| SubscriptionId::parse(p).ok())
        .map(|p| p.to_string());
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    if db::registrations::find_registration_by_name(&mut tx, name)
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "registration_exists",
            format!("A registration named `{name}` already exists."),
        ));
    }
    let base_text = base.to_string();
    let new = NewRegistration {
        name,
        base_subscription_id: &base_text,
        resource_group: input.resource_group.trim(),
        currency: currency.code(),
        price_sheet_id: None,
        base_tax_rate: "0",
    };
    let id = db::registrations::insert_registration(&mut tx, &new, now).await?;
    let cfg = CollectorConfig {
        usage_endpoint: input
            .collector
            .usage_endpoint
            .as_deref()
            .map(|e| e.trim_end_matches('/')),
        provider_subscription_id: provider.as_deref(),
        token_env: input.collector.token_env.as_deref(),
        token_command: input.collector.token_command.as_deref(),
    };
    db::registrations::set_collector_config(&mut tx, id, &cfg).await?;
    audit(
        &mut tx,
        by,
        "registration.created",
        &format!("registration:{id}"),
        serde_json::json!({ "name": name, "base_subscription": base_text, "currency": currency.code(), "collector": cfg.usage_endpoint }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

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
    /// Program (and its arguments) printing a bearer token; run without a shell.
    pub token_command: Option<Vec<String>>,
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
    /// First day billing may be dated on (`None`: the first day of the current month,
    /// where the collector starts).
    pub active_from: Option<chrono::NaiveDate>,
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
    // The bearer token is an admin credential for the stamp: it only travels over TLS.
    // Plain http is allowed for the loopback interface (a local tunnel, the test stamp).
    let plain_loopback = endpoint.strip_prefix("http://").is_some_and(|rest| {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    if !(endpoint.starts_with("https://") || plain_loopback) {
        return Err(AppError::invalid(
            "usage-endpoint",
            format!("`{endpoint}` is not an https:// URL (plain http is only accepted for 127.0.0.1 and localhost)."),
        ));
    }
    let provider = c.provider_subscription.as_deref().ok_or_else(|| {
        AppError::invalid(
            "provider-subscription",
            "The collector needs the Default Provider Subscription.",
        )
    })?;
    SubscriptionId::parse(provider).map_err(|e| AppError::invalid("provider-subscription", e.to_string()))?;
    if c.token_command
        .as_ref()
        .is_some_and(|argv| argv.is_empty() || argv[0].trim().is_empty())
    {
        return Err(AppError::invalid("token-command", "The token command needs a program."));
    }
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
    by.require(crate::ssr::auth::Access::Operator)?;
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
    let active_from = input
        .active_from
        .unwrap_or_else(|| crate::billing::BillingPeriod::containing(state.clock.now()).first_day());
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
        active_from,
    };
    let id = db::registrations::insert_registration(&mut tx, &new, now).await?;
    // Its terms start with no default price sheet (every billable meter unpriced, shown
    // as such) and no tax, until an operator sets them.
    db::terms::insert_registration_terms(
        &mut tx,
        &db::terms::NewRegistrationTerms {
            registration_id: id,
            effective_on: active_from,
            price_sheet_id: None,
            tax_rate: "0",
            actor: &by.actor_code(),
            actor_label: &by.actor_label(),
        },
        now,
    )
    .await?;
    // Stored as a JSON array: the program and its arguments, never a shell line.
    let token_command = input
        .collector
        .token_command
        .as_ref()
        .map(|argv| serde_json::to_string(argv).unwrap_or_default());
    let cfg = CollectorConfig {
        usage_endpoint: input
            .collector
            .usage_endpoint
            .as_deref()
            .map(|e| e.trim_end_matches('/')),
        provider_subscription_id: provider.as_deref(),
        token_env: input.collector.token_env.as_deref(),
        token_command: token_command.as_deref(),
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

/// Moves a registration's first billable day back to `day` (never forward: usage already
/// dated from the old start stays billable).
pub async fn move_start_back(
    state: &AppState,
    by: &Caller,
    registration_id: i64,
    day: chrono::NaiveDate,
) -> Result<(), AppError> {
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let reg = db::registrations::find_registration(&mut tx, registration_id)
        .await?
        .ok_or_else(|| AppError::not_found("registration_not_found", "No such registration."))?;
    if day >= reg.active_from {
        return Ok(());
    }
    let update = NewRegistration {
        name: &reg.name,
        base_subscription_id: &reg.base_subscription_id,
        resource_group: &reg.resource_group,
        currency: &reg.currency,
        active_from: day,
    };
    db::registrations::update_registration(&mut tx, reg.id, &update).await?;
    audit(
        &mut tx,
        by,
        "registration.start_moved",
        &format!("registration:{}", reg.id),
        serde_json::json!({ "from": reg.active_from, "to": day }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every registration with its headline figures. Staff only.
pub async fn list(state: &AppState, by: &Caller) -> Result<Vec<crate::types::RegistrationSummary>, AppError> {
    by.require(crate::ssr::auth::Access::Staff)?;
    // The rows alone: the operator overview would also rate every account.
    let mut c = state.db.conn().await?;
    crate::ssr::services::overview::registration_summaries(&mut c, state.clock.now().date_naive()).await
}

/// One registration with its collector's settings and state and its records per day over
/// the last 30 days. Staff only; the token itself is never read, only where it comes from.
pub async fn detail(state: &AppState, by: &Caller, id: i64) -> Result<crate::types::RegistrationDetail, AppError> {
    by.require(crate::ssr::auth::Access::Staff)?;
    let today = state.clock.now().date_naive();
    let not_found = || AppError::not_found("registration_not_found", format!("There is no registration {id}."));
    let reg = crate::ssr::services::lookup::registration_by_id(&state.db, id)
        .await
        .map_err(|_| not_found())?;
    let summary = list(state, by)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(not_found)?;
    let collector = crate::ssr::services::collector::status(&state.db, Some(&reg.name))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| crate::ssr::auth::internal("collector status", "missing"))?;
    let from = today - chrono::Duration::days(29);
    let mut c = state.db.conn().await?;
    let counts: std::collections::HashMap<chrono::NaiveDate, i64> =
        db::usage::registration_day_counts(&mut c, id, from, today + chrono::Duration::days(1))
            .await?
            .into_iter()
            .collect();
    let days = (0..30)
        .map(|i| {
            let day = from + chrono::Duration::days(i);
            crate::types::DayRecords {
                day,
                records: counts.get(&day).copied().unwrap_or(0),
            }
        })
        .collect();
    let token_source = match (&reg.token_env, &reg.token_command) {
        (Some(v), _) => Some(format!("environment variable {v}")),
        (None, Some(_)) => Some("command (configured with stackbill registration add)".to_owned()),
        (None, None) => None,
    };
    Ok(crate::types::RegistrationDetail {
        summary,
        token_env: reg.token_env.clone(),
        resource_group: reg.resource_group,
        active_from: reg.active_from,
        usage_endpoint: reg.usage_endpoint,
        provider_subscription_id: reg.provider_subscription_id,
        token_source,
        collector,
        days,
    })
}

/// Changes a registration's settings from the console's form: resource group and collector
/// (the name is how Azure and the usage API know it and does not change). The base
/// subscription and the currency may change only until usage arrives — every period already
/// rated, invoiced or shown to a customer used them. A token command configured with the CLI
/// is kept unless the form names a token environment variable. Operators only; audited.
pub async fn update_from_form(
    state: &AppState,
    by: &Caller,
    id: i64,
    f: &crate::types::RegistrationForm,
) -> Result<(), AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let base = SubscriptionId::parse(&f.base_subscription_id)
        .map_err(|e| AppError::invalid("base_subscription_id", e.to_string()))?;
    let currency = Currency::parse(f.currency.trim()).map_err(|e| AppError::invalid("currency", e.to_string()))?;
    let resource_group = opt(&f.resource_group).unwrap_or_else(|| "azurestack".to_owned());
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let reg = db::registrations::find_registration(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("registration_not_found", format!("There is no registration {id}.")))?;
    let collector = CollectorInput {
        usage_endpoint: opt(&f.usage_endpoint),
        provider_subscription: opt(&f.provider_subscription_id),
        token_env: opt(&f.token_env),
        token_command: match opt(&f.token_env) {
            Some(_) => None,
            None => reg
                .token_command
                .as_deref()
                .and_then(|c| serde_json::from_str::<Vec<String>>(c).ok()),
        },
    };
    check_collector(&collector).map_err(|e| {
        let field = e.field.as_deref().map(|f| match f {
            "usage-endpoint" => "usage_endpoint",
            "provider-subscription" => "provider_subscription_id",
            _ => "token_env",
        });
        AppError {
            field: field.map(str::to_owned),
            ..e
        }
    })?;
    let base_text = base.to_string();
    let changes_money = base_text != reg.base_subscription_id || currency.code() != reg.currency;
    if changes_money && db::registrations::has_usage(&mut tx, id).await? {
        let field = if base_text != reg.base_subscription_id {
            "base_subscription_id"
        } else {
            "currency"
        };
        return Err(AppError::invalid(
            field,
            "The base subscription and the currency cannot change once usage has arrived: \
             the periods already rated and invoiced used them. Add a new registration instead.",
        ));
    }
    if currency.code() != reg.currency {
        for t in db::terms::list_registration_terms(&mut tx, id).await? {
            if let Some(sheet) = t.price_sheet_id {
                let row = db::price_sheets::find_price_sheet(&mut tx, sheet).await?;
                if let Some(row) = row.filter(|r| r.currency != currency.code()) {
                    return Err(AppError::invalid(
                        "currency",
                        format!("Its default price sheet `{}` is in {}.", row.name, row.currency),
                    ));
                }
            }
        }
    }
    db::registrations::update_registration(
        &mut tx,
        id,
        &NewRegistration {
            name: &reg.name,
            base_subscription_id: &base_text,
            resource_group: &resource_group,
            currency: currency.code(),
            active_from: reg.active_from,
        },
    )
    .await?;
    let provider = collector
        .provider_subscription
        .as_deref()
        .and_then(|p| SubscriptionId::parse(p).ok())
        .map(|p| p.to_string());
    let token_command = collector
        .token_command
        .as_ref()
        .map(|argv| serde_json::to_string(argv).unwrap_or_default());
    let cfg = CollectorConfig {
        usage_endpoint: collector.usage_endpoint.as_deref().map(|e| e.trim_end_matches('/')),
        provider_subscription_id: provider.as_deref(),
        token_env: collector.token_env.as_deref(),
        token_command: token_command.as_deref(),
    };
    db::registrations::set_collector_config(&mut tx, id, &cfg).await?;
    audit(
        &mut tx,
        by,
        "registration.updated",
        &format!("registration:{id}"),
        serde_json::json!({
            "before": {
                "base_subscription": reg.base_subscription_id, "resource_group": reg.resource_group,
                "currency": reg.currency, "usage_endpoint": reg.usage_endpoint,
                "provider_subscription": reg.provider_subscription_id, "token_env": reg.token_env,
            },
            "after": {
                "base_subscription": base_text, "resource_group": resource_group,
                "currency": currency.code(), "usage_endpoint": cfg.usage_endpoint,
                "provider_subscription": cfg.provider_subscription_id, "token_env": cfg.token_env,
            },
        }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a registration from the console's form. Operators only; audited.
pub async fn create_from_form(
    state: &AppState,
    by: &Caller,
    f: &crate::types::RegistrationForm,
) -> Result<i64, AppError> {
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let active_from = crate::ssr::services::lookup::day(&f.active_from, "active_from")?;
    let input = RegistrationInput {
        name: f.name.clone(),
        base_subscription: f.base_subscription_id.clone(),
        resource_group: opt(&f.resource_group).unwrap_or_else(|| "azurestack".to_owned()),
        currency: f.currency.trim().to_uppercase(),
        active_from,
        collector: CollectorInput {
            usage_endpoint: opt(&f.usage_endpoint),
            provider_subscription: opt(&f.provider_subscription_id),
            token_env: opt(&f.token_env),
            token_command: None,
        },
    };
    add_registration(state, by, input).await.map_err(|e| {
        // The console's field names (the CLI's flags are spelled with hyphens).
        let field = e.field.as_deref().map(|f| match f {
            "subscription" => "base_subscription_id",
            "usage-endpoint" => "usage_endpoint",
            "provider-subscription" => "provider_subscription_id",
            "token-env" | "token" | "token-command" => "token_env",
            other => other,
        });
        AppError {
            field: field.map(str::to_owned),
            ..e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_endpoint(url: &str) -> CollectorInput {
        CollectorInput {
            usage_endpoint: Some(url.into()),
            provider_subscription: Some("d9b782d5-d098-4374-8f2c-3907cc34611c".into()),
            token_env: Some("AZS_TOKEN".into()),
            token_command: None,
        }
    }

    #[test]
    fn the_token_only_travels_over_tls_or_loopback() {
        for ok in [
            "https://adminmanagement.local.azurestack.external",
            "http://127.0.0.1:8080",
            "http://localhost/",
            "http://[::1]:9000",
        ] {
            assert!(check_collector(&with_endpoint(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://adminmanagement.local.azurestack.external",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "ftp://x",
            "adminmanagement.local",
        ] {
            assert!(check_collector(&with_endpoint(bad)).is_err(), "{bad}");
        }
        // Nothing configured is fine; half a configuration is not.
        assert!(check_collector(&CollectorInput::default()).is_ok());
        let mut half = with_endpoint("https://x.example");
        half.token_env = None;
        assert!(check_collector(&half).is_err());
    }
}

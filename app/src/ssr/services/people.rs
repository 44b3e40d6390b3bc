//! Users and API tokens in the console and `/api/v1`: the same credential services as the
//! command line (`accounts`), reached by id and with typed input checked field by field.
//! Secrets (a generated password, a new token) are returned once and never stored.

use crate::error::AppError;
use crate::i18n::Locale;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, from_unix};
use crate::ssr::services::accounts::{self, TokenInput, UserInput};
use crate::ssr::services::lookup;
use crate::ssr::state::AppState;
use crate::types::{People, Role, ShownOnce, TokenForm, TokenView, UserForm, UserView};
use std::collections::HashMap;

/// Every user and token. Staff only (finance reads, operators change).
pub async fn people(state: &AppState, by: &Caller) -> Result<People, AppError> {
    by.require(Access::Staff)?;
    let mut c = state.db.conn().await?;
    let user_rows = db::users::list_users(&mut c).await?;
    let token_rows = db::tokens::list_tokens(&mut c).await?;
    // The names of the customers these users and tokens belong to, not every customer.
    let mut ids: Vec<i64> = user_rows
        .iter()
        .filter_map(|u| u.customer_id)
        .chain(token_rows.iter().filter_map(|t| t.customer_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let customers: HashMap<i64, String> = db::customers::names_of(&mut c, &ids).await?;
    let users = user_rows
        .into_iter()
        .map(|u| {
            Ok(UserView {
                id: u.id,
                customer: u.customer_id.and_then(|id| customers.get(&id).cloned()),
                email: u.email,
                display_name: u.display_name,
                role: u.role,
                locale: u.locale,
                disabled: u.disabled_at.is_some(),
                last_sign_in_at: u.last_sign_in_at.map(from_unix).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let tokens = token_rows
        .into_iter()
        .map(|t| {
            Ok(TokenView {
                id: t.id,
                customer: t.customer_id.and_then(|id| customers.get(&id).cloned()),
                name: t.name,
                prefix: t.token_prefix,
                role: t.role,
                registration: t.registration_name,
                last_used_at: t.last_used_at.map(from_unix).transpose()?,
                expires_at: t.expires_at.map(from_unix).transpose()?,
                revoked: t.revoked_at.is_some(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(People { users, tokens })
}

fn role(raw: &str) -> Result<Role, AppError> {
    Role::parse(raw).ok_or_else(|| AppError::invalid("role", format!("`{}` is not a role.", raw.trim())))
}

async fn customer(state: &AppState, raw: &str) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        key => lookup::resolve_customer(&state.db, key).await.map(Some),
    }
}

/// Adds a person; with no password given, one is generated and returned once.
pub async fn create_user(state: &AppState, by: &Caller, form: &UserForm) -> Result<(i64, Option<ShownOnce>), AppError> {
    by.require(Access::Operator)?;
    let generated = form.password.is_empty();
    let password = if generated {
        crate::ssr::auth::generate_password()
    } else {
        form.password.clone()
    };
    let locale = match form.locale.trim() {
        "" => Locale::En,
        raw => Locale::parse(raw)
            .ok_or_else(|| AppError::invalid("locale", format!("`{raw}` is not a supported language.")))?,
    };
    let input = UserInput {
        email: form.email.clone(),
        display_name: Some(form.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
        role: role(&form.role)?,
        customer_id: customer(state, &form.customer).await?,
        password: password.clone(),
        locale,
    };
    let id = accounts::create_user(state, by, input).await?;
    let shown = generated.then(|| ShownOnce {
        of: form.email.trim().to_lowercase(),
        secret: password,
    });
    Ok((id, shown))
}

async fn email_of(state: &AppState, id: i64) -> Result<String, AppError> {
    db::users::find_user(&mut state.db.conn().await?, id)
        .await?
        .map(|u| u.email)
        .ok_or_else(|| AppError::not_found("user_not_found", format!("There is no user {id}.")))
}

/// Disables (ending every session at once) or enables a user. Not the last operator.
pub async fn set_enabled(state: &AppState, by: &Caller, id: i64, enabled: bool) -> Result<(), AppError> {
    by.require(Access::Operator)?;
    let email = email_of(state, id).await?;
    accounts::set_user_enabled(state, by, &email, enabled).await
}

/// Sets a new password (given, or generated and returned once); every session ends.
pub async fn reset_password(
    state: &AppState,
    by: &Caller,
    id: i64,
    password: &str,
) -> Result<Option<ShownOnce>, AppError> {
    by.require(Access::Operator)?;
    let email = email_of(state, id).await?;
    let given = (!password.is_empty()).then(|| password.to_owned());
    let generated = given.is_none();
    let secret = accounts::reset_password(state, by, &email, given).await?;
    Ok(generated.then_some(ShownOnce { of: email, secret }))
}

/// Ends every session of a user.
pub async fn sign_out_everywhere(state: &AppState, by: &Caller, id: i64) -> Result<u64, AppError> {
    by.require(Access::Operator)?;
    let email = email_of(state, id).await?;
    accounts::sign_out_everywhere(state, by, &email).await
}

/// Creates an API token; the token is returned once.
pub async fn create_token(state: &AppState, by: &Caller, form: &TokenForm) -> Result<(i64, ShownOnce), AppError> {
    by.require(Access::Operator)?;
    let role = role(&form.role)?;
    let registration_id = match form.registration.trim() {
        "" => None,
        key => Some(lookup::registration_by_key(&state.db, key, "registration").await?.id),
    };
    let expires_in = match form.expires_in.trim() {
        "" => accounts::default_token_lifetime(role),
        raw => accounts::parse_expires_in(raw).map_err(|e| AppError {
            field: Some("expires_in".into()),
            ..e
        })?,
    };
    let input = TokenInput {
        name: form.name.clone(),
        role,
        customer_id: customer(state, &form.customer).await?,
        registration_id,
        expires_in,
    };
    let (id, secret) = accounts::create_token(state, by, input).await?;
    Ok((
        id,
        ShownOnce {
            of: form.name.trim().to_owned(),
            secret,
        },
    ))
}

/// Revokes a token: it stops working at once.
pub async fn revoke_token(state: &AppState, by: &Caller, id: i64) -> Result<(), AppError> {
    by.require(Access::Operator)?;
    accounts::revoke_token(state, by, id).await
}

//! People and tokens: creating users, signing in (with throttling), API tokens.

use crate::error::AppError;
use crate::i18n::Locale;
use crate::ssr::auth::{self, Caller};
use crate::ssr::db::{self, audit::AuditEntry, users::NewUser, users::UserRow, AsExecutor};
use crate::ssr::state::AppState;
use crate::types::Role;

/// Longest email accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Parses an email address loosely but usefully: one `@`, a non-empty local part, a
/// domain with a dot, no spaces or control characters. Returns it lower-cased.
pub fn parse_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::invalid("email", format!("`{}` is not a valid email address.", raw.trim()));
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(email)
    } else {
        Err(invalid())
    }
}

/// A person to add.
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Email as typed.
    pub email: String,
    /// Display name (defaults to the email's local part).
    pub display_name: Option<String>,
    /// Role (never `ingest`).
    pub role: Role,
    /// Customer id, required for customer users and refused for staff.
    pub customer_id: Option<i64>,
    /// Password (already checked against the policy by [`create_user`]).
    pub password: String,
    /// Locale.
    pub locale: Locale,
}

/// Creates a user after validating everything; nothing is written when any check fails.
pub async fn create_user(state: &AppState, by: &Caller, input: UserInput) -> Result<i64, AppError> {
    let email = parse_email(&input.email)?;
    if !input.role.is_person_role() {
        return Err(AppError::invalid(
            "role",
            "People can be operator, finance or customer.",
        ));
    }
    match (input.role, input.customer_id) {
        (Role::Customer, None) => {
            return Err(AppError::invalid(
                "customer",
                "A customer user needs the customer they belong to.",
            ))
        }
        (Role::Operator | Role::Finance, Some(_)) => {
            return Err(AppError::invalid(
                "customer",
                "Only customer users belong to a customer.",
            ))
        }
        _ => {}
    }
    auth::check_password_policy(&input.password)?;
    let display_name = input
        .display_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let hash = auth::hash_password(input.password).await?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    if let Some(customer_id) = input.customer_id {
        if db::customers::find_customer(&mut tx, customer_id).await?.is_none() {
            return Err(AppError::invalid(
                "customer",
                format!("There is no customer {customer_id}."),
            ));
        }
    }
    if db::users::find_user_by_email(&mut tx, &email).await?.is_some() {
        return Err(AppError::conflict(
            "email_taken",
            format!("A user with the email {email} already exists."),
        ));
    }
    let new = NewUser {
        email: &email,
        display_name: &display_name,
        password_hash: &hash,
        role: input.role.as_str(),
        customer_id: input.customer_id,
        locale: input.locale.tag(),
    };
    let id = db::users::insert_user(&mut tx, &new, now).await?;
    audit(
        &mut tx,
        by,
        "user.created",
        &format!("user:{id}"),
        serde_json::json!({ "email": email, "role": input.role, "customer_id": input.customer_id }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Creates or resets a user with a known password (the demo seed's idempotent path).
pub async fn upsert_user(state: &AppState, input: UserInput) -> Result<i64, AppError> {
    let email = parse_email(&input.email)?;
    auth::check_password_policy(&input.password)?;
    let hash = auth::hash_password(input.password).await?;
    let display_name = input.display_name.unwrap_or_default();
    let new = NewUser {
        email: &email,
        display_name: &display_name,
        password_hash: &hash,
        role: input.role.as_str(),
        customer_id: input.customer_id,
        locale: input.locale.tag(),
    };
    let mut tx = state.db.begin().await?;
    let id = match db::users::find_user_by_email(&mut tx, &email).await? {
        Some(existing) => {
            db::users::update_user(&mut tx, existing.id, &new).await?;
            existing.id
        }
        None => db::users::insert_user(&mut tx, &new, state.now_secs()).await?,
    };
    tx.commit().await?;
    Ok(id)
}

/// Signs a person in: throttling first, then the password. An unknown email and a wrong
/// password give the same answer after the same work. Returns the user on success; the
/// caller (the server function) renews the session id and stores the user in it.
///
/// The attempt is recorded as a failure *before* the counts are read and the password is
/// checked (and forgotten again on success), so parallel guesses cannot all pass the
/// check while the slow hash runs: the n-th concurrent attempt sees at least n failures.
pub async fn sign_in(state: &AppState, email: &str, password: &str, client_addr: &str) -> Result<UserRow, AppError> {
    if email.len() > MAX_EMAIL_LEN || password.len() > auth::MAX_PASSWORD_BYTES {
        return Err(AppError::invalid_credentials());
    }
    let account_key = email.trim().to_lowercase();
    let now = state.now_secs();
    let settings = &state.settings;
    let since = now - settings.sign_in_window_secs;
    let mut c = state.db.conn().await?;
    let attempt = db::throttle::insert_failure(&mut c, &account_key, client_addr, now).await?;
    let (by_account, oldest_a) = db::throttle::failures_for_account(&mut c, &account_key, since).await?;
    let (by_client, oldest_c) = db::throttle::failures_for_client(&mut c, client_addr, since).await?;
    // The counts include this attempt.
    let account_limited = by_account > settings.sign_in_max_failures;
    let client_limited = by_client > settings.sign_in_max_failures * 4;
    if account_limited || client_limited {
        db::throttle::delete_failure(&mut c, attempt).await?;
        let oldest = match (account_limited, client_limited) {
            (true, true) => oldest_a.max(oldest_c),
            (true, false) => oldest_a,
            _ => oldest_c,
        }
        .unwrap_or(now);
        let retry_after = (oldest + settings.sign_in_window_secs - now).max(1) as u64;
        return Err(AppError::too_many_attempts(retry_after));
    }

    let user = db::users::find_user_by_email(&mut c, &account_key).await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => auth::dummy_hash().await,
    };
    let password_ok = auth::verify_password(hash, password.to_owned()).await;
    match user {
        Some(u) if password_ok && u.disabled_at.is_none() => {
            db::throttle::clear_account(&mut c, &account_key).await?;
            db::users::touch_sign_in(&mut c, u.id, now).await?;
            let entry = AuditEntry {
                actor: &format!("user:{}", u.id),
                actor_label: &u.email,
                action: "sign_in.succeeded",
                subject: &format!("user:{}", u.id),
                details: serde_json::json!({}),
                client_addr,
            };
            db::audit::insert_audit(&mut c, &entry, now).await?;
            Ok(u)
        }
        _ => {
            // The reserved row stays: it is this failure.
            let entry = AuditEntry {
                actor: "anonymous",
                actor_label: &account_key,
                action: "sign_in.failed",
                subject: "",
                details: serde_json::json!({}),
                client_addr,
            };
            db::audit::insert_audit(&mut c, &entry, now).await?;
            Err(AppError::invalid_credentials())
        }
    }
}

/// Records a sign-out.
pub async fn record_sign_out(state: &AppState, caller: &Caller, client_addr: &str) -> Result<(), AppError> {
    let mut c = state.db.conn().await?;
    audit(
        &mut c,
        caller,
        "sign_out",
        &caller.actor_code(),
        serde_json::json!({}),
        client_addr,
        state.now_secs(),
    )
    .await
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct TokenInput {
    /// Name (what the script is).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Customer, for customer tokens.
    pub customer_id: Option<i64>,
}

/// Creates an API token and returns `(id, token)`; the token is shown once and only its
/// hash is kept.
pub async fn create_token(state: &AppState, by: &Caller, input: TokenInput) -> Result<(i64, String), AppError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid(
            "name",
            "Give the token a name of 1 to 100 characters.",
        ));
    }
    match (input.role, input.customer_id) {
        (Role::Customer, None) => {
            return Err(AppError::invalid(
                "customer",
                "A customer token needs the customer it belongs to.",
            ))
        }
        (Role::Operator | Role::Finance | Role::Ingest, Some(_)) => {
            return Err(AppError::invalid(
                "customer",
                "Only customer tokens belong to a customer.",
            ))
        }
        _ => {}
    }
    let token = auth::generate_token();
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    if let Some(customer_id) = input.customer_id {
        if db::customers::find_customer(&mut tx, customer_id).await?.is_none() {
            return Err(AppError::invalid(
                "customer",
                format!("There is no customer {customer_id}."),
            ));
        }
    }
    let id = db::tokens::insert_token(
        &mut tx,
        name,
        &auth::token_display_prefix(&token),
        &auth::hash_token(&token),
        input.role.as_str(),
        input.customer_id,
        now,
    )
    .await?;
    audit(
        &mut tx,
        by,
        "token.created",
        &format!("token:{id}"),
        serde_json::json!({ "name": name, "role": input.role, "customer_id": input.customer_id }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// Appends an audit entry for a caller's action.
pub async fn audit(
    c: &mut impl AsExecutor,
    by: &Caller,
    action: &str,
    subject: &str,
    details: serde_json::Value,
    client_addr: &str,
    now: i64,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor: &by.actor_code(),
        actor_label: &by.actor_label(),
        action,
        subject,
        details,
        client_addr,
    };
    db::audit::insert_audit(c, &entry, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::TestDb;
    use crate::ssr::state::Settings;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(parse_email("  Ops@Example.COM ").unwrap(), "ops@example.com");
        for bad in [
            "",
            "no-at",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@.com",
            "a@example.",
        ] {
            let err = parse_email(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad}");
        }
    }

    async fn state() -> (TestDb, AppState) {
        let t = TestDb::sqlite().await;
        let s = AppState::new(t.db.clone(), Settings::default());
        (t, s)
    }

    #[tokio::test]
    async fn invalid_users_are_refused_and_nothing_is_written() {
        let (t, state) = state().await;
        let base = UserInput {
            email: "fin@example.test".into(),
            display_name: None,
            role: Role::Finance,
            customer_id: None,
            password: "long enough password".into(),
            locale: Locale::En,
        };
        let cases = [
            (
                UserInput {
                    email: "nope".into(),
                    ..base.clone()
                },
                "email",
            ),
            (
                UserInput {
                    role: Role::Customer,
                    ..base.clone()
                },
                "customer",
            ),
            (
                UserInput {
                    customer_id: Some(1),
                    ..base.clone()
                },
                "customer",
            ),
            (
                UserInput {
                    role: Role::Ingest,
                    ..base.clone()
                },
                "role",
            ),
            (
                UserInput {
                    password: "short".into(),
                    ..base.clone()
                },
                "password",
            ),
            (
                UserInput {
                    role: Role::Customer,
                    customer_id: Some(999),
                    ..base.clone()
                },
                "customer",
            ),
        ];
        for (input, field) in cases {
            let err = create_user(&state, &Caller::cli(), input).await.unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
        }
        let mut c = state.db.conn().await.unwrap();
        assert_eq!(db::users::count_users(&mut c).await.unwrap(), 0);
        create_user(&state, &Caller::cli(), base.clone()).await.unwrap();
        let dup = create_user(&state, &Caller::cli(), base).await.unwrap_err();
        assert_eq!(dup.code, "email_taken");
        drop(c);
        t.dispose().await;
    }

    #[tokio::test]
    async fn sign_in_answers_the_same_for_unknown_users_and_wrong_passwords_then_throttles() {
        let (t, state) = state().await;
        let input = UserInput {
            email: "ops@example.test".into(),
            display_name: Some("Ops".into()),
            role: Role::Operator,
            customer_id: None,
            password: "correct horse battery".into(),
            locale: Locale::En,
        };
        create_user(&state, &Caller::cli(), input).await.unwrap();
        let ok = sign_in(&state, "OPS@example.test", "correct horse battery", "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(ok.email, "ops@example.test");

        let wrong = sign_in(&state, "ops@example.test", "wrong password!!", "10.0.0.1")
            .await
            .unwrap_err();
        let unknown = sign_in(&state, "ghost@example.test", "wrong password!!", "10.0.0.1")
            .await
            .unwrap_err();
        assert_eq!(wrong, unknown);
        assert_eq!(wrong.status(), 401);

        for _ in 0..4 {
            sign_in(&state, "ops@example.test", "wrong password!!", "10.0.0.2")
                .await
                .unwrap_err();
        }
        // Five failures in the window: even the right password is refused for now.
        let limited = sign_in(&state, "ops@example.test", "correct horse battery", "10.0.0.3")
            .await
            .unwrap_err();
        assert_eq!(limited.status(), 429);
        assert!(limited.retry_after_secs.unwrap() > 0);
        t.dispose().await;
    }
}

//! People and tokens: creating users, signing in (with throttling), API tokens.

use crate::error::AppError;
use crate::i18n::Locale;
use crate::ssr::auth::{self, Caller};
use crate::ssr::db::{self, audit::AuditEntry, users::NewUser, users::UserRow, AsExecutor};
use crate::ssr::state::AppState;
use crate::types::Role;
use sha2::{Digest, Sha256};

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
    by.require(crate::ssr::auth::Access::Operator)?;
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
    let id = match db::users::insert_user(&mut tx, &new, now).await {
        Ok(id) => id,
        // Two requests creating the same email at once: the loser gets the same 409 as a
        // sequential duplicate, not a 500.
        Err(e) if e.is_unique_violation() => {
            return Err(AppError::conflict(
                "email_taken",
                format!("A user with the email {email} already exists."),
            ))
        }
        Err(e) => return Err(e.into()),
    };
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

/// Creates a user unless one with this email exists, which is left exactly as it is —
/// password, role and disabled state included (the demo seed's idempotent path: re-seeding
/// never resets anyone). Returns whether it was created.
pub async fn create_user_if_missing(state: &AppState, by: &Caller, input: UserInput) -> Result<bool, AppError> {
    let email = parse_email(&input.email)?;
    let mut c = state.db.conn().await?;
    if db::users::find_user_by_email(&mut c, &email).await?.is_some() {
        return Ok(false);
    }
    drop(c);
    match create_user(state, by, input).await {
        Ok(_) => Ok(true),
        // Created concurrently by another run: it exists, which is all that was asked.
        Err(e) if e.code == "email_taken" => Ok(false),
        Err(e) => Err(e),
    }
}

/// The key failed sign-ins are counted under for a typed email: a SHA-256 of it, lower-cased
/// and trimmed, so nothing typed is stored.
pub fn throttle_account_key(email: &str) -> String {
    Sha256::digest(email.trim().to_lowercase().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: UserRow,
    /// A new device token for this browser's cookie, when it was not known yet.
    pub new_device: Option<String>,
}

/// Signs a person in: throttling first, then the password. An unknown email and a wrong
/// password give the same answer after the same work. The caller (the server function)
/// renews the session id, stores the user in it and sets the device cookie.
///
/// Throttling that nobody can turn against a user:
/// - per client address (an IPv6 client by its /64): 4 × the limit of failures in the
///   window, for any account;
/// - per account: the limit of failures in the window — but only for browsers that have
///   never signed in to this account. A browser carrying the device cookie of an earlier
///   successful sign-in to the account is not slowed by failures from elsewhere, so
///   guessing wrong on purpose cannot lock the real user out.
///
/// Nothing typed is stored: failures are counted under a SHA-256 of the typed email, and
/// the audit entry of a failure names the account only if it exists.
///
/// The attempt is recorded as a failure *before* the counts are read and the password is
/// checked (and forgotten again on success), so parallel guesses cannot all pass the
/// check while the slow hash runs: the n-th concurrent attempt sees at least n failures.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    client_addr: &str,
    device: Option<&str>,
) -> Result<SignedIn, AppError> {
    if email.len() > MAX_EMAIL_LEN || password.len() > auth::MAX_PASSWORD_BYTES {
        return Err(AppError::invalid_credentials());
    }
    let typed = email.trim().to_lowercase();
    let account_key = throttle_account_key(&typed);
    let client_key = auth::throttle_key(client_addr);
    let now = state.now_secs();
    let settings = &state.settings;
    let since = now - settings.sign_in_window_secs;
    let mut c = state.db.conn().await?;
    let user = db::users::find_user_by_email(&mut c, &typed).await?;
    let device_hash = device.map(auth::hash_token);
    let known_device = match (&user, &device_hash) {
        (Some(u), Some(h)) => db::devices::find_device_user(&mut c, h).await? == Some(u.id),
        _ => false,
    };
    let attempt = db::throttle::insert_failure(&mut c, &account_key, &client_key, now).await?;
    let (by_account, oldest_a) = db::throttle::failures_for_account(&mut c, &account_key, since).await?;
    let (by_client, oldest_c) = db::throttle::failures_for_client(&mut c, &client_key, since).await?;
    // The counts include this attempt.
    let account_limited = !known_device && by_account > settings.sign_in_max_failures;
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

    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => auth::dummy_hash().await,
    };
    let password_ok = auth::verify_password(hash, password.to_owned()).await;
    match user {
        Some(u) if password_ok && u.disabled_at.is_none() => {
            db::throttle::clear_account(&mut c, &account_key).await?;
            db::users::touch_sign_in(&mut c, u.id, now).await?;
            let new_device = match (&device_hash, known_device) {
                (Some(h), true) => {
                    db::devices::touch_device(&mut c, h, now).await?;
                    None
                }
                _ => {
                    let token = auth::generate_token();
                    db::devices::insert_device(&mut c, u.id, &auth::hash_token(&token), now).await?;
                    Some(token)
                }
            };
            let entry = AuditEntry {
                actor: &format!("user:{}", u.id),
                actor_label: &u.email,
                action: "sign_in.succeeded",
                subject: &format!("user:{}", u.id),
                details: serde_json::json!({ "known_device": known_device }),
                client_addr,
            };
            db::audit::insert_audit(&mut c, &entry, now).await?;
            Ok(SignedIn { user: u, new_device })
        }
        user => {
            // The reserved row stays: it is this failure. The entry names the account
            // only if there is one; what was typed otherwise is not kept.
            let entry = AuditEntry {
                actor: "anonymous",
                actor_label: user.as_ref().map_or("", |u| u.email.as_str()),
                action: "sign_in.failed",
                subject: &user.as_ref().map(|u| format!("user:{}", u.id)).unwrap_or_default(),
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
    /// Registration, for ingest tokens (required for them, refused for others).
    pub registration_id: Option<i64>,
    /// How long it works (`None`: never expires).
    pub expires_in: Option<chrono::Duration>,
}

/// Parses a token lifetime: `90d`, `12h`, `6w`, `1y` (365 days), or `never`.
pub fn parse_expires_in(raw: &str) -> Result<Option<chrono::Duration>, AppError> {
    let t = raw.trim().to_ascii_lowercase();
    if t == "never" || t == "none" {
        return Ok(None);
    }
    let invalid = || {
        AppError::invalid(
            "expires-in",
            format!("`{raw}` is not a lifetime such as 90d, 12h, 6w, 1y or never."),
        )
    };
    let unit = t.chars().last().ok_or_else(invalid)?;
    let n: i64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| invalid())?;
    if n <= 0 || n > 100 * 365 {
        return Err(AppError::invalid(
            "expires-in",
            format!("`{raw}`: a lifetime must be positive (and under a century)."),
        ));
    }
    let d = match unit {
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        'w' => chrono::Duration::weeks(n),
        'y' => chrono::Duration::days(365 * n),
        _ => return Err(invalid()),
    };
    Ok(Some(d))
}

/// The default lifetime of a token: ingest tokens (the collector's, a stamp-side script's)
/// never expire — an expired one would silently stop billing data; any other one lives a
/// year.
pub fn default_token_lifetime(role: Role) -> Option<chrono::Duration> {
    match role {
        Role::Ingest => None,
        _ => Some(chrono::Duration::days(365)),
    }
}

/// Creates an API token and returns `(id, token)`; the token is shown once and only its
/// hash is kept.
pub async fn create_token(state: &AppState, by: &Caller, input: TokenInput) -> Result<(i64, String), AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
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
    match (input.role, input.registration_id) {
        (Role::Ingest, None) => {
            return Err(AppError::invalid(
                "registration",
                "An ingest token names the registration it may push usage for.",
            ))
        }
        (Role::Operator | Role::Finance | Role::Customer, Some(_)) => {
            return Err(AppError::invalid(
                "registration",
                "Only ingest tokens are scoped to a registration.",
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
    if let Some(registration_id) = input.registration_id {
        if db::registrations::find_registration(&mut tx, registration_id)
            .await?
            .is_none()
        {
            return Err(AppError::invalid(
                "registration",
                format!("There is no registration {registration_id}."),
            ));
        }
    }
    let expires_at = input.expires_in.map(|d| now + d.num_seconds());
    let hash = auth::hash_token(&token);
    let prefix = auth::token_display_prefix(&token);
    let id = db::tokens::insert_token(
        &mut tx,
        &db::tokens::NewToken {
            name,
            prefix: &prefix,
            hash: &hash,
            role: input.role.as_str(),
            customer_id: input.customer_id,
            registration_id: input.registration_id,
            expires_at,
        },
        now,
    )
    .await?;
    audit(
        &mut tx,
        by,
        "token.created",
        &format!("token:{id}"),
        serde_json::json!({
            "name": name, "role": input.role, "customer_id": input.customer_id,
            "registration_id": input.registration_id, "expires_at": expires_at,
        }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// Every API token, newest first (staff).
pub async fn list_tokens(state: &AppState) -> Result<Vec<db::tokens::TokenRow>, AppError> {
    let mut c = state.db.conn().await?;
    Ok(db::tokens::list_tokens(&mut c).await?)
}

/// Revokes a token: it stops working at once. Revoking a revoked token is a conflict.
pub async fn revoke_token(state: &AppState, by: &Caller, id: i64) -> Result<(), AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let token = db::tokens::find_token(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("token_not_found", format!("There is no token {id}.")))?;
    if !db::tokens::revoke_token(&mut tx, id, now).await? {
        return Err(AppError::conflict(
            "token_revoked",
            format!("Token {id} ({}) is already revoked.", token.name),
        ));
    }
    audit(
        &mut tx,
        by,
        "token.revoked",
        &format!("token:{id}"),
        serde_json::json!({ "name": token.name, "role": token.role }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every user by email (staff).
pub async fn list_users(state: &AppState) -> Result<Vec<UserRow>, AppError> {
    let mut c = state.db.conn().await?;
    Ok(db::users::list_users(&mut c).await?)
}

async fn user_by_email(c: &mut impl AsExecutor, email: &str) -> Result<UserRow, AppError> {
    let email = parse_email(email)?;
    db::users::find_user_by_email(c, &email)
        .await?
        .ok_or_else(|| AppError::not_found("user_not_found", format!("There is no user {email}.")))
}

/// Disables or enables a user. Disabling ends their sessions at once; the last enabled
/// operator cannot be disabled (nobody could administer Stackbill any more).
pub async fn set_user_enabled(state: &AppState, by: &Caller, email: &str, enabled: bool) -> Result<(), AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let user = user_by_email(&mut tx, email).await?;
    let last_operator = !enabled
        && user.role == "operator"
        && user.disabled_at.is_none()
        && db::users::count_enabled_operators(&mut tx).await? <= 1;
    if last_operator {
        return Err(AppError::conflict(
            "last_operator",
            format!(
                "{} is the last enabled operator; enable or add another operator first.",
                user.email
            ),
        ));
    }
    db::users::set_disabled(&mut tx, user.id, (!enabled).then_some(now)).await?;
    audit(
        &mut tx,
        by,
        if enabled { "user.enabled" } else { "user.disabled" },
        &format!("user:{}", user.id),
        serde_json::json!({ "email": user.email, "before": { "disabled": user.disabled_at.is_some() },
                            "after": { "disabled": !enabled } }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    if !enabled {
        db::sessions::delete_sessions_of_user(&state.db, user.id).await?;
    }
    Ok(())
}

/// Sets a new password (the one given, or a generated one, returned to be shown once),
/// ends every session of the user and forgets their known browsers.
pub async fn reset_password(
    state: &AppState,
    by: &Caller,
    email: &str,
    password: Option<String>,
) -> Result<String, AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let password = password.unwrap_or_else(auth::generate_password);
    auth::check_password_policy(&password)?;
    let hash = auth::hash_password(password.clone()).await?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let user = user_by_email(&mut tx, email).await?;
    db::users::set_password_hash(&mut tx, user.id, &hash).await?;
    db::devices::delete_devices_of_user(&mut tx, user.id).await?;
    audit(
        &mut tx,
        by,
        "user.password_reset",
        &format!("user:{}", user.id),
        serde_json::json!({ "email": user.email }),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    db::sessions::delete_sessions_of_user(&state.db, user.id).await?;
    Ok(password)
}

/// Ends every session of a user (signed out everywhere); returns how many ended.
pub async fn sign_out_everywhere(state: &AppState, by: &Caller, email: &str) -> Result<u64, AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let now = state.now_secs();
    let mut c = state.db.conn().await?;
    let user = user_by_email(&mut c, email).await?;
    drop(c);
    let ended = db::sessions::delete_sessions_of_user(&state.db, user.id).await?;
    let mut c = state.db.conn().await?;
    audit(
        &mut c,
        by,
        "user.signed_out_everywhere",
        &format!("user:{}", user.id),
        serde_json::json!({ "email": user.email, "sessions": ended }),
        "",
        now,
    )
    .await?;
    Ok(ended)
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

/// The signed-in person behind a caller, for the navigation and the page guards; `None`
/// for tokens (they have no person) .
pub async fn signed_in_user(state: &AppState, caller: &Caller) -> Result<Option<crate::types::CurrentUser>, AppError> {
    let crate::ssr::auth::Actor::User { id, email } = caller.actor.clone() else {
        return Ok(None);
    };
    let mut c = state.db.conn().await?;
    let user = db::users::find_user(&mut c, id)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    let customer_name = match caller.customer_id {
        Some(cid) => db::customers::find_customer(&mut c, cid).await?.map(|c| c.name),
        None => None,
    };
    Ok(Some(crate::types::CurrentUser {
        id,
        email,
        display_name: user.display_name,
        role: caller.role,
        customer_id: caller.customer_id,
        customer_name,
        locale: caller.locale,
    }))
}

/// Forgets failed sign-ins older than the throttling window (housekeeping).
pub async fn prune_sign_in_failures(state: &AppState) -> Result<(), AppError> {
    let before = state.now_secs() - state.settings.sign_in_window_secs;
    db::throttle::delete_older_than(&mut state.db.conn().await?, before).await?;
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
    async fn two_concurrent_creations_of_one_email_give_one_user_and_one_conflict_never_a_500() {
        crate::ssr::db::testing::for_each_engine(|db| async move {
            let state = AppState::new(db.clone(), Settings::default());
            let input = UserInput {
                email: "race@example.test".into(),
                display_name: None,
                role: Role::Finance,
                customer_id: None,
                password: "long enough password".into(),
                locale: Locale::En,
            };
            let by = Caller::cli();
            let (a, b) = tokio::join!(
                create_user(&state, &by, input.clone()),
                create_user(&state, &by, input.clone())
            );
            let results = [a, b];
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
            let err = results.into_iter().find_map(Result::err).unwrap();
            assert_eq!(err.status(), 409, "{err:?}");
        })
        .await;
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
        let ok = sign_in(&state, "OPS@example.test", "correct horse battery", "10.0.0.1", None)
            .await
            .unwrap();
        assert_eq!(ok.user.email, "ops@example.test");
        // A browser seen for the first time gets a device token to remember it by.
        let device = ok.new_device.expect("a device token");

        let wrong = sign_in(&state, "ops@example.test", "wrong password!!", "10.0.0.1", None)
            .await
            .unwrap_err();
        let unknown = sign_in(&state, "ghost@example.test", "wrong password!!", "10.0.0.1", None)
            .await
            .unwrap_err();
        assert_eq!(wrong, unknown);
        assert_eq!(wrong.status(), 401);

        for _ in 0..4 {
            sign_in(&state, "ops@example.test", "wrong password!!", "10.0.0.2", None)
                .await
                .unwrap_err();
        }
        // Five failures in the window: even the right password is refused for now — from
        // a browser that never signed in to this account.
        let limited = sign_in(&state, "ops@example.test", "correct horse battery", "10.0.0.3", None)
            .await
            .unwrap_err();
        assert_eq!(limited.status(), 429);
        assert!(limited.retry_after_secs.unwrap() > 0);
        // The browser that signed in before is not slowed down by them, and keeps its token.
        let again = sign_in(
            &state,
            "ops@example.test",
            "correct horse battery",
            "10.0.0.3",
            Some(&device),
        )
        .await
        .unwrap();
        assert!(again.new_device.is_none());
        t.dispose().await;
    }
}

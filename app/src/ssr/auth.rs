//! Authentication (who is calling) and authorisation (may they do this).
//!
//! [`authorize`] is the one authorisation helper: every server function and every API
//! route resolves its [`Caller`] and asks it for an [`Access`]. The UI hiding a button is
//! never the protection.

use super::db::{self, users::UserRow, DbError};
use super::state::AppState;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::types::Role;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in person.
    User {
        /// User id.
        id: i64,
        /// Their email.
        email: String,
    },
    /// A script with an API token.
    Token {
        /// Token id.
        id: i64,
        /// The token's name.
        name: String,
    },
    /// The command line on the server itself.
    Cli,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Role.
    pub role: Role,
    /// The customer a customer user or token is bound to.
    pub customer_id: Option<i64>,
    /// The registration an `ingest` token may push usage for (`None`: not scoped).
    pub registration_id: Option<i64>,
    /// Who.
    pub actor: Actor,
    /// Preferred language.
    pub locale: Locale,
}

impl Caller {
    /// The CLI acting as an operator.
    pub fn cli() -> Self {
        Caller {
            role: Role::Operator,
            customer_id: None,
            registration_id: None,
            actor: Actor::Cli,
            locale: Locale::En,
        }
    }

    /// `user:12`, `token:3` or `cli`, for the audit log and ingestion batches.
    pub fn actor_code(&self) -> String {
        match &self.actor {
            Actor::User { id, .. } => format!("user:{id}"),
            Actor::Token { id, .. } => format!("token:{id}"),
            Actor::Cli => "cli".into(),
        }
    }

    /// The email or token name at the time.
    pub fn actor_label(&self) -> String {
        match &self.actor {
            Actor::User { email, .. } => email.clone(),
            Actor::Token { name, .. } => name.clone(),
            Actor::Cli => String::new(),
        }
    }

    /// Refuses the caller (403, or 404 for another customer's data) unless it has `access`.
    /// Every service that changes something starts with this, so a screen, an API route
    /// and the command line are held to the same rule whatever path reaches the service.
    pub fn require(&self, access: Access) -> Result<(), AppError> {
        authorize(Some(self.clone()), access).map(|_| ())
    }

    /// The signed-in user's id, if the caller is a person.
    pub fn user_id(&self) -> Option<i64> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any signed-in person or token (not ingest-only tokens).
    SignedIn,
    /// Operators only: registrations, mappings, price sheets, users.
    Operator,
    /// Operators and finance: reading everything, invoices.
    Staff,
    /// Finance work (issue, void); operators may do it too.
    Finance,
    /// One customer's data: that customer's users and tokens, or staff. Another customer
    /// gets `404`, so that ids of other customers' things are not even confirmed.
    Customer(i64),
    /// Pushing usage: operators and `ingest` tokens.
    IngestUsage,
}

/// The authorisation helper. `None` (nobody signed in) is 401; a caller whose role does
/// not allow the access is 403 (404 for another customer's data).
pub fn authorize(caller: Option<Caller>, access: Access) -> Result<Caller, AppError> {
    let caller = caller.ok_or_else(AppError::unauthenticated)?;
    let allowed = match (access, caller.role) {
        (Access::IngestUsage, Role::Operator | Role::Ingest) => true,
        (Access::IngestUsage, _) => false,
        (_, Role::Ingest) => false,
        (Access::SignedIn, _) => true,
        (Access::Operator, role) => role == Role::Operator,
        (Access::Staff | Access::Finance, role) => matches!(role, Role::Operator | Role::Finance),
        (Access::Customer(_), Role::Operator | Role::Finance) => true,
        (Access::Customer(id), Role::Customer) => {
            if caller.customer_id == Some(id) {
                true
            } else {
                return Err(AppError::not_found("not_found", "Not found."));
            }
        }
    };
    if allowed {
        Ok(caller)
    } else {
        Err(AppError::forbidden())
    }
}

/// Whose portal a request reads: a customer user's or token's own customer (naming another
/// id is 404, as if it did not exist), or — for operators and finance viewing as a
/// customer — the one they name.
pub fn portal_customer(caller: Option<Caller>, requested: Option<i64>) -> Result<(Caller, i64), AppError> {
    let caller = authorize(caller, Access::SignedIn)?;
    let id = match (caller.role, caller.customer_id, requested) {
        (Role::Customer, Some(own), None) => own,
        (Role::Operator | Role::Finance, _, Some(id)) => id,
        (Role::Customer, Some(_), Some(id)) => id,
        (Role::Operator | Role::Finance, _, None) => {
            return Err(AppError::new(
                crate::error::ErrorKind::Forbidden,
                "customer_users_only",
                "Staff have no portal of their own; open a customer's from its page (View as customer).",
            ))
        }
        _ => {
            return Err(AppError::new(
                crate::error::ErrorKind::Forbidden,
                "customer_users_only",
                "The customer portal is for customer users.",
            ))
        }
    };
    let caller = authorize(Some(caller), Access::Customer(id))?;
    Ok((caller, id))
}

/// Logs a storage failure with its details and returns the generic error for the caller.
pub fn internal(context: &str, e: impl std::fmt::Display) -> AppError {
    tracing::error!(context, error = %e, "internal error");
    AppError::internal()
}

impl From<DbError> for AppError {
    /// Constraint violations are the caller's conflict or invalid input (409/422, with
    /// what was violated), never a 500: two concurrent "create user with this email"
    /// calls must give one success and one clear conflict. Anything else is internal.
    fn from(e: DbError) -> Self {
        if let DbError::Sqlx(sqlx::Error::Database(d)) = &e {
            use sqlx::error::ErrorKind as K;
            // SQLite: "UNIQUE constraint failed: users.email"; PostgreSQL: the constraint name.
            let what = d
                .constraint()
                .map(str::to_owned)
                .or_else(|| d.message().split_once(": ").map(|(_, w)| w.to_owned()))
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            match d.kind() {
                K::UniqueViolation => {
                    return AppError::conflict(
                        "already_exists",
                        format!("Another record already has this value{what}."),
                    )
                }
                K::ForeignKeyViolation => {
                    return AppError::conflict(
                        "referenced_record",
                        format!("This refers to a record that does not exist, or is still referred to{what}."),
                    )
                }
                K::CheckViolation | K::NotNullViolation => {
                    return AppError::new(
                        crate::error::ErrorKind::Invalid,
                        "constraint_violation",
                        format!("The value breaks a rule of the stored data{what}."),
                    )
                }
                _ => {}
            }
        }
        internal("database", e)
    }
}

// ---------------------------------------------------------------------------------------
// Passwords

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (bytes); longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password against the policy.
pub fn check_password_policy(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            format!("The password must have at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::invalid("password", "The password is too long."));
    }
    Ok(())
}

/// Argon2 runs at most this many at once (19 MiB and tens of milliseconds of CPU each):
/// a burst of parallel sign-ins queues here instead of exhausting memory and the blocking
/// thread pool.
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.clamp(2, 8))
    })
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes), off the async
/// threads because it deliberately takes tens of milliseconds of CPU.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    let _permit = argon2_permits()
        .acquire()
        .await
        .map_err(|e| internal("argon2 permits", e))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| internal("hash task", e))?
    .map_err(|e| internal("argon2", e))
}

/// Verifies a password against a PHC hash; `false` for a wrong password or a bad hash.
pub async fn verify_password(hash: String, password: String) -> bool {
    let Ok(_permit) = argon2_permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so that an unknown user costs the
/// same time as a wrong password and the two cannot be told apart.
pub async fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return h.clone();
    }
    let h = hash_password("stackbill-dummy-password".into())
        .await
        .unwrap_or_default();
    DUMMY.get_or_init(|| h).clone()
}

/// A random password for `stackbill user add` without one: 20 characters from an
/// alphabet without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Rejection sampling: only bytes below the largest multiple of the alphabet size are
    // used, so every character is equally likely.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut out = String::with_capacity(20);
    let mut buf = [0u8; 32];
    while out.len() < 20 {
        OsRng.fill_bytes(&mut buf);
        for b in buf.iter().filter(|b| **b < limit) {
            if out.len() < 20 {
                out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// API tokens

/// Prefix of every Stackbill API token (recognisable in logs and secret scanners).
pub const TOKEN_PREFIX: &str = "sbk_";

/// A new API token: `sbk_` and 64 hex digits (256 random bits).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_PREFIX}{hex}")
}

/// The stored hash of a token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The part of a token shown in lists.
pub fn token_display_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX.len() + 8).collect()
}

/// The caller of a request — the one resolver for server functions and `/api/v1`: a
/// bearer token if the request carries an `Authorization` header (a bad one is 401 even
/// with a session), otherwise the signed-in user of the session, otherwise `None`.
pub async fn resolve_caller(
    state: &AppState,
    authorization: Option<&http::HeaderValue>,
    session: Option<&tower_sessions::Session>,
) -> Result<Option<Caller>, AppError> {
    if let Some(header) = authorization {
        let header = header
            .to_str()
            .map_err(|_| AppError::bad_request("The Authorization header is not text."))?;
        let token = bearer_token(header).ok_or_else(|| {
            AppError::new(
                crate::error::ErrorKind::Unauthenticated,
                "invalid_token",
                "Use `Authorization: Bearer <token>`.",
            )
        })?;
        return caller_from_token(state, token).await.map(Some);
    }
    let Some(session) = session else {
        return Ok(None);
    };
    let user_id: Option<i64> = session
        .get(db::sessions::USER_ID_KEY)
        .await
        .map_err(|e| internal("session read", e))?;
    match user_id {
        Some(id) => caller_from_user_id(state, id).await,
        None => Ok(None),
    }
}

/// The caller behind a bearer token. A malformed, unknown, revoked or expired token is 401.
pub async fn caller_from_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let invalid = || {
        AppError::new(
            crate::error::ErrorKind::Unauthenticated,
            "invalid_token",
            "The API token is not valid.",
        )
    };
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
        return Err(invalid());
    }
    let mut c = state.db.conn().await?;
    let row = db::tokens::find_active_token_by_hash(&mut c, &hash_token(token), state.now_secs())
        .await?
        .ok_or_else(invalid)?;
    let role = Role::parse(&row.role).ok_or_else(|| internal("token role", &row.role))?;
    db::tokens::touch_token(&mut c, row.id, state.now_secs()).await?;
    Ok(Caller {
        role,
        customer_id: row.customer_id,
        registration_id: row.registration_id,
        actor: Actor::Token {
            id: row.id,
            name: row.name,
        },
        locale: Locale::En,
    })
}

/// The caller behind a user id stored in a session; `None` if the user is gone or
/// disabled (their session no longer counts).
pub async fn caller_from_user_id(state: &AppState, user_id: i64) -> Result<Option<Caller>, AppError> {
    let mut c = state.db.conn().await?;
    let Some(user) = db::users::find_user(&mut c, user_id).await? else {
        return Ok(None);
    };
    Ok(caller_from_user(&user))
}

/// The caller for a user row; `None` if disabled.
pub fn caller_from_user(user: &UserRow) -> Option<Caller> {
    if user.disabled_at.is_some() {
        return None;
    }
    let role = Role::parse(&user.role).filter(Role::is_person_role)?;
    Some(Caller {
        role,
        customer_id: user.customer_id,
        registration_id: None,
        actor: Actor::User {
            id: user.id,
            email: user.email.clone(),
        },
        locale: Locale::parse(&user.locale).unwrap_or_default(),
    })
}

/// Extracts the bearer token of an `Authorization` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The client address to throttle and audit: the socket peer, or, when Stackbill is
/// configured to trust its (one) reverse proxy, the *last* `X-Forwarded-For` hop — the
/// address that proxy saw. Earlier hops are whatever the client chose to send, so
/// trusting the first would let anyone pick a fresh address per attempt.
pub fn client_addr(state: &AppState, peer: Option<std::net::SocketAddr>, forwarded_for: Option<&str>) -> String {
    if state.settings.trust_proxy {
        if let Some(last) = forwarded_for.and_then(|h| h.rsplit(',').next()).map(str::trim) {
            if !last.is_empty() {
                return last.to_owned();
            }
        }
    }
    peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// The key a client address is throttled under: the address itself for IPv4, its /64
/// network for IPv6 — one subscriber usually holds a whole /64 and can rotate through it
/// freely, so counting single IPv6 addresses would throttle nothing.
pub fn throttle_key(addr: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => addr.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_throttled_by_their_64_network() {
        assert_eq!(throttle_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(throttle_key("2001:db8:1:2:ffff:0:0:42"), "2001:db8:1:2::/64");
        assert_ne!(throttle_key("2001:db8:1:3::1"), throttle_key("2001:db8:1:2::1"));
        assert_eq!(throttle_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(throttle_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(throttle_key("unknown"), "unknown");
    }

    fn caller(role: Role, customer_id: Option<i64>) -> Caller {
        Caller {
            role,
            customer_id,
            registration_id: None,
            actor: Actor::Cli,
            locale: Locale::En,
        }
    }

    #[test]
    fn nobody_signed_in_is_401_everywhere() {
        for access in [
            Access::SignedIn,
            Access::Operator,
            Access::Staff,
            Access::Finance,
            Access::Customer(1),
            Access::IngestUsage,
        ] {
            assert_eq!(authorize(None, access).unwrap_err().status(), 401, "{access:?}");
        }
    }

    #[test]
    fn roles_get_exactly_their_access() {
        use Access::*;
        let op = caller(Role::Operator, None);
        let fin = caller(Role::Finance, None);
        let cust = caller(Role::Customer, Some(7));
        let ingest = caller(Role::Ingest, None);
        let table: [(Caller, Access, u16); 20] = [
            (op.clone(), Operator, 200),
            (op.clone(), Staff, 200),
            (op.clone(), Finance, 200),
            (op.clone(), Customer(7), 200),
            (op.clone(), IngestUsage, 200),
            (fin.clone(), Operator, 403),
            (fin.clone(), Staff, 200),
            (fin.clone(), Finance, 200),
            (fin.clone(), Customer(7), 200),
            (fin.clone(), IngestUsage, 403),
            (cust.clone(), SignedIn, 200),
            (cust.clone(), Operator, 403),
            (cust.clone(), Staff, 403),
            (cust.clone(), Finance, 403),
            (cust.clone(), Customer(7), 200),
            (cust.clone(), Customer(8), 404),
            (cust.clone(), IngestUsage, 403),
            (ingest.clone(), IngestUsage, 200),
            (ingest.clone(), SignedIn, 403),
            (ingest.clone(), Customer(7), 403),
        ];
        for (who, access, expected) in table {
            let got = authorize(Some(who.clone()), access)
                .map(|_| 200)
                .unwrap_or_else(|e| e.status());
            assert_eq!(got, expected, "{:?} asking for {access:?}", who.role);
        }
    }

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with("sbk_") && a.len() == 68);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 32);
        assert_eq!(token_display_prefix(&a).len(), 12);
        assert_eq!(bearer_token("Bearer sbk_x"), Some("sbk_x"));
        assert_eq!(bearer_token("bearer   sbk_x "), Some("sbk_x"));
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn generated_passwords_meet_the_policy() {
        let p = generate_password();
        assert_eq!(p.len(), 20);
        check_password_policy(&p).unwrap();
        assert_eq!(
            check_password_policy("short").unwrap_err().field.as_deref(),
            Some("password")
        );
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"));
        assert!(verify_password(hash.clone(), "correct horse battery".into()).await);
        assert!(!verify_password(hash, "wrong horse battery".into()).await);
        assert!(!verify_password("not a hash".into(), "x".into()).await);
    }
}

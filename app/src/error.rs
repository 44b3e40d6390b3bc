//! `AppError`: what a server function or API route answers when it fails.
//!
//! Serialisable (it crosses the network to the hydrated page), with a stable
//! machine-readable `code` and the HTTP status derived from its `kind`. Messages are
//! written for people and never carry internal details: database and I/O failures are
//! logged where they happen and reach the browser as a generic `internal` error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The class of an error; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 400: the request itself could not be read.
    BadRequest,
    /// 401: nobody is signed in, or the credentials are wrong.
    Unauthenticated,
    /// 403: signed in, but not allowed.
    Forbidden,
    /// 404: no such thing (or not visible to the caller).
    NotFound,
    /// 409: conflicts with the current state.
    Conflict,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// 422: well-formed but invalid input; `field` names the culprit.
    Invalid,
    /// 429: too many attempts; `retry_after_secs` says when to try again.
    TooManyRequests,
    /// 500: our fault; details are in the server log.
    Internal,
    /// 503: a dependency (the database) is unavailable.
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::Invalid => 422,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }
}

/// A failure as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppError {
    /// Class (decides the status).
    pub kind: ErrorKind,
    /// Stable code for programs: `invalid_credentials`, `forbidden`, `meter_unpriced`, …
    pub code: String,
    /// Message for people.
    pub message: String,
    /// The input field at fault, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds until a throttled request may be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Where in a document the problem is (1-based line), for a malformed upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// …and column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl AppError {
    /// An error of a kind with a code and a message.
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            kind,
            code: code.into(),
            message: message.into(),
            field: None,
            retry_after_secs: None,
            line: None,
            column: None,
        }
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "unauthenticated",
            "Please sign in to continue.",
        )
    }

    /// 401 `invalid_credentials`: the same answer for an unknown email and a wrong password.
    pub fn invalid_credentials() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "invalid_credentials",
            "The email or password is not correct.",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden() -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", "You do not have access to this.")
    }

    /// 404 with a specific code such as `customer_not_found`.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }

    /// 422 `invalid_input` naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            field: Some(field.into()),
            ..Self::new(ErrorKind::Invalid, "invalid_input", message)
        }
    }

    /// 409 with a specific code.
    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// 429 `too_many_attempts`.
    pub fn too_many_attempts(retry_after_secs: u64) -> Self {
        AppError {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                ErrorKind::TooManyRequests,
                "too_many_attempts",
                "Too many failed sign-in attempts. Please wait before trying again.",
            )
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, "bad_request", message)
    }

    /// 500 `internal`: the details go to the log, not to the caller.
    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "internal",
            "Something went wrong on our side. It has been logged.",
        )
    }

    /// 503 `unavailable`.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorKind::Unavailable,
            "unavailable",
            "The service is temporarily unavailable.",
        )
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            // Malformed arguments are the caller's fault: 400, never 500.
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) => {
                AppError::bad_request("The request could not be read.")
            }
            E::Registration(_) => AppError::not_found("not_found", "No such function."),
            E::Request(_) => AppError::unavailable(),
            _ => AppError::internal(),
        }
    }
}

impl From<crate::billing::BillingError> for AppError {
    fn from(e: crate::billing::BillingError) -> Self {
        // The billing core's own code, so programs can tell a currency mismatch from an
        // overlapping price version.
        AppError::new(ErrorKind::Invalid, e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_status_and_round_trip_as_json() {
        let e = AppError::too_many_attempts(120);
        assert_eq!(e.status(), 429);
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"code\":\"too_many_attempts\""), "{json}");
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), e);
        assert_eq!(AppError::invalid_credentials().status(), 401);
        assert_eq!(AppError::invalid("email", "bad").field.as_deref(), Some("email"));
    }

    #[test]
    fn billing_errors_keep_their_own_codes() {
        let e: AppError = crate::billing::Currency::parse("XXX").unwrap_err().into();
        assert_eq!((e.code.as_str(), e.status()), ("unknown_currency", 422));
        let e: AppError = crate::billing::BillingPeriod::parse("2026-13").unwrap_err().into();
        assert_eq!(e.code, "invalid_period");
    }
}

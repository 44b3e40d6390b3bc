//! The Content-Security-Policy nonce of a response.
//!
//! The server's header middleware draws a nonce per request, puts it in the request's
//! extensions and names it in the `Content-Security-Policy` header; the document shell
//! hands it to Leptos, whose hydration and resource scripts (the only inline scripts)
//! then carry it. Any other inline script — injected markup included — does not run.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use std::sync::Arc;

/// A per-request CSP nonce (128 random bits, hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    /// A fresh nonce.
    pub fn generate() -> CspNonce {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        CspNonce(hex.into())
    }

    /// The value named in the header and in `nonce="…"` attributes.
    pub fn value(&self) -> &str {
        &self.0
    }
}

/// Provides the current request's nonce to Leptos (call while rendering the shell).
pub fn provide_request_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned());
    if let Some(n) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(n.0));
    }
}

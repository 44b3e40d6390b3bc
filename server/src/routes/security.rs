//! Two middlewares every request passes: the same-origin rule for state-changing requests
//! authenticated by the session cookie, and the security headers of every answer.

use app::error::AppError;
use app::ssr::csp::CspNonce;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method};
use std::sync::Arc;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "stackbill_session";

/// What the same-origin rule and the headers need to know.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `scheme://host[:port]` of `STACKBILL_PUBLIC_URL`.
    pub public_origin: String,
    /// Whether Stackbill is reached over https (HSTS).
    pub https: bool,
}

impl Policy {
    /// From the public URL.
    pub fn new(public_url: &str) -> Policy {
        Policy {
            public_origin: origin_of(public_url).unwrap_or_default(),
            https: public_url.starts_with("https://"),
        }
    }
}

/// `scheme://host[:port]` of a URL, lower-cased, without a default port.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        url::Origin::Tuple(..) => Some(parsed.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim().split_once('=').is_some_and(|(k, _)| k == SESSION_COOKIE))
}

/// Whether a request comes from Stackbill's own pages: its `Origin` (else its
/// `Sec-Fetch-Site`, else its `Referer`) is the public origin or the origin of the host it
/// was sent to. A request saying none of the three is not trusted.
fn same_origin(policy: &Policy, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let matches = |origin: &str| {
        if origin == policy.public_origin {
            return true;
        }
        // The browser always sends the Host it is talking to; a page of another site
        // cannot make its own origin equal it.
        match (host, origin_of(origin)) {
            (Some(host), Some(o)) => o
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
            _ => false,
        }
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin != "null" && matches(origin);
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    if let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        return origin_of(referer).is_some_and(|o| matches(&o));
    }
    false
}

/// Refuses a state-changing request that is authenticated by the session cookie — or that
/// signs in or out, setting one — unless it comes from Stackbill's own pages. Requests
/// with an `Authorization` header (scripts with a bearer token) are not affected: a
/// browser never adds one on its own, so a forged request cannot carry it. Plain HTML form
/// posts (before hydration) send `Origin` like every other browser POST.
pub async fn require_same_origin(State(policy): State<Arc<Policy>>, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && !request.headers().contains_key(header::AUTHORIZATION) {
        let path = request.uri().path();
        let sets_cookie = path.starts_with("/api/fn/sign_in") || path.starts_with("/api/fn/sign_out");
        let by_cookie = has_session_cookie(request.headers());
        if (by_cookie || sets_cookie) && !same_origin(&policy, request.headers()) {
            tracing::warn!(%path, "refused a cross-site request");
            let e = AppError::new(
                app::error::ErrorKind::Forbidden,
                "cross_site_request",
                "This request did not come from Stackbill's own pages, so it was refused. Scripts use an API token.",
            );
            return super::api::ApiError(e).into_response();
        }
    }
    next.run(request).await
}

/// Adds the security headers to every answer: a Content-Security-Policy that allows the
/// app's own script, wasm and styles only (inline scripts need this response's nonce,
/// which the page's hydration script carries), no framing, no MIME sniffing, no referrer
/// to other sites, HSTS over https, and `Cache-Control: no-store` on everything but the
/// static files (pages and API answers carry people's data).
pub async fn headers(State(policy): State<Arc<Policy>>, mut request: Request, next: Next) -> Response {
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let path = request.uri().path().to_owned();
    let mut response: Response<Body> = next.run(request).await;
    let h = response.headers_mut();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'",
        nonce.value()
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if policy.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    let static_file = path.starts_with("/pkg/") || path == "/favicon.ico";
    if !static_file {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_request_is_same_origin_only_when_a_browser_says_so() {
        let p = Policy::new("https://billing.example.com");
        let ok = |pairs: &[(&'static str, &str)]| same_origin(&p, &headers(pairs));
        assert!(ok(&[("origin", "https://billing.example.com")]));
        // Behind a proxy on another port, or served directly: the Host it was sent to.
        assert!(ok(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")]));
        assert!(!ok(&[
            ("host", "billing.example.com"),
            ("origin", "https://evil.example")
        ]));
        assert!(!ok(&[
            ("host", "billing.example.com"),
            ("origin", "https://billing.example.com.evil.example")
        ]));
        assert!(!ok(&[("host", "billing.example.com"), ("origin", "null")]));
        assert!(ok(&[("sec-fetch-site", "same-origin")]));
        assert!(!ok(&[("sec-fetch-site", "same-site")]));
        assert!(!ok(&[("sec-fetch-site", "cross-site")]));
        assert!(ok(&[("referer", "https://billing.example.com/operator")]));
        assert!(!ok(&[("referer", "https://evil.example/billing.example.com")]));
        assert!(!ok(&[]));
        assert!(has_session_cookie(&headers(&[(
            "cookie",
            "a=1; stackbill_session=xyz"
        )])));
        assert!(!has_session_cookie(&headers(&[("cookie", "stackbill_device=xyz")])));
    }
}

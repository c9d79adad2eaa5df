//! The HTTP edges every request passes: a one-line access log, `Request-Id` and `Stripe-Version`
//! headers, API-key authentication, the parameter extractor and the unknown-URL answer.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::errors::ApiError;
use crate::events::{API_VERSION, Origin};
use crate::form::{self, FormNode};
use crate::ids::{self, Kind};

/// Per-request facts handlers need, set by [`context`].
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The `req_` id sent back in `Request-Id` and recorded on events.
    pub request_id: String,
    /// The request's `Idempotency-Key`, if any.
    pub idempotency_key: Option<String>,
    /// The `Stripe-Version` asked for, or the stand-in's version.
    pub api_version: String,
}

impl RequestContext {
    /// The `event.request` this request gives the events it causes.
    pub fn origin(&self) -> Origin {
        Origin {
            request_id: Some(self.request_id.clone()),
            idempotency_key: self.idempotency_key.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("request context missing".into()))
    }
}

/// Logs one line per request: method, path, status and duration (never the body or query).
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let micros = started.elapsed().as_micros();
    tracing::info!(
        target: "stripe_sim::access",
        "{method} {path} {} {}.{:03}ms",
        response.status().as_u16(),
        micros / 1000,
        micros % 1000
    );
    response
}

/// Gives the request its id and context, and stamps `Request-Id` and `Stripe-Version` on the answer.
pub async fn context(mut request: Request, next: Next) -> Response {
    let request_id = ids::new_id(Kind::Request);
    let (version, idempotency_key) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (
            header("stripe-version"),
            header("idempotency-key").filter(|k| !k.is_empty()),
        )
    };
    let mut response = match version.as_deref() {
        Some(v) if !is_version(v) => ApiError::Refused {
            message: format!("Invalid Stripe API version: {v}"),
            param: None,
            code: None,
        }
        .into_response(),
        _ => {
            request.extensions_mut().insert(RequestContext {
                request_id: request_id.clone(),
                idempotency_key: idempotency_key.clone(),
                api_version: version.clone().unwrap_or_else(|| API_VERSION.to_string()),
            });
            next.run(request).await
        }
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("Request-Id", value);
    }
    let version = version.unwrap_or_else(|| API_VERSION.to_string());
    if let Ok(value) = HeaderValue::from_str(&version) {
        headers.insert("Stripe-Version", value);
    }
    if let Some(key) = idempotency_key.and_then(|k| HeaderValue::from_str(&k).ok()) {
        headers.insert("Idempotency-Key", key);
    }
    response
}

/// `YYYY-MM-DD` with an optional `.release` suffix (`2026-10-28.endive`).
fn is_version(v: &str) -> bool {
    let (date, release) = v.split_once('.').unwrap_or((v, "x"));
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = date.split('-').collect();
    parts.len() == 3
        && digits(parts[0], 4)
        && digits(parts[1], 2)
        && digits(parts[2], 2)
        && !release.is_empty()
        && release.bytes().all(|b| b.is_ascii_lowercase())
}

/// Accepts any secret test key (`sk_test_...`), as Bearer or Basic auth; anything else is a 401.
pub async fn authenticate(request: Request, next: Next) -> Response {
    match api_key(&request) {
        Some(key) if key.starts_with("sk_test_") && key.len() > "sk_test_".len() => {
            next.run(request).await
        }
        Some(key) => ApiError::Unauthenticated(format!(
            "Invalid API Key provided: {}",
            redact(&key)
        ))
        .into_response(),
        None => ApiError::Unauthenticated(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
                .into(),
        )
        .into_response(),
    }
}

fn api_key(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.trim().to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        text.split(':').next()?.to_string()
    } else {
        return None;
    };
    (!key.is_empty()).then_some(key)
}

/// `sk_live_****************1234`, as Stripe echoes a bad key.
fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// The answer for paths and methods that no endpoint serves.
pub async fn unrecognized(method: Method, uri: Uri) -> ApiError {
    ApiError::UnrecognizedUrl {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

/// A request's parameters, parsed from the query string and (for `POST`) the form body.
#[derive(Debug, Clone)]
pub struct Form(pub FormNode);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let mut text = request.uri().query().unwrap_or_default().to_string();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|err| ApiError::Refused {
                message: format!("The request body could not be read: {err}"),
                param: None,
                code: None,
            })?;
        if !body.is_empty() {
            let body = std::str::from_utf8(&body).map_err(|_| ApiError::Refused {
                message: "Invalid request body: expected application/x-www-form-urlencoded UTF-8."
                    .into(),
                param: None,
                code: None,
            })?;
            if !text.is_empty() {
                text.push('&');
            }
            text.push_str(body);
        }
        Ok(Form(form::parse(&text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_dates_with_an_optional_release_name() {
        assert!(is_version("2026-10-28.endive"));
        assert!(is_version("2024-04-10"));
        assert!(!is_version("latest"));
        assert!(!is_version("2024-4-10"));
        assert!(!is_version("2024-04-10."));
    }

    #[test]
    fn bad_keys_are_redacted_but_recognisable() {
        assert_eq!(redact("sk_live_abcdefgh1234"), "sk_live_********1234");
        assert_eq!(redact("short"), "*****");
    }
}

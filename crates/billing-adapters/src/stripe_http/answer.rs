//! Reading Stripe's answers: the headers that steer retries and the error object.

use billing::stripe::StripeError;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The header naming the request for Stripe support.
pub const REQUEST_ID: &str = "request-id";
/// Stripe's own verdict on whether a retry may succeed (`true` / `false`).
pub const SHOULD_RETRY: &str = "stripe-should-retry";
/// How long to wait before retrying, in whole seconds.
pub const RETRY_AFTER: &str = "retry-after";

/// The headers of one answer that matter to the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerHeaders {
    /// `Request-Id`.
    pub request_id: Option<String>,
    /// `Stripe-Should-Retry`, when it is `true` or `false`.
    pub should_retry: Option<bool>,
    /// `Retry-After` in whole seconds (an HTTP-date form is ignored).
    pub retry_after: Option<Duration>,
}

impl AnswerHeaders {
    /// Reads the headers.
    pub fn read(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        AnswerHeaders {
            request_id: text(REQUEST_ID).map(str::to_string),
            should_retry: text(SHOULD_RETRY).and_then(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }),
            retry_after: text(RETRY_AFTER)
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type", default)]
    error_type: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Turns a non-2xx answer into [`StripeError::Api`].
///
/// Stripe's `{"error": {"type", "code", "param", "message"}}` is kept field by field. An error
/// body that is not such an object (an HTML page from a proxy, an empty 502) still becomes
/// `Api` with the status and `type` `api_error`, so that retry decisions and callers keep seeing
/// the status: `StripeError::Decode` has no room for it.
pub fn api_error(status: u16, headers: &AnswerHeaders, body: &[u8]) -> StripeError {
    let parsed = serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error);
    let (error_type, code, param, message) = match parsed {
        Some(e) => (
            e.error_type.unwrap_or_else(|| "api_error".into()),
            e.code,
            e.param,
            e.message.unwrap_or_default(),
        ),
        None => (
            "api_error".into(),
            None,
            None,
            format!("HTTP {status} with a body that is not a Stripe error object"),
        ),
    };
    StripeError::Api {
        status,
        error_type,
        code,
        param,
        message,
        request_id: headers.request_id.clone(),
        should_retry: headers.should_retry,
    }
}

/// Reads a 2xx body as `T`; an unreadable one becomes [`StripeError::Decode`] with the request id.
#[allow(
    clippy::result_large_err,
    reason = "StripeError is the core's type (about 130 bytes); shrinking it is the core's call"
)]
pub fn decode<T: DeserializeOwned>(headers: &AnswerHeaders, body: &[u8]) -> Result<T, StripeError> {
    serde_json::from_slice(body).map_err(|source| StripeError::Decode {
        source,
        request_id: headers.request_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn the_steering_headers_are_read_case_insensitively() {
        let h = AnswerHeaders::read(&headers(&[
            ("request-id", "req_123"),
            ("stripe-should-retry", "False"),
            ("retry-after", " 2 "),
        ]));
        assert_eq!(h.request_id.as_deref(), Some("req_123"));
        assert_eq!(h.should_retry, Some(false));
        assert_eq!(h.retry_after, Some(Duration::from_secs(2)));
        let h = AnswerHeaders::read(&headers(&[
            ("stripe-should-retry", "maybe"),
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]));
        assert_eq!(h, AnswerHeaders::default());
    }

    #[test]
    fn a_stripe_error_object_is_kept_field_by_field() {
        let h = AnswerHeaders {
            request_id: Some("req_1".into()),
            should_retry: Some(false),
            retry_after: None,
        };
        let body = br#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id","message":"No such customer: 'cus_x'"}}"#;
        match api_error(404, &h, body) {
            StripeError::Api {
                status,
                error_type,
                code,
                param,
                message,
                request_id,
                should_retry,
            } => {
                assert_eq!(status, 404);
                assert_eq!(error_type, "invalid_request_error");
                assert_eq!(code.as_deref(), Some("resource_missing"));
                assert_eq!(param.as_deref(), Some("id"));
                assert_eq!(message, "No such customer: 'cus_x'");
                assert_eq!(request_id.as_deref(), Some("req_1"));
                assert_eq!(should_retry, Some(false));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_unreadable_error_body_keeps_the_status_and_stays_retryable() {
        let e = api_error(502, &AnswerHeaders::default(), b"<html>Bad gateway</html>");
        assert!(
            matches!(e, StripeError::Api { status: 502, ref error_type, .. } if error_type == "api_error")
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn an_unreadable_success_body_is_a_decode_error_with_the_request_id() {
        let h = AnswerHeaders {
            request_id: Some("req_2".into()),
            ..AnswerHeaders::default()
        };
        let e = decode::<serde_json::Value>(&h, b"not json").unwrap_err();
        assert!(matches!(e, StripeError::Decode { request_id: Some(ref r), .. } if r == "req_2"));
        assert!(!e.is_retryable());
    }
}

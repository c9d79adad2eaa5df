//! API Gateway HTTP API (payload 2.0) helpers.
//!
//! Header names arrive lower-cased and duplicates comma-joined; the body is a string with
//! `isBase64Encoded` saying whether it must be decoded first (any content type other than text,
//! JSON, XML or JavaScript arrives base64-encoded). The raw bytes are what a signature covers, so
//! they are never re-serialised.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use aws_lambda_events::http::header::CONTENT_TYPE;
use base64::Engine as _;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit; it was not decoded further.
    #[error("body too large: more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// `isBase64Encoded` is set but the body is not base64.
    #[error("body is not valid base64")]
    Base64(#[source] base64::DecodeError),
}

/// The value of header `name` (any case), if present and visible ASCII.
pub fn header<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .get(name.to_ascii_lowercase().as_str())
        .and_then(|value| value.to_str().ok())
}

/// The exact body bytes: decoded when `isBase64Encoded`, empty when absent; at most `limit` bytes.
pub fn body_bytes(request: &ApiGatewayV2httpRequest, limit: usize) -> Result<Vec<u8>, BodyError> {
    let Some(body) = request.body.as_deref() else {
        return Ok(Vec::new());
    };
    let bytes = if request.is_base64_encoded {
        // Four characters carry three bytes: refuse before decoding a body that cannot fit.
        if body.len() / 4 > limit / 3 + 1 {
            return Err(BodyError::TooLarge { limit });
        }
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(BodyError::Base64)?
    } else {
        body.as_bytes().to_vec()
    };
    if bytes.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(bytes)
}

/// A response with `status`, `Content-Type: application/json` and `body` serialised.
pub fn json_response(status: u16, body: &serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_string()));
    response.is_base64_encoded = false;
    response
}

/// The claims a JWT authorizer verified (`requestContext.authorizer.jwt.claims`), if any.
pub fn jwt_claims(request: &ApiGatewayV2httpRequest) -> Option<&HashMap<String, String>> {
    request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .map(|jwt| &jwt.claims)
}

/// One verified claim, if present and not blank.
pub fn jwt_claim<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    jwt_claims(request)
        .and_then(|claims| claims.get(name))
        .map(String::as_str)
        .filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn request(value: serde_json::Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(value).unwrap()
    }

    fn minimal(extra: serde_json::Value) -> ApiGatewayV2httpRequest {
        let mut value = json!({
            "version": "2.0", "rawPath": "/v1/stripe/webhook",
            "headers": {"stripe-signature": "t=1,v1=ab", "content-type": "application/json"},
            "requestContext": {"requestId": "r1", "http": {"method": "POST", "path": "/v1/stripe/webhook",
                "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "Stripe/1.0"}},
            "isBase64Encoded": false
        });
        if let (Some(target), Some(fields)) = (value.as_object_mut(), extra.as_object()) {
            for (k, v) in fields {
                target.insert(k.clone(), v.clone());
            }
        }
        request(value)
    }

    #[test]
    fn headers_are_found_whatever_the_case_asked_for() {
        // GIVEN a payload 2.0 request, whose header names are lower-cased
        let r = minimal(json!({}));
        // WHEN looked up in any case THEN found; an absent one is None
        assert_eq!(header(&r, "Stripe-Signature"), Some("t=1,v1=ab"));
        assert_eq!(header(&r, "stripe-signature"), Some("t=1,v1=ab"));
        assert_eq!(header(&r, "x-missing"), None);
    }

    #[test]
    fn a_base64_body_is_decoded_to_its_exact_bytes_and_a_text_body_is_taken_as_is() {
        // GIVEN the same bytes as text and as base64
        let text = minimal(json!({"body": "{\"a\": 1}\n"}));
        let b64 = minimal(json!({"body": "eyJhIjogMX0K", "isBase64Encoded": true}));
        // THEN both give the same bytes
        assert_eq!(body_bytes(&text, 100).unwrap(), b"{\"a\": 1}\n");
        assert_eq!(body_bytes(&b64, 100).unwrap(), b"{\"a\": 1}\n");
        // AND no body is an empty one
        assert_eq!(body_bytes(&minimal(json!({})), 100).unwrap(), b"");
    }

    #[test]
    fn bodies_over_the_limit_and_bad_base64_are_refused() {
        let big = minimal(json!({"body": "x".repeat(101)}));
        assert!(matches!(
            body_bytes(&big, 100),
            Err(BodyError::TooLarge { limit: 100 })
        ));
        let big_b64 = minimal(json!({"body": "eHh4".repeat(100), "isBase64Encoded": true}));
        assert!(matches!(
            body_bytes(&big_b64, 100),
            Err(BodyError::TooLarge { .. })
        ));
        let bad = minimal(json!({"body": "not base64!", "isBase64Encoded": true}));
        assert!(matches!(body_bytes(&bad, 100), Err(BodyError::Base64(_))));
    }

    #[test]
    fn json_responses_carry_status_content_type_and_body() {
        let response = json_response(409, &json!({"error": "in progress"}));
        assert_eq!(response.status_code, 409);
        assert_eq!(
            response.headers.get("content-type").unwrap(),
            "application/json"
        );
        assert_eq!(
            response.body,
            Some(Body::Text("{\"error\":\"in progress\"}".into()))
        );
    }

    #[test]
    fn jwt_claims_come_from_the_authorizer_only() {
        // GIVEN a request with a JWT authorizer's claims
        let r = minimal(json!({"requestContext": {"requestId": "r2",
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "x"},
            "authorizer": {"jwt": {"claims": {"sub": "user-1", "custom:customer_id": " "}, "scopes": null}}}}));
        // THEN present claims are read and blank ones are absent
        assert_eq!(jwt_claim(&r, "sub"), Some("user-1"));
        assert_eq!(jwt_claim(&r, "custom:customer_id"), None);
        // AND a request without an authorizer has no claims
        assert!(jwt_claims(&minimal(json!({}))).is_none());
    }
}

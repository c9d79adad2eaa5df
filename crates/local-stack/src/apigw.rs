//! API Gateway HTTP API, payload format 2.0, both ways: an HTTP request into the event a function
//! receives ([`request_payload`]), and the function's answer back into an HTTP response
//! ([`response_from_output`]).
//!
//! The event is built as JSON first, exactly as API Gateway sends it to Lambda, then read into
//! [`ApiGatewayV2httpRequest`] the way the Lambda runtime does; the answer is serialised to JSON as
//! the runtime does, then interpreted as API Gateway interprets a 2.0 answer. What API Gateway
//! does and this module repeats:
//! - header names lower-cased, duplicate headers joined with commas; `cookie` headers leave the
//!   headers for `cookies` (split at `; `); `x-forwarded-for`/`-port`/`-proto` and
//!   `x-amzn-trace-id` added;
//! - `rawPath`, `rawQueryString`, `queryStringParameters` (duplicates comma-joined, absent when
//!   empty), `routeKey` (`"POST /path"`) at the top and in `requestContext`;
//! - the body as text when its content type is textual (text, JSON, XML, JavaScript) and it is
//!   UTF-8, else base64 with `isBase64Encoded: true`; no `body` without one;
//! - `requestContext`: `accountId`, `apiId`, `domainName`, `domainPrefix`, `stage: "$default"`,
//!   `requestId`, `time` (`26/Nov/2026:17:24:40 +0000`), `timeEpoch` (ms), `http` (`method`,
//!   `path`, `protocol`, `sourceIp`, `userAgent`) and, behind the JWT authorizer,
//!   `authorizer.jwt` with the claims as strings and the scopes (`null` without a `scope` claim);
//! - the answer: `statusCode`, `headers`, `multiValueHeaders`, `cookies` (as `Set-Cookie`),
//!   `body` (base64-decoded when `isBase64Encoded`); an answer without `statusCode` is a 200 with
//!   the answer as its JSON body; an unusable one is API Gateway's 500.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// The account id the local stack reports in events and ARNs.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region the local stack reports.
pub const REGION: &str = "us-east-1";
/// The API id the local stack reports.
pub const API_ID: &str = "local";

/// The parts of an HTTP request an event is built from.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path, as sent (not decoded).
    pub path: &'a str,
    /// The query string without `?`, as sent.
    pub raw_query: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body bytes.
    pub body: &'a [u8],
    /// The client's address.
    pub source_ip: IpAddr,
    /// The client's port (for `x-forwarded-port`, the listener's).
    pub local_port: u16,
}

/// What the JWT authorizer verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizer {
    /// The claims, as strings.
    pub claims: HashMap<String, String>,
    /// The scopes of an access token, `None` otherwise.
    pub scopes: Option<Vec<String>>,
}

/// Whether API Gateway passes a body of `content_type` as text.
pub fn is_text_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media.ends_with("/json")
        || media.ends_with("+json")
        || media.ends_with("/xml")
        || media.ends_with("+xml")
        || media.ends_with("/javascript")
}

/// A request id shaped like API Gateway's (`JjHUVgMroAMEVXA=`).
pub fn api_request_id() -> String {
    let bytes: Vec<u8> = (0..10).map(|_| fastrand::u8(..)).collect();
    STANDARD.encode(bytes)
}

/// A random UUID (version 4 layout), for Lambda request ids and Cognito subs.
pub fn uuid() -> String {
    let hex = format!("{:032x}", fastrand::u128(..));
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 + fastrand::u8(0..4),
        &hex[17..20],
        &hex[20..32]
    )
}

/// `26/Nov/2026:17:24:40 +0000`, API Gateway's `requestContext.time`.
pub fn request_time(epoch_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from_unix_timestamp(epoch_ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn query_parameters(raw_query: &str) -> Option<BTreeMap<String, String>> {
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode(&s)
        };
        params
            .entry(decode(k))
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&decode(v));
            })
            .or_insert_with(|| decode(v));
    }
    (!params.is_empty()).then_some(params)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The payload 2.0 event API Gateway sends for `request` on `route_key`, with `authorizer` when
/// the route has the JWT authorizer.
pub fn request_payload(
    route_key: &str,
    request: &HttpRequest<'_>,
    authorizer: Option<&JwtAuthorizer>,
    epoch_ms: i64,
    request_id: &str,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in request.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let name = name.as_str().to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
            continue;
        }
        headers
            .entry(name)
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| format!("127.0.0.1:{}", request.local_port));
    headers
        .entry("x-forwarded-for".into())
        .or_insert_with(|| request.source_ip.to_string());
    headers.insert("x-forwarded-port".into(), request.local_port.to_string());
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.insert(
        "x-amzn-trace-id".into(),
        format!(
            "Root=1-{:08x}-{:024x}",
            epoch_ms.div_euclid(1000),
            fastrand::u128(..) >> 32
        ),
    );
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let domain = host.split(':').next().unwrap_or(&host).to_string();
    let domain_prefix = domain.split('.').next().unwrap_or(&domain).to_string();
    let mut context = json!({
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain_prefix,
        "http": {
            "method": request.method.as_str(),
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip.to_string(),
            "userAgent": user_agent,
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": request_time(epoch_ms),
        "timeEpoch": epoch_ms,
    });
    if let Some(authorizer) = authorizer {
        context["authorizer"] = json!({"jwt": {
            "claims": authorizer.claims,
            "scopes": authorizer.scopes,
        }});
    }
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(request.path));
    event.insert("rawQueryString".into(), json!(request.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if let Some(params) = query_parameters(request.raw_query) {
        event.insert("queryStringParameters".into(), json!(params));
    }
    event.insert("requestContext".into(), context);
    let content_type = headers.get("content-type").map(String::as_str);
    if request.body.is_empty() {
        event.insert("isBase64Encoded".into(), json!(false));
    } else {
        match std::str::from_utf8(request.body) {
            Ok(text) if is_text_content_type(content_type) => {
                event.insert("body".into(), json!(text));
                event.insert("isBase64Encoded".into(), json!(false));
            }
            _ => {
                event.insert("body".into(), json!(STANDARD.encode(request.body)));
                event.insert("isBase64Encoded".into(), json!(true));
            }
        }
    }
    Value::Object(event)
}

/// Reads a payload into the typed request, as the Lambda runtime does.
pub fn typed_request(payload: Value) -> Result<ApiGatewayV2httpRequest, serde_json::Error> {
    serde_json::from_value(payload)
}

/// API Gateway's own error answer: `{"message": ...}` with `status`.
pub fn gateway_error(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(json!({ "message": message }).to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The HTTP response API Gateway makes of a function's typed answer (serialised first, as the
/// runtime does).
pub fn response_from_handler(answer: &ApiGatewayV2httpResponse) -> Response {
    match serde_json::to_value(answer) {
        Ok(output) => response_from_output(&output),
        Err(_) => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// The HTTP response API Gateway makes of a function's JSON output (payload format 2.0).
pub fn response_from_output(output: &Value) -> Response {
    let Some(object) = output.as_object().filter(|o| o.contains_key("statusCode")) else {
        // No statusCode: API Gateway assumes 200 and a JSON body of the whole output.
        let mut response = Response::new(Body::from(output.to_string()));
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return response;
    };
    let internal = || gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    let Some(status) = object
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
    else {
        return internal();
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => {
            if object.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                match STANDARD.decode(text) {
                    Ok(bytes) => bytes,
                    Err(_) => return internal(),
                }
            } else {
                text.as_bytes().to_vec()
            }
        }
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut add = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    };
    if let Some(Value::Object(map)) = object.get("headers") {
        for (name, value) in map {
            if let Some(value) = value.as_str() {
                add(name, value);
            }
        }
    }
    if let Some(Value::Object(map)) = object.get("multiValueHeaders") {
        for (name, values) in map {
            for value in values.as_array().into_iter().flatten() {
                if let Some(value) = value.as_str() {
                    add(name, value);
                }
            }
        }
    }
    if let Some(Value::Array(cookies)) = object.get("cookies") {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            add("set-cookie", cookie);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::Ipv4Addr;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_request_becomes_the_payload_api_gateway_sends() {
        let h = headers(&[
            ("Host", "127.0.0.1:9100"),
            ("User-Agent", "curl/8"),
            ("Content-Type", "application/json"),
            ("X-Dup", "a"),
            ("x-dup", "b"),
            ("Cookie", "a=1; b=2"),
        ]);
        let request = HttpRequest {
            method: &Method::POST,
            path: "/admin/billing/checkout-session",
            raw_query: "x=1&x=2&y=a%20b",
            headers: &h,
            body: b"{\"a\":1}",
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 9100,
        };
        let authorizer = JwtAuthorizer {
            claims: HashMap::from([("sub".to_string(), "s-1".to_string())]),
            scopes: None,
        };
        let payload = request_payload(
            "POST /admin/billing/checkout-session",
            &request,
            Some(&authorizer),
            1_583_348_638_390,
            "rid",
        );
        assert_eq!(payload["version"], "2.0");
        assert_eq!(payload["headers"]["x-dup"], "a,b");
        assert_eq!(payload["headers"].get("cookie"), None);
        assert_eq!(payload["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            payload["queryStringParameters"],
            json!({"x": "1,2", "y": "a b"})
        );
        assert_eq!(payload["body"], "{\"a\":1}");
        assert_eq!(payload["isBase64Encoded"], false);
        assert_eq!(
            payload["requestContext"]["time"],
            "04/Mar/2020:19:03:58 +0000"
        );
        assert_eq!(payload["requestContext"]["http"]["userAgent"], "curl/8");
        assert_eq!(
            payload["requestContext"]["authorizer"]["jwt"]["scopes"],
            Value::Null
        );
        let typed = typed_request(payload).unwrap();
        assert_eq!(billing_lambda::apigw::jwt_claim(&typed, "sub"), Some("s-1"));
        assert_eq!(
            billing_lambda::apigw::body_bytes(&typed, 100).unwrap(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn a_binary_body_is_base64_and_decodes_to_the_same_bytes() {
        let h = headers(&[("content-type", "application/octet-stream")]);
        let request = HttpRequest {
            method: &Method::POST,
            path: "/v1/stripe/webhook",
            raw_query: "",
            headers: &h,
            body: &[0, 159, 146, 150],
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 1,
        };
        let payload = request_payload("POST /v1/stripe/webhook", &request, None, 0, "r");
        assert_eq!(payload["isBase64Encoded"], true);
        assert!(payload.get("queryStringParameters").is_none());
        let typed = typed_request(payload).unwrap();
        assert_eq!(
            billing_lambda::apigw::body_bytes(&typed, 100).unwrap(),
            vec![0, 159, 146, 150]
        );
    }

    #[tokio::test]
    async fn answers_map_back_as_api_gateway_maps_them() {
        let answer = json!({"statusCode": 201, "headers": {"x-a": "1"},
            "cookies": ["c=1"], "body": "aGk=", "isBase64Encoded": true});
        let response = response_from_output(&answer);
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-a"], "1");
        assert_eq!(response.headers()["set-cookie"], "c=1");
        let bytes = axum::body::to_bytes(response.into_body(), 100)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"hi");
        let bare = response_from_output(&json!({"ok": true}));
        assert_eq!(bare.status(), 200);
        let broken = response_from_output(&json!({"statusCode": "x"}));
        assert_eq!(broken.status(), 500);
    }
}

//! Faults on demand, for reliability tests. Everything lives under `/_sim/` (plainly not Stripe's
//! API), takes small JSON bodies, needs no API key, and is off until asked for.
//!
//! - `POST /_sim/faults`: the next `times` calls matching `method` and `path` (segments, `*` for
//!   one segment) fail with `429`, `500`, `timeout` (held `hold_ms`, then `then`: `500` or `drop`)
//!   or `drop` (the connection is closed without an answer), either `before` the request takes
//!   effect or `after` it did (applied and saved for its `Idempotency-Key`, then the client gets
//!   the fault). `GET /_sim/faults` lists the armed rules.
//! - `POST /_sim/webhooks`: `duplicate` (each event delivered twice) and `delay_ms` (before the
//!   first attempt). `POST /_sim/webhooks/pause` holds new deliveries; `POST
//!   /_sim/webhooks/resume` (`{"order": "reversed"}` or `"original"`) releases them one after
//!   another. `GET /_sim/deliveries` lists every attempt.
//! - `POST /_sim/reset`: every fault off (held deliveries are released in order).

use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::delivery::{self, Delivery};
use crate::state::App;

/// When an API fault strikes relative to the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// The request does not take effect.
    Before,
    /// The request takes effect (and its idempotency record is saved); only the answer is lost.
    After,
}

/// What the client gets instead of the real answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// 429 `rate_limit`.
    #[serde(rename = "429")]
    RateLimited,
    /// 500 `api_error`.
    #[serde(rename = "500")]
    ServerError,
    /// The connection is closed with no answer.
    #[serde(rename = "drop")]
    Drop,
    /// The answer is held for `hold_ms`, then `then` happens.
    #[serde(rename = "timeout")]
    Timeout,
}

/// How a held (`timeout`) call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AfterHold {
    /// Answer 500.
    #[default]
    #[serde(rename = "500")]
    ServerError,
    /// Close the connection.
    #[serde(rename = "drop")]
    Drop,
}

/// One armed API fault, as posted to `/_sim/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method (`POST`), or `*`.
    pub method: String,
    /// Path pattern: `/v1/billing/meter_events`, `/v1/customers/*`.
    pub path: String,
    /// How many matching calls fail (default 1).
    #[serde(default = "one", alias = "count")]
    pub times: u32,
    /// `before` (default) or `after` the operation.
    #[serde(default = "before")]
    pub when: When,
    /// `429`, `500`, `timeout` or `drop` (the status codes as strings or numbers).
    #[serde(deserialize_with = "fault_kind")]
    pub fault: FaultKind,
    /// For `timeout`: how long to hold the answer (default 5000 ms).
    #[serde(default = "five_seconds")]
    pub hold_ms: u64,
    /// For `timeout`: `500` (default) or `drop` once the hold is over.
    #[serde(default)]
    pub then: AfterHold,
}

/// Reads `"500"` and `500` alike.
fn fault_kind<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<FaultKind, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let text = match &value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    serde_json::from_value(Value::String(text)).map_err(serde::de::Error::custom)
}

fn one() -> u32 {
    1
}

fn before() -> When {
    When::Before
}

fn five_seconds() -> u64 {
    5_000
}

impl FaultRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let pattern: Vec<&str> = self.path.trim_end_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        pattern.len() == actual.len()
            && pattern
                .iter()
                .zip(&actual)
                .all(|(p, a)| *p == "*" || p == a)
    }
}

/// Armed API faults, consumed first come first served.
#[derive(Debug, Default)]
pub struct ApiFaults {
    rules: Vec<FaultRule>,
}

impl ApiFaults {
    /// Arms a rule.
    pub fn add(&mut self, rule: FaultRule) {
        if rule.times > 0 {
            self.rules.push(rule);
        }
    }

    /// Takes one use of the first rule matching this call, if any.
    pub fn take(&mut self, method: &str, path: &str) -> Option<FaultRule> {
        let index = self.rules.iter().position(|r| r.matches(method, path))?;
        let rule = self.rules[index].clone();
        self.rules[index].times -= 1;
        if self.rules[index].times == 0 {
            self.rules.remove(index);
        }
        Some(rule)
    }

    /// The armed rules with their remaining counts.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }
}

/// Webhook delivery faults.
#[derive(Debug, Default)]
pub struct WebhookFaults {
    /// Deliver every event twice.
    pub duplicate: bool,
    /// Wait this long before the first attempt.
    pub delay: Duration,
    /// Hold new deliveries instead of sending them.
    pub paused: bool,
    /// Deliveries held while paused, in the order they were produced.
    pub held: Vec<Delivery>,
}

/// The panic payload that closes a connection without an answer (see [`drop_connection`]).
#[derive(Debug)]
pub struct ConnectionDropped;

/// Closes the client's connection with no answer at all: the connection task unwinds (without
/// running the panic hook, so nothing is printed), and the socket is dropped, so the client sees
/// the connection closed before any response byte, exactly as when a server dies mid-request.
pub fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new(ConnectionDropped))
}

fn fault_response(kind: FaultKind) -> Response {
    match kind {
        FaultKind::RateLimited => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error": {
                    "code": "rate_limit",
                    "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                    "message": "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
                    "type": "invalid_request_error",
                }})),
            )
                .into_response();
            response
                .headers_mut()
                .insert("Stripe-Should-Retry", HeaderValue::from_static("true"));
            response
        }
        FaultKind::ServerError => {
            let mut response = (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": {
                    "message": "An unknown error occurred (injected by stripe-sim).",
                    "type": "api_error",
                }})),
            )
                .into_response();
            response
                .headers_mut()
                .insert("Stripe-Should-Retry", HeaderValue::from_static("true"));
            response
        }
        FaultKind::Drop | FaultKind::Timeout => drop_connection(),
    }
}

async fn strike(rule: &FaultRule) -> Response {
    match rule.fault {
        FaultKind::Timeout => {
            tokio::time::sleep(Duration::from_millis(rule.hold_ms)).await;
            match rule.then {
                AfterHold::ServerError => fault_response(FaultKind::ServerError),
                AfterHold::Drop => drop_connection(),
            }
        }
        kind => fault_response(kind),
    }
}

/// Middleware around the API (outside idempotency, so that an `after` fault strikes once the
/// response is saved for its key).
pub async fn layer(State(app): State<App>, request: Request, next: Next) -> Response {
    let rule = {
        let mut state = app.lock();
        state
            .api_faults
            .take(request.method().as_str(), request.uri().path())
    };
    let Some(rule) = rule else {
        return next.run(request).await;
    };
    if rule.when == When::After {
        let response = next.run(request).await;
        // Read the body to the end so the operation (and its idempotency record) is complete.
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    }
    tracing::info!(fault = ?rule.fault, when = ?rule.when, path = %rule.path, "injected fault");
    strike(&rule).await
}

/// `POST /_sim/webhooks` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookSettings {
    /// Deliver every event twice.
    pub duplicate: Option<bool>,
    /// Delay before each delivery's first attempt.
    pub delay_ms: Option<u64>,
}

/// `POST /_sim/webhooks/resume` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resume {
    /// `original` (default) or `reversed`.
    #[serde(default)]
    pub order: Option<String>,
}

/// Releases held deliveries, one after another, in the given order, and stops holding.
pub fn resume_webhooks(app: &App, reversed: bool) -> usize {
    let (mut held, duplicate, delay) = {
        let mut state = app.lock();
        let faults = &mut state.webhook_faults;
        faults.paused = false;
        (
            std::mem::take(&mut faults.held),
            faults.duplicate,
            faults.delay,
        )
    };
    if reversed {
        held.reverse();
    }
    let count = held.len();
    if count == 0 {
        return 0;
    }
    let config = app.config().delivery;
    let Some(client) = delivery::client(config) else {
        return 0;
    };
    let app = app.clone();
    tokio::spawn(async move {
        for d in held {
            delivery::deliver_copies(app.clone(), client.clone(), config, d, duplicate, delay)
                .await;
        }
    });
    count
}

async fn add_fault(State(app): State<App>, Json(rule): Json<FaultRule>) -> Json<Value> {
    let mut state = app.lock();
    state.api_faults.add(rule);
    Json(json!({"faults": state.api_faults.rules()}))
}

async fn list_faults(State(app): State<App>) -> Json<Value> {
    let state = app.lock();
    Json(json!({"faults": state.api_faults.rules()}))
}

async fn set_webhooks(
    State(app): State<App>,
    Json(settings): Json<WebhookSettings>,
) -> Json<Value> {
    let mut state = app.lock();
    let faults = &mut state.webhook_faults;
    if let Some(duplicate) = settings.duplicate {
        faults.duplicate = duplicate;
    }
    if let Some(ms) = settings.delay_ms {
        faults.delay = Duration::from_millis(ms);
    }
    Json(webhook_status(faults))
}

fn webhook_status(faults: &WebhookFaults) -> Value {
    json!({
        "duplicate": faults.duplicate,
        "delay_ms": u64::try_from(faults.delay.as_millis()).unwrap_or(u64::MAX),
        "paused": faults.paused,
        "held": faults.held.iter().map(|d| json!({"event": d.event_id, "type": d.event_type})).collect::<Vec<_>>(),
    })
}

async fn pause_webhooks(State(app): State<App>) -> Json<Value> {
    let mut state = app.lock();
    state.webhook_faults.paused = true;
    Json(webhook_status(&state.webhook_faults))
}

async fn resume(State(app): State<App>, body: axum::body::Bytes) -> Response {
    let resume: Resume = if body.is_empty() {
        Resume::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(err) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": err.to_string()})),
                )
                    .into_response();
            }
        }
    };
    let reversed = match resume.order.as_deref() {
        None | Some("original") => false,
        Some("reversed") => true,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("order must be original or reversed, not {other}")})),
            )
                .into_response();
        }
    };
    let released = resume_webhooks(&app, reversed);
    Json(json!({"released": released})).into_response()
}

async fn deliveries(State(app): State<App>) -> Json<Value> {
    let state = app.lock();
    Json(json!({"data": state.delivery_log}))
}

async fn reset(State(app): State<App>) -> Json<Value> {
    {
        let mut state = app.lock();
        state.api_faults = ApiFaults::default();
        state.webhook_faults.duplicate = false;
        state.webhook_faults.delay = Duration::ZERO;
    }
    let released = resume_webhooks(&app, false);
    Json(json!({"reset": true, "released": released}))
}

/// The `/_sim/` routes.
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
        .route("/_sim/faults", post(add_fault).get(list_faults))
        .route("/_sim/webhooks", post(set_webhooks))
        .route("/_sim/webhooks/pause", post(pause_webhooks))
        .route("/_sim/webhooks/resume", post(resume))
        .route("/_sim/deliveries", get(deliveries))
        .route("/_sim/reset", post(reset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(method: &str, path: &str, times: u32) -> FaultRule {
        FaultRule {
            method: method.into(),
            path: path.into(),
            times,
            when: When::Before,
            fault: FaultKind::ServerError,
            hold_ms: 0,
            then: AfterHold::ServerError,
        }
    }

    #[test]
    fn a_rule_matches_method_and_path_segments_and_is_used_up() {
        // GIVEN a rule for two calls to any customer
        let mut faults = ApiFaults::default();
        faults.add(rule("POST", "/v1/customers/*", 2));
        // WHEN calls arrive
        // THEN only matching ones take it, twice
        assert!(faults.take("GET", "/v1/customers/cus_1").is_none());
        assert!(faults.take("POST", "/v1/customers").is_none());
        assert!(faults.take("POST", "/v1/customers/cus_1").is_some());
        assert!(faults.take("post", "/v1/customers/cus_2").is_some());
        assert!(faults.take("POST", "/v1/customers/cus_3").is_none());
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn status_faults_may_be_numbers_or_strings() {
        let parsed: FaultRule =
            serde_json::from_str(r#"{"method":"GET","path":"/v1/events","fault":429}"#).unwrap();
        assert_eq!(parsed.fault, FaultKind::RateLimited);
        assert!(
            serde_json::from_str::<FaultRule>(r#"{"method":"GET","path":"/","fault":"418"}"#)
                .is_err()
        );
    }

    #[test]
    fn fault_rules_parse_from_small_json() {
        let parsed: FaultRule = serde_json::from_str(
            r#"{"method":"POST","path":"/v1/billing/meter_events","fault":"timeout","when":"after","hold_ms":50,"then":"drop"}"#,
        )
        .unwrap();
        assert_eq!(parsed.times, 1);
        assert_eq!(parsed.when, When::After);
        assert_eq!(parsed.fault, FaultKind::Timeout);
        assert_eq!(parsed.then, AfterHold::Drop);
    }
}

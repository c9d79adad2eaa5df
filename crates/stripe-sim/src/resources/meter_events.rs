//! `POST /v1/billing/meter_events`: usage for a customer on the active meter with that
//! `event_name`. Values are whole numbers; `identifier`s are unique for 24 hours (a duplicate gets
//! 400 with `Stripe-Should-Retry: false`); `timestamp` lies within the past 35 days and at most 5
//! minutes ahead; and, as on live Stripe, only one call per customer and meter may be in flight
//! (a concurrent one gets 429 `rate_limit`). The in-flight window can be stretched for tests with
//! [`crate::Config::meter_event_delay`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::http::{Form, RequestContext};
use crate::ids;
use crate::params::Endpoint;
use crate::resources::meters::Formula;
use crate::state::App;

/// How long identifiers stay unique.
pub const IDENTIFIER_TTL_SECS: i64 = 24 * 60 * 60;
/// How far back a timestamp may lie.
pub const MAX_PAST_SECS: i64 = 35 * 24 * 60 * 60;
/// How far ahead a timestamp may lie.
pub const MAX_FUTURE_SECS: i64 = 5 * 60;

/// Identifiers accepted in the last 24 hours, forgotten in arrival order.
#[derive(Debug, Default)]
pub struct IdentifierLog {
    seen: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl IdentifierLog {
    /// Whether `identifier` was accepted less than 24 hours before `now`.
    pub fn contains(&self, identifier: &str, now: i64) -> bool {
        self.seen
            .get(identifier)
            .is_some_and(|at| now - at < IDENTIFIER_TTL_SECS)
    }

    /// Records `identifier` as accepted at `now`, forgetting those older than 24 hours.
    pub fn insert(&mut self, identifier: String, now: i64) {
        while let Some((at, old)) = self.order.front() {
            if now - at < IDENTIFIER_TTL_SECS {
                break;
            }
            if self.seen.get(old) == Some(at) {
                self.seen.remove(old);
            }
            self.order.pop_front();
        }
        self.order.push_back((now, identifier.clone()));
        self.seen.insert(identifier, now);
    }
}

/// An accepted meter event.
#[derive(Debug, Clone)]
pub struct MeterEvent {
    /// Arrival order.
    pub seq: u64,
    /// Its unique identifier.
    pub identifier: String,
    /// The meter's event name.
    pub event_name: String,
    /// The meter it counts on.
    pub meter: String,
    /// The customer it is for.
    pub customer: String,
    /// The whole-number value.
    pub value: i64,
    /// When the usage happened (unix seconds).
    pub timestamp: i64,
    /// When Stripe received it.
    pub created: i64,
    /// The payload as sent.
    pub payload: BTreeMap<String, String>,
}

impl MeterEvent {
    /// The `billing.meter_event` object.
    pub fn render(&self) -> Value {
        json!({
            "object": "billing.meter_event",
            "created": self.created,
            "event_name": self.event_name,
            "identifier": self.identifier,
            "livemode": false,
            "payload": self.payload,
            "timestamp": self.timestamp,
        })
    }
}

/// `POST /v1/billing/meter_events`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing/meter_events",
    params: &[
        "event_name",
        "expand[]",
        "identifier",
        "payload[*]",
        "timestamp",
    ],
};

/// Releases the (customer, meter) in-flight slot however the call ends.
struct InFlight {
    app: App,
    key: (String, String),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.app.lock().meter_calls_in_flight.remove(&self.key);
    }
}

fn refused(message: String, param: &str) -> ApiError {
    ApiError::Refused {
        message,
        param: Some(param.to_string()),
        code: None,
    }
}

/// Records a meter event.
pub async fn create(
    State(app): State<App>,
    _ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let event_name = p.required_string("event_name", 100)?;
    if !p.has("payload") {
        return Err(ApiError::MissingParameter("payload".into()));
    }
    let payload = p.string_map("payload");
    let identifier = p.string("identifier", 100)?.filter(|s| !s.is_empty());
    let timestamp = p.int("timestamp")?;

    let (event, slot) = {
        let mut state = app.lock();
        let now = state.now();
        let meter = state
            .meters
            .newest_first()
            .map(|(_, m)| m)
            .find(|m| m.active && m.event_name == event_name)
            .ok_or_else(|| {
                refused(
                    format!("No active meter was found with event_name `{event_name}`."),
                    "event_name",
                )
            })?;
        let customer_param = format!("payload[{}]", meter.customer_key);
        let customer = payload
            .get(&meter.customer_key)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::MissingParameter(customer_param.clone()))?
            .clone();
        if state.customers.get(&customer).is_none() {
            return Err(ApiError::NoSuchReference {
                kind: "customer",
                id: customer,
                param: customer_param,
            });
        }
        let value_param = format!("payload[{}]", meter.value_key);
        let value = match payload.get(&meter.value_key) {
            None if meter.formula == Formula::Count => 1,
            None => return Err(ApiError::MissingParameter(value_param)),
            Some(raw) => parse_whole(raw).ok_or_else(|| ApiError::InvalidParameter {
                message: format!(
                    "Invalid value `{raw}` for {value_param}: the meter event value only accepts whole numbers."
                ),
                param: value_param.clone(),
                code: Some("parameter_invalid_integer"),
            })?,
        };
        // The window follows the customer's clock (a test clock's frozen time, if it has one).
        let customer_now = state.now_for(&customer);
        let timestamp = timestamp.unwrap_or(customer_now);
        if timestamp < customer_now - MAX_PAST_SECS {
            return Err(refused(
                format!(
                    "Timestamp {timestamp} is too far in the past: meter events must have a timestamp within the past 35 days."
                ),
                "timestamp",
            ));
        }
        if timestamp > customer_now + MAX_FUTURE_SECS {
            return Err(refused(
                format!(
                    "Timestamp {timestamp} is too far in the future: meter events can be at most 5 minutes in the future."
                ),
                "timestamp",
            ));
        }
        let identifier = identifier.unwrap_or_else(ids::new_uuid);
        if state.meter_identifiers.contains(&identifier, now) {
            return Err(ApiError::DuplicateMeterEvent(identifier));
        }
        let key = (customer.clone(), meter.id.clone());
        let event = MeterEvent {
            seq: 0,
            identifier,
            event_name: event_name.clone(),
            meter: meter.id.clone(),
            customer,
            value,
            timestamp,
            created: customer_now,
            payload: payload.clone(),
        };
        if !state.meter_calls_in_flight.insert(key.clone()) {
            return Err(ApiError::ConcurrentMeterEvent {
                customer: key.0,
                meter: key.1,
            });
        }
        (event, key)
    };
    let _slot = InFlight {
        app: app.clone(),
        key: slot,
    };
    let delay = app.config().meter_event_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = app.lock();
    let now = state.now();
    // Another customer's call may have taken the identifier while this one waited.
    if state.meter_identifiers.contains(&event.identifier, now) {
        return Err(ApiError::DuplicateMeterEvent(event.identifier));
    }
    state
        .meter_identifiers
        .insert(event.identifier.clone(), now);
    let event = MeterEvent {
        seq: u64::try_from(state.meter_events.len()).unwrap_or(u64::MAX),
        created: state.now_for(&event.customer),
        ..event
    };
    let rendered = event.render();
    state.meter_events.push(event);
    drop(state);
    Ok(Json(rendered))
}

/// A whole number written as digits with an optional sign (`"25"`, `"-3"`); `"2.5"` is refused.
pub fn parse_whole(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_remembered_for_24_hours() {
        // GIVEN an identifier accepted at t=0
        let mut log = IdentifierLog::default();
        log.insert("a".into(), 0);
        // THEN it counts as a duplicate until 24 hours have passed
        assert!(log.contains("a", IDENTIFIER_TTL_SECS - 1));
        assert!(!log.contains("a", IDENTIFIER_TTL_SECS));
        // AND it is pruned once later identifiers arrive
        log.insert("b".into(), IDENTIFIER_TTL_SECS);
        assert_eq!(log.seen.len(), 1);
    }

    #[test]
    fn only_whole_numbers_are_values() {
        assert_eq!(parse_whole("25"), Some(25));
        assert_eq!(parse_whole("-3"), Some(-3));
        for bad in ["2.5", "1e3", "", "-", "+4", " 4", "abc", "25.0"] {
            assert_eq!(parse_whole(bad), None, "{bad}");
        }
    }
}

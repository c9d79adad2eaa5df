//! The development routes, in the local stack only: sign-up (Cognito's PostConfirmation trigger
//! and a token), usage as the app writes it, a customer's clock, and what other tools need to
//! drive the stack.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use billing::ids::{CustomerId, UsageId};
use billing::period::to_rfc3339;
use billing::ports::Clock;
use billing::service::recording::{RecordUsageError, record_usage};
use billing::usage::UsageRecord;
use serde_json::{Map, Value, json};

use crate::apigw::{REGION, uuid};
use crate::clocks::ClockError;
use crate::cost::cost_from_body;
use crate::functions::invoke_post_confirmation;
use crate::server::{authorize, json_answer};
use crate::stack::Shared;

/// How long `/dev/clock/advance` waits for the stream to deliver what was written before.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

fn bad_request(reason: impl std::fmt::Display) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        &json!({"error": reason.to_string()}),
    )
}

fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

const NOT_AN_OBJECT: &str = "the body must be a JSON object";

/// The caller's customer: `custom:customer_id`, else `sub`, as the functions read it.
fn caller(claims: &Map<String, Value>) -> Option<CustomerId> {
    ["custom:customer_id", "sub"]
        .iter()
        .filter_map(|name| claims.get(*name).and_then(Value::as_str))
        .find(|v| !v.trim().is_empty())
        .and_then(|id| CustomerId::parse(id).ok())
}

/// The PostConfirmation event Cognito sends when `email` confirms a sign-up.
pub fn post_confirmation_event(
    user_pool_id: &str,
    client_id: &str,
    sub: &str,
    customer_id: &str,
    email: &str,
    name: &str,
) -> Value {
    json!({
        "version": "1",
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "region": REGION,
        "userPoolId": user_pool_id,
        "userName": sub,
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": client_id,
        },
        "request": {
            "userAttributes": {
                "sub": sub,
                "email_verified": "true",
                "cognito:user_status": "CONFIRMED",
                "cognito:email_alias": email,
                "name": name,
                "email": email,
                "custom:customer_id": customer_id,
            },
            "clientMetadata": {"source": "local-stack"},
        },
        "response": {},
    })
}

/// `POST /dev/signup {"email", "name"}`: a confirmed sign-up (the post-confirmation function runs
/// on Cognito's event and creates the Stripe customer on its own test clock) and an ID token.
/// 201 `{"customer_id", "token", "sub", "email", "stripe_customer_id"}`.
pub async fn signup(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(fields) = object(&body) else {
        return bad_request(NOT_AN_OBJECT);
    };
    let email = fields
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if email.len() < 3
        || email.len() > 254
        || !email.contains('@')
        || email.contains(char::is_whitespace)
    {
        return bad_request("email must be an email address");
    }
    let name = match fields.get("name") {
        None | Some(Value::Null) => email.split('@').next().unwrap_or(email).to_string(),
        Some(Value::String(name)) if name.trim().len() <= 256 => name.trim().to_string(),
        Some(_) => return bad_request("name must be a string"),
    };
    let customer_id = format!("cust-{:016x}", fastrand::u64(..));
    let sub = uuid();
    let event = post_confirmation_event(
        "us-east-1_local",
        shared.jwt.audience(),
        &sub,
        &customer_id,
        email,
        &name,
    );
    match invoke_post_confirmation(shared.clone(), event.clone()).await {
        Ok(returned) if returned == event => {}
        Ok(_) => {
            return json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "the post-confirmation function did not return Cognito's event"}),
            );
        }
        Err(e) => {
            return json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": e.to_string()}),
            );
        }
    }
    let Ok(id) = CustomerId::parse(customer_id.clone()) else {
        return json_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "customer id"}),
        );
    };
    let stripe_customer_id = shared
        .stores
        .customers
        .get_customer(&id)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.stripe_customer_id)
        .map(|s| s.to_string());
    let now = shared.clock.now();
    let claims = shared
        .jwt
        .id_token_claims(&sub, &customer_id, email, &name, now);
    json_answer(
        StatusCode::CREATED,
        &json!({
            "customer_id": customer_id,
            "token": shared.jwt.sign(&claims),
            "sub": sub,
            "email": email,
            "stripe_customer_id": stripe_customer_id,
        }),
    )
}

/// `POST /dev/usage {"openai_cost_usd", "usage_id"?}` (bearer token): writes a usage record for the
/// token's customer as the app does (`record_usage`), occurring at the customer's time, and puts
/// its `INSERT` on the stream. 201 with the record; 200 with `"already_recorded": true` for a
/// `usage_id` written before; 400 with the reason for a bad cost.
pub async fn usage(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let claims = match authorize(&shared, &headers) {
        Ok(claims) => claims,
        Err(refusal) => return crate::server::unauthorized(refusal.as_ref()),
    };
    let Some(customer_id) = caller(&claims) else {
        return crate::server::unauthorized(None);
    };
    let cost = match cost_from_body(&body, &shared.pricing) {
        Ok(cost) => cost,
        Err(e) => return bad_request(e),
    };
    let Some(fields) = object(&body) else {
        return bad_request(NOT_AN_OBJECT);
    };
    let usage_id = match fields.get("usage_id") {
        None | Some(Value::Null) => format!("u-{:032x}", fastrand::u128(..)),
        Some(Value::String(id)) => id.clone(),
        Some(_) => return bad_request("usage_id must be a string"),
    };
    let usage_id = match UsageId::parse(usage_id) {
        Ok(id) => id,
        Err(e) => return bad_request(format!("usage_id: {e}")),
    };
    let occurred_at = shared.clocks.now_for(&shared, &customer_id).await;
    let now = shared.clock.now();
    let record = UsageRecord {
        usage_id: usage_id.clone(),
        customer_id: customer_id.clone(),
        openai_cost_usd: cost,
        occurred_at,
    };
    let billed = shared
        .pricing
        .billed_for(cost)
        .map(|b| at_least_cents(b.as_decimal()))
        .unwrap_or_default();
    let answer = |status: StatusCode, already: bool| {
        json_answer(
            status,
            &json!({
                "usage_id": usage_id.as_str(),
                "customer_id": customer_id.as_str(),
                "openai_cost_usd": cost.to_string(),
                "billed_usd": billed,
                "occurred_at": to_rfc3339(occurred_at),
                "occurred_at_unix": occurred_at,
                "created_at_unix": now,
                "already_recorded": already,
            }),
        )
    };
    match record_usage(&*shared.stores.ledger, &shared.pricing, &record, now).await {
        Ok(true) => {
            let image = shared.stores.usage_image(&record, now).await;
            shared.stream.publish_insert(usage_id.as_str(), image, now);
            answer(StatusCode::CREATED, false)
        }
        Ok(false) => answer(StatusCode::OK, true),
        Err(e @ RecordUsageError::BadCost { .. }) => bad_request(e),
        Err(e @ RecordUsageError::Store(_)) => json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// An amount with at least two decimals, as the subscription view prints them (`"2.50"`,
/// `"0.000246"`).
pub fn at_least_cents(amount: rust_decimal::Decimal) -> String {
    let mut amount = amount.normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount.to_string()
}

/// `POST /dev/clock/advance {"days", "seconds"?}` (bearer token): lets the stream deliver what was
/// written, then advances the token's customer's test clock; the stand-in has run what fell due
/// (period ends, invoices, charges) when this answers, and the webhooks are on their way.
pub async fn advance_clock(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let claims = match authorize(&shared, &headers) {
        Ok(claims) => claims,
        Err(refusal) => return crate::server::unauthorized(refusal.as_ref()),
    };
    let Some(customer_id) = caller(&claims) else {
        return crate::server::unauthorized(None);
    };
    let Some(fields) = object(&body) else {
        return bad_request(NOT_AN_OBJECT);
    };
    let whole = |name: &str, max: u64| match fields.get(name) {
        None | Some(Value::Null) => Ok(0_i64),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= max)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| format!("{name} must be a whole number from 0 to {max}")),
    };
    let (days, seconds) = match (whole("days", 3_660), whole("seconds", 100_000_000)) {
        (Ok(d), Ok(s)) if d + s > 0 => (d, s),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
        _ => return bad_request("days (or seconds) must be more than 0"),
    };
    if !shared.stream.drained_within(DRAIN_TIMEOUT).await {
        tracing::warn!("advancing the clock with usage still on the stream");
    }
    match shared
        .clocks
        .advance(&shared, &customer_id, days * 86_400 + seconds)
        .await
    {
        Ok(advanced) => json_answer(
            StatusCode::OK,
            &json!({
                "customer_id": customer_id.as_str(),
                "test_clock": advanced.clock_id,
                "from": to_rfc3339(advanced.from),
                "frozen_time": to_rfc3339(advanced.to),
                "frozen_time_unix": advanced.to,
                "advanced_seconds": advanced.to - advanced.from,
            }),
        ),
        Err(e @ (ClockError::NoStripeCustomer(_) | ClockError::NoTestClock(_))) => {
            json_answer(StatusCode::CONFLICT, &json!({"error": e.to_string()}))
        }
        Err(e) => json_answer(StatusCode::BAD_GATEWAY, &json!({"error": e.to_string()})),
    }
}

/// `GET /dev/info`: `{"api_base_url", "stripe_base_url", "stripe_api_key", "webhook_secret",
/// "allowance_mode"}`.
pub async fn info(State(shared): State<Arc<Shared>>) -> Response {
    json_answer(StatusCode::OK, &json!(shared.info))
}

/// `GET /dev/webhooks`: every webhook delivery the webhook function answered, in order
/// (`event_id`, `event_type`, `object_id`, `status`).
pub async fn webhooks(State(shared): State<Arc<Shared>>) -> Response {
    let log = shared
        .webhooks
        .lock()
        .map(|log| log.clone())
        .unwrap_or_default();
    json_answer(StatusCode::OK, &json!(log))
}

/// `GET /dev/stream`: the emulated stream's counters.
pub async fn stream(State(shared): State<Arc<Shared>>) -> Response {
    let s = &shared.stream.stats;
    json_answer(
        StatusCode::OK,
        &json!({
            "published": s.published.load(Ordering::SeqCst),
            "pending": shared.stream.pending(),
            "invocations": s.invocations.load(Ordering::SeqCst),
            "redelivered": s.redelivered.load(Ordering::SeqCst),
            "dropped": s.dropped.load(Ordering::SeqCst),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_print_with_at_least_cents() {
        let d = |s| rust_decimal::Decimal::from_str(s).unwrap_or_default();
        assert_eq!(at_least_cents(d("2.5")), "2.50");
        assert_eq!(at_least_cents(d("16")), "16.00");
        assert_eq!(at_least_cents(d("0.000246")), "0.000246");
        assert_eq!(at_least_cents(d("13.0002460")), "13.000246");
    }

    #[test]
    fn the_sign_up_event_is_what_the_function_reads_as_a_confirmed_sign_up() {
        let event = post_confirmation_event("pool", "client", "s-1", "cust-1", "a@b.c", "A");
        let sign_up = post_confirmation::SignUp::from_event(&event).map(|s| s.proposal);
        assert_eq!(
            sign_up.as_ref().map(|p| p.customer_id.as_str()),
            Some("cust-1")
        );
        assert_eq!(sign_up.and_then(|p| p.cognito_sub), Some("s-1".to_string()));
    }
}

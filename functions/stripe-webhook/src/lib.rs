//! The Stripe webhook function: `POST /v1/stripe/webhook` on the HTTP API, no authorizer (Stripe
//! proves itself with the `Stripe-Signature` header).
//!
//! The use case is the core's ([`billing::service::webhook::handle`]: verify, deduplicate,
//! re-fetch the subscription, store it under a version guard); this crate only turns an API
//! Gateway payload 2.0 event into its arguments and its answer into an HTTP response. Every
//! answer, 4xx and 5xx included, is an `Ok` response: Stripe retries on non-2xx, and the Lambda
//! runtime never sees an error.
//!
//! # Layout
//! - [`handler`]: one invocation, over the ports in [`WebhookDeps`] (tests and the local stack
//!   call it directly).
//! - [`manifest`]: [`MANIFEST`] (route, environment, tables, secrets) and [`config_from_env`].
//! - `main.rs`: builds the configuration, the store, the Stripe client and the verifier once per
//!   cold start, then runs the handler.

pub mod manifest;

pub use manifest::{Config, MANIFEST, ROUTE, config_from_env};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::service::webhook::{self, WebhookAnswer};
use billing_lambda::apigw::{self, BodyError};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::warn;

pub use billing::service::webhook::WebhookDeps;

/// The largest body accepted: Stripe's events are a few kilobytes, so a larger body is refused
/// with a 400 before any verification work.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Handles one delivery. The Lambda request id is the claim token, so that a retry of the same
/// event by another invocation is told apart from this one.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    deps: &WebhookDeps<'_>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> ApiGatewayV2httpResponse {
    let request = &event.payload;
    let body = match apigw::body_bytes(request, MAX_BODY_BYTES) {
        Ok(body) => body,
        Err(e @ BodyError::TooLarge { .. }) => {
            warn!(error = %e, "webhook refused: body too large");
            return apigw::json_response(400, &json!({"error": "body too large"}));
        }
        Err(e @ BodyError::Base64(_)) => {
            warn!(error = %e, "webhook refused: body encoding");
            return apigw::json_response(400, &json!({"error": e.to_string()}));
        }
    };
    let signature = apigw::header(request, "stripe-signature");
    let answer = webhook::handle(deps, &body, signature, &event.context.request_id).await;
    response_for(&answer)
}

/// The HTTP response for the core's answer: `{"received": true}` on 200, `{"error": reason}`
/// otherwise.
pub fn response_for(answer: &WebhookAnswer) -> ApiGatewayV2httpResponse {
    let body = match answer {
        WebhookAnswer::Done(_) => json!({"received": true}),
        WebhookAnswer::Rejected(reason) | WebhookAnswer::RetryLater(reason) => {
            json!({"error": reason})
        }
        WebhookAnswer::InProgress => json!({"error": "event is being processed; retry later"}),
    };
    apigw::json_response(answer.status(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::encodings::Body;
    use billing::service::webhook::Outcome;

    fn body(response: &ApiGatewayV2httpResponse) -> serde_json::Value {
        match &response.body {
            Some(Body::Text(text)) => serde_json::from_str(text).unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }

    #[test]
    fn each_answer_maps_to_its_status_and_a_small_json_body() {
        // GIVEN every kind of answer the core gives
        let cases = [
            (
                WebhookAnswer::Done(Outcome::Duplicate),
                200,
                json!({"received": true}),
            ),
            (
                WebhookAnswer::Rejected("invalid signature: x".into()),
                400,
                json!({"error": "invalid signature: x"}),
            ),
            (
                WebhookAnswer::InProgress,
                409,
                json!({"error": "event is being processed; retry later"}),
            ),
            (
                WebhookAnswer::RetryLater("store: down".into()),
                500,
                json!({"error": "store: down"}),
            ),
        ];
        for (answer, status, expected) in cases {
            // WHEN turned into a response THEN status and body match
            let response = response_for(&answer);
            assert_eq!(response.status_code, status);
            assert_eq!(body(&response), expected);
        }
    }
}

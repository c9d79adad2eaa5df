//! The subscription function: `GET /admin/billing/subscription` on the HTTP API, behind the JWT
//! authorizer. It answers from the `customers` table alone (no Stripe call), with the view the
//! core computes ([`billing::service::subscription_view`]).
//!
//! The caller is who the authorizer's verified claims say (`custom:customer_id`, else `sub`); the
//! query string, path and body are never read, so no request can name another customer.
//!
//! # Layout
//! - [`handler`]: one invocation over [`Deps`] (tests and the local stack call it directly).
//! - [`manifest`]: [`MANIFEST`] (route, environment, tables, secrets) and [`config_from_env`].
//! - `main.rs`: configuration and the DynamoDB store once per cold start, then the runtime loop.

pub mod manifest;

pub use manifest::{Config, MANIFEST, ROUTE, config_from_env};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::ids::CustomerId;
use billing::ports::{Clock, CustomerStore};
use billing::service::subscription_view::{self, ViewSettings};
use billing_lambda::apigw;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::warn;

/// The claim naming our customer id, when the user pool sets it.
pub const CUSTOMER_ID_CLAIM: &str = "custom:customer_id";

/// The ports and settings the function needs: read access to customers and the time.
pub struct Deps<'a> {
    /// The customers table (only `get_customer` is used).
    pub customers: &'a dyn CustomerStore,
    /// The time (the past-due grace depends on it).
    pub clock: &'a dyn Clock,
    /// Prices and the past-due grace.
    pub settings: &'a ViewSettings,
}

/// The customer the verified claims identify: `custom:customer_id`, else `sub`.
pub fn caller(request: &ApiGatewayV2httpRequest) -> Option<CustomerId> {
    apigw::jwt_claim(request, CUSTOMER_ID_CLAIM)
        .or_else(|| apigw::jwt_claim(request, "sub"))
        .and_then(|id| CustomerId::parse(id).ok())
}

/// Answers one request: 200 with the view (a "no subscription" view for an unknown customer),
/// 401 without usable claims, 500 when the store fails.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    deps: &Deps<'_>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> ApiGatewayV2httpResponse {
    let Some(customer_id) = caller(&event.payload) else {
        warn!("subscription refused: no usable identity claim");
        return apigw::json_response(401, &json!({"error": "unauthorized"}));
    };
    match deps.customers.get_customer(&customer_id).await {
        Ok(record) => {
            let view = subscription_view::compute(record.as_ref(), deps.settings, deps.clock.now());
            match serde_json::to_value(&view) {
                Ok(body) => apigw::json_response(200, &body),
                Err(e) => {
                    warn!(customer_id = %customer_id, error = %e, "could not render the view");
                    apigw::json_response(500, &json!({"error": "internal error"}))
                }
            }
        }
        Err(e) => {
            warn!(customer_id = %customer_id, error = %e, "could not read the customer");
            apigw::json_response(
                500,
                &json!({"error": "could not read the subscription; retry later"}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_claims(claims: serde_json::Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json!({
            "version": "2.0", "rawPath": "/admin/billing/subscription",
            "rawQueryString": "customer_id=someone-else",
            "queryStringParameters": {"customer_id": "someone-else"},
            "requestContext": {"requestId": "r", "http": {"method": "GET",
                "path": "/admin/billing/subscription", "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1", "userAgent": "x"},
                "authorizer": {"jwt": {"claims": claims, "scopes": null}}},
            "isBase64Encoded": false
        }))
        .unwrap_or_default()
    }

    #[test]
    fn the_caller_is_custom_customer_id_else_sub_and_never_the_query() {
        let id = |claims| caller(&with_claims(claims)).map(|c| c.to_string());
        assert_eq!(
            id(json!({"sub": "u1", "custom:customer_id": "c1"})),
            Some("c1".into())
        );
        assert_eq!(id(json!({"sub": "u1"})), Some("u1".into()));
        assert_eq!(
            id(json!({"custom:customer_id": "", "sub": "u1"})),
            Some("u1".into())
        );
        assert_eq!(id(json!({"client_id": "app"})), None);
        // an id that is not a valid customer id (white space) is no identity
        assert_eq!(id(json!({"sub": "a b"})), None);
    }
}

//! The checkout-session function: `POST /admin/billing/checkout-session` on the HTTP API, behind
//! the JWT authorizer. It answers `{"url", "id"}` of the Stripe Checkout Session the browser goes
//! to, from [`billing::service::onboarding::start_checkout`]: one open session per customer, no
//! second subscription, and the Stripe customer created lazily (from the request stored at
//! sign-up, if any) when sign-up could not reach Stripe.
//!
//! The caller is who the authorizer's verified claims say (`custom:customer_id`, else `sub`); the
//! body, query string and headers are never read, so no request can act on another customer. The
//! success and cancel URLs come from configuration only.
//!
//! # Layout
//! - [`handler`]: one invocation over [`Deps`] (tests and the local stack call it directly).
//! - [`manifest`]: [`MANIFEST`] (route, environment, tables, secrets) and [`config_from_env`].
//! - `main.rs`: configuration, the store and the Stripe client once per cold start, then the
//!   runtime loop.

pub mod manifest;

pub use manifest::{Config, MANIFEST, ROUTE, config_from_env};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::config::{CheckoutConfig, PricesConfig};
use billing::service::onboarding::{OnboardingDeps, start_checkout};
use billing_lambda::{apigw, onboarding};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::{info, warn};

/// The ports and settings the function needs.
pub struct Deps<'a> {
    /// The customers table, creation requests, checkout slots and Stripe.
    pub onboarding: OnboardingDeps<'a>,
    /// `STRIPE_PRICE_ID` and `STRIPE_METERED_PRICE_ID`.
    pub prices: &'a PricesConfig,
    /// `CHECKOUT_SUCCESS_URL` and `CHECKOUT_CANCEL_URL`.
    pub urls: &'a CheckoutConfig,
}

/// Answers one request: 200 `{"url","id"}`; 401 without usable claims; 409 when a subscription
/// stands or a checkout was just completed; 502/503 when Stripe or the store failed.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    deps: &Deps<'_>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> ApiGatewayV2httpResponse {
    let request = &event.payload;
    let Some(customer_id) = onboarding::caller(request) else {
        warn!("checkout refused: no usable identity claim");
        return onboarding::unauthorized();
    };
    let proposal = onboarding::proposal_from_claims(request, customer_id.clone());
    match start_checkout(&deps.onboarding, &proposal, deps.prices, deps.urls).await {
        Ok(link) => {
            info!(customer_id = %customer_id, session_id = %link.id, "checkout session ready");
            apigw::json_response(200, &json!({"url": link.url, "id": link.id}))
        }
        Err(e) => {
            warn!(customer_id = %customer_id, error = %e, "checkout not started");
            onboarding::error_response(&e)
        }
    }
}

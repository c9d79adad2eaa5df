//! The portal-session function: `POST /admin/billing/portal-session` on the HTTP API, behind the
//! JWT authorizer. It answers `{"url"}` of a new Stripe billing portal session for the caller's
//! Stripe customer ([`billing::service::onboarding::open_portal`]), returning to
//! `STRIPE_PORTAL_RETURN_URL`.
//!
//! The caller is who the authorizer's verified claims say (`custom:customer_id`, else `sub`); the
//! body, query string and headers are never read.
//!
//! # Layout
//! - [`handler`]: one invocation over [`Deps`] (tests and the local stack call it directly).
//! - [`manifest`]: [`MANIFEST`] (route, environment, tables, secrets) and [`config_from_env`].
//! - `main.rs`: configuration, the store and the Stripe client once per cold start, then the
//!   runtime loop.

pub mod manifest;

pub use manifest::{Config, MANIFEST, ROUTE, config_from_env};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::config::PortalConfig;
use billing::service::onboarding::{OnboardingDeps, OnboardingError, open_portal};
use billing_lambda::{apigw, onboarding};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::{info, warn};

/// The ports and settings the function needs.
pub struct Deps<'a> {
    /// The customers table and Stripe (creation requests and slots are not used).
    pub onboarding: OnboardingDeps<'a>,
    /// `STRIPE_PORTAL_RETURN_URL` and `STRIPE_PORTAL_CONFIGURATION_ID`.
    pub portal: &'a PortalConfig,
}

/// Answers one request: 200 `{"url"}`; 401 without usable claims; 404 when the caller has no
/// Stripe customer yet; 502/503 when Stripe or the store failed.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    deps: &Deps<'_>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> ApiGatewayV2httpResponse {
    let Some(customer_id) = onboarding::caller(&event.payload) else {
        warn!("portal refused: no usable identity claim");
        return onboarding::unauthorized();
    };
    match open_portal(&deps.onboarding, &customer_id, deps.portal).await {
        Ok(url) => {
            info!(customer_id = %customer_id, "portal session created");
            apigw::json_response(200, &json!({"url": url}))
        }
        Err(e @ OnboardingError::NoStripeCustomer(_)) => {
            info!(customer_id = %customer_id, "portal refused: no Stripe customer yet");
            onboarding::error_response(&e)
        }
        Err(e) => {
            warn!(customer_id = %customer_id, error = %e, "portal session not created");
            onboarding::error_response(&e)
        }
    }
}

//! The post-confirmation function: Cognito's PostConfirmation trigger. On a confirmed sign-up it
//! creates the customer's Stripe customer (once, whatever Cognito retries and however many users
//! the customer has) with [`billing::service::onboarding::ensure_stripe_customer`].
//!
//! - Only `PostConfirmation_ConfirmSignUp` acts; `PostConfirmation_ConfirmForgotPassword` (a
//!   password reset) and anything else are returned untouched.
//! - The event is **always** returned as it came (Cognito needs it back), even when Stripe is down
//!   or slow: the Stripe work is bounded by [`Settings::stripe_timeout`] (Cognito allows 5 s), and a
//!   failure is logged, not raised. Checkout creates the customer later from the creation request
//!   stored here, under the same idempotency key (the core guarantees it).
//! - The handler takes and returns the raw JSON event and reads it through
//!   [`CognitoEventUserPoolsPostConfirmation`]: a typed round trip would drop fields the type does
//!   not know and fail on a trigger source it does not know, so the raw event is what goes back.
//!
//! # Layout
//! - [`handler`]: one invocation over [`Deps`] (tests and the local stack call it directly).
//! - [`Settings`]: `SIGNUP_STRIPE_TIMEOUT_MS` and `STRIPE_TEST_CLOCKS`.
//! - [`manifest`]: [`MANIFEST`] (route, environment, tables, secrets) and [`config_from_env`].
//! - `main.rs`: configuration, store and Stripe client once per cold start, then the runtime loop.

pub mod manifest;

pub use manifest::{Config, MANIFEST, config_from_env};

use std::time::Duration;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPostConfirmationTriggerSource,
};
use billing::config::{ConfigError, Env};
use billing::ids::CustomerId;
use billing::service::onboarding::{OnboardingDeps, OnboardingError, ensure_stripe_customer};
use billing::stripe::{NewCustomer, StripeError};
use billing_adapters::stripe_http::StripeHttpClient;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{info, warn};

pub use billing_lambda::onboarding::CUSTOMER_ID_CLAIM;

/// The default bound of the Stripe work: Cognito waits 5 s, the rest is for the runtime.
pub const DEFAULT_STRIPE_TIMEOUT: Duration = Duration::from_millis(3_500);

/// The function's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SIGNUP_STRIPE_TIMEOUT_MS` (default 3,500): the bound of the whole Stripe work.
    pub stripe_timeout: Duration,
    /// `STRIPE_TEST_CLOCKS=1` (local stack and tests only, never in production): each new
    /// customer is created on a fresh Stripe test clock.
    pub test_clocks: bool,
}

impl Settings {
    /// Reads the settings.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let stripe_timeout = match env.var("SIGNUP_STRIPE_TIMEOUT_MS") {
            None => DEFAULT_STRIPE_TIMEOUT,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(ms) if (1..=4_900).contains(&ms) => Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "SIGNUP_STRIPE_TIMEOUT_MS",
                        reason: "must be a whole number of milliseconds from 1 to 4900".into(),
                    });
                }
            },
        };
        let test_clocks = match env.var("STRIPE_TEST_CLOCKS").as_deref().map(str::trim) {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "STRIPE_TEST_CLOCKS",
                    reason: "must be 1 or 0".into(),
                });
            }
        };
        Ok(Settings {
            stripe_timeout,
            test_clocks,
        })
    }
}

/// The ports and settings the function needs.
pub struct Deps<'a> {
    /// The customers table, creation requests and Stripe.
    pub onboarding: OnboardingDeps<'a>,
    /// The Stripe client for test clocks, when [`Settings::test_clocks`] is on.
    pub test_clocks: Option<&'a StripeHttpClient>,
    /// The bound of the Stripe work.
    pub stripe_timeout: Duration,
}

/// Why the sign-up's Stripe work did not finish (logged, never raised to Cognito).
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// The use case failed.
    #[error(transparent)]
    Onboarding(#[from] OnboardingError),
    /// The test clock could not be created.
    #[error("test clock: {0}")]
    TestClock(#[source] StripeError),
    /// Stripe's answer to the test clock had no id.
    #[error("test clock: Stripe's answer has no id")]
    TestClockId,
    /// The bound elapsed.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
}

/// What a sign-up asks of billing, read from the event's user attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUp {
    /// The creation request proposed (without a test clock yet).
    pub proposal: NewCustomer,
}

impl SignUp {
    /// The sign-up in `event`, or `None` when the event is not a confirmed sign-up or names no
    /// usable customer: our customer id is `custom:customer_id`, else the Cognito `sub`.
    pub fn from_event(event: &Value) -> Option<SignUp> {
        let typed: CognitoEventUserPoolsPostConfirmation =
            serde_json::from_value(event.clone()).ok()?;
        let source = typed.cognito_event_user_pools_header.trigger_source;
        if source != Some(CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmSignUp) {
            return None;
        }
        let attributes = &typed.request.user_attributes;
        let attribute = |name: &str| {
            attributes
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let sub = attribute("sub");
        let customer_id = attribute(CUSTOMER_ID_CLAIM)
            .or_else(|| sub.clone())
            .and_then(|id| CustomerId::parse(id).ok())?;
        Some(SignUp {
            proposal: NewCustomer {
                customer_id,
                email: attribute("email"),
                name: attribute("name"),
                cognito_sub: sub,
                test_clock: None,
            },
        })
    }
}

/// Handles one trigger: creates the Stripe customer of a confirmed sign-up within the bound, and
/// returns the event it got, whatever happened.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(deps: &Deps<'_>, event: LambdaEvent<Value>) -> Value {
    let Some(sign_up) = SignUp::from_event(&event.payload) else {
        info!("post-confirmation: not a confirmed sign-up with a customer; nothing to do");
        return event.payload;
    };
    let customer_id = sign_up.proposal.customer_id.clone();
    let work = create_customer(deps, sign_up.proposal);
    let outcome = match tokio::time::timeout(deps.stripe_timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(SignUpError::TimedOut(deps.stripe_timeout)),
    };
    match outcome {
        Ok(stripe_customer_id) => {
            info!(customer_id = %customer_id, stripe_customer_id = %stripe_customer_id,
                "Stripe customer ready");
        }
        Err(e) => {
            // No PII: the customer id and the error (Stripe's messages carry no secret).
            warn!(customer_id = %customer_id, error = %e,
                "Stripe customer not created at sign-up; checkout will create it");
        }
    }
    event.payload
}

/// Creates (or finds) the Stripe customer, on a fresh test clock when those are on and the
/// customer is not linked yet.
async fn create_customer(
    deps: &Deps<'_>,
    mut proposal: NewCustomer,
) -> Result<billing::ids::StripeCustomerId, SignUpError> {
    if let Some(stripe) = deps.test_clocks {
        let linked = deps
            .onboarding
            .customers
            .get_customer(&proposal.customer_id)
            .await
            .map_err(OnboardingError::from)?
            .and_then(|c| c.stripe_customer_id);
        if let Some(linked) = linked {
            return Ok(linked);
        }
        let now = deps.onboarding.clock.now();
        proposal.test_clock = Some(create_test_clock(stripe, &proposal.customer_id, now).await?);
    }
    Ok(ensure_stripe_customer(&deps.onboarding, &proposal).await?)
}

/// A test clock frozen at `now`, under a key derived from the customer id (a Cognito retry gets
/// the same clock). Should a retry come at another second, Stripe refuses the key's reuse with
/// other parameters; a clock under a key naming the time is made instead, and the stored
/// creation request still decides which clock the customer lives on.
pub async fn create_test_clock(
    stripe: &StripeHttpClient,
    customer_id: &CustomerId,
    now: i64,
) -> Result<String, SignUpError> {
    let form = vec![
        ("frozen_time".to_string(), now.to_string()),
        ("name".to_string(), format!("customer {customer_id}")),
    ];
    let path = "/v1/test_helpers/test_clocks";
    let key = format!("test-clock-{customer_id}");
    let clock = match stripe.post_form(path, &form, &key).await {
        Err(e) if e.is_idempotency_mismatch() => stripe
            .post_form(path, &form, &format!("{key}-{now}"))
            .await
            .map_err(SignUpError::TestClock)?,
        other => other.map_err(SignUpError::TestClock)?,
    };
    clock["id"]
        .as_str()
        .map(str::to_string)
        .ok_or(SignUpError::TestClockId)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn event(source: &str, attributes: Value) -> Value {
        json!({"version": "1", "triggerSource": source, "region": "us-east-1",
            "userPoolId": "us-east-1_example", "userName": "ann",
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "4example"},
            "request": {"userAttributes": attributes}, "response": {}})
    }

    #[test]
    fn a_sign_up_reads_the_customer_from_custom_customer_id_else_sub() {
        // GIVEN confirmed sign-ups with and without custom:customer_id
        let with = event(
            "PostConfirmation_ConfirmSignUp",
            json!({"sub": "s-1", "email": "ann@example.com", "name": "Ann", "custom:customer_id": "tenant-1"}),
        );
        let without = event("PostConfirmation_ConfirmSignUp", json!({"sub": "s-1"}));
        // WHEN read THEN the customer id and the proposal's fields
        let p = SignUp::from_event(&with).map(|s| s.proposal);
        assert_eq!(p.as_ref().map(|p| p.customer_id.as_str()), Some("tenant-1"));
        assert_eq!(
            p.as_ref().and_then(|p| p.email.as_deref()),
            Some("ann@example.com")
        );
        assert_eq!(p.as_ref().and_then(|p| p.name.as_deref()), Some("Ann"));
        assert_eq!(
            p.as_ref().and_then(|p| p.cognito_sub.as_deref()),
            Some("s-1")
        );
        let p = SignUp::from_event(&without).map(|s| s.proposal);
        assert_eq!(p.map(|p| p.customer_id.to_string()), Some("s-1".into()));
    }

    #[test]
    fn a_password_reset_an_unknown_source_or_no_identity_is_not_a_sign_up() {
        // GIVEN events that must not create anything
        for e in [
            event(
                "PostConfirmation_ConfirmForgotPassword",
                json!({"sub": "s-1"}),
            ),
            event("PostConfirmation_SomethingNew", json!({"sub": "s-1"})),
            event(
                "PostConfirmation_ConfirmSignUp",
                json!({"email": "x@example.com"}),
            ),
            json!({"not": "a cognito event"}),
        ] {
            // WHEN read THEN no sign-up
            assert_eq!(SignUp::from_event(&e), None, "{e}");
        }
    }

    #[test]
    fn settings_have_safe_defaults_and_refuse_nonsense() {
        let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // GIVEN no variables THEN 3.5 s and no test clocks
        assert_eq!(
            Settings::from_env(&env(&[])),
            Ok(Settings {
                stripe_timeout: DEFAULT_STRIPE_TIMEOUT,
                test_clocks: false
            })
        );
        // GIVEN overrides THEN they apply
        assert_eq!(
            Settings::from_env(&env(&[
                ("SIGNUP_STRIPE_TIMEOUT_MS", "800"),
                ("STRIPE_TEST_CLOCKS", "1")
            ])),
            Ok(Settings {
                stripe_timeout: Duration::from_millis(800),
                test_clocks: true
            })
        );
        // GIVEN a bound Cognito would not wait for, or a bad flag THEN refused, naming the variable
        for (var, value) in [
            ("SIGNUP_STRIPE_TIMEOUT_MS", "6000"),
            ("SIGNUP_STRIPE_TIMEOUT_MS", "x"),
            ("STRIPE_TEST_CLOCKS", "yes"),
        ] {
            assert!(matches!(Settings::from_env(&env(&[(var, value)])),
                Err(ConfigError::Invalid { var: v, .. }) if v == var));
        }
    }
}

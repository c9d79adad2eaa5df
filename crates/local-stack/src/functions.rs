//! The six functions as the local stack invokes them: each call lends the handler the same kind
//! of `Deps` its `main.rs` builds at cold start, over the stack's store and Stripe client, and
//! runs it in its own task (a panic is the function's failure, as a crashed invocation is in
//! Lambda, not the server's).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::ports::{Clock, SystemClock};
use billing::service::onboarding::OnboardingDeps;
use billing::service::webhook::WebhookDeps;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

use crate::apigw::{ACCOUNT_ID, REGION, uuid};
use crate::stack::Shared;

/// The functions behind the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFunction {
    /// `GET /admin/billing/subscription`.
    Subscription,
    /// `POST /admin/billing/checkout-session`.
    CheckoutSession,
    /// `POST /admin/billing/portal-session`.
    PortalSession,
    /// `POST /v1/stripe/webhook`.
    StripeWebhook,
}

impl HttpFunction {
    /// The function's name (its package, from its `MANIFEST`).
    pub fn name(self) -> &'static str {
        match self {
            HttpFunction::Subscription => subscription::MANIFEST.package,
            HttpFunction::CheckoutSession => checkout_session::MANIFEST.package,
            HttpFunction::PortalSession => portal_session::MANIFEST.package,
            HttpFunction::StripeWebhook => stripe_webhook::MANIFEST.package,
        }
    }
}

/// Why an invocation produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The handler panicked.
    #[error("the {0} function crashed")]
    Crashed(&'static str),
    /// The usage reporter failed as a whole (Lambda would retry the invocation).
    #[error("the usage-reporter function failed: {0}")]
    Failed(#[source] usage_reporter::HandlerError),
}

/// The invocation context Lambda hands a function: a fresh request id, the function's ARN and
/// the deadline its timeout sets.
pub fn context(function: &str, timeout: Duration) -> Context {
    let mut context = Context::default();
    context.request_id = uuid();
    context.invoked_function_arn =
        format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}");
    let now_ms = u64::try_from(SystemClock.now_millis()).unwrap_or(0);
    context.deadline = now_ms + u64::try_from(timeout.as_millis()).unwrap_or(0);
    context
}

/// Runs the HTTP function `function` on `event`.
pub async fn invoke_http(
    shared: Arc<Shared>,
    function: HttpFunction,
    event: ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, InvokeError> {
    let name = function.name();
    let task = tokio::spawn(async move {
        let s = &*shared;
        let event = LambdaEvent::new(event, context(name, Duration::from_secs(29)));
        let onboarding = OnboardingDeps {
            customers: &*s.stores.customers,
            onboarding: &*s.stores.onboarding,
            stripe: &s.stripe,
            clock: &s.clock,
        };
        match function {
            HttpFunction::Subscription => {
                let deps = subscription::Deps {
                    customers: &*s.stores.customers,
                    clock: &s.clock,
                    settings: &s.view,
                };
                subscription::handler(&deps, event).await
            }
            HttpFunction::CheckoutSession => {
                let deps = checkout_session::Deps {
                    onboarding,
                    prices: &s.prices,
                    urls: &s.checkout_urls,
                };
                checkout_session::handler(&deps, event).await
            }
            HttpFunction::PortalSession => {
                let deps = portal_session::Deps {
                    onboarding,
                    portal: &s.portal,
                };
                portal_session::handler(&deps, event).await
            }
            HttpFunction::StripeWebhook => {
                let deps = WebhookDeps {
                    events: &*s.stores.events,
                    customers: &*s.stores.customers,
                    stripe: &s.stripe,
                    clock: &s.clock,
                    verifier: &s.verifier,
                };
                stripe_webhook::handler(&deps, event).await
            }
        }
    });
    task.await.map_err(|_| InvokeError::Crashed(name))
}

/// Runs the post-confirmation trigger on a Cognito event; answers what it returned to Cognito.
pub async fn invoke_post_confirmation(
    shared: Arc<Shared>,
    event: Value,
) -> Result<Value, InvokeError> {
    const NAME: &str = post_confirmation::MANIFEST.package;
    let task = tokio::spawn(async move {
        let s = &*shared;
        let deps = post_confirmation::Deps {
            onboarding: OnboardingDeps {
                customers: &*s.stores.customers,
                onboarding: &*s.stores.onboarding,
                stripe: &s.stripe,
                clock: &s.clock,
            },
            test_clocks: s.signup.test_clocks.then_some(&s.stripe),
            stripe_timeout: s.signup.stripe_timeout,
        };
        let event = LambdaEvent::new(event, context(NAME, Duration::from_secs(5)));
        post_confirmation::handler(&deps, event).await
    });
    task.await.map_err(|_| InvokeError::Crashed(NAME))
}

/// Runs the usage reporter on a stream batch or a scheduled event.
pub async fn invoke_usage_reporter(
    shared: Arc<Shared>,
    payload: Value,
) -> Result<Value, InvokeError> {
    const NAME: &str = usage_reporter::MANIFEST.package;
    let task = tokio::spawn(async move {
        let s = &*shared;
        let deps = usage_reporter::Deps {
            reporter: usage_reporter::ReporterDeps {
                customers: &*s.stores.customers,
                ledger: &*s.stores.ledger,
                stripe: &s.stripe,
                clock: &s.clock,
                fail_points: None,
            },
            settings: &s.reporter,
            sweep: &s.sweep,
        };
        let event = LambdaEvent::new(payload, context(NAME, Duration::from_secs(60)));
        usage_reporter::handler(&deps, event).await
    });
    match task.await {
        Ok(outcome) => outcome.map_err(InvokeError::Failed),
        Err(_) => Err(InvokeError::Crashed(NAME)),
    }
}

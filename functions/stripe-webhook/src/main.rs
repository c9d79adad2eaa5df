//! Cold start of the Stripe webhook function: configuration, clients and secrets once, then the
//! runtime loop.

use billing::config::ProcessEnv;
use billing::ports::SystemClock;
use billing::service::webhook::WebhookDeps;
use billing_lambda::cold_start;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let stripe_webhook::Config {
        webhook: webhook_config,
        stripe: stripe_config,
        tables,
    } = stripe_webhook::config_from_env(&ProcessEnv)?;

    let sdk = cold_start::aws_config().await;
    let secrets = cold_start::secrets_reader(&sdk);
    // Both secrets at once: one Secrets Manager round trip of cold start instead of two.
    let (verifier, stripe) = tokio::try_join!(
        cold_start::webhook_verifier(&secrets, &webhook_config),
        cold_start::stripe_client(&secrets, &stripe_config),
    )?;
    let store = cold_start::dynamo_store(&sdk, tables);
    let clock = SystemClock;
    let deps = WebhookDeps {
        events: &store,
        customers: &store,
        stripe: &stripe,
        clock: &clock,
        verifier: &verifier,
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let deps = &deps;
        async move { Ok::<_, Error>(stripe_webhook::handler(deps, event).await) }
    }))
    .await
}

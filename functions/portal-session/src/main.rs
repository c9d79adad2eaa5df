//! Cold start of the portal-session function: configuration, the store and the Stripe client
//! (its key read once) once, then the runtime loop.

use billing::config::ProcessEnv;
use billing::ports::SystemClock;
use billing::service::onboarding::OnboardingDeps;
use billing_lambda::cold_start;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use portal_session::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let portal_session::Config {
        portal,
        stripe: stripe_config,
        tables,
    } = portal_session::config_from_env(&ProcessEnv)?;

    let sdk = cold_start::aws_config().await;
    let secrets = cold_start::secrets_reader(&sdk);
    let stripe = cold_start::stripe_client(&secrets, &stripe_config).await?;
    let store = cold_start::dynamo_store(&sdk, tables);
    let clock = SystemClock;
    let deps = Deps {
        onboarding: OnboardingDeps {
            customers: &store,
            onboarding: &store,
            stripe: &stripe,
            clock: &clock,
        },
        portal: &portal,
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let deps = &deps;
        async move { Ok::<_, Error>(portal_session::handler(deps, event).await) }
    }))
    .await
}

//! Cold start of the post-confirmation function: configuration, the store and the Stripe client
//! (its key read once) once, then the runtime loop.

use billing::config::ProcessEnv;
use billing::ports::SystemClock;
use billing::service::onboarding::OnboardingDeps;
use billing_lambda::cold_start;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use post_confirmation::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let post_confirmation::Config {
        settings,
        stripe: stripe_config,
        tables,
    } = post_confirmation::config_from_env(&ProcessEnv)?;

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
        test_clocks: settings.test_clocks.then_some(&stripe),
        stripe_timeout: settings.stripe_timeout,
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let deps = &deps;
        async move { Ok::<_, Error>(post_confirmation::handler(deps, event).await) }
    }))
    .await
}

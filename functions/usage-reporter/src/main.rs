//! Cold start of the usage reporter: configuration, the DynamoDB store and the Stripe client
//! once, then the runtime loop.

use billing::config::ProcessEnv;
use billing::ports::SystemClock;
use billing_lambda::cold_start;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use usage_reporter::{Deps, ReporterDeps, ReporterSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let usage_reporter::Config {
        pricing,
        meter,
        sweep,
        stripe: stripe_config,
        tables,
    } = usage_reporter::config_from_env(&ProcessEnv)?;
    let settings = ReporterSettings::new(pricing, meter.event_name);

    let sdk = cold_start::aws_config().await;
    let secrets = cold_start::secrets_reader(&sdk);
    let stripe = cold_start::stripe_client(&secrets, &stripe_config).await?;
    let store = cold_start::dynamo_store(&sdk, tables);
    let clock = SystemClock;
    let deps = Deps {
        reporter: ReporterDeps {
            customers: &store,
            ledger: &store,
            stripe: &stripe,
            clock: &clock,
            fail_points: None,
        },
        settings: &settings,
        sweep: &sweep,
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let deps = &deps;
        async move { usage_reporter::handler(deps, event).await }
    }))
    .await
}

//! Cold start of the subscription function: configuration and the DynamoDB store once, then the
//! runtime loop.

use billing::config::ProcessEnv;
use billing::ports::SystemClock;
use billing_lambda::cold_start;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use subscription::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let subscription::Config { settings, tables } = subscription::config_from_env(&ProcessEnv)?;

    let sdk = cold_start::aws_config().await;
    let store = cold_start::dynamo_store(&sdk, tables);
    let clock = SystemClock;
    let deps = Deps {
        customers: &store,
        clock: &clock,
        settings: &settings,
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let deps = &deps;
        async move { Ok::<_, Error>(subscription::handler(deps, event).await) }
    }))
    .await
}

//! What a function's `main` builds once per cold start, then lends to every invocation.
//!
//! Secrets are fetched here, once: an invocation never calls Secrets Manager. A failure is a
//! cold-start error naming what is wrong (never a secret), so the function fails to start instead
//! of failing each request.

use aws_config::{BehaviorVersion, SdkConfig};
use billing::config::{ConfigError, StripeConfig, TablesConfig, WebhookConfig};
use billing::webhook::SignatureVerifier;
use billing_adapters::dynamodb::DynamoStore;
use billing_adapters::secrets_manager::{SecretsError, SecretsReader};
use billing_adapters::stripe_http::{BuildError, StripeHttpClient};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    /// A configuration variable is missing or invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// A secret could not be read from Secrets Manager.
    #[error("secrets: {0}")]
    Secrets(#[from] SecretsError),
    /// The Stripe client could not be built.
    #[error("stripe client: {0}")]
    StripeClient(#[from] BuildError),
    /// No webhook signing secret is configured in either source.
    #[error("no webhook signing secret: set STRIPE_WEBHOOK_SECRET or STRIPE_WEBHOOK_SECRET_NAME")]
    NoWebhookSecret,
}

/// The AWS configuration from the environment (region, credentials, `AWS_ENDPOINT_URL_*`).
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The DynamoDB store over one SDK client.
pub fn dynamo_store(sdk: &SdkConfig, tables: TablesConfig) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), tables)
}

/// The Secrets Manager reader over one SDK client.
pub fn secrets_reader(sdk: &SdkConfig) -> SecretsReader {
    SecretsReader::new(aws_sdk_secretsmanager::Client::new(sdk))
}

/// The Stripe client with its key, read from the environment or Secrets Manager once.
pub async fn stripe_client(
    secrets: &SecretsReader,
    config: &StripeConfig,
) -> Result<StripeHttpClient, ColdStartError> {
    let key = secrets.stripe_api_key(&config.api_key).await?;
    Ok(StripeHttpClient::from_config(config, key)?)
}

/// The webhook signature verifier with every secret in force (environment and Secrets Manager
/// merged, for rotation) and the configured tolerance.
pub async fn webhook_verifier(
    secrets: &SecretsReader,
    config: &WebhookConfig,
) -> Result<SignatureVerifier, ColdStartError> {
    let all = secrets.webhook_secrets(config).await?;
    if all.is_empty() {
        return Err(ColdStartError::NoWebhookSecret);
    }
    Ok(SignatureVerifier::new(all).with_tolerance(config.tolerance_secs))
}

//! Reads the Stripe secrets from AWS Secrets Manager, once per cold start.
//!
//! The API key's secret string is the bare key or `{"STRIPE_SECRET_KEY": "..."}`; the webhook
//! secrets come from the environment and/or a secret (`{"STRIPE_WEBHOOK_SECRET": ...}`), merged so
//! that a rotation can run with old and new secrets side by side. Parsing is the core's
//! ([`billing::secrets`]); this module only fetches.

use billing::config::{SecretSource, WebhookConfig};
use billing::secrets::{self, SecretError};
use secrecy::SecretString;

/// A failure to obtain a Stripe secret. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Secrets Manager could not be asked, or refused.
    #[error("could not read secret {secret_id} from Secrets Manager")]
    Fetch {
        /// The secret's name or ARN.
        secret_id: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The secret has no string value (a binary secret).
    #[error("secret {secret_id} has no SecretString")]
    NotAString {
        /// The secret's name or ARN.
        secret_id: String,
    },
    /// The secret string is not in an accepted form.
    #[error("secret {secret_id}: {source}")]
    Unreadable {
        /// The secret's name or ARN.
        secret_id: String,
        /// Why.
        #[source]
        source: SecretError,
    },
}

/// Fetches secret strings from Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsReader {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsReader {
    /// Wraps a client built once at cold start.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsReader { client }
    }

    /// The secret string of `secret_id` (a name or an ARN), current version.
    pub async fn secret_string(&self, secret_id: &str) -> Result<SecretString, SecretsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| SecretsError::Fetch {
                secret_id: secret_id.to_string(),
                source: Box::new(e),
            })?;
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| SecretsError::NotAString {
                secret_id: secret_id.to_string(),
            })
    }

    /// The Stripe API key, from the environment or from Secrets Manager.
    pub async fn stripe_api_key(
        &self,
        source: &SecretSource<SecretString>,
    ) -> Result<SecretString, SecretsError> {
        match source {
            SecretSource::Env(key) => Ok(key.clone()),
            SecretSource::SecretsManager(secret_id) => {
                let text = self.secret_string(secret_id).await?;
                secrets::parse_api_key(secrecy::ExposeSecret::expose_secret(&text)).map_err(
                    |source| SecretsError::Unreadable {
                        secret_id: secret_id.clone(),
                        source,
                    },
                )
            }
        }
    }

    /// Every webhook signing secret in force: the environment's, then the secret's.
    pub async fn webhook_secrets(
        &self,
        config: &WebhookConfig,
    ) -> Result<Vec<SecretString>, SecretsError> {
        let mut all = config.env_secrets.clone();
        if let Some(secret_id) = &config.secret_name {
            let text = self.secret_string(secret_id).await?;
            let from_manager =
                secrets::parse_webhook_secrets(secrecy::ExposeSecret::expose_secret(&text))
                    .map_err(|source| SecretsError::Unreadable {
                        secret_id: secret_id.clone(),
                        source,
                    })?;
            all.extend(from_manager);
        }
        Ok(all)
    }
}

//! What this function needs from its deployment ([`MANIFEST`]), and [`Config`]: its
//! configuration, read once at cold start by [`config_from_env`].

use billing::config::{ConfigError, Env, StripeConfig, TablesConfig};
use billing_lambda::manifest::{
    DynamoAction, EnvVar, FunctionManifest, STRIPE_CLIENT_ENV, Secret, Table, TableAccess, Trigger,
    tables_env,
};

use crate::Settings;

/// The function's needs (checked against the code by the tests, against `infra/` by
/// `infra-check`).
pub const MANIFEST: FunctionManifest = FunctionManifest {
    package: "post-confirmation",
    triggers: &[Trigger::CognitoPostConfirmation],
    env: &[
        &[
            EnvVar::optional("SIGNUP_STRIPE_TIMEOUT_MS"),
            EnvVar::local_only("STRIPE_TEST_CLOCKS"),
        ],
        &STRIPE_CLIENT_ENV,
        &tables_env(&[Table::Customers]),
    ],
    tables: &[TableAccess {
        table: Table::Customers,
        index: None,
        actions: &[DynamoAction::GetItem, DynamoAction::UpdateItem],
    }],
    secrets: &[Secret::StripeApiKey],
};

/// The configuration `main` reads once.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bound of the Stripe work and test clocks.
    pub settings: Settings,
    /// How to reach Stripe.
    pub stripe: StripeConfig,
    /// The table names.
    pub tables: TablesConfig,
}

/// Reads the configuration, failing on the first missing or invalid variable.
pub fn config_from_env(env: &dyn Env) -> Result<Config, ConfigError> {
    Ok(Config {
        settings: Settings::from_env(env)?,
        stripe: StripeConfig::from_env(env)?,
        tables: TablesConfig::from_env(env),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_lambda::manifest::{RecordingEnv, env_names};

    #[test]
    fn the_configuration_reads_exactly_the_manifests_variables() {
        // GIVEN an environment as the template sets it
        let env = RecordingEnv::new(&[
            ("STRIPE_SECRET_NAME", "stripe-api-key"),
            ("CUSTOMERS_TABLE", "c"),
        ]);
        // WHEN the configuration is read THEN it loads, and the names read are the manifest's
        assert!(config_from_env(&env).is_ok());
        assert_eq!(env.asked(), env_names(&MANIFEST));
    }
}

//! What this function needs from its deployment ([`MANIFEST`]), and [`Config`]: its
//! configuration, read once at cold start by [`config_from_env`].

use billing::config::{ConfigError, Env, StripeConfig, TablesConfig, WebhookConfig};
use billing_lambda::manifest::{
    Auth, DynamoAction, EnvVar, FunctionManifest, Route, STRIPE_CLIENT_ENV, STRIPE_CUSTOMER_INDEX,
    Secret, Table, TableAccess, Trigger, tables_env,
};

/// The route this function serves (no authorizer: Stripe signs its deliveries).
pub const ROUTE: Route = Route {
    method: "POST",
    path: "/v1/stripe/webhook",
    auth: Auth::None,
};

/// The function's needs (checked against the code by the tests, against `infra/` by
/// `infra-check`).
pub const MANIFEST: FunctionManifest = FunctionManifest {
    package: "stripe-webhook",
    triggers: &[Trigger::Http(ROUTE)],
    env: &[
        &[
            EnvVar::local_only("STRIPE_WEBHOOK_SECRET"),
            EnvVar::required("STRIPE_WEBHOOK_SECRET_NAME"),
            EnvVar::optional("WEBHOOK_TOLERANCE_SECONDS"),
        ],
        &STRIPE_CLIENT_ENV,
        &tables_env(&[Table::Customers, Table::WebhookEvents, Table::BillingLedger]),
    ],
    tables: &[
        TableAccess {
            table: Table::WebhookEvents,
            index: None,
            actions: &[
                DynamoAction::PutItem,
                DynamoAction::UpdateItem,
                DynamoAction::DeleteItem,
            ],
        },
        TableAccess {
            table: Table::Customers,
            index: None,
            actions: &[DynamoAction::GetItem, DynamoAction::UpdateItem],
        },
        TableAccess {
            table: Table::Customers,
            index: Some(STRIPE_CUSTOMER_INDEX),
            actions: &[DynamoAction::Query],
        },
        TableAccess {
            table: Table::BillingLedger,
            index: None,
            // a period change checks the new period's ledger total in its transaction
            actions: &[DynamoAction::GetItem, DynamoAction::ConditionCheckItem],
        },
    ],
    secrets: &[Secret::StripeApiKey, Secret::WebhookSigning],
};

/// The configuration `main` reads once.
#[derive(Debug, Clone)]
pub struct Config {
    /// The signing secrets and tolerance.
    pub webhook: WebhookConfig,
    /// How to reach Stripe.
    pub stripe: StripeConfig,
    /// The table names.
    pub tables: TablesConfig,
}

/// Reads the configuration, failing on the first missing or invalid variable.
pub fn config_from_env(env: &dyn Env) -> Result<Config, ConfigError> {
    Ok(Config {
        webhook: WebhookConfig::from_env(env)?,
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
            ("STRIPE_WEBHOOK_SECRET_NAME", "stripe-webhook-secret"),
            ("STRIPE_SECRET_NAME", "stripe-api-key"),
            ("CUSTOMERS_TABLE", "c"),
            ("WEBHOOK_EVENTS_TABLE", "w"),
            ("BILLING_LEDGER_TABLE", "l"),
        ]);
        // WHEN the configuration is read THEN it loads, and the names read are the manifest's
        assert!(config_from_env(&env).is_ok());
        assert_eq!(env.asked(), env_names(&MANIFEST));
    }
}

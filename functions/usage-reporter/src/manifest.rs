//! What this function needs from its deployment ([`MANIFEST`]), and [`Config`]: its
//! configuration, read once at cold start by [`config_from_env`].

use billing::config::{
    ConfigError, Env, MeterConfig, StripeConfig, TablesConfig, pricing_from_env,
};
use billing::money::Pricing;
use billing_lambda::manifest::{
    DynamoAction, EnvVar, FunctionManifest, PRICING_ENV, STRIPE_CLIENT_ENV, Secret, Table,
    TableAccess, Trigger, tables_env,
};

use crate::SweepConfig;

/// The function's needs (checked against the code by the tests, against `infra/` by
/// `infra-check`).
pub const MANIFEST: FunctionManifest = FunctionManifest {
    package: "usage-reporter",
    triggers: &[
        Trigger::StreamInserts(Table::UsageRecords),
        Trigger::Schedule,
    ],
    env: &[
        &[
            EnvVar::required("STRIPE_METER_EVENT_NAME"),
            EnvVar::required("STRIPE_METER_ID"),
            EnvVar::optional("SWEEP_MIN_AGE_SECONDS"),
        ],
        &STRIPE_CLIENT_ENV,
        &PRICING_ENV,
        &tables_env(&[Table::Customers, Table::UsageRecords, Table::BillingLedger]),
    ],
    tables: &[
        TableAccess {
            table: Table::UsageRecords,
            index: None,
            // applied or rejected in place (never written whole: producers put the items);
            // the sweep scans for unapplied ones
            actions: &[DynamoAction::UpdateItem, DynamoAction::Scan],
        },
        TableAccess {
            table: Table::BillingLedger,
            index: None,
            // the sweep scans for pending intents
            actions: &[
                DynamoAction::GetItem,
                DynamoAction::UpdateItem,
                DynamoAction::Scan,
            ],
        },
        TableAccess {
            table: Table::Customers,
            index: None,
            // a late record checks that its period is not the customer's current one
            actions: &[
                DynamoAction::GetItem,
                DynamoAction::UpdateItem,
                DynamoAction::ConditionCheckItem,
            ],
        },
    ],
    secrets: &[Secret::StripeApiKey],
};

/// The configuration `main` reads once.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prices, allowance and markup.
    pub pricing: Pricing,
    /// The meter usage goes to.
    pub meter: MeterConfig,
    /// The schedule's settings.
    pub sweep: SweepConfig,
    /// How to reach Stripe.
    pub stripe: StripeConfig,
    /// The table names.
    pub tables: TablesConfig,
}

/// Reads the configuration, failing on the first missing or invalid variable.
pub fn config_from_env(env: &dyn Env) -> Result<Config, ConfigError> {
    let pricing = pricing_from_env(env)?;
    let meter = MeterConfig::from_env(env);
    let sweep = SweepConfig::from_env(env, &meter)?;
    Ok(Config {
        pricing,
        meter,
        sweep,
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
            ("USAGE_ALLOWANCE_MODE", "stripe"),
            ("STRIPE_METER_EVENT_NAME", "leadmagnet_ai_usage"),
            ("STRIPE_METER_ID", "mtr_1"),
            ("STRIPE_SECRET_NAME", "stripe-api-key"),
            ("CUSTOMERS_TABLE", "c"),
            ("USAGE_RECORDS_TABLE", "u"),
            ("BILLING_LEDGER_TABLE", "l"),
        ]);
        // WHEN the configuration is read THEN it loads, and the names read are the manifest's
        assert!(config_from_env(&env).is_ok());
        assert_eq!(env.asked(), env_names(&MANIFEST));
    }
}

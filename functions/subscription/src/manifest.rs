//! What this function needs from its deployment ([`MANIFEST`]), and [`Config`]: its
//! configuration, read once at cold start by [`config_from_env`].

use billing::config::{ConfigError, Env, TablesConfig};
use billing::service::subscription_view::ViewSettings;
use billing_lambda::manifest::{
    Auth, DynamoAction, EnvVar, FunctionManifest, PRICING_ENV, Route, Table, TableAccess, Trigger,
    tables_env,
};

/// The route this function serves.
pub const ROUTE: Route = Route {
    method: "GET",
    path: "/admin/billing/subscription",
    auth: Auth::Jwt,
};

/// The function's needs (checked against the code by the tests, against `infra/` by
/// `infra-check`).
pub const MANIFEST: FunctionManifest = FunctionManifest {
    package: "subscription",
    triggers: &[Trigger::Http(ROUTE)],
    env: &[
        &[EnvVar::optional("PAST_DUE_GRACE_DAYS")],
        &PRICING_ENV,
        &tables_env(&[Table::Customers]),
    ],
    tables: &[TableAccess {
        table: Table::Customers,
        index: None,
        actions: &[DynamoAction::GetItem],
    }],
    secrets: &[],
};

/// The configuration `main` reads once.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prices and the past-due grace.
    pub settings: ViewSettings,
    /// The table names.
    pub tables: TablesConfig,
}

/// Reads the configuration, failing on the first missing or invalid variable.
pub fn config_from_env(env: &dyn Env) -> Result<Config, ConfigError> {
    Ok(Config {
        settings: ViewSettings::from_env(env)?,
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
        let env = RecordingEnv::new(&[("CUSTOMERS_TABLE", "c"), ("USAGE_ALLOWANCE_MODE", "app")]);
        // WHEN the configuration is read THEN it loads, and the names read are the manifest's
        assert!(config_from_env(&env).is_ok());
        assert_eq!(env.asked(), env_names(&MANIFEST));
    }
}

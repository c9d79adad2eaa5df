//! What each function needs from its deployment, stated next to its code: the package (the
//! binary SAM builds), what triggers it, the environment it reads, the DynamoDB tables and
//! actions it performs, and the secrets it reads.
//!
//! Each function crate exports `pub const MANIFEST: FunctionManifest`. Two kinds of tests keep
//! the manifest honest against the code, in each function package:
//! - its configuration loading, run over a recording environment, reads exactly the manifest's
//!   variables;
//! - `tests/table_access.rs` drives the handler on moto and checks every DynamoDB request it
//!   sends against [`FunctionManifest::tables`];
//!
//! and `crates/infra-check` checks `infra/template.yaml` against every manifest (resource and
//! build metadata, environment, routes and authorizers, least-privilege policies, secrets).

use billing::config::TablesConfig;

/// A function's needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionManifest {
    /// The cargo package, which is also the binary's name (SAM's `BuildProperties.Binary`).
    pub package: &'static str,
    /// What invokes it.
    pub triggers: &'static [Trigger],
    /// Every environment variable its configuration reads, in groups (its own, and shared ones
    /// such as [`STRIPE_CLIENT_ENV`]); [`FunctionManifest::env_vars`] flattens them.
    pub env: &'static [&'static [EnvVar]],
    /// Every table (or index) it touches and the DynamoDB actions it performs there.
    pub tables: &'static [TableAccess],
    /// The Secrets Manager secrets it reads.
    pub secrets: &'static [Secret],
}

impl FunctionManifest {
    /// The HTTP routes among its triggers.
    pub fn routes(&self) -> impl Iterator<Item = &'static Route> + '_ {
        self.triggers.iter().filter_map(|t| match t {
            Trigger::Http(route) => Some(route),
            _ => None,
        })
    }

    /// Whether it may perform `action` on `table` (through `index` when given).
    pub fn allows(&self, table: Table, index: Option<&str>, action: DynamoAction) -> bool {
        self.tables
            .iter()
            .any(|t| t.table == table && t.index == index && t.actions.contains(&action))
    }

    /// Compares the DynamoDB requests a run of the function sent (each as the table's name as
    /// sent, the index, and the IAM action name, e.g. from the test access log) with
    /// [`FunctionManifest::tables`]; `tables` maps names to tables.
    pub fn compare_accesses<'a>(
        &self,
        tables: &TablesConfig,
        performed: impl IntoIterator<Item = (&'a str, Option<&'a str>, &'a str)>,
    ) -> AccessReport {
        let mut seen = std::collections::BTreeSet::new();
        let mut undeclared = std::collections::BTreeSet::new();
        for (name, index, action) in performed {
            let table = Table::named(tables, name);
            let known = DynamoAction::named(action);
            match (table, known) {
                (Some(table), Some(action)) if self.allows(table, index, action) => {
                    seen.insert((table, index.map(str::to_string), action));
                }
                _ => {
                    let on = index.map_or(String::new(), |i| format!("/index/{i}"));
                    undeclared.insert(format!("{action} on {name}{on}"));
                }
            }
        }
        let mut unexercised = Vec::new();
        for access in self.tables {
            for action in access.actions {
                let key = (access.table, access.index.map(str::to_string), *action);
                if !seen.contains(&key) {
                    let on = access
                        .index
                        .map_or(String::new(), |i| format!("/index/{i}"));
                    unexercised.push(format!("{} on {:?}{on}", action.name(), access.table));
                }
            }
        }
        AccessReport {
            undeclared: undeclared.into_iter().collect(),
            unexercised,
        }
    }

    /// Every variable it reads.
    pub fn env_vars(&self) -> impl Iterator<Item = &'static EnvVar> + '_ {
        self.env.iter().flat_map(|group| group.iter())
    }

    /// The variable named `name`, if it reads it.
    pub fn env_var(&self, name: &str) -> Option<&'static EnvVar> {
        self.env_vars().find(|v| v.name == name)
    }
}

/// A run's DynamoDB requests against a manifest ([`FunctionManifest::compare_accesses`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessReport {
    /// Performed but not declared (the deployed policy would refuse them), e.g.
    /// `Scan on prefix-customers`.
    pub undeclared: Vec<String>,
    /// Declared but not performed by this run, e.g. `DeleteItem on WebhookEvents`.
    pub unexercised: Vec<String>,
}

/// What invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A route of the HTTP API (API Gateway v2, payload 2.0).
    Http(Route),
    /// Cognito's PostConfirmation trigger of the user pool.
    CognitoPostConfirmation,
    /// The table's DynamoDB Stream, `INSERT` records only.
    StreamInserts(Table),
    /// An EventBridge schedule.
    Schedule,
}

/// One HTTP API route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The path, e.g. `/admin/billing/subscription`.
    pub path: &'static str,
    /// Who may call it.
    pub auth: Auth,
}

/// A route's authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The Cognito JWT authorizer: the handler reads the verified claims.
    Jwt,
    /// None at the gateway (the webhook proves itself with its signature).
    None,
}

/// An environment variable and what the deployment must do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// Its name.
    pub name: &'static str,
    /// Whether the template must, may or must not set it.
    pub deploy: Deploy,
}

/// What a deployment does with a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deploy {
    /// The template must set it.
    Required,
    /// The default is right; the template may set it.
    Optional,
    /// Local runs and tests only (a plain secret, the stand-in's URL, test clocks): the template
    /// must never set it.
    LocalOnly,
}

impl EnvVar {
    /// A variable the template must set.
    pub const fn required(name: &'static str) -> Self {
        EnvVar {
            name,
            deploy: Deploy::Required,
        }
    }

    /// A variable with a right default.
    pub const fn optional(name: &'static str) -> Self {
        EnvVar {
            name,
            deploy: Deploy::Optional,
        }
    }

    /// A variable for local runs only.
    pub const fn local_only(name: &'static str) -> Self {
        EnvVar {
            name,
            deploy: Deploy::LocalOnly,
        }
    }
}

/// The variables of `billing::config::StripeConfig`, read by every function that calls Stripe:
/// the key from Secrets Manager in a deployment (a plain key only locally), the API's base,
/// version, timeout and retries.
pub const STRIPE_CLIENT_ENV: [EnvVar; 6] = [
    EnvVar::local_only("STRIPE_SECRET_KEY"),
    EnvVar::required("STRIPE_SECRET_NAME"),
    EnvVar::optional("STRIPE_API_BASE"),
    EnvVar::optional("STRIPE_API_VERSION"),
    EnvVar::optional("STRIPE_TIMEOUT_MS"),
    EnvVar::optional("STRIPE_MAX_RETRIES"),
];

/// The variables `billing::config::pricing_from_env` reads (price, allowance, markup, meter unit, the
/// allowance mode and the cost ceiling), read by the functions that compute money.
pub const PRICING_ENV: [EnvVar; 6] = [
    EnvVar::optional("BASE_PRICE_USD"),
    EnvVar::optional("USAGE_ALLOWANCE_USD"),
    EnvVar::optional("USAGE_MARKUP"),
    EnvVar::optional("METER_UNIT_USD"),
    EnvVar::required("USAGE_ALLOWANCE_MODE"),
    EnvVar::optional("MAX_USAGE_COST_USD"),
];

/// The four table variables of `billing::config::TablesConfig`: those of the tables in `used`
/// required, the others optional (the configuration has defaults; the template sets only what
/// the function touches).
pub const fn tables_env(used: &[Table]) -> [EnvVar; 4] {
    let mut vars = [
        EnvVar::optional(Table::Customers.env_var()),
        EnvVar::optional(Table::UsageRecords.env_var()),
        EnvVar::optional(Table::WebhookEvents.env_var()),
        EnvVar::optional(Table::BillingLedger.env_var()),
    ];
    let mut i = 0;
    while i < used.len() {
        let table = used[i] as usize;
        vars[table] = EnvVar::required(vars[table].name);
        i += 1;
    }
    vars
}

/// One of the store's tables (in [`Table::ALL`]'s order, which [`tables_env`] relies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `customers`.
    Customers,
    /// `usage_records`.
    UsageRecords,
    /// `stripe_webhook_events`.
    WebhookEvents,
    /// `billing_ledger`.
    BillingLedger,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 4] = [
        Table::Customers,
        Table::UsageRecords,
        Table::WebhookEvents,
        Table::BillingLedger,
    ];

    /// The variable naming it.
    pub const fn env_var(self) -> &'static str {
        match self {
            Table::Customers => "CUSTOMERS_TABLE",
            Table::UsageRecords => "USAGE_RECORDS_TABLE",
            Table::WebhookEvents => "WEBHOOK_EVENTS_TABLE",
            Table::BillingLedger => "BILLING_LEDGER_TABLE",
        }
    }

    /// Its name in `tables`.
    pub fn name_in(self, tables: &TablesConfig) -> &str {
        match self {
            Table::Customers => &tables.customers,
            Table::UsageRecords => &tables.usage_records,
            Table::WebhookEvents => &tables.webhook_events,
            Table::BillingLedger => &tables.billing_ledger,
        }
    }

    /// Which table `name` is in `tables`.
    pub fn named(tables: &TablesConfig, name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name_in(tables) == name)
    }
}

/// The customers table's index by Stripe customer id.
pub const STRIPE_CUSTOMER_INDEX: &str = "gsi_stripe_customer_id";

/// Access to one table, or to one of its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableAccess {
    /// The table.
    pub table: Table,
    /// The index, when the access is a query of one.
    pub index: Option<&'static str>,
    /// The actions (what IAM checks; a transaction's items are checked one by one).
    pub actions: &'static [DynamoAction],
}

/// A DynamoDB action as IAM names it (`dynamodb:<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DynamoAction {
    /// `GetItem` (also a `TransactGetItems` get).
    GetItem,
    /// `PutItem` (also a transaction's put).
    PutItem,
    /// `UpdateItem` (also a transaction's update).
    UpdateItem,
    /// `DeleteItem` (also a transaction's delete).
    DeleteItem,
    /// A transaction's condition check.
    ConditionCheckItem,
    /// `Query`.
    Query,
    /// `Scan`.
    Scan,
}

impl DynamoAction {
    /// Every action.
    pub const ALL: [DynamoAction; 7] = [
        DynamoAction::GetItem,
        DynamoAction::PutItem,
        DynamoAction::UpdateItem,
        DynamoAction::DeleteItem,
        DynamoAction::ConditionCheckItem,
        DynamoAction::Query,
        DynamoAction::Scan,
    ];

    /// Its name without the `dynamodb:` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            DynamoAction::GetItem => "GetItem",
            DynamoAction::PutItem => "PutItem",
            DynamoAction::UpdateItem => "UpdateItem",
            DynamoAction::DeleteItem => "DeleteItem",
            DynamoAction::ConditionCheckItem => "ConditionCheckItem",
            DynamoAction::Query => "Query",
            DynamoAction::Scan => "Scan",
        }
    }

    /// The action named `name` (without prefix).
    pub fn named(name: &str) -> Option<DynamoAction> {
        DynamoAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A Secrets Manager secret a function reads at cold start, named by a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The Stripe API key, named by `STRIPE_SECRET_NAME`.
    StripeApiKey,
    /// The webhook signing secret(s), named by `STRIPE_WEBHOOK_SECRET_NAME`.
    WebhookSigning,
}

impl Secret {
    /// The variable that names it.
    pub const fn env_var(self) -> &'static str {
        match self {
            Secret::StripeApiKey => "STRIPE_SECRET_NAME",
            Secret::WebhookSigning => "STRIPE_WEBHOOK_SECRET_NAME",
        }
    }
}

/// A [`billing::config::Env`] that remembers every name asked for, for the tests that compare a
/// function's configuration loading with its manifest.
#[derive(Debug, Default)]
pub struct RecordingEnv {
    values: std::collections::HashMap<String, String>,
    asked: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl RecordingEnv {
    /// An environment with `values`.
    pub fn new(values: &[(&str, &str)]) -> Self {
        RecordingEnv {
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            asked: Default::default(),
        }
    }

    /// Every name asked for so far.
    pub fn asked(&self) -> std::collections::BTreeSet<String> {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl billing::config::Env for RecordingEnv {
    fn var(&self, key: &str) -> Option<String> {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_string());
        billing::config::Env::var(&self.values, key)
    }
}

/// The names in `manifest`'s environment, sorted, for comparing with [`RecordingEnv::asked`].
pub fn env_names(manifest: &FunctionManifest) -> std::collections::BTreeSet<String> {
    manifest.env_vars().map(|v| v.name.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing::config::Env;

    #[test]
    fn tables_env_requires_exactly_the_tables_used() {
        let vars = tables_env(&[Table::WebhookEvents, Table::Customers]);
        let required: Vec<&str> = vars
            .iter()
            .filter(|v| v.deploy == Deploy::Required)
            .map(|v| v.name)
            .collect();
        assert_eq!(required, ["CUSTOMERS_TABLE", "WEBHOOK_EVENTS_TABLE"]);
        let names: Vec<&str> = vars.iter().map(|v| v.name).collect();
        let expected: Vec<&str> = Table::ALL.iter().map(|t| t.env_var()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_recording_env_remembers_every_name_asked_set_or_not() {
        let env = RecordingEnv::new(&[("A", "1")]);
        assert_eq!(env.var("A").as_deref(), Some("1"));
        assert_eq!(env.var("B"), None);
        assert_eq!(
            env.asked().into_iter().collect::<Vec<_>>(),
            vec!["A".to_string(), "B".to_string()]
        );
    }
}

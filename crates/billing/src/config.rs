//! Typed configuration, read once from the environment at cold start.
//!
//! Each concern is a section with its own `from_env`; a function loads the sections it needs and
//! fails fast with a message naming the variable. Values are read through [`Env`], so tests pass a
//! map instead of touching the process environment. Every variable is listed in the README.

use rust_decimal::Decimal;
use secrecy::SecretString;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use crate::money::{AllowanceMode, Pricing, Usd};
use crate::secrets::{self, SecretError};

/// Where configuration values come from.
pub trait Env {
    /// The value of `key`, if set and not empty.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }
}

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Why.
        reason: String,
    },
    /// A secret given in the environment is unusable (the secret itself is never shown).
    #[error("environment variable {var}: {source}")]
    Secret {
        /// The variable.
        var: &'static str,
        /// Why.
        #[source]
        source: SecretError,
    },
}

fn required(env: &dyn Env, var: &'static str) -> Result<String, ConfigError> {
    env.var(var).ok_or(ConfigError::Missing(var))
}

fn parsed<T: FromStr>(env: &dyn Env, var: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.var(var) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                var,
                reason: e.to_string(),
            }),
    }
}

fn url(env: &dyn Env, var: &'static str) -> Result<String, ConfigError> {
    let value = required(env, var)?;
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            var,
            reason: "must be an http(s) URL".into(),
        })
    }
}

/// Where a Stripe secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource<T> {
    /// Given in the environment (local runs and tests).
    Env(T),
    /// To be read from Secrets Manager: a secret name or ARN.
    SecretsManager(String),
}

/// How to reach Stripe.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_API_BASE` (default `https://api.stripe.com`); the stand-in's URL locally.
    pub api_base: String,
    /// `STRIPE_API_VERSION` (default `2026-10-28.endive`), sent as `Stripe-Version`.
    pub api_version: String,
    /// `STRIPE_TIMEOUT_MS` (default 10,000): the bound of one HTTP attempt.
    pub timeout: Duration,
    /// `STRIPE_MAX_RETRIES` (default 3): retries after the first attempt.
    pub max_retries: u32,
    /// `STRIPE_SECRET_KEY` (local) or `STRIPE_SECRET_NAME` (Secrets Manager).
    pub api_key: SecretSource<SecretString>,
}

impl StripeConfig {
    /// Reads the section.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let api_key = match (env.var("STRIPE_SECRET_KEY"), env.var("STRIPE_SECRET_NAME")) {
            (Some(key), _) => {
                SecretSource::Env(secrets::parse_api_key(&key).map_err(|source| {
                    ConfigError::Secret {
                        var: "STRIPE_SECRET_KEY",
                        source,
                    }
                })?)
            }
            (None, Some(name)) => SecretSource::SecretsManager(name),
            (None, None) => return Err(ConfigError::Missing("STRIPE_SECRET_NAME")),
        };
        Ok(StripeConfig {
            api_base: env
                .var("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".into())
                .trim_end_matches('/')
                .to_string(),
            api_version: env
                .var("STRIPE_API_VERSION")
                .unwrap_or_else(|| crate::stripe::DEFAULT_API_VERSION.into()),
            timeout: Duration::from_millis(parsed(env, "STRIPE_TIMEOUT_MS", 10_000u64)?),
            max_retries: parsed(env, "STRIPE_MAX_RETRIES", 3u32)?,
            api_key,
        })
    }
}

/// How to verify Stripe webhooks.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `STRIPE_WEBHOOK_SECRET` (several comma-separated during rotation) and/or
    /// `STRIPE_WEBHOOK_SECRET_NAME` (a Secrets Manager secret, merged with the env ones).
    pub env_secrets: Vec<SecretString>,
    /// `STRIPE_WEBHOOK_SECRET_NAME`, when the secrets (also) live in Secrets Manager.
    pub secret_name: Option<String>,
    /// `WEBHOOK_TOLERANCE_SECONDS` (default 300).
    pub tolerance_secs: i64,
}

impl WebhookConfig {
    /// Reads the section; at least one of the two sources must be set.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let env_secrets = match env.var("STRIPE_WEBHOOK_SECRET") {
            Some(text) => {
                secrets::parse_webhook_secrets(&text).map_err(|source| ConfigError::Secret {
                    var: "STRIPE_WEBHOOK_SECRET",
                    source,
                })?
            }
            None => Vec::new(),
        };
        let secret_name = env.var("STRIPE_WEBHOOK_SECRET_NAME");
        if env_secrets.is_empty() && secret_name.is_none() {
            return Err(ConfigError::Missing("STRIPE_WEBHOOK_SECRET"));
        }
        Ok(WebhookConfig {
            env_secrets,
            secret_name,
            tolerance_secs: parsed(
                env,
                "WEBHOOK_TOLERANCE_SECONDS",
                crate::webhook::signature::DEFAULT_TOLERANCE_SECS,
            )?,
        })
    }
}

/// DynamoDB table names (defaults are the old system's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesConfig {
    /// `CUSTOMERS_TABLE` (default `customers`).
    pub customers: String,
    /// `USAGE_RECORDS_TABLE` (default `usage_records`).
    pub usage_records: String,
    /// `WEBHOOK_EVENTS_TABLE` (default `stripe_webhook_events`).
    pub webhook_events: String,
    /// `BILLING_LEDGER_TABLE` (default `billing_ledger`).
    pub billing_ledger: String,
}

impl TablesConfig {
    /// Reads the section.
    pub fn from_env(env: &dyn Env) -> Self {
        let name = |var: &str, default: &str| env.var(var).unwrap_or_else(|| default.to_string());
        TablesConfig {
            customers: name("CUSTOMERS_TABLE", "customers"),
            usage_records: name("USAGE_RECORDS_TABLE", "usage_records"),
            webhook_events: name("WEBHOOK_EVENTS_TABLE", "stripe_webhook_events"),
            billing_ledger: name("BILLING_LEDGER_TABLE", "billing_ledger"),
        }
    }
}

/// Reads the pricing: `BASE_PRICE_USD` (29), `USAGE_ALLOWANCE_USD` (10), `USAGE_MARKUP` (2),
/// `METER_UNIT_USD` (0.01), `USAGE_ALLOWANCE_MODE` (`app` | `stripe`), `MAX_USAGE_COST_USD` (1000).
pub fn pricing_from_env(env: &dyn Env) -> Result<Pricing, ConfigError> {
    let defaults = Pricing::default();
    let usd = |var: &'static str, default: Usd| -> Result<Usd, ConfigError> {
        match env.var(var) {
            None => Ok(default),
            Some(text) => Usd::parse(&text).map_err(|e| ConfigError::Invalid {
                var,
                reason: e.to_string(),
            }),
        }
    };
    let markup = match env.var("USAGE_MARKUP") {
        None => defaults.markup(),
        Some(text) => Usd::parse(&text)
            .map(Usd::as_decimal)
            .map_err(|e| ConfigError::Invalid {
                var: "USAGE_MARKUP",
                reason: e.to_string(),
            })?,
    };
    let mode: AllowanceMode = parsed(env, "USAGE_ALLOWANCE_MODE", AllowanceMode::App)?;
    let pricing = Pricing::new(
        usd("BASE_PRICE_USD", defaults.base_monthly())?,
        usd("USAGE_ALLOWANCE_USD", defaults.allowance())?,
        markup,
        usd("METER_UNIT_USD", defaults.unit())?,
        mode,
    )
    .map_err(|e| ConfigError::Invalid {
        var: "USAGE_ALLOWANCE_USD",
        reason: e.to_string(),
    })?;
    let max = usd(
        "MAX_USAGE_COST_USD",
        Usd::new(Decimal::from(1000)).unwrap_or_default(),
    )?;
    Ok(pricing.with_max_record_cost(max))
}

/// The Stripe objects the functions bill through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricesConfig {
    /// `STRIPE_PRICE_ID`: the $29/month licensed price.
    pub base_price_id: String,
    /// `STRIPE_METERED_PRICE_ID`: the meter-backed usage price.
    pub metered_price_id: String,
}

impl PricesConfig {
    /// Reads the section; both ids are required.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(PricesConfig {
            base_price_id: required(env, "STRIPE_PRICE_ID")?,
            metered_price_id: required(env, "STRIPE_METERED_PRICE_ID")?,
        })
    }
}

/// The meter usage is reported to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    /// `STRIPE_METER_EVENT_NAME` (default `leadmagnet_ai_usage`).
    pub event_name: String,
    /// `STRIPE_METER_ID`: needed to read meter event summaries (the sweep's double-check).
    pub meter_id: Option<String>,
}

impl MeterConfig {
    /// Reads the section.
    pub fn from_env(env: &dyn Env) -> Self {
        MeterConfig {
            event_name: env
                .var("STRIPE_METER_EVENT_NAME")
                .unwrap_or_else(|| "leadmagnet_ai_usage".into()),
            meter_id: env.var("STRIPE_METER_ID"),
        }
    }
}

/// Where Checkout sends the browser back (configuration only: requests never choose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutConfig {
    /// `CHECKOUT_SUCCESS_URL` (may contain `{CHECKOUT_SESSION_ID}`).
    pub success_url: String,
    /// `CHECKOUT_CANCEL_URL`.
    pub cancel_url: String,
}

impl CheckoutConfig {
    /// Reads the section.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(CheckoutConfig {
            success_url: url(env, "CHECKOUT_SUCCESS_URL")?,
            cancel_url: url(env, "CHECKOUT_CANCEL_URL")?,
        })
    }
}

/// The customer portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalConfig {
    /// `STRIPE_PORTAL_RETURN_URL`.
    pub return_url: String,
    /// `STRIPE_PORTAL_CONFIGURATION_ID`: a portal configuration other than the default.
    pub configuration_id: Option<String>,
}

impl PortalConfig {
    /// Reads the section.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(PortalConfig {
            return_url: url(env, "STRIPE_PORTAL_RETURN_URL")?,
            configuration_id: env.var("STRIPE_PORTAL_CONFIGURATION_ID"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn missing_variables_are_named() {
        assert_eq!(
            PricesConfig::from_env(&env(&[("STRIPE_PRICE_ID", "price_1")])),
            Err(ConfigError::Missing("STRIPE_METERED_PRICE_ID"))
        );
        assert_eq!(
            StripeConfig::from_env(&env(&[])).unwrap_err(),
            ConfigError::Missing("STRIPE_SECRET_NAME")
        );
        assert_eq!(
            WebhookConfig::from_env(&env(&[])).unwrap_err(),
            ConfigError::Missing("STRIPE_WEBHOOK_SECRET")
        );
        assert_eq!(
            CheckoutConfig::from_env(&env(&[("CHECKOUT_SUCCESS_URL", "ftp://x")])).unwrap_err(),
            ConfigError::Invalid {
                var: "CHECKOUT_SUCCESS_URL",
                reason: "must be an http(s) URL".into()
            }
        );
    }

    #[test]
    fn defaults_are_the_products() {
        let e = env(&[("STRIPE_SECRET_NAME", "leadmagnet/stripe-api-key")]);
        let stripe = StripeConfig::from_env(&e).unwrap();
        assert_eq!(stripe.api_base, "https://api.stripe.com");
        assert_eq!(stripe.api_version, "2026-10-28.endive");
        assert!(
            matches!(stripe.api_key, SecretSource::SecretsManager(ref n) if n == "leadmagnet/stripe-api-key")
        );
        assert_eq!(pricing_from_env(&e).unwrap(), Pricing::default());
        assert_eq!(TablesConfig::from_env(&e).customers, "customers");
        assert_eq!(MeterConfig::from_env(&e).event_name, "leadmagnet_ai_usage");
    }

    #[test]
    fn env_overrides_apply() {
        let e = env(&[
            ("STRIPE_SECRET_KEY", "sk_test_local"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111/"),
            ("USAGE_ALLOWANCE_MODE", "stripe"),
            ("USAGE_ALLOWANCE_USD", "5"),
            ("USAGE_MARKUP", "1.5"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a,whsec_b"),
            ("CUSTOMERS_TABLE", "dev_customers"),
        ]);
        let stripe = StripeConfig::from_env(&e).unwrap();
        assert_eq!(stripe.api_base, "http://127.0.0.1:12111");
        assert!(
            matches!(stripe.api_key, SecretSource::Env(ref k) if k.expose_secret() == "sk_test_local")
        );
        let pricing = pricing_from_env(&e).unwrap();
        assert_eq!(pricing.mode(), AllowanceMode::Stripe);
        assert_eq!(pricing.allowance_units(), 500);
        assert_eq!(pricing.markup(), Decimal::new(15, 1));
        assert_eq!(WebhookConfig::from_env(&e).unwrap().env_secrets.len(), 2);
        assert_eq!(TablesConfig::from_env(&e).customers, "dev_customers");
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        let e = env(&[("USAGE_ALLOWANCE_MODE", "sometimes")]);
        assert!(matches!(
            pricing_from_env(&e),
            Err(ConfigError::Invalid {
                var: "USAGE_ALLOWANCE_MODE",
                ..
            })
        ));
        let e = env(&[("STRIPE_SECRET_KEY", "pk_live_oops")]);
        let err = StripeConfig::from_env(&e).unwrap_err();
        assert!(err.to_string().contains("STRIPE_SECRET_KEY"));
        assert!(!err.to_string().contains("pk_live_oops"));
        let e = env(&[("STRIPE_TIMEOUT_MS", "soon"), ("STRIPE_SECRET_NAME", "x")]);
        assert!(matches!(
            StripeConfig::from_env(&e),
            Err(ConfigError::Invalid {
                var: "STRIPE_TIMEOUT_MS",
                ..
            })
        ));
    }
}

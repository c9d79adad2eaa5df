//! Start-up settings from command-line flags and `STRIPE_SIM_*` environment variables (flags win).

use std::time::Duration;

use crate::billing_cycle::{AfterLastFailure, BillingSettings};
use crate::delivery::DeliveryConfig;

/// The port `cargo run -p stripe-sim` listens on by default.
pub const DEFAULT_PORT: u16 = 12111;

/// An API key the stand-in accepts (any `sk_test_...` works), printed on start for convenience.
pub const READY_API_KEY: &str = "sk_test_stripe_sim";

/// How the stand-in runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Loopback port to bind; 0 picks a free one.
    pub port: u16,
    /// Artificial processing time of a meter event call, to make the one-call-per-customer-per-meter
    /// window observable (default 0).
    pub meter_event_delay: Duration,
    /// Webhook retry schedule and timeout.
    pub delivery: DeliveryConfig,
    /// Unix time the account clock starts at (default: the system time).
    pub start_time: Option<i64>,
    /// Invoice grace period, payment retries and what happens after the last failure.
    pub billing: BillingSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: DEFAULT_PORT,
            meter_event_delay: Duration::ZERO,
            delivery: DeliveryConfig::default(),
            start_time: None,
            billing: BillingSettings::default(),
        }
    }
}

/// Why the settings could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A flag the stand-in does not know.
    #[error("unknown flag {0} (try --help)")]
    UnknownFlag(String),
    /// A flag given without its value.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// A value that does not parse.
    #[error("invalid value {value:?} for {name}")]
    InvalidValue {
        /// The flag or variable.
        name: String,
        /// What was given.
        value: String,
    },
    /// `--help` was asked for.
    #[error("{USAGE}")]
    Help,
}

/// The `--help` text.
pub const USAGE: &str = "\
stripe-sim: an offline stand-in for the Stripe API subset Lead Magnet AI uses

Usage: stripe-sim [--port N] [--meter-event-delay-ms N] [--webhook-retry-base-ms N]
                  [--webhook-retry-factor N] [--webhook-attempts N] [--webhook-timeout-ms N]
                  [--start-time UNIX_SECS] [--after-last-failure unpaid|canceled]
                  [--payment-retry-days 3,5,7] [--invoice-grace-secs 3600]

Each flag can also be set with an environment variable: STRIPE_SIM_PORT,
STRIPE_SIM_METER_EVENT_DELAY_MS, STRIPE_SIM_WEBHOOK_RETRY_BASE_MS, STRIPE_SIM_WEBHOOK_RETRY_FACTOR,
STRIPE_SIM_WEBHOOK_ATTEMPTS, STRIPE_SIM_WEBHOOK_TIMEOUT_MS, STRIPE_SIM_START_TIME,
STRIPE_SIM_AFTER_LAST_FAILURE, STRIPE_SIM_PAYMENT_RETRY_DAYS, STRIPE_SIM_INVOICE_GRACE_SECS.
It binds 127.0.0.1 only and accepts any sk_test_ key. Hosted pages live under /c/pay/ and /p/session/,
fault controls (no key needed) under /_sim/: see the crate README.";

/// (flag, environment variable) pairs, in `--help` order.
const SETTINGS: [(&str, &str); 10] = [
    ("--port", "STRIPE_SIM_PORT"),
    ("--meter-event-delay-ms", "STRIPE_SIM_METER_EVENT_DELAY_MS"),
    (
        "--webhook-retry-base-ms",
        "STRIPE_SIM_WEBHOOK_RETRY_BASE_MS",
    ),
    ("--webhook-retry-factor", "STRIPE_SIM_WEBHOOK_RETRY_FACTOR"),
    ("--webhook-attempts", "STRIPE_SIM_WEBHOOK_ATTEMPTS"),
    ("--webhook-timeout-ms", "STRIPE_SIM_WEBHOOK_TIMEOUT_MS"),
    ("--start-time", "STRIPE_SIM_START_TIME"),
    ("--after-last-failure", "STRIPE_SIM_AFTER_LAST_FAILURE"),
    ("--payment-retry-days", "STRIPE_SIM_PAYMENT_RETRY_DAYS"),
    ("--invoice-grace-secs", "STRIPE_SIM_INVOICE_GRACE_SECS"),
];

impl Config {
    /// Reads flags (without the program name) over environment variables over defaults.
    pub fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut values: Vec<(&str, String)> = SETTINGS
            .iter()
            .filter_map(|(flag, var)| env(var).map(|v| (*flag, v)))
            .collect();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(ConfigError::Help);
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let Some((known, _)) = SETTINGS.iter().find(|(f, _)| *f == flag) else {
                return Err(ConfigError::UnknownFlag(arg));
            };
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| ConfigError::MissingValue(flag.clone()))?,
            };
            values.push((known, value));
        }
        let mut config = Config::default();
        for (flag, value) in values {
            let invalid = || ConfigError::InvalidValue {
                name: flag.to_string(),
                value: value.clone(),
            };
            let number = || value.trim().parse::<u64>().map_err(|_| invalid());
            match flag {
                "--port" => config.port = u16::try_from(number()?).map_err(|_| invalid())?,
                "--meter-event-delay-ms" => {
                    config.meter_event_delay = Duration::from_millis(number()?);
                }
                "--webhook-retry-base-ms" => {
                    config.delivery.first_retry = Duration::from_millis(number()?);
                }
                "--webhook-retry-factor" => {
                    config.delivery.factor = u32::try_from(number()?).map_err(|_| invalid())?;
                }
                "--webhook-attempts" => {
                    config.delivery.attempts = u32::try_from(number()?)
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(invalid)?;
                }
                "--webhook-timeout-ms" => {
                    config.delivery.timeout = Duration::from_millis(number()?);
                }
                "--after-last-failure" => {
                    config.billing.after_last_failure =
                        AfterLastFailure::parse(value.trim()).ok_or_else(invalid)?;
                }
                "--payment-retry-days" => {
                    config.billing.retry_days = value
                        .split(',')
                        .filter(|d| !d.trim().is_empty())
                        .map(|d| d.trim().parse::<i64>().ok().filter(|n| *n > 0))
                        .collect::<Option<Vec<i64>>>()
                        .filter(|days| days.windows(2).all(|w| w[0] < w[1]))
                        .ok_or_else(invalid)?;
                }
                "--invoice-grace-secs" => {
                    config.billing.grace_secs = i64::try_from(number()?).map_err(|_| invalid())?;
                }
                _ => {
                    config.start_time = Some(value.trim().parse::<i64>().map_err(|_| invalid())?);
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_override_environment_which_overrides_defaults() {
        // GIVEN a port and delay in the environment and a port flag
        let env = |name: &str| match name {
            "STRIPE_SIM_PORT" => Some("9000".to_string()),
            "STRIPE_SIM_METER_EVENT_DELAY_MS" => Some("150".to_string()),
            _ => None,
        };
        // WHEN the settings are read
        let config = Config::from_args_and_env(args(&["--port", "12111"]), env).unwrap();
        // THEN the flag wins for the port and the environment gives the delay
        assert_eq!(config.port, 12111);
        assert_eq!(config.meter_event_delay, Duration::from_millis(150));
        assert_eq!(config.delivery, DeliveryConfig::default());
    }

    #[test]
    fn inline_values_and_webhook_settings_are_read() {
        let config = Config::from_args_and_env(
            args(&[
                "--port=0",
                "--webhook-attempts",
                "3",
                "--webhook-retry-base-ms=10",
            ]),
            |_| None,
        )
        .unwrap();
        assert_eq!(config.port, 0);
        assert_eq!(config.delivery.attempts, 3);
        assert_eq!(config.delivery.first_retry, Duration::from_millis(10));
    }

    #[test]
    fn billing_settings_are_read_from_flags_and_environment() {
        // GIVEN the last-failure rule in the environment and a retry schedule as a flag
        let env =
            |name: &str| (name == "STRIPE_SIM_AFTER_LAST_FAILURE").then(|| "unpaid".to_string());
        // WHEN the settings are read
        let config =
            Config::from_args_and_env(args(&["--payment-retry-days", "1,2"]), env).unwrap();
        // THEN both apply, and the grace period keeps Stripe's default hour
        assert_eq!(config.billing.after_last_failure, AfterLastFailure::Unpaid);
        assert_eq!(config.billing.retry_days, vec![1, 2]);
        assert_eq!(config.billing.grace_secs, 3_600);
        assert!(
            Config::from_args_and_env(args(&["--after-last-failure", "void"]), |_| None).is_err()
        );
        assert!(
            Config::from_args_and_env(args(&["--payment-retry-days", "5,3"]), |_| None).is_err()
        );
    }

    #[test]
    fn bad_flags_and_values_are_refused() {
        assert!(matches!(
            Config::from_args_and_env(args(&["--nope"]), |_| None),
            Err(ConfigError::UnknownFlag(_))
        ));
        assert!(matches!(
            Config::from_args_and_env(args(&["--port"]), |_| None),
            Err(ConfigError::MissingValue(_))
        ));
        assert!(matches!(
            Config::from_args_and_env(args(&["--port", "99999"]), |_| None),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            Config::from_args_and_env(args(&["--webhook-attempts", "0"]), |_| None),
            Err(ConfigError::InvalidValue { .. })
        ));
    }
}

//! The command line: `local-stack [serve] [options]` and `local-stack demo [--mode app|stripe|both]`.
//! Flags win over environment variables, which win over defaults.

use std::path::PathBuf;
use std::time::Duration;

use billing::money::AllowanceMode;

use crate::stack::{DEFAULT_API_PORT, DEFAULT_STRIPE_PORT, DEFAULT_SWEEP_INTERVAL, StackOptions};
use crate::store::Storage;

/// `--help`.
pub const USAGE: &str = "\
local-stack: the whole billing flow on this machine (Stripe stand-in, local API, triggers)

Usage:
  local-stack [serve] [--api-port N] [--stripe-port N] [--dynamodb-endpoint URL]
                      [--allowance-mode app|stripe] [--web-dir DIR] [--sweep-interval-secs N]
  local-stack demo    [--mode app|stripe|both]

serve (the default) listens on 127.0.0.1 only until Ctrl-C or SIGTERM:
  --api-port N             local API (env LOCAL_API_PORT, default 9100; 0 picks a free port)
  --stripe-port N          Stripe stand-in (env STRIPE_SIM_PORT, default 12111; 0 picks a free port)
  --dynamodb-endpoint URL  DynamoDB (moto, DynamoDB Local, AWS) instead of the in-memory store
                           (env AWS_ENDPOINT_URL_DYNAMODB); tables are created when missing
  --allowance-mode MODE    app (default) or stripe (env USAGE_ALLOWANCE_MODE)
  --web-dir DIR            pages served at / (default <repo>/web/app)
  --sweep-interval-secs N  the usage sweep's schedule (env LOCAL_SWEEP_INTERVAL_SECS, default 30)

demo runs the whole journey against a fresh in-process stack on free ports, in both allowance
modes by default, prints a report and exits 0 only if every figure is right.";

/// What to run.
#[derive(Debug, Clone)]
pub enum Command {
    /// Serve until stopped.
    Serve(StackOptions),
    /// Run the demo in these modes.
    Demo(Vec<AllowanceMode>),
    /// Print the usage.
    Help,
}

/// Reads the arguments (without the program name) over `env`.
pub fn parse(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Command, String> {
    let mut args = args.iter().peekable();
    let demo = match args.peek().map(|a| a.as_str()) {
        Some("demo") => {
            args.next();
            true
        }
        Some("serve") => {
            args.next();
            false
        }
        _ => false,
    };
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let port = |name: &str, value: &str| {
        value
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("{name} must be a port number (0-65535), not {value:?}"))
    };
    let mode = |name: &str, value: &str| {
        value
            .parse::<AllowanceMode>()
            .map_err(|_| format!("{name} must be app or stripe, not {value:?}"))
    };
    if demo {
        let mut modes = vec![AllowanceMode::App, AllowanceMode::Stripe];
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--mode" => {
                    let value = args.next().ok_or("--mode needs app, stripe or both")?;
                    modes = match value.as_str() {
                        "both" => vec![AllowanceMode::App, AllowanceMode::Stripe],
                        other => vec![mode("--mode", other)?],
                    };
                }
                "-h" | "--help" => return Ok(Command::Help),
                other => return Err(format!("unknown option {other:?} (try --help)")),
            }
        }
        return Ok(Command::Demo(modes));
    }
    let mut options = StackOptions::default();
    if let Some(v) = var("LOCAL_API_PORT") {
        options.api_port = port("LOCAL_API_PORT", &v)?;
    }
    if let Some(v) = var("STRIPE_SIM_PORT") {
        options.stripe_port = port("STRIPE_SIM_PORT", &v)?;
    }
    if let Some(v) = var("AWS_ENDPOINT_URL_DYNAMODB") {
        options.storage = Storage::DynamoDb { endpoint: v };
    }
    if let Some(v) = var("USAGE_ALLOWANCE_MODE") {
        options.allowance_mode = mode("USAGE_ALLOWANCE_MODE", &v)?;
    }
    if let Some(v) = var("LOCAL_SWEEP_INTERVAL_SECS") {
        options.sweep_interval = secs("LOCAL_SWEEP_INTERVAL_SECS", &v)?;
    }
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => args.next().cloned().ok_or(format!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--api-port" => options.api_port = port("--api-port", &value()?)?,
            "--stripe-port" => options.stripe_port = port("--stripe-port", &value()?)?,
            "--dynamodb-endpoint" => {
                let endpoint = value()?;
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                    return Err(format!(
                        "--dynamodb-endpoint must be an http(s) URL, not {endpoint:?}"
                    ));
                }
                options.storage = Storage::DynamoDb { endpoint };
            }
            "--allowance-mode" => options.allowance_mode = mode("--allowance-mode", &value()?)?,
            "--web-dir" => options.web_dir = PathBuf::from(value()?),
            "--sweep-interval-secs" => {
                options.sweep_interval = secs("--sweep-interval-secs", &value()?)?;
            }
            other => return Err(format!("unknown option {other:?} (try --help)")),
        }
    }
    Ok(Command::Serve(options))
}

fn secs(name: &str, value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|s| *s >= 1)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{name} must be whole seconds, 1 or more, not {value:?}"))
}

/// The defaults, for the banner and the README.
pub fn defaults() -> (u16, u16, Duration) {
    (
        DEFAULT_API_PORT,
        DEFAULT_STRIPE_PORT,
        DEFAULT_SWEEP_INTERVAL,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_win_over_the_environment_which_wins_over_defaults() {
        let env = |name: &str| match name {
            "LOCAL_API_PORT" => Some("9200".to_string()),
            "STRIPE_SIM_PORT" => Some("0".to_string()),
            "AWS_ENDPOINT_URL_DYNAMODB" => Some("http://127.0.0.1:5703".to_string()),
            _ => None,
        };
        let Command::Serve(o) = parse(
            &args(&["--api-port=9300", "--allowance-mode", "stripe"]),
            &env,
        )
        .unwrap() else {
            panic!("not serve");
        };
        assert_eq!(o.api_port, 9300);
        assert_eq!(o.stripe_port, 0);
        assert_eq!(o.allowance_mode, AllowanceMode::Stripe);
        assert_eq!(
            o.storage,
            Storage::DynamoDb {
                endpoint: "http://127.0.0.1:5703".into()
            }
        );
        let Command::Serve(d) = parse(&[], &|_| None).unwrap() else {
            panic!("not serve");
        };
        assert_eq!(
            (d.api_port, d.stripe_port, d.storage),
            (9100, 12111, Storage::Memory)
        );
    }

    #[test]
    fn demo_modes_and_bad_input() {
        assert!(matches!(parse(&args(&["demo"]), &|_| None), Ok(Command::Demo(m)) if m.len() == 2));
        assert!(
            matches!(parse(&args(&["demo", "--mode", "stripe"]), &|_| None),
            Ok(Command::Demo(m)) if m == vec![AllowanceMode::Stripe])
        );
        assert!(parse(&args(&["--api-port", "x"]), &|_| None).is_err());
        assert!(parse(&args(&["--nope"]), &|_| None).is_err());
        assert!(parse(&args(&["--dynamodb-endpoint", "localhost"]), &|_| None).is_err());
        assert!(matches!(
            parse(&args(&["--help"]), &|_| None),
            Ok(Command::Help)
        ));
    }
}

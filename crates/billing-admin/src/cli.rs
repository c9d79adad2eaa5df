//! The command line: `billing-admin setup|doctor [--webhook-url URL] [--live]`, configured from the
//! same environment variables as the functions.

use billing::config::{self, Env, MeterConfig};
use secrecy::ExposeSecret;
use std::fmt::Write as _;

use crate::checks::{Check, Verdict};
use crate::desired::DesiredAccount;
use crate::setup::{Change, SetupReport};

/// Usage text.
pub const USAGE: &str = "usage: billing-admin <setup|doctor> [--webhook-url URL] [--live]

  setup    create what the functions need (meter, prices, portal configuration, webhook
           endpoint); a second run changes nothing. Prints the values to deploy with.
  doctor   check the account; prints ok/fail with the fix for each check; exit 1 on any failure.

  --webhook-url URL   the deployed https://.../v1/stripe/webhook (or WEBHOOK_URL)
  --live              a live key is expected (otherwise doctor warns on a live key)

environment: STRIPE_SECRET_KEY or STRIPE_SECRET_NAME, STRIPE_API_BASE, STRIPE_API_VERSION,
STRIPE_METER_EVENT_NAME, USAGE_ALLOWANCE_MODE, USAGE_ALLOWANCE_USD, METER_UNIT_USD, BASE_PRICE_USD,
STRIPE_PORTAL_RETURN_URL, STRIPE_PRICE_ID / STRIPE_METERED_PRICE_ID (doctor checks these when set)";

/// The subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Create or correct.
    Setup,
    /// Check.
    Doctor,
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// What to do.
    pub command: Command,
    /// The webhook URL to register or check.
    pub webhook_url: Option<String>,
    /// Whether a live key is expected.
    pub live: bool,
}

/// Reads the arguments (without the program name).
pub fn parse_args(args: &[String], env: &dyn Env) -> Result<Args, String> {
    let mut iter = args.iter();
    let command = match iter.next().map(String::as_str) {
        Some("setup") => Command::Setup,
        Some("doctor") => Command::Doctor,
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("a command is required".into()),
    };
    let mut webhook_url = env.var("WEBHOOK_URL");
    let mut live = false;
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--webhook-url" => {
                webhook_url = Some(iter.next().ok_or("--webhook-url needs a URL")?.clone())
            }
            "--live" => live = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if let Some(url) = &webhook_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(format!("--webhook-url must be an http(s) URL, not {url:?}"));
    }
    Ok(Args {
        command,
        webhook_url,
        live,
    })
}

/// The desired account from the environment and arguments.
pub fn desired_account(env: &dyn Env, args: &Args) -> Result<DesiredAccount, config::ConfigError> {
    Ok(DesiredAccount {
        meter_event_name: MeterConfig::from_env(env).event_name,
        webhook_url: args.webhook_url.clone(),
        api_version: env
            .var("STRIPE_API_VERSION")
            .unwrap_or_else(|| billing::stripe::DEFAULT_API_VERSION.into()),
        pricing: config::pricing_from_env(env)?,
        portal_return_url: env.var("STRIPE_PORTAL_RETURN_URL"),
    })
}

/// The report `setup` prints: one line per object, the secret once, and the env block.
pub fn render_setup(report: &SetupReport) -> String {
    let mut out = String::new();
    for action in &report.actions {
        let change = match &action.change {
            Change::Created => "created".to_string(),
            Change::Unchanged => "unchanged".to_string(),
            Change::Updated => "updated".to_string(),
            Change::Replaced { old_id } => {
                format!("replaced {old_id} (left in place; retire it when nothing uses it)")
            }
        };
        let _ = writeln!(out, "{:<22} {:<32} {change}", action.object, action.id);
    }
    if let Some(secret) = &report.new_webhook_secret {
        let _ = writeln!(
            out,
            "\nThe new webhook endpoint's signing secret (shown once, not stored by this command):\n  {}\nPut it in Secrets Manager as {{\"STRIPE_WEBHOOK_SECRET\": \"...\"}} (see README, Deploy).",
            secret.expose_secret()
        );
    }
    let _ = writeln!(out, "\n# environment for the functions");
    for (name, value) in &report.env {
        let _ = writeln!(out, "{name}={value}");
    }
    out
}

/// `doctor`'s report, one line per check, and whether any failed.
pub fn render_checks(checks: &[Check]) -> (String, bool) {
    let mut out = String::new();
    let mut failed = false;
    for check in checks {
        match &check.verdict {
            Verdict::Ok => {
                let _ = writeln!(out, "ok    {}", check.name);
            }
            Verdict::Warn(note) => {
                let _ = writeln!(out, "warn  {}: {note}", check.name);
            }
            Verdict::Fail { problem, fix } => {
                failed = true;
                let _ = writeln!(out, "FAIL  {}: {problem}\n      fix: {fix}", check.name);
            }
        }
    }
    (out, failed)
}

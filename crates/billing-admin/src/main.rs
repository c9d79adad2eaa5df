//! `billing-admin setup|doctor`: see the crate docs and `--help`.

use billing::config::{ProcessEnv, StripeConfig};
use billing_adapters::secrets_manager::SecretsReader;
use billing_adapters::stripe_http::StripeHttpClient;
use billing_admin::cli::{self, Command};
use billing_admin::{doctor, setup};
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    match run(&raw).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("billing-admin: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(raw: &[String]) -> Result<ExitCode, String> {
    let env = ProcessEnv;
    let args = cli::parse_args(raw, &env).map_err(|e| format!("{e}\n\n{}", cli::USAGE))?;
    let desired = cli::desired_account(&env, &args).map_err(|e| e.to_string())?;
    let stripe_config = StripeConfig::from_env(&env).map_err(|e| e.to_string())?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = SecretsReader::new(aws_sdk_secretsmanager::Client::new(&aws));
    let key = secrets
        .stripe_api_key(&stripe_config.api_key)
        .await
        .map_err(|e| e.to_string())?;
    let is_test_key = billing::secrets::is_test_key(&key);
    let client = StripeHttpClient::from_config(&stripe_config, key).map_err(|e| e.to_string())?;
    match args.command {
        Command::Setup => {
            let report = setup::run(&client, &desired)
                .await
                .map_err(|e| error_chain(&e))?;
            print!("{}", cli::render_setup(&report));
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => {
            let options = doctor::DoctorOptions {
                base_price_id: std::env::var("STRIPE_PRICE_ID").ok(),
                metered_price_id: std::env::var("STRIPE_METERED_PRICE_ID").ok(),
                is_test_key,
                live_expected: args.live,
            };
            let checks = doctor::run(&client, &desired, &options)
                .await
                .map_err(|e| error_chain(&e))?;
            let (text, failed) = cli::render_checks(&checks);
            print!("{text}");
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

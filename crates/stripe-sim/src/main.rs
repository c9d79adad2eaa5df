//! The `stripe-sim` binary: reads flags and environment, serves on 127.0.0.1, prints its base URL
//! and a ready API key, and stops on Ctrl-C or SIGTERM.

use std::io::Write;

use stripe_sim::{Config, ConfigError, READY_API_KEY};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_args_and_env(std::env::args().skip(1), |name| {
        std::env::var(name).ok()
    }) {
        Ok(config) => config,
        Err(ConfigError::Help) => {
            println!("{}", stripe_sim::config::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("stripe-sim: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let server = match stripe_sim::serve(config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("stripe-sim: cannot listen: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "stripe-sim listening on {}", server.base_url());
    let _ = writeln!(stdout, "api key: {READY_API_KEY} (any sk_test_ key works)");
    let _ = stdout.flush();
    match server.run_until(stop_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stripe-sim: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

//! `local-stack`: runs the billing flow locally (`serve`, the default) or the demo (`demo`).
//! See the crate README.

use std::process::ExitCode;

use local_stack::cli::{self, Command};
use local_stack::{Stack, StackOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args, &|name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("local-stack: {e}");
            return ExitCode::from(2);
        }
    };
    // serve logs one line per function invocation; the demo's report stays clean.
    let default_filter = match command {
        Command::Serve(_) => "warn,local_stack=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("local-stack: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::Serve(options) => runtime.block_on(serve(options)),
        Command::Demo(modes) => runtime.block_on(local_stack::demo::run_and_print(&modes)),
    }
}

async fn serve(mut options: StackOptions) -> ExitCode {
    options.env = std::env::vars().collect();
    let started = std::time::Instant::now();
    let stack = match Stack::start(options.clone()).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("local-stack: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}",
        local_stack::stack::banner(&stack, &options, started.elapsed())
    );
    wait_for_stop().await;
    println!("local-stack: stopping");
    stack.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

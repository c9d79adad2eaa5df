//! `stripe-sim`: an offline, stateful stand-in for the subset of Stripe's REST API that Lead Magnet
//! AI calls, so the whole billing flow runs and is tested without reaching Stripe. Only the base
//! URL differs: requests are Stripe's (form-encoded, bracket notation, `Bearer sk_test_...`,
//! `Idempotency-Key`, `Stripe-Version`), answers are Stripe's objects at API `2026-10-28.endive`,
//! errors have Stripe's shape, and events are delivered to webhook endpoints signed as Stripe signs
//! them. Development and tests only: production code never depends on it.
//!
//! Start it in-process with [`serve`] (port 0 picks a free port) or run the binary:
//! `cargo run -p stripe-sim -- --port 12111`.
//!
//! Bracket-notation forms are parsed by the small [`form`] module rather than `serde_qs`: Stripe's
//! rules (`[]` appends, numeric keys are list indices only where the endpoint expects a list, an
//! empty string unsets) need the endpoint's parameter table anyway, and it keeps the dependency
//! list short.
//!
//! # Layout
//! - [`config`]: flags and `STRIPE_SIM_*` variables.
//! - [`routes`]: the endpoint table and the middleware stack; [`http`]: request id, auth, access
//!   log, the parameter extractor; [`idempotency`]: `Idempotency-Key` replay; [`faults`]: faults
//!   on demand under `/_sim/` (API calls failing before or after taking effect, webhooks
//!   duplicated, delayed, paused and reordered).
//! - [`form`] and [`params`]: bracket-notation parsing and per-endpoint parameter checks;
//!   [`errors`]: Stripe's error shape.
//! - [`state`]: the one account behind a mutex, with `now_for(customer)` (test clock or account
//!   clock); [`clock`]: the account clock; [`ids`]: Stripe-style ids; [`list`]: pagination;
//!   [`expand`]: `expand[]`; [`period`]: calendar billing periods; [`money`]: exact line amounts.
//! - [`resources`]: customers, products, prices, meters, meter events, subscriptions, invoices,
//!   test clocks, Checkout Sessions, portal configurations and sessions, webhook endpoints, events.
//! - [`billing_cycle`]: period close → draft invoice → grace period → finalize → charge → retry.
//! - [`pages`]: the hosted Checkout and portal pages (server-rendered HTML forms).
//! - [`events`]: event records; [`delivery`]: signed webhook delivery with retries;
//!   [`event_types`]: the event types endpoints may subscribe to.

pub mod billing_cycle;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod errors;
pub mod event_types;
pub mod events;
pub mod expand;
pub mod faults;
pub mod form;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod list;
pub mod money;
pub mod pages;
pub mod params;
pub mod period;
pub mod resources;
pub mod routes;
pub mod state;

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, ConfigError, READY_API_KEY};
pub use routes::{endpoints, router};
pub use state::{App, State};

/// A running stand-in. Dropping it stops the server.
pub struct Server {
    addr: SocketAddr,
    app: App,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    worker: JoinHandle<()>,
}

impl Server {
    /// The bound address (127.0.0.1 and the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a Stripe client instead of `https://api.stripe.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state, for tests that inspect or steer it (e.g. the clock).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The account's current unix time.
    pub fn now(&self) -> i64 {
        self.app.lock().now()
    }

    /// Sets the account clock to `now` (unix seconds); it keeps running from there.
    pub fn set_time(&self, now: i64) {
        let mut state = self.app.lock();
        state.clock.set(now);
        billing_cycle::catch_up(&mut state);
    }

    /// Moves the account clock forward by `secs`, running the billing cycle for everything that
    /// falls due meanwhile (customers on test clocks are moved with the test clock's API instead).
    pub fn advance_time(&self, secs: i64) {
        let mut state = self.app.lock();
        state.clock.advance(secs);
        billing_cycle::catch_up(&mut state);
    }

    /// Stops accepting requests and waits for in-flight ones to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = match self.server.take() {
            Some(server) => server
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        };
        self.worker.abort();
        result
    }

    /// Runs until the server stops on its own (it does not, short of an I/O error) or `signal`
    /// resolves, then shuts down gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.worker.abort();
    }
}

/// Binds 127.0.0.1 on `config.port` and starts serving in the background.
pub async fn serve(config: Config) -> std::io::Result<Server> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
    let addr = listener.local_addr()?;
    let (outbox, deliveries) = tokio::sync::mpsc::unbounded_channel();
    let mut state = State::new(&config, Some(outbox));
    state.base_url = format!("http://{addr}");
    let app = App::new(config, state);
    let worker = delivery::spawn_worker(app.clone(), deliveries);
    let (shutdown, stop) = oneshot::channel::<()>();
    let service = router(app.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
    });
    Ok(Server {
        addr,
        app,
        shutdown: Some(shutdown),
        server: Some(server),
        worker,
    })
}

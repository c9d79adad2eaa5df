//! Starting and stopping the whole stack: the Stripe stand-in, `billing-admin setup` against it
//! (meter, prices, portal configuration, the webhook endpoint pointing back at the local API),
//! the store, the functions' configuration read by the functions' own `from_env` readers, the
//! emulated stream and schedule, and the local API.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use billing::config::{
    CheckoutConfig, ConfigError, MeterConfig, PortalConfig, PricesConfig, StripeConfig,
    TablesConfig, WebhookConfig, pricing_from_env,
};
use billing::money::{AllowanceMode, Pricing};
use billing::ports::SystemClock;
use billing::service::subscription_view::ViewSettings;
use billing::webhook::SignatureVerifier;
use billing_adapters::stripe_http::{BuildError, StripeHttpClient};
use billing_admin::cli::{Args, Command};
use billing_admin::setup::SetupError;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use usage_reporter::{ReporterSettings, SweepConfig};

use crate::clocks::SimClocks;
use crate::jwt::JwtKey;
use crate::store::{Storage, StoreOpenError, Stores};
use crate::stream::{StreamSettings, UsageStream};

/// The default port of the local API (`LOCAL_API_PORT`).
pub const DEFAULT_API_PORT: u16 = 9100;
/// The default port of the Stripe stand-in (`STRIPE_SIM_PORT`).
pub const DEFAULT_STRIPE_PORT: u16 = 12111;
/// The default time between two scheduled sweeps.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Port of the local API on 127.0.0.1 (0: a free one).
    pub api_port: u16,
    /// Port of the Stripe stand-in on 127.0.0.1 (0: a free one).
    pub stripe_port: u16,
    /// The store.
    pub storage: Storage,
    /// `app` or `stripe`.
    pub allowance_mode: AllowanceMode,
    /// The static pages served at `/`.
    pub web_dir: PathBuf,
    /// Time between two scheduled sweeps.
    pub sweep_interval: Duration,
    /// The stream's batching and retries.
    pub stream: StreamSettings,
    /// Variables the functions' configuration starts from (the process environment for the
    /// binary, empty in tests); the stack's own values (Stripe base URL and key, prices, URLs,
    /// secret, mode, test clocks) are set over them.
    pub env: HashMap<String, String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            api_port: DEFAULT_API_PORT,
            stripe_port: DEFAULT_STRIPE_PORT,
            storage: Storage::Memory,
            allowance_mode: AllowanceMode::App,
            web_dir: default_web_dir(),
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            stream: StreamSettings::default(),
            env: HashMap::new(),
        }
    }
}

impl StackOptions {
    /// Options for an in-process stack in tests and the demo: free ports, memory store.
    pub fn ephemeral(mode: AllowanceMode) -> Self {
        StackOptions {
            api_port: 0,
            stripe_port: 0,
            allowance_mode: mode,
            ..StackOptions::default()
        }
    }
}

/// `<repo>/web/app`, the pages another part of the project writes.
pub fn default_web_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/app");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// What `GET /dev/info` answers, so other tools can drive the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevInfo {
    /// The local API (`http://127.0.0.1:9100`).
    pub api_base_url: String,
    /// The Stripe stand-in.
    pub stripe_base_url: String,
    /// A test key the stand-in accepts.
    pub stripe_api_key: String,
    /// The webhook endpoint's signing secret the webhook function verifies with.
    pub webhook_secret: String,
    /// `app` or `stripe`.
    pub allowance_mode: String,
}

/// Why the stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The JWT key could not be drawn.
    #[error("cannot draw the token signing key: {0}")]
    Key(#[source] std::io::Error),
    /// A function's configuration is invalid (a variable from the environment, named).
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The Stripe client could not be built.
    #[error("stripe client: {0}")]
    StripeClient(#[from] BuildError),
    /// `billing-admin setup` failed against the stand-in.
    #[error("billing-admin setup: {0}")]
    Setup(#[from] SetupError),
    /// Setup found an existing webhook endpoint, whose secret it cannot show again.
    #[error("the stand-in already had a webhook endpoint for this URL; its secret is unknown")]
    NoWebhookSecret,
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreOpenError),
}

/// One received webhook delivery, for `GET /dev/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookRecord {
    /// The event id (`evt_…`), when the body had one.
    pub event_id: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// The event's object id (`in_…`, `sub_…`).
    pub object_id: Option<String>,
    /// The status the function answered.
    pub status: u16,
}

/// Everything the functions and the routes share.
pub struct Shared {
    /// The store's ports.
    pub stores: Stores,
    /// The Stripe client every function uses (the stand-in, the stack's key).
    pub stripe: StripeHttpClient,
    /// The time.
    pub clock: SystemClock,
    /// `STRIPE_PRICE_ID`, `STRIPE_METERED_PRICE_ID`.
    pub prices: PricesConfig,
    /// `CHECKOUT_SUCCESS_URL`, `CHECKOUT_CANCEL_URL`.
    pub checkout_urls: CheckoutConfig,
    /// `STRIPE_PORTAL_RETURN_URL`.
    pub portal: PortalConfig,
    /// The webhook signing secret and tolerance.
    pub verifier: SignatureVerifier,
    /// The subscription view's settings.
    pub view: ViewSettings,
    /// The post-confirmation settings (`STRIPE_TEST_CLOCKS=1`).
    pub signup: post_confirmation::Settings,
    /// The reporter's pricing and meter.
    pub reporter: ReporterSettings,
    /// The sweep's settings.
    pub sweep: SweepConfig,
    /// The pricing (`/dev/usage` validates costs with it).
    pub pricing: Pricing,
    /// Table names.
    pub tables: TablesConfig,
    /// The token key.
    pub jwt: JwtKey,
    /// What `/dev/info` answers.
    pub info: DevInfo,
    /// The emulated stream.
    pub stream: UsageStream,
    /// The customers' simulated time.
    pub clocks: SimClocks,
    /// The webhook deliveries received.
    pub webhooks: Mutex<Vec<WebhookRecord>>,
    /// The static pages.
    pub web_dir: PathBuf,
    /// The store, described.
    pub storage: Storage,
}

/// A running stack. [`Stack::shutdown`] stops everything it started.
pub struct Stack {
    shared: Arc<Shared>,
    api_addr: SocketAddr,
    sim: Option<stripe_sim::Server>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(port: u16) -> Result<TcpListener, StackError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| StackError::Bind { port, source })
}

impl Stack {
    /// Starts everything; answers once the API serves and Stripe is set up.
    pub async fn start(options: StackOptions) -> Result<Stack, StackError> {
        let sim = stripe_sim::serve(stripe_sim::Config {
            port: options.stripe_port,
            ..stripe_sim::Config::default()
        })
        .await
        .map_err(|source| StackError::Bind {
            port: options.stripe_port,
            source,
        })?;
        let listener = bind(options.api_port).await?;
        let api_addr = listener.local_addr().map_err(|source| StackError::Bind {
            port: options.api_port,
            source,
        })?;
        let api = format!("http://{api_addr}");
        let stripe_base = sim.base_url();

        // The functions' environment: the caller's, then the stack's own values.
        let mut env = options.env.clone();
        for (name, value) in [
            ("STRIPE_SECRET_KEY", stripe_sim::READY_API_KEY.to_string()),
            ("STRIPE_API_BASE", stripe_base.clone()),
            ("USAGE_ALLOWANCE_MODE", options.allowance_mode.to_string()),
            ("CHECKOUT_SUCCESS_URL", format!("{api}/?checkout=success")),
            ("CHECKOUT_CANCEL_URL", format!("{api}/?checkout=cancel")),
            ("STRIPE_PORTAL_RETURN_URL", format!("{api}/")),
            ("STRIPE_TEST_CLOCKS", "1".to_string()),
        ] {
            env.insert(name.to_string(), value);
        }
        env.remove("STRIPE_SECRET_NAME");
        env.remove("STRIPE_WEBHOOK_SECRET_NAME");
        env.remove("STRIPE_PORTAL_CONFIGURATION_ID");

        // Stripe set-up, as `billing-admin setup --webhook-url {api}/v1/stripe/webhook` does it.
        let stripe_config = StripeConfig::from_env(&env)?;
        let key = match &stripe_config.api_key {
            billing::config::SecretSource::Env(key) => key.clone(),
            billing::config::SecretSource::SecretsManager(_) => {
                return Err(StackError::Config(ConfigError::Missing(
                    "STRIPE_SECRET_KEY",
                )));
            }
        };
        let stripe = StripeHttpClient::from_config(&stripe_config, key)?;
        let args = Args {
            command: Command::Setup,
            webhook_url: Some(format!("{api}/v1/stripe/webhook")),
            live: false,
        };
        let desired = billing_admin::cli::desired_account(&env, &args)?;
        let report = billing_admin::setup::run(&stripe, &desired).await?;
        for action in &report.actions {
            tracing::info!(object = action.object, id = %action.id, change = ?action.change, "billing-admin setup");
        }
        let secret = report
            .new_webhook_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .ok_or(StackError::NoWebhookSecret)?;
        for (name, value) in &report.env {
            env.insert(name.clone(), value.clone());
        }
        env.insert("STRIPE_WEBHOOK_SECRET".into(), secret.clone());

        // Each function's configuration, read as its main.rs reads it.
        let pricing = pricing_from_env(&env)?;
        let meter = MeterConfig::from_env(&env);
        let webhook_config = WebhookConfig::from_env(&env)?;
        let tables = TablesConfig::from_env(&env);
        let stores = match &options.storage {
            Storage::Memory => Stores::memory(),
            Storage::DynamoDb { endpoint } => Stores::dynamodb(endpoint, tables.clone()).await?,
        };
        let (stream, receiver) = UsageStream::new(&tables.usage_records);
        let shared = Arc::new(Shared {
            stores,
            stripe,
            clock: SystemClock,
            prices: PricesConfig::from_env(&env)?,
            checkout_urls: CheckoutConfig::from_env(&env)?,
            portal: PortalConfig::from_env(&env)?,
            verifier: SignatureVerifier::new(webhook_config.env_secrets.clone())
                .with_tolerance(webhook_config.tolerance_secs),
            view: ViewSettings::from_env(&env)?,
            signup: post_confirmation::Settings::from_env(&env)?,
            reporter: ReporterSettings::new(pricing.clone(), meter.event_name.clone()),
            sweep: SweepConfig::from_env(&env, &meter)?,
            pricing,
            tables,
            jwt: JwtKey::generate(&format!("{api}/local-user-pool"), "local-stack-client")
                .map_err(StackError::Key)?,
            info: DevInfo {
                api_base_url: api.clone(),
                stripe_base_url: stripe_base,
                stripe_api_key: stripe_sim::READY_API_KEY.to_string(),
                webhook_secret: secret,
                allowance_mode: options.allowance_mode.to_string(),
            },
            stream,
            clocks: SimClocks::default(),
            webhooks: Mutex::new(Vec::new()),
            web_dir: options.web_dir.clone(),
            storage: options.storage.clone(),
        });

        let mut tasks = vec![crate::stream::spawn_worker(
            shared.clone(),
            receiver,
            options.stream.clone(),
        )];
        tasks.push(spawn_schedule(shared.clone(), options.sweep_interval));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = crate::server::router(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(Stack {
            shared,
            api_addr,
            sim: Some(sim),
            server: Some(server),
            stop: Some(stop),
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT` of the local API.
    pub fn api_base_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// What `/dev/info` answers.
    pub fn info(&self) -> &DevInfo {
        &self.shared.info
    }

    /// The shared state (tests inspect the stream's counters and the webhook log).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops the API (letting in-flight requests finish), the stream and schedule, and the
    /// stand-in.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        for task in &self.tasks {
            task.abort();
        }
        if let Some(sim) = self.sim.take() {
            let _ = sim.shutdown().await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The EventBridge rule: the sweep every `interval`, and the customers' test clocks moved up.
fn spawn_schedule(shared: Arc<Shared>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            shared.clocks.sync_all(&shared).await;
            let now = billing::ports::Clock::now(&shared.clock);
            match crate::functions::invoke_usage_reporter(
                shared.clone(),
                crate::stream::scheduled_event(now),
            )
            .await
            {
                Ok(answer) => tracing::info!(answer = %answer, "scheduled sweep"),
                Err(e) => tracing::warn!(error = %e, "scheduled sweep failed"),
            }
        }
    })
}

/// The webhook record of a delivery's body and the function's status.
pub fn webhook_record(body: &[u8], status: u16) -> WebhookRecord {
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_string);
    WebhookRecord {
        event_id: text(&event["id"]),
        event_type: text(&event["type"]),
        object_id: text(&event["data"]["object"]["id"]),
        status,
    }
}

/// What `serve` prints once everything listens: where everything is and a curl line to paste.
pub fn banner(stack: &Stack, options: &StackOptions, took: Duration) -> String {
    let info = stack.info();
    let api = &info.api_base_url;
    let web = if options.web_dir.join("index.html").is_file() {
        format!("{api}/  (pages from {})", options.web_dir.display())
    } else {
        format!("{api}/  ({} has no pages yet)", options.web_dir.display())
    };
    let routes: String = crate::server::routes()
        .iter()
        .map(|r| {
            let auth = match r.route.auth {
                billing_lambda::manifest::Auth::Jwt => "JWT",
                billing_lambda::manifest::Auth::None => "no authorizer",
            };
            format!(
                "\n                   {:<4} {:<34} ({auth}) -> {}",
                r.route.method,
                r.route.path,
                r.function.name()
            )
        })
        .collect();
    format!(
        "local-stack ready in {:.1} s
  local API        {api}{routes}
  dev routes       POST /dev/signup  POST /dev/usage  POST /dev/clock/advance  GET /dev/info
  web pages        {web}
  Stripe stand-in  {stripe}  (key {key}; hosted pages under /c/pay/ and /p/session/)
  webhook secret   {secret}  (endpoint {api}/v1/stripe/webhook)
  storage          {storage}
  allowance mode   {mode}; usage sweep every {sweep} s
Sign up and get a token, then ask for a checkout page:
  TOKEN=$(curl -s -X POST {api}/dev/signup -H 'content-type: application/json' -d '{{\"email\":\"ann@example.com\",\"name\":\"Ann\"}}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/') && curl -s -X POST {api}/admin/billing/checkout-session -H \"authorization: Bearer $TOKEN\"
Ctrl-C stops everything.",
        took.as_secs_f64(),
        stripe = info.stripe_base_url,
        key = info.stripe_api_key,
        secret = info.webhook_secret,
        storage = options.storage.describe(),
        mode = info.allowance_mode,
        sweep = options.sweep_interval.as_secs(),
    )
}

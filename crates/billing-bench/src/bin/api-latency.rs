//! API latency of the HTTP API's four routes on the local stack (item 5 of the benchmarks).
//!
//! `api-latency [--requests N] [--quick] [--connections C] [--wrk PATH] [--work-dir DIR]`
//! `api-latency --render ROWS.jsonl [--command CMD]` prints the report's section of saved lines.
//!
//! Starts a local stack in this process (free ports, memory store, the Stripe stand-in), prepares
//! C subscribed customers (checkout paid with 4242, subscription active, usage billed) and C
//! signed-up customers without a subscription, then runs `wrk` (another process) against each
//! route with `scripts/bench/wrk/route.lua`: exactly N requests (default 1,000; `--quick`: 100)
//! over C connections (default 4), each connection another user, one JSON line per route on
//! stdout. The webhook route gets N distinct signed `customer.subscription.updated` events, going
//! round the subscribed customers' subscriptions, written just before its run. Exits 1 when a route answered anything but 2xx or the count is off, 2
//! when the run could not be made.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use billing::ids::CustomerId;
use billing::money::AllowanceMode;
use billing::ports::{Clock, SystemClock};
use billing_bench::api_latency::{
    self, SCRIPT, Subscribed, WARM_UP, WEBHOOK_EVENT_TYPE, WrkInvocation, repo_root, row, run_wrk,
    signed_events, write_file,
};
use local_stack::functions::HttpFunction;
use local_stack::{Stack, StackOptions};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    render: Option<PathBuf>,
    command: String,
    requests: u64,
    connections: u32,
    wrk: String,
    work_dir: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        render: None,
        command: "target/release/api-latency --requests 1000".into(),
        requests: 1000,
        connections: 4,
        wrk: "wrk".into(),
        work_dir: std::env::temp_dir().join(format!("api-latency-{}", std::process::id())),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => {
                args.requests = value()?.parse().map_err(|e| format!("--requests: {e}"))?;
            }
            "--quick" => args.requests = 100,
            "--connections" => {
                args.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?;
            }
            "--wrk" => args.wrk = value()?,
            "--work-dir" => args.work_dir = PathBuf::from(value()?),
            "--render" => args.render = Some(PathBuf::from(value()?)),
            "--command" => args.command = value()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.connections == 0 || args.requests < u64::from(args.connections) {
        return Err("--requests must be at least --connections, which must be at least 1".into());
    }
    Ok(args)
}

/// The local API, as a browser and the app use it.
struct Client {
    http: reqwest::Client,
    api: String,
}

impl Client {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value), BoxError> {
        let url = format!("{}{path}", self.api);
        let mut request = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        };
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn ok(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<Value, BoxError> {
        let (status, answer) = self.call(method, path, token, body, &[]).await?;
        if !(200..300).contains(&status) {
            return Err(format!("{method} {path} answered {status}: {answer}").into());
        }
        Ok(answer)
    }

    /// Signs up `email`: (customer id, token, Stripe customer id).
    async fn sign_up(&self, email: &str) -> Result<(String, String, String), BoxError> {
        let body = json!({"email": email, "name": "Bench User"}).to_string();
        let answer = self.ok("POST", "/dev/signup", None, Some(&body)).await?;
        let text = |key: &str| {
            answer[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("sign-up answered no {key}: {answer}"))
        };
        Ok((
            text("customer_id")?,
            text("token")?,
            text("stripe_customer_id")?,
        ))
    }

    /// Checkout through the API, the hosted page paid with 4242.
    async fn subscribe(&self, token: &str) -> Result<(), BoxError> {
        let session = self
            .ok(
                "POST",
                "/admin/billing/checkout-session",
                Some(token),
                Some("{}"),
            )
            .await?;
        let url = session["url"].as_str().ok_or("checkout answered no url")?;
        let paid = local_stack::demo::pay_hosted_checkout(&self.http, url).await?;
        if paid.status != 303 {
            return Err(format!(
                "paying the checkout page (HTTP {}) answered {}",
                paid.page_status, paid.status
            )
            .into());
        }
        Ok(())
    }

    /// The subscription view once `ready` holds (at most 30 s).
    async fn view_when(
        &self,
        token: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> Result<Value, BoxError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = self
                .ok("GET", "/admin/billing/subscription", Some(token), None)
                .await?;
            if ready(&view) {
                return Ok(view);
            }
            if Instant::now() > deadline {
                return Err(format!("the subscription view never got ready: {view}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits until the stand-in's own webhook deliveries stop arriving (none for 1 s, at most 30 s).
async fn settle(stack: &Stack) {
    let count = || stack.shared().webhooks.lock().map(|l| l.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = count();
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = count();
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

/// The users of the runs: one of each kind per connection, so concurrent requests come from
/// different customers, as they do in production (two requests of one customer in the same
/// millisecond would share the portal's idempotency key and wait for each other at Stripe).
struct Prepared {
    /// Subscribed customers' tokens (GET subscription, portal).
    subscriber_tokens: Vec<String>,
    /// Signed-up customers without a subscription (checkout).
    checkout_tokens: Vec<String>,
    /// The subscribed customers' subscriptions, which the webhooks are about.
    subscriptions: Vec<Subscribed>,
}

/// A subscribed customer with usage this period: (token, subscription).
async fn subscriber(
    stack: &Stack,
    client: &Client,
    n: u32,
) -> Result<(String, Subscribed), BoxError> {
    let (customer_id, token, stripe_customer_id) = client
        .sign_up(&format!("bench-subscriber-{n}@example.com"))
        .await?;
    client.subscribe(&token).await?;
    client
        .view_when(&token, |v| v["status"] == "active")
        .await?;
    for cost in ["4.00", "2.50", "0.75"] {
        let body = json!({"openai_cost_usd": cost}).to_string();
        client
            .ok("POST", "/dev/usage", Some(&token), Some(&body))
            .await?;
    }
    let view = client
        .view_when(&token, |v| v["usage"]["billed_usd"] == "14.50")
        .await?;
    let record = stack
        .shared()
        .stores
        .customers
        .get_customer(&CustomerId::parse(customer_id.clone())?)
        .await?
        .ok_or("the subscriber is not stored")?;
    let subscription_id = record
        .subscription
        .map(|s| s.subscription_id.to_string())
        .ok_or("the subscriber has no stored subscription")?;
    eprintln!(
        "api-latency: subscriber {customer_id}: {} subscription {subscription_id}, ${} billed this period",
        view["status"], view["usage"]["billed_usd"]
    );
    Ok((token, (subscription_id, stripe_customer_id)))
}

async fn prepare(stack: &Stack, client: &Client, users: u32) -> Result<Prepared, BoxError> {
    let mut prepared = Prepared {
        subscriber_tokens: Vec::new(),
        checkout_tokens: Vec::new(),
        subscriptions: Vec::new(),
    };
    for n in 0..users {
        let (token, subscription) = subscriber(stack, client, n).await?;
        prepared.subscriber_tokens.push(token);
        prepared.subscriptions.push(subscription);
        // Without a subscription, checkout hands out the customer's open session again.
        let (_, token, _) = client
            .sign_up(&format!("bench-checkout-{n}@example.com"))
            .await?;
        prepared.checkout_tokens.push(token);
    }
    settle(stack).await;
    Ok(prepared)
}

async fn run(args: &Args) -> Result<Vec<String>, BoxError> {
    let script = repo_root().join(SCRIPT);
    if !script.is_file() {
        return Err(format!("{} is missing", script.display()).into());
    }
    std::fs::create_dir_all(&args.work_dir)?;
    let mut options = StackOptions::ephemeral(AllowanceMode::App);
    // No scheduled sweep or clock sync during the runs.
    options.sweep_interval = Duration::from_secs(24 * 3600);
    let stack = Stack::start(options).await?;
    let client = Client {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?,
        api: stack.api_base_url(),
    };
    let prepared = prepare(&stack, &client, args.connections).await?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let secret = stack.info().webhook_secret.clone();
    let body_file = write_file(&args.work_dir, "body.json", "{}")?;
    let lines = |tokens: &[String]| tokens.iter().map(|t| format!("{t}\n")).collect::<String>();
    let subscriber_file = write_file(
        &args.work_dir,
        "tokens-subscribers",
        &lines(&prepared.subscriber_tokens),
    )?;
    let checkout_file = write_file(
        &args.work_dir,
        "tokens-checkout",
        &lines(&prepared.checkout_tokens),
    )?;
    let mut problems = Vec::new();
    for route in local_stack::server::routes() {
        let (method, path) = (route.route.method, route.route.path);
        let function = route.function.name();
        let (tokens, token_file, body) = match route.function {
            HttpFunction::Subscription => {
                (&prepared.subscriber_tokens, Some(&subscriber_file), None)
            }
            HttpFunction::CheckoutSession => (
                &prepared.checkout_tokens,
                Some(&checkout_file),
                Some(&body_file),
            ),
            HttpFunction::PortalSession => (
                &prepared.subscriber_tokens,
                Some(&subscriber_file),
                Some(&body_file),
            ),
            HttpFunction::StripeWebhook => (&Vec::new(), None, None),
        };
        let mut invocation = WrkInvocation {
            wrk: args.wrk.clone(),
            script: script.clone(),
            url: format!("{}{path}", client.api),
            requests: args.requests,
            connections: args.connections,
            method: method.to_string(),
            token_file: token_file.cloned(),
            body_file: body.cloned(),
            events_file: None,
        };
        let mut event_ids = Vec::new();
        let tag = fastrand::u32(..);
        if route.function == HttpFunction::StripeWebhook {
            // Warm-up with events of their own, then N new ones signed now.
            let now = SystemClock.now();
            let (_, warm) = signed_events(
                WARM_UP,
                &format!("evt_1Warm{tag}x"),
                &prepared.subscriptions,
                &secret,
                now,
            );
            for line in warm.lines() {
                let (signature, event) = line.split_once('\t').ok_or("event line")?;
                let (status, answer) = client
                    .call(
                        method,
                        path,
                        None,
                        Some(event),
                        &[("stripe-signature", signature)],
                    )
                    .await?;
                if status != 200 {
                    return Err(format!("{method} {path} answered {status}: {answer}").into());
                }
            }
            let (ids, lines) = signed_events(
                args.requests,
                &format!("evt_1Bench{tag}x"),
                &prepared.subscriptions,
                &secret,
                SystemClock.now(),
            );
            event_ids = ids;
            invocation.events_file = Some(write_file(&args.work_dir, "events.tsv", &lines)?);
        } else {
            let body = body.map(|_| "{}");
            for token in tokens.iter().cycle().take(WARM_UP as usize) {
                client.ok(method, path, Some(token), body).await?;
            }
        }
        let command = invocation.display();
        eprintln!("api-latency: {command}");
        let limit = Duration::from_secs(invocation.ceiling_secs() + 60);
        let wrk_run = {
            let invocation = invocation.clone();
            tokio::task::spawn_blocking(move || run_wrk(&invocation, limit)).await??
        };
        let mut route_problems = wrk_run.problems(args.requests);
        let mut extra = json!({});
        if route.function == HttpFunction::StripeWebhook {
            let prefix = format!("evt_1Bench{tag}x");
            let log = stack
                .shared()
                .webhooks
                .lock()
                .map(|l| l.clone())
                .unwrap_or_default();
            let ours: Vec<_> = log
                .iter()
                .filter(|w| {
                    w.event_id
                        .as_deref()
                        .is_some_and(|id| id.starts_with(&prefix))
                })
                .collect();
            let distinct: std::collections::BTreeSet<&str> =
                ours.iter().filter_map(|w| w.event_id.as_deref()).collect();
            let ok = ours.iter().filter(|w| w.status == 200).count();
            if distinct.len() != event_ids.len() || ours.len() != event_ids.len() {
                route_problems.push(format!(
                    "{} deliveries of {} distinct events logged, {} sent",
                    ours.len(),
                    distinct.len(),
                    event_ids.len()
                ));
            }
            extra = json!({
                "event_type": WEBHOOK_EVENT_TYPE,
                "subscriptions": prepared.subscriptions.len(),
                "distinct_events": distinct.len(),
                "duplicates": ours.len() - distinct.len(),
                "deliveries_ok": ok,
            });
        }
        if let (Value::Object(map), Some(_)) = (&mut extra, token_file) {
            map.insert("users".into(), json!(tokens.len()));
        }
        let line = row(
            method,
            path,
            function,
            &wrk_run,
            args.connections,
            &command,
            cores,
            extra,
        );
        println!("{line}");
        problems.extend(
            route_problems
                .into_iter()
                .map(|p| format!("{method} {path}: {p}")),
        );
    }
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&args.work_dir);
    Ok(problems)
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("api-latency: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.render {
        let rows: Result<Vec<Value>, BoxError> = std::fs::read_to_string(path)
            .map_err(BoxError::from)
            .and_then(|text| {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).map_err(BoxError::from))
                    .collect()
            });
        return match rows {
            Ok(rows) => {
                print!("{}", api_latency::render_section(&rows, &args.command));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("api-latency: {}: {e}", path.display());
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("api-latency: no runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for p in problems {
                eprintln!("api-latency: {p}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("api-latency: {e}");
            ExitCode::from(2)
        }
    }
}

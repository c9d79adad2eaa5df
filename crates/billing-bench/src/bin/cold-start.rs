//! Cold start of each function binary and of the old system's Node.js handler, through the
//! Lambda Runtime API emulator, with real initialisation against moto (DynamoDB and Secrets
//! Manager, `BILLING_TEST_DYNAMODB_ENDPOINT`) and the Stripe stand-in (in-process).
//!
//! `cold-start --runs N --log-dir DIR [--fn NAME=PATH]... [--node NODE_BIN SCRIPT]`
//! prints one JSON object per target with the median wall time and peak RSS.
//!
//! Set-up (once): fresh tables, the Stripe key and the webhook secret as Secrets Manager secrets,
//! a meter, prices and a portal configuration in the stand-in, and one subscribed customer linked
//! in the table. The webhook function runs twice over: `stripe-webhook` with a signed event it
//! verifies and acknowledges (the Node.js handler's work), and `stripe-webhook-full` with a signed
//! `customer.subscription.updated` that goes all the way (verify, claim, re-fetch from Stripe,
//! store, complete). Every other function gets its own fixture's event.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use billing::config::TablesConfig;
use billing_adapters::dynamodb::{DynamoStore, create_tables};
use billing_adapters::stripe_http::StripeHttpClient;
use billing_bench::cold_start::{Target, run_once, summary};
use billing_bench::payload;
use billing_bench::usage::{prices, subscribe};
use secrecy::SecretString;
use serde_json::{Value, json};

const WEBHOOK_FIXTURE: &str = include_str!(
    "../../../../functions/stripe-webhook/tests/fixtures/apigw-v2-stripe-webhook.json"
);
const SUBSCRIPTION_FIXTURE: &str = include_str!(
    "../../../../functions/subscription/tests/fixtures/apigw-v2-subscription-jwt.json"
);
const CHECKOUT_FIXTURE: &str = include_str!(
    "../../../../functions/checkout-session/tests/fixtures/apigw-v2-checkout-session-jwt.json"
);
const PORTAL_FIXTURE: &str = include_str!(
    "../../../../functions/portal-session/tests/fixtures/apigw-v2-portal-session-jwt.json"
);
const SIGNUP_FIXTURE: &str = include_str!(
    "../../../../functions/post-confirmation/tests/fixtures/cognito-post-confirmation-sign-up.json"
);
const STREAM_FIXTURE: &str = include_str!(
    "../../../../functions/usage-reporter/tests/fixtures/dynamodb-stream-usage-records.json"
);

type BoxError = Box<dyn std::error::Error>;

struct Args {
    runs: usize,
    log_dir: PathBuf,
    functions: Vec<(String, String)>,
    node: Option<(String, String)>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        runs: 5,
        log_dir: std::env::temp_dir(),
        functions: Vec::new(),
        node: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--log-dir" => args.log_dir = PathBuf::from(value()?),
            "--fn" => {
                let v = value()?;
                let (name, path) = v.split_once('=').ok_or("--fn NAME=PATH")?;
                args.functions.push((name.to_string(), path.to_string()));
            }
            "--node" => {
                let node = value()?;
                let script = value()?;
                args.node = Some((node, script));
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// Replaces every placeholder string of a fixture, by key (`email` gets an address).
fn fill(value: &mut Value, customer_id: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if v.as_str() == Some("replaced-by-the-test") {
                    *v = json!(if key == "email" {
                        format!("{customer_id}@example.com")
                    } else {
                        customer_id.to_string()
                    });
                } else {
                    fill(v, customer_id);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, customer_id)),
        _ => {}
    }
}

fn fixture(text: &str, customer_id: &str) -> Result<Value, BoxError> {
    let mut value: Value = serde_json::from_str(text)?;
    fill(&mut value, customer_id);
    Ok(value)
}

struct World {
    env: Vec<(String, String)>,
    customer_id: String,
    stripe_customer_id: String,
    subscription_id: String,
    _sim: stripe_sim::Server,
}

async fn world(endpoint: &str) -> Result<World, BoxError> {
    let tag = format!("cold{}-{}", std::process::id(), fastrand::u32(..));
    let credentials = Credentials::new("test", "test", None, None, "bench");
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials.clone())
            .build(),
    );
    let tables = TablesConfig {
        customers: format!("{tag}-customers"),
        usage_records: format!("{tag}-usage_records"),
        webhook_events: format!("{tag}-stripe_webhook_events"),
        billing_ledger: format!("{tag}-billing_ledger"),
    };
    create_tables(&dynamo, &tables)
        .await
        .map_err(|e| format!("tables: {e:?}"))?;
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .build(),
    );
    let stripe_secret = format!("{tag}/stripe");
    let webhook_secret = format!("{tag}/webhook");
    for (name, value) in [
        (
            &stripe_secret,
            json!({"STRIPE_SECRET_KEY": stripe_sim::READY_API_KEY}),
        ),
        (
            &webhook_secret,
            json!({"STRIPE_WEBHOOK_SECRET": payload::SECRET}),
        ),
    ] {
        secrets
            .create_secret()
            .name(name)
            .secret_string(value.to_string())
            .send()
            .await
            .map_err(|e| format!("secret {name}: {e:?}"))?;
    }
    let sim = stripe_sim::serve(stripe_sim::Config {
        port: 0,
        ..stripe_sim::Config::default()
    })
    .await?;
    let stripe = StripeHttpClient::builder(SecretString::from(stripe_sim::READY_API_KEY))
        .base_url(sim.base_url())
        .build()?;
    let (base_price, usage_price) = prices(&stripe).await?;
    // The account's default portal configuration, which the portal function relies on.
    let form: Vec<(String, String)> = [
        ("business_profile[headline]", "Lead Magnet AI billing"),
        ("features[subscription_cancel][enabled]", "true"),
        ("features[subscription_cancel][mode]", "at_period_end"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    stripe
        .post_form("/v1/billing_portal/configurations", &form, "bench-portal")
        .await?;
    let store = DynamoStore::new(dynamo, tables.clone());
    let customer = subscribe(&stripe, &store, "tenant-bench", &base_price, &usage_price).await?;
    let env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".to_string()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_string()),
        ("STRIPE_SECRET_NAME", stripe_secret),
        ("STRIPE_WEBHOOK_SECRET_NAME", webhook_secret),
        ("STRIPE_API_BASE", sim.base_url()),
        ("STRIPE_PRICE_ID", base_price),
        ("STRIPE_METERED_PRICE_ID", usage_price),
        (
            "STRIPE_PORTAL_RETURN_URL",
            "https://app.example.com/billing".to_string(),
        ),
        (
            "CHECKOUT_SUCCESS_URL",
            "https://app.example.com/billing?session={CHECKOUT_SESSION_ID}".to_string(),
        ),
        (
            "CHECKOUT_CANCEL_URL",
            "https://app.example.com/billing".to_string(),
        ),
        ("CUSTOMERS_TABLE", tables.customers.clone()),
        ("USAGE_RECORDS_TABLE", tables.usage_records.clone()),
        ("WEBHOOK_EVENTS_TABLE", tables.webhook_events.clone()),
        ("BILLING_LEDGER_TABLE", tables.billing_ledger.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok(World {
        env,
        customer_id: customer.customer_id.to_string(),
        stripe_customer_id: customer.stripe_customer_id.to_string(),
        subscription_id: customer.subscription_id.to_string(),
        _sim: sim,
    })
}

/// A signed delivery of the world's subscription with a new event id: `customer.subscription.
/// updated` (verified, claimed, re-fetched, stored) when `full`, else the same object as
/// `customer.subscription.created`, which the function verifies, reads and acknowledges without
/// touching the store or Stripe: the same work as the Node.js comparison.
fn webhook_invocation(w: &World, run: usize, full: bool) -> Result<Vec<u8>, BoxError> {
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let mut body = payload::event_body(
        &format!("evt_1Cold{}{run:04}", fastrand::u32(..)),
        payload::subscription_object(&w.subscription_id, &w.stripe_customer_id),
    );
    if !full {
        let mut event: Value = serde_json::from_slice(&body)?;
        event["type"] = json!("customer.subscription.created");
        body = serde_json::to_vec(&event)?;
    }
    let header = billing::webhook::sign_header(&body, payload::SECRET, now);
    let mut event: Value = serde_json::from_str(WEBHOOK_FIXTURE)?;
    event["headers"]["stripe-signature"] = json!(header);
    event["headers"]["content-length"] = json!(body.len().to_string());
    event["body"] = json!(String::from_utf8(body)?);
    Ok(serde_json::to_vec(&event)?)
}

fn invocation(name: &str, w: &World, run: usize) -> Result<Vec<u8>, BoxError> {
    let value = match name {
        "stripe-webhook" | "node-webhook" => return webhook_invocation(w, run, false),
        "stripe-webhook-full" => return webhook_invocation(w, run, true),
        "subscription" => fixture(SUBSCRIPTION_FIXTURE, &w.customer_id)?,
        "checkout-session" => fixture(CHECKOUT_FIXTURE, &format!("tenant-new{run}"))?,
        "portal-session" => fixture(PORTAL_FIXTURE, &w.customer_id)?,
        "post-confirmation" => {
            let mut v = fixture(SIGNUP_FIXTURE, &w.customer_id)?;
            v["request"]["userAttributes"]["custom:customer_id"] =
                json!(format!("tenant-signup{run}"));
            v
        }
        "usage-reporter" => fixture(STREAM_FIXTURE, &w.customer_id)?,
        other => return Err(format!("no invocation for {other}").into()),
    };
    Ok(serde_json::to_vec(&value)?)
}

fn main() -> Result<(), BoxError> {
    let args = args()?;
    let endpoint = std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT")
        .map_err(|_| "set BILLING_TEST_DYNAMODB_ENDPOINT to moto's endpoint")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let w = world(&endpoint).await?;
        let mut targets = Vec::new();
        for (name, path) in &args.functions {
            let target = |name: &str| Target {
                name: name.to_string(),
                command: vec![path.clone()],
                env: w.env.clone(),
            };
            targets.push(target(name));
            if name == "stripe-webhook" {
                targets.push(target("stripe-webhook-full"));
            }
        }
        if let Some((node, script)) = &args.node {
            targets.push(Target {
                name: "node-webhook".into(),
                command: vec![node.clone(), script.clone()],
                env: w.env.clone(),
            });
        }
        for target in &targets {
            let mut runs = Vec::with_capacity(args.runs);
            for run in 0..args.runs {
                let payload = invocation(&target.name, &w, run)?;
                runs.push(
                    run_once(target, &payload, &args.log_dir, Duration::from_secs(30)).await?,
                );
            }
            println!("{}", summary(&target.name, &runs));
        }
        Ok(())
    })
}

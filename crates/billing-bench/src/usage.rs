//! The usage reporter, end to end: `records` usage records spread round-robin over `customers`
//! subscribed customers, delivered as DynamoDB Stream batches of `batch_size` (serialised JSON,
//! parsed as the runtime does) to [`usage_reporter::handler`], one batch after the other (one
//! shard), with the Stripe stand-in in-process over HTTP and a store of the caller's choice.
//!
//! Every record costs $0.0125 and the allowance mode is `stripe`, so every record bills 2.5 units
//! and every customer of every batch owes units: the reporter must make exactly one meter-event
//! call per customer per batch. Stripe calls are counted by [`CountingStripe`] and cross-checked
//! with the stand-in's meter-event log; store writes by the caller's [`StoreWrites`]. After the
//! run, the units the stand-in holds per customer are compared with the integer oracle.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use billing::ids::{CustomerId, StripeCustomerId, StripeSubscriptionId, UsageId};
use billing::money::{AllowanceMode, Pricing, Usd};
use billing::ports::{Clock, CustomerStore, SystemClock, UsageLedger};
use billing::stripe::StripeApi;
use billing::subscription::SubscriptionSnapshot;
use billing::usage::UsageRecord;
use billing_adapters::stripe_http::StripeHttpClient;
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::{Value, json};
use usage_reporter::{Deps, ReporterDeps, ReporterSettings, SweepConfig};

use crate::counting::{CountingStripe, StoreWrites};

/// The cost of every record, and what it bills in units ×2 (2 × $0.0125 = 2.5 units).
pub const RECORD_COST: &str = "0.0125";
const HALF_UNITS_PER_RECORD: u64 = 5;
/// The meter's event name.
pub const EVENT_NAME: &str = "leadmagnet_ai_usage";

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The stand-in could not start.
    #[error("stripe stand-in: {0}")]
    Sim(#[source] std::io::Error),
    /// A Stripe call of the set-up failed.
    #[error("stripe set-up: {0}")]
    Stripe(#[source] Box<billing::stripe::StripeError>),
    /// The Stripe client could not be built.
    #[error("stripe client: {0}")]
    Client(#[source] billing_adapters::stripe_http::BuildError),
    /// A store call of the set-up failed.
    #[error("store set-up: {0}")]
    Store(#[source] billing::ports::StoreError),
    /// The handler failed or answered failures; the run is not a valid measurement.
    #[error("handler: {0}")]
    Handler(String),
    /// Something the set-up produced is not what it should be.
    #[error("set-up: {0}")]
    Setup(String),
}

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Usage records in all.
    pub records: usize,
    /// Customers they are spread over (round robin).
    pub customers: usize,
    /// Records per stream batch.
    pub batch_size: usize,
}

/// What a run measured and counted.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The workload.
    pub workload: Workload,
    /// Stream batches delivered.
    pub batches: usize,
    /// Set-up time (customers, subscriptions, the producer's writes), not part of the rate.
    pub setup: Duration,
    /// Time spent delivering every batch, parse and handler included.
    pub elapsed: Duration,
    /// Of which waiting for the Stripe stand-in's answers (same process, same cores).
    pub in_stripe: Duration,
    /// Stripe calls the reporter made, by method.
    pub stripe_calls: BTreeMap<&'static str, u64>,
    /// Sum over batches of the customers owing units in the batch (all of the batch's customers).
    pub customer_batches: u64,
    /// Batches whose meter-event calls were not exactly their number of customers.
    pub batches_off: usize,
    /// Meter events the stand-in received (its own log).
    pub sim_meter_events: u64,
    /// Customers whose units in the stand-in differ from the oracle.
    pub customers_off_oracle: usize,
    /// DynamoDB write requests the reporter made (or would make, on the memory store).
    pub write_requests: u64,
    /// Store writes (items) the reporter made (or would make).
    pub write_items: u64,
}

impl Outcome {
    /// Records per second.
    #[allow(clippy::float_arithmetic)] // a rate, never money
    pub fn records_per_sec(&self) -> f64 {
        self.workload.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Records per second of the reporter's own time: the run without the time spent waiting for
    /// the Stripe stand-in (which shares the process and its cores).
    #[allow(clippy::float_arithmetic)]
    pub fn records_per_sec_without_stripe(&self) -> f64 {
        let own = self.elapsed.saturating_sub(self.in_stripe);
        self.workload.records as f64 / own.as_secs_f64().max(1e-9)
    }

    /// Every Stripe call per record.
    #[allow(clippy::float_arithmetic)]
    pub fn stripe_calls_per_record(&self) -> f64 {
        self.stripe_calls.values().sum::<u64>() as f64 / self.workload.records as f64
    }

    /// Store writes per record.
    #[allow(clippy::float_arithmetic)]
    pub fn writes_per_record(&self) -> f64 {
        self.write_items as f64 / self.workload.records as f64
    }

    /// Whether the run met the exactness rules: one meter-event call per customer owing units
    /// per batch, as many meter events in the stand-in, no other Stripe call, units = oracle.
    pub fn exact(&self) -> bool {
        let meter_calls = self
            .stripe_calls
            .get("create_meter_event")
            .copied()
            .unwrap_or(0);
        self.batches_off == 0
            && meter_calls == self.customer_batches
            && self.sim_meter_events == meter_calls
            && self.stripe_calls.values().sum::<u64>() == meter_calls
            && self.customers_off_oracle == 0
    }

    /// The figures as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "records": self.workload.records,
            "customers": self.workload.customers,
            "batch_size": self.workload.batch_size,
            "batches": self.batches,
            "setup_secs": self.setup.as_secs_f64(),
            "secs": self.elapsed.as_secs_f64(),
            "records_per_sec": self.records_per_sec(),
            "stripe_secs": self.in_stripe.as_secs_f64(),
            "records_per_sec_without_stripe": self.records_per_sec_without_stripe(),
            "stripe_calls": self.stripe_calls,
            "stripe_calls_per_record": self.stripe_calls_per_record(),
            "customer_batches": self.customer_batches,
            "batches_off": self.batches_off,
            "sim_meter_events": self.sim_meter_events,
            "customers_off_oracle": self.customers_off_oracle,
            "write_requests": self.write_requests,
            "store_writes": self.write_items,
            "store_writes_per_record": self.writes_per_record(),
            "exact": self.exact(),
        })
    }
}

/// A customer subscribed in the stand-in and linked in a store.
#[derive(Debug, Clone)]
pub struct Subscribed {
    /// Our id.
    pub customer_id: CustomerId,
    /// The Stripe customer.
    pub stripe_customer_id: StripeCustomerId,
    /// The subscription (base + metered item).
    pub subscription_id: StripeSubscriptionId,
    /// Its current period's start.
    pub period_start: i64,
}

/// Runs `workload` against `store` (whose writes `writes` counts), with a fresh stand-in.
pub async fn run<S: CustomerStore + UsageLedger>(
    store: &S,
    writes: &dyn StoreWrites,
    workload: Workload,
) -> Result<Outcome, RunError> {
    let setup_started = Instant::now();
    let sim = stripe_sim::serve(stripe_sim::Config {
        port: 0,
        ..stripe_sim::Config::default()
    })
    .await
    .map_err(RunError::Sim)?;
    let client = StripeHttpClient::builder(SecretString::from(stripe_sim::READY_API_KEY))
        .base_url(sim.base_url())
        .build()
        .map_err(RunError::Client)?;
    let stripe = CountingStripe::new(client);
    let (base_price, usage_price) = prices(stripe.inner()).await?;
    let clock = SystemClock;
    let mut customers = Vec::with_capacity(workload.customers);
    for i in 0..workload.customers {
        customers.push(
            subscribe(
                stripe.inner(),
                store,
                &format!("tenant-{i:05}"),
                &base_price,
                &usage_price,
            )
            .await?,
        );
    }
    // The producers' writes, then the stream batches as Lambda would pass them (JSON text).
    let now = clock.now();
    let mut images = Vec::with_capacity(workload.records);
    for j in 0..workload.records {
        let c = &customers[j % customers.len()];
        let record = UsageRecord {
            usage_id: UsageId::parse(format!("u-{j:06}"))
                .map_err(|e| RunError::Setup(e.to_string()))?,
            customer_id: c.customer_id.clone(),
            openai_cost_usd: Usd::parse(RECORD_COST).map_err(|e| RunError::Setup(e.to_string()))?,
            occurred_at: (now - 5).max(c.period_start),
        };
        store
            .put_usage_record(&record, now)
            .await
            .map_err(RunError::Store)?;
        images.push((j, record));
    }
    let batches: Vec<(Vec<u8>, BTreeSet<CustomerId>)> = images
        .chunks(workload.batch_size.max(1))
        .map(|chunk| {
            let payload = json!({"Records": chunk.iter().map(|(j, r)| stream_record(*j, r, now)).collect::<Vec<_>>()});
            let customers = chunk.iter().map(|(_, r)| r.customer_id.clone()).collect();
            (payload.to_string().into_bytes(), customers)
        })
        .collect();
    let settings = ReporterSettings::new(pricing()?, EVENT_NAME);
    let sweep = SweepConfig {
        meter_id: None,
        min_age_secs: usage_reporter::DEFAULT_SWEEP_MIN_AGE_SECS,
    };
    let deps = Deps {
        reporter: ReporterDeps {
            customers: store,
            ledger: store,
            stripe: &stripe,
            clock: &clock,
            fail_points: None,
        },
        settings: &settings,
        sweep: &sweep,
    };
    let setup = setup_started.elapsed();
    stripe.reset();
    writes.reset();
    let sim_events_before = sim.app().lock().meter_events.len();

    let started = Instant::now();
    let mut customer_batches = 0;
    let mut batches_off = 0;
    for (n, (bytes, batch_customers)) in batches.iter().enumerate() {
        let calls_before = stripe.count("create_meter_event");
        let payload: Value =
            serde_json::from_slice(bytes).map_err(|e| RunError::Handler(e.to_string()))?;
        let mut context = Context::default();
        context.request_id = format!("bench-{n}");
        let answer = usage_reporter::handler(&deps, LambdaEvent::new(payload, context))
            .await
            .map_err(|e| RunError::Handler(e.to_string()))?;
        if answer["batchItemFailures"]
            .as_array()
            .is_none_or(|f| !f.is_empty())
        {
            return Err(RunError::Handler(format!("batch {n} answered {answer}")));
        }
        let owing = batch_customers.len() as u64;
        customer_batches += owing;
        if stripe.count("create_meter_event") - calls_before != owing {
            batches_off += 1;
        }
    }
    let elapsed = started.elapsed();
    let in_stripe = stripe.time_in_calls();

    let (sim_meter_events, units) = {
        let state = sim.app().lock();
        let mut units: BTreeMap<String, u64> = BTreeMap::new();
        for event in &state.meter_events[sim_events_before..] {
            *units.entry(event.customer.clone()).or_default() +=
                u64::try_from(event.value).unwrap_or(0);
        }
        ((state.meter_events.len() - sim_events_before) as u64, units)
    };
    let customers_off_oracle = customers
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            let records = (workload.records + customers.len() - 1 - i) / customers.len();
            let expected = records as u64 * HALF_UNITS_PER_RECORD / 2;
            units
                .get(c.stripe_customer_id.as_str())
                .copied()
                .unwrap_or(0)
                != expected
        })
        .count();
    Ok(Outcome {
        workload,
        batches: batches.len(),
        setup,
        elapsed,
        in_stripe,
        stripe_calls: stripe.calls(),
        customer_batches,
        batches_off,
        sim_meter_events,
        customers_off_oracle,
        write_requests: writes.write_requests(),
        write_items: writes.writes(),
    })
}

fn pricing() -> Result<Pricing, RunError> {
    let usd = |text: &str| Usd::parse(text).map_err(|e| RunError::Setup(e.to_string()));
    Pricing::new(
        usd("29")?,
        usd("10")?,
        2.into(),
        usd("0.01")?,
        AllowanceMode::Stripe,
    )
    .map_err(|e| RunError::Setup(e.to_string()))
}

/// A stream `INSERT` record of `record`, as DynamoDB Streams delivers it.
fn stream_record(j: usize, record: &UsageRecord, now: i64) -> Value {
    let image = json!({
        "usage_id": {"S": record.usage_id.as_str()},
        "customer_id": {"S": record.customer_id.as_str()},
        "openai_cost_usd": {"N": record.openai_cost_usd.to_string()},
        "occurred_at": {"N": record.occurred_at.to_string()},
        "created_at": {"N": now.to_string()},
    });
    json!({
        "eventID": format!("{j:032x}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": now,
            "Keys": {"usage_id": {"S": record.usage_id.as_str()}},
            "NewImage": image,
            "SequenceNumber": format!("{}", 111_100_000_000_000_000_000_000_u128 + j as u128),
            "SizeBytes": 112,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/usage_records/stream/2026-11-01T00:00:00.000"
    })
}

async fn post(
    stripe: &StripeHttpClient,
    path: &str,
    form: &[(&str, &str)],
) -> Result<Value, RunError> {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    stripe
        .post_form(path, &form, &format!("bench-{}", fastrand::u64(..)))
        .await
        .map_err(|e| RunError::Stripe(Box::new(e)))
}

fn id_of(object: &Value) -> Result<String, RunError> {
    object["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| RunError::Setup(format!("no id in {object}")))
}

/// The meter and both prices in the stand-in: (base price id, metered price id).
pub async fn prices(stripe: &StripeHttpClient) -> Result<(String, String), RunError> {
    let meter = post(
        stripe,
        "/v1/billing/meters",
        &[
            ("display_name", "Lead Magnet AI usage"),
            ("event_name", EVENT_NAME),
            ("default_aggregation[formula]", "sum"),
            ("customer_mapping[type]", "by_id"),
            ("customer_mapping[event_payload_key]", "stripe_customer_id"),
            ("value_settings[event_payload_key]", "value"),
        ],
    )
    .await?;
    let meter_id = id_of(&meter)?;
    let base = post(
        stripe,
        "/v1/prices",
        &[
            ("currency", "usd"),
            ("unit_amount", "2900"),
            ("recurring[interval]", "month"),
            ("product_data[name]", "Lead Magnet AI Pro"),
        ],
    )
    .await?;
    let usage = post(
        stripe,
        "/v1/prices",
        &[
            ("currency", "usd"),
            ("unit_amount", "1"),
            ("recurring[interval]", "month"),
            ("recurring[usage_type]", "metered"),
            ("recurring[meter]", &meter_id),
            ("product_data[name]", "Lead Magnet AI Usage"),
        ],
    )
    .await?;
    Ok((id_of(&base)?, id_of(&usage)?))
}

/// A customer subscribed in the stand-in, linked in the store with its subscription stored as
/// the webhook would store it.
pub async fn subscribe<S: CustomerStore>(
    stripe: &StripeHttpClient,
    store: &S,
    customer_id: &str,
    base_price: &str,
    usage_price: &str,
) -> Result<Subscribed, RunError> {
    let customer = post(
        stripe,
        "/v1/customers",
        &[
            ("email", &format!("{customer_id}@example.com")),
            ("metadata[customer_id]", customer_id),
        ],
    )
    .await?;
    let stripe_customer_id =
        StripeCustomerId::parse(&id_of(&customer)?).map_err(|e| RunError::Setup(e.to_string()))?;
    let sub = post(
        stripe,
        "/v1/subscriptions",
        &[
            ("customer", stripe_customer_id.as_str()),
            ("items[0][price]", base_price),
            ("items[1][price]", usage_price),
        ],
    )
    .await?;
    let subscription_id =
        StripeSubscriptionId::parse(&id_of(&sub)?).map_err(|e| RunError::Setup(e.to_string()))?;
    let subscription = stripe
        .retrieve_subscription(&subscription_id)
        .await
        .map_err(|e| RunError::Stripe(Box::new(e)))?;
    let customer_id = CustomerId::parse(customer_id).map_err(|e| RunError::Setup(e.to_string()))?;
    let now = SystemClock.now();
    store
        .link_stripe_customer(&customer_id, &stripe_customer_id, now)
        .await
        .map_err(RunError::Store)?;
    let snapshot = SubscriptionSnapshot::from_stripe(&subscription, 1);
    let period = snapshot
        .current_period
        .ok_or_else(|| RunError::Setup("subscription without a period".into()))?;
    store
        .apply_subscription(&customer_id, &snapshot, now)
        .await
        .map_err(RunError::Store)?;
    Ok(Subscribed {
        customer_id,
        stripe_customer_id,
        subscription_id,
        period_start: period.start(),
    })
}

//! What the end-to-end tests share: a store on moto with fresh tables, the Stripe stand-in over
//! HTTP with a meter and both prices, subscribed customers, and the two trigger payloads built
//! from the fixtures.
//!
//! - [`StandIn`]: the Stripe side alone (also used without moto, on the memory store).
//! - [`World`]: a test's tables on moto, its stand-in, the reporter's [`TestTime`] (pinned to a
//!   Stripe test clock when a test moves through periods) and an [`ArmedCrash`] at a fail point.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use billing::ids::{CustomerId, StripeCustomerId, StripeSubscriptionId, UsageId};
use billing::money::{AllowanceMode, Pricing, Usd};
use billing::period::BillingPeriod;
use billing::ports::{Clock, CustomerStore, SystemClock, UsageLedger};
use billing::service::usage_reporting::{FailPoint, FailPoints};
use billing::stripe::{StripeApi, Subscription};
use billing::subscription::SubscriptionSnapshot;
use billing::usage::{PeriodLedger, UsageRecord};
use billing_adapters::dynamodb::DynamoStore;
use billing_adapters::stripe_http::{RetryPolicy, StripeHttpClient};
use billing_test_support::Requests;
use billing_test_support::counting_stripe::CountingStripe;
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::{Value, json};
use usage_reporter::{Deps, HandlerError, ReporterDeps, ReporterSettings, SweepConfig};

/// The stand-in accepts any test key.
pub const KEY: &str = "sk_test_stripe_sim";
/// The meter's event name.
pub const EVENT_NAME: &str = "leadmagnet_ai_usage";

const STREAM_FIXTURE: &str = include_str!("../fixtures/dynamodb-stream-usage-records.json");
const SCHEDULE_FIXTURE: &str = include_str!("../fixtures/eventbridge-scheduled-event.json");

/// The reporter's clock: the machine's, unless a test pins it (to follow a Stripe test clock).
#[derive(Debug, Default)]
pub struct TestTime {
    pinned: Mutex<Option<i64>>,
}

impl TestTime {
    /// From now on the time is `now` (unix seconds), until set again.
    pub fn set(&self, now: i64) {
        *self.pinned.lock().unwrap() = Some(now);
    }
}

impl Clock for TestTime {
    fn now(&self) -> i64 {
        self.pinned
            .lock()
            .unwrap()
            .unwrap_or_else(|| SystemClock.now())
    }

    fn now_millis(&self) -> i64 {
        match *self.pinned.lock().unwrap() {
            Some(now) => now * 1_000,
            None => SystemClock.now_millis(),
        }
    }
}

/// A crash armed at one fail point: the first invocation reaching it stops there (its records
/// are answered as failed, as when Lambda sees the invocation fail), then it is disarmed.
#[derive(Debug, Default)]
pub struct ArmedCrash {
    point: Mutex<Option<FailPoint>>,
}

impl ArmedCrash {
    /// Arms a crash at `point`.
    pub fn arm(&self, point: FailPoint) {
        *self.point.lock().unwrap() = Some(point);
    }

    /// Whether the armed crash has not struck yet.
    pub fn is_armed(&self) -> bool {
        self.point.lock().unwrap().is_some()
    }
}

impl FailPoints for ArmedCrash {
    fn crash_at(&self, point: FailPoint) -> bool {
        let mut armed = self.point.lock().unwrap();
        if *armed == Some(point) {
            *armed = None;
            return true;
        }
        false
    }
}

/// A customer subscribed in the stand-in and linked in the store.
#[derive(Debug, Clone)]
pub struct Subscribed {
    pub customer_id: CustomerId,
    pub stripe_customer_id: StripeCustomerId,
    pub period: BillingPeriod,
}

/// The Stripe side of a world: the stand-in over HTTP with a meter, the $29 base price and the
/// usage price (as `billing-admin setup` makes them for the mode), and the reporter's client.
pub struct StandIn {
    pub sim: stripe_sim::Server,
    pub stripe: CountingStripe<StripeHttpClient>,
    pub meter_id: String,
    pub base_price: String,
    pub usage_price: String,
}

impl StandIn {
    /// Starts a stand-in billing in `mode`; the client gives each attempt `timeout`. Each meter
    /// event call takes 10 ms, so concurrent calls for one customer meet the stand-in's
    /// one-call-in-flight limit (429) and the client's backoff.
    pub async fn start(mode: AllowanceMode, timeout: Duration) -> StandIn {
        StandIn::start_with(mode, timeout, Duration::from_millis(10)).await
    }

    /// [`StandIn::start`] with each meter event call taking `meter_event_delay`.
    pub async fn start_with(
        mode: AllowanceMode,
        timeout: Duration,
        meter_event_delay: Duration,
    ) -> StandIn {
        // A customer made through the API has no card, so its invoices' charges fail: the first
        // retry is put after the tests' periods, so the subscription stays `past_due` (still
        // invoiced each period) rather than being cancelled a week after the first invoice.
        let sim = stripe_sim::serve(stripe_sim::Config {
            port: 0,
            meter_event_delay,
            billing: stripe_sim::billing_cycle::BillingSettings {
                retry_days: vec![120],
                ..stripe_sim::billing_cycle::BillingSettings::default()
            },
            ..stripe_sim::Config::default()
        })
        .await
        .unwrap();
        // Short backoff so the fault tests stay quick; five retries after the first attempt.
        let inner = StripeHttpClient::builder(SecretString::from(KEY))
            .base_url(sim.base_url())
            .timeout(timeout)
            .retry_policy(
                RetryPolicy::default()
                    .with_max_retries(5)
                    .with_base_delay(Duration::from_millis(20))
                    .with_max_delay(Duration::from_millis(300)),
            )
            .build()
            .unwrap();
        let mut stand_in = StandIn {
            sim,
            stripe: CountingStripe::new(inner),
            meter_id: String::new(),
            base_price: String::new(),
            usage_price: String::new(),
        };
        let meter = stand_in
            .post(
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
            .await;
        stand_in.meter_id = meter["id"].as_str().unwrap().to_string();
        let base = stand_in
            .post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("unit_amount", "2900"),
                    ("recurring[interval]", "month"),
                    ("product_data[name]", "Lead Magnet AI Pro"),
                ],
            )
            .await;
        stand_in.base_price = base["id"].as_str().unwrap().to_string();
        // 1 cent per unit (`app`), or the $10 allowance as a free first tier of 1,000 units,
        // then 1 cent (`stripe`).
        let meter_id = stand_in.meter_id.clone();
        let mut usage_form = vec![
            ("currency", "usd"),
            ("recurring[interval]", "month"),
            ("recurring[usage_type]", "metered"),
            ("recurring[meter]", &meter_id),
            ("product_data[name]", "Lead Magnet AI Usage"),
        ];
        match mode {
            AllowanceMode::App => usage_form.push(("unit_amount", "1")),
            AllowanceMode::Stripe => usage_form.extend([
                ("billing_scheme", "tiered"),
                ("tiers_mode", "graduated"),
                ("tiers[0][up_to]", "1000"),
                ("tiers[0][unit_amount]", "0"),
                ("tiers[1][up_to]", "inf"),
                ("tiers[1][unit_amount]", "1"),
            ]),
        }
        let usage = stand_in.post("/v1/prices", &usage_form).await;
        stand_in.usage_price = usage["id"].as_str().unwrap().to_string();
        stand_in
    }

    /// A POST to the stand-in (a fresh idempotency key each time).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let key = format!("test-{}", fastrand::u64(..));
        self.stripe
            .inner()
            .post_form(path, &form, &key)
            .await
            .unwrap()
    }

    /// A Stripe customer (on `test_clock`, if given) subscribed to the base and the usage
    /// price; returns it with the subscription as the webhook handler would fetch it.
    pub async fn subscribe(
        &self,
        customer_id: &str,
        test_clock: Option<&str>,
    ) -> (StripeCustomerId, Subscription) {
        let email = format!("{customer_id}@example.com");
        let mut form = vec![
            ("email", email.as_str()),
            ("metadata[customer_id]", customer_id),
        ];
        if let Some(clock) = test_clock {
            form.push(("test_clock", clock));
        }
        let customer = self.post("/v1/customers", &form).await;
        let stripe_customer_id = StripeCustomerId::parse(customer["id"].as_str().unwrap()).unwrap();
        let sub = self
            .post(
                "/v1/subscriptions",
                &[
                    ("customer", stripe_customer_id.as_str()),
                    ("items[0][price]", &self.base_price),
                    ("items[1][price]", &self.usage_price),
                ],
            )
            .await;
        let subscription = self
            .stripe
            .retrieve_subscription(
                &StripeSubscriptionId::parse(sub["id"].as_str().unwrap()).unwrap(),
            )
            .await
            .unwrap();
        (stripe_customer_id, subscription)
    }

    /// The units Stripe's meter summaries count for the customer with timestamps in
    /// `[start, end)`, both whole minutes (as Stripe requires).
    pub async fn units_between(&self, customer: &StripeCustomerId, start: i64, end: i64) -> u64 {
        self.stripe
            .list_meter_event_summaries(&self.meter_id, customer, start, end)
            .await
            .unwrap()
            .iter()
            .map(|s| s.whole_units().unwrap())
            .sum()
    }

    /// The units counted for `customer` in its period (widened to whole minutes, as Stripe
    /// requires; the tests bill nothing in the neighbouring periods).
    pub async fn units(&self, customer: &Subscribed) -> u64 {
        let start = customer.period.start() - customer.period.start().rem_euclid(60);
        let end = customer.period.end() + (60 - customer.period.end().rem_euclid(60)) % 60;
        self.units_between(&customer.stripe_customer_id, start, end)
            .await
    }

    /// The reporter's meter-event calls for `customer`.
    pub fn meter_event_calls(&self, customer: &StripeCustomerId) -> usize {
        let calls = self.stripe.meter_events_by_customer();
        usize::try_from(calls.get(customer).copied().unwrap_or(0)).unwrap()
    }
}

/// One test's world: its own tables, its own stand-in with a meter and both prices.
pub struct World {
    pub store: DynamoStore,
    pub stand_in: StandIn,
    /// The reporter's clock (the machine's unless pinned).
    pub clock: TestTime,
    /// A crash the reporter takes at its fail point, once armed.
    pub crash: ArmedCrash,
    pub settings: ReporterSettings,
    pub sweep: SweepConfig,
    sequence: AtomicU64,
}

/// Prices as the README gives them ($29, $10 included, 2x markup, 1 cent a unit) in `mode`.
pub fn pricing(mode: AllowanceMode) -> Pricing {
    Pricing::new(
        Usd::parse("29").unwrap(),
        Usd::parse("10").unwrap(),
        2.into(),
        Usd::parse("0.01").unwrap(),
        mode,
    )
    .unwrap()
}

impl World {
    /// A world billing in `mode`, or `None` when moto is not configured.
    pub async fn new(test: &str, mode: AllowanceMode) -> Option<World> {
        World::with_stripe_timeout(test, mode, Duration::from_secs(10)).await
    }

    /// [`World::new`] with the Stripe client's per-attempt timeout set to `timeout`.
    pub async fn with_stripe_timeout(
        test: &str,
        mode: AllowanceMode,
        timeout: Duration,
    ) -> Option<World> {
        let store = dynamo_store(test).await?;
        let stand_in = StandIn::start(mode, timeout).await;
        let meter_id = stand_in.meter_id.clone();
        Some(World {
            store,
            stand_in,
            clock: TestTime::default(),
            crash: ArmedCrash::default(),
            settings: ReporterSettings::new(pricing(mode), EVENT_NAME),
            sweep: SweepConfig {
                meter_id: Some(meter_id),
                min_age_secs: usage_reporter::DEFAULT_SWEEP_MIN_AGE_SECS,
            },
            sequence: AtomicU64::new(0),
        })
    }

    /// The ports as the function's `main` lends them.
    pub fn deps(&self) -> Deps<'_> {
        Deps {
            reporter: ReporterDeps {
                customers: &self.store,
                ledger: &self.store,
                stripe: &self.stand_in.stripe,
                clock: &self.clock,
                fail_points: Some(&self.crash),
            },
            settings: &self.settings,
            sweep: &self.sweep,
        }
    }

    /// A POST to the stand-in (a fresh idempotency key each time).
    pub async fn sim_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        self.stand_in.post(path, form).await
    }

    /// Arms a fault in the stand-in (`/_sim/faults`, no key needed).
    pub async fn arm_fault(&self, rule: Value) {
        let url = format!("{}/_sim/faults", self.stand_in.sim.base_url());
        let answer = raw_post_json(&url, &rule).await;
        assert!(answer.contains("meter_events"), "{answer}");
    }

    /// A customer with a subscription on the base and the metered price in the stand-in,
    /// linked in the store with the subscription stored as the webhook would.
    pub async fn subscribed(&self, customer_id: &str) -> Subscribed {
        self.subscribe(customer_id, None).await
    }

    /// [`World::subscribed`], the Stripe customer living on a new test clock frozen at
    /// `frozen_time`; the reporter's clock is pinned there too. Returns the clock's id.
    pub async fn subscribed_on_test_clock(
        &self,
        customer_id: &str,
        frozen_time: i64,
    ) -> (Subscribed, String) {
        let clock = self
            .sim_post(
                "/v1/test_helpers/test_clocks",
                &[("frozen_time", &frozen_time.to_string())],
            )
            .await;
        let clock_id = clock["id"].as_str().unwrap().to_string();
        self.clock.set(frozen_time);
        (self.subscribe(customer_id, Some(&clock_id)).await, clock_id)
    }

    /// Moves the test clock `clock_id` to `to` (the stand-in rolls periods and finalizes
    /// invoices on the way) and the reporter's clock with it.
    pub async fn advance_test_clock(&self, clock_id: &str, to: i64) {
        self.sim_post(
            &format!("/v1/test_helpers/test_clocks/{clock_id}/advance"),
            &[("frozen_time", &to.to_string())],
        )
        .await;
        self.clock.set(to);
    }

    async fn subscribe(&self, customer_id: &str, test_clock: Option<&str>) -> Subscribed {
        let (stripe_customer_id, subscription) =
            self.stand_in.subscribe(customer_id, test_clock).await;
        let customer_id = CustomerId::parse(customer_id).unwrap();
        let now = self.clock.now();
        self.store
            .link_stripe_customer(&customer_id, &stripe_customer_id, now)
            .await
            .unwrap();
        let snapshot = SubscriptionSnapshot::from_stripe(&subscription, 1);
        let period = snapshot.current_period.unwrap();
        self.store
            .apply_subscription(&customer_id, &snapshot, now)
            .await
            .unwrap();
        Subscribed {
            customer_id,
            stripe_customer_id,
            period,
        }
    }

    /// Writes a usage record as a producer does (`created_at` = `written_at`), now-ish in the
    /// customer's period; returns its stream record image read back from the table.
    pub async fn write(
        &self,
        id: &str,
        customer: &Subscribed,
        cost: &str,
        written_at: i64,
    ) -> Value {
        let record = UsageRecord {
            usage_id: UsageId::parse(id).unwrap(),
            customer_id: customer.customer_id.clone(),
            openai_cost_usd: Usd::parse(cost).unwrap(),
            occurred_at: (self.clock.now() - 5).max(customer.period.start()),
        };
        assert!(
            self.store
                .put_usage_record(&record, written_at)
                .await
                .unwrap()
        );
        self.image(id).await
    }

    /// A customer linked to a Stripe customer but never subscribed.
    pub async fn unsubscribed(&self, customer_id: &str) -> CustomerId {
        let customer = self
            .sim_post("/v1/customers", &[("metadata[customer_id]", customer_id)])
            .await;
        let stripe_customer_id = StripeCustomerId::parse(customer["id"].as_str().unwrap()).unwrap();
        let customer_id = CustomerId::parse(customer_id).unwrap();
        self.store
            .link_stripe_customer(&customer_id, &stripe_customer_id, self.clock.now())
            .await
            .unwrap();
        customer_id
    }

    /// Writes `record` as a producer does, now; returns its stream image.
    pub async fn write_record(&self, record: &UsageRecord) -> Value {
        assert!(
            self.store
                .put_usage_record(record, self.clock.now())
                .await
                .unwrap()
        );
        self.image(record.usage_id.as_str()).await
    }

    /// Writes an item straight into `usage_records` (for items no producer API would write).
    pub async fn write_raw(&self, item: &[(&str, AttributeValue)]) -> Value {
        let mut put = self
            .store
            .client()
            .put_item()
            .table_name(&self.store.tables().usage_records);
        for (name, value) in item {
            put = put.item(*name, value.clone());
        }
        put.send().await.unwrap();
        let id = match &item[0].1 {
            AttributeValue::S(id) => id.clone(),
            other => panic!("{other:?}"),
        };
        self.image(&id).await
    }

    /// The `usage_records` item `id` as a stream image (DynamoDB JSON), read from the table.
    pub async fn image(&self, id: &str) -> Value {
        let item = self.raw_item(id).await.unwrap();
        let mut image = serde_json::Map::new();
        for (name, value) in item {
            let json = match value {
                AttributeValue::S(text) => json!({"S": text}),
                AttributeValue::N(text) => json!({"N": text}),
                AttributeValue::Bool(b) => json!({"BOOL": b}),
                other => panic!("unexpected attribute {name}: {other:?}"),
            };
            image.insert(name, json);
        }
        Value::Object(image)
    }

    /// The raw `usage_records` item `id`.
    pub async fn raw_item(&self, id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.store
            .client()
            .get_item()
            .table_name(&self.store.tables().usage_records)
            .key("usage_id", AttributeValue::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// A stream record: `op` (`INSERT`, `MODIFY`, `REMOVE`) with `image` (the new image, or the
    /// old one for a removal), a fresh increasing sequence number.
    pub fn stream_record(&self, op: &str, image: &Value) -> Value {
        let n = self.sequence.fetch_add(1, Ordering::SeqCst);
        stream_record(&self.store.tables().usage_records, n, op, image)
    }

    /// A batch of INSERT records, one per image.
    pub fn inserts(&self, images: &[Value]) -> Value {
        batch(
            images
                .iter()
                .map(|i| self.stream_record("INSERT", i))
                .collect(),
        )
    }

    /// Runs the handler on `payload`.
    pub async fn invoke(&self, payload: Value) -> Result<Value, HandlerError> {
        let mut context = Context::default();
        context.request_id = format!("req-{}", fastrand::u64(..));
        usage_reporter::handler(&self.deps(), LambdaEvent::new(payload, context)).await
    }

    /// Delivers a stream batch as Lambda would, re-delivering the failed records until none
    /// fail (bounded); returns how many deliveries it took.
    pub async fn deliver(&self, batch_payload: &Value) -> usize {
        let mut pending = batch_payload.clone();
        for attempt in 1..=10 {
            let answer = self.invoke(pending.clone()).await.unwrap();
            let failed = failed_sequences(&answer);
            if failed.is_empty() {
                return attempt;
            }
            let records: Vec<Value> = pending["Records"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    failed.contains(
                        &r["dynamodb"]["SequenceNumber"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    )
                })
                .cloned()
                .collect();
            pending = batch(records);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("records still failing after 10 deliveries");
    }

    /// The units Stripe's meter summaries count for `customer` in its period.
    pub async fn units(&self, customer: &Subscribed) -> u64 {
        self.stand_in.units(customer).await
    }

    /// The units Stripe's meter summaries count for `customer` with timestamps in
    /// `[start, end)`, both whole minutes.
    pub async fn units_between(&self, customer: &Subscribed, start: i64, end: i64) -> u64 {
        self.stand_in
            .units_between(&customer.stripe_customer_id, start, end)
            .await
    }

    /// The customer's invoices in the stand-in, oldest first.
    pub async fn invoices(&self, customer: &Subscribed) -> Vec<Value> {
        let query = [
            (
                "customer".to_string(),
                customer.stripe_customer_id.to_string(),
            ),
            ("limit".to_string(), "100".to_string()),
        ];
        let list = self
            .stand_in
            .stripe
            .inner()
            .get_json("/v1/invoices", &query)
            .await
            .unwrap();
        let mut invoices = list["data"].as_array().unwrap().clone();
        invoices.reverse();
        invoices
    }

    /// The ledger of `customer` for the period starting at `period_start` (empty if none).
    pub async fn ledger(&self, customer: &Subscribed, period_start: i64) -> PeriodLedger {
        let ledger = self
            .store
            .get_ledger(&customer.customer_id, period_start)
            .await
            .unwrap();
        ledger.unwrap_or_else(|| panic!("no ledger for {} at {period_start}", customer.customer_id))
    }

    /// The reporter's meter-event calls for `customer`.
    pub fn meter_event_calls(&self, customer: &Subscribed) -> usize {
        self.stand_in
            .meter_event_calls(&customer.stripe_customer_id)
    }

    /// Drops the tables of a passed test (moto keeps everything in memory).
    pub async fn drop_tables(&self) {
        billing_test_support::drop_tables(&self.store).await;
    }
}

/// A stream record of `table` from the fixture: `op` (`INSERT`, `MODIFY`, `REMOVE`) with `image`
/// (the new image, or the old one for a removal), the `n`-th sequence number.
pub fn stream_record(table: &str, n: u64, op: &str, image: &Value) -> Value {
    let fixture: Value = serde_json::from_str(STREAM_FIXTURE).unwrap();
    let mut record = fixture["Records"][0].clone();
    record["eventID"] = json!(format!("{:032x}", fastrand::u128(..)));
    record["eventName"] = json!(op);
    record["eventSourceARN"] = json!(format!(
        "arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-11-01T00:00:00.000"
    ));
    let change = &mut record["dynamodb"];
    change["SequenceNumber"] = json!(format!(
        "{}",
        111_100_000_000_000_000_000_000_u128 + u128::from(n)
    ));
    change["Keys"] = json!({"usage_id": image["usage_id"].clone()});
    let change = change.as_object_mut().unwrap();
    change.remove("NewImage");
    change.remove("OldImage");
    if op == "REMOVE" {
        change.insert("OldImage".into(), image.clone());
        change.insert("StreamViewType".into(), json!("NEW_AND_OLD_IMAGES"));
    } else {
        change.insert("NewImage".into(), image.clone());
    }
    record
}

/// A stream batch of `records`.
pub fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// The scheduled event from the fixture.
pub fn scheduled_event() -> Value {
    serde_json::from_str(SCHEDULE_FIXTURE).unwrap()
}

/// The sequence numbers an answer lists as failed.
pub fn failed_sequences(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a partial batch response: {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

/// The units the oracle expects for a total OpenAI cost of `micros` millionths of a dollar,
/// in plain integers: billed = 2 × cost; a unit is 10,000 millionths ($0.01); the allowance
/// 10,000,000 ($10).
pub fn oracle_units(mode: AllowanceMode, micros: u64) -> u64 {
    let billed = 2 * micros;
    match mode {
        AllowanceMode::Stripe => billed / 10_000,
        AllowanceMode::App => billed.saturating_sub(10_000_000) / 10_000,
    }
}

/// `micros` millionths of a dollar as decimal text (`"0.000123"`).
pub fn usd_text(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A POST of a JSON body over a bare TCP connection (the `/_sim/` controls take JSON, which the
/// Stripe client does not send); returns the response text.
async fn raw_post_json(url: &str, body: &Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

/// A DynamoDB store on moto with fresh tables, or `None` (after saying why) when moto is not
/// configured.
pub async fn dynamo_store(test: &str) -> Option<DynamoStore> {
    billing_test_support::moto_store("ur", test, Requests::OneAtATime(Duration::from_millis(1)))
        .await
}

//! What every contract test uses: the store bound, ids and builders, and the moto connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpRequest;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, HttpClient, Region, RuntimeComponents, SharedHttpClient,
};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use billing::config::TablesConfig;
use billing::ids::{CustomerId, StripeCustomerId, StripeEventId, StripeSubscriptionId, UsageId};
use billing::money::Usd;
use billing::period::BillingPeriod;
use billing::ports::{CustomerStore, Onboarding, UsageLedger, WebhookEvents};
use billing::subscription::{SubscriptionSnapshot, SubscriptionStatus};
use billing::usage::{MeterIntent, UsageApplication, UsageRecord};
use billing_adapters::dynamodb::{DynamoStore, create_tables};

/// Every store port: what the contract is written against.
pub trait Store: CustomerStore + WebhookEvents + UsageLedger + Onboarding + Send + Sync {}
impl<T: CustomerStore + WebhookEvents + UsageLedger + Onboarding + Send + Sync> Store for T {}

/// A fixed "now" for tests that do not care about time.
pub const NOW: i64 = 1_700_000_000;

/// The period before [`p2`].
pub fn p1() -> BillingPeriod {
    BillingPeriod::new(1_000_000, 2_000_000).unwrap()
}

/// The period after [`p1`].
pub fn p2() -> BillingPeriod {
    BillingPeriod::new(2_000_000, 3_000_000).unwrap()
}

pub fn cid(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

pub fn scid(id: &str) -> StripeCustomerId {
    StripeCustomerId::parse(format!("cus_{id}")).unwrap()
}

pub fn eid(id: &str) -> StripeEventId {
    StripeEventId::parse(format!("evt_{id}")).unwrap()
}

pub fn uid(id: &str) -> UsageId {
    UsageId::parse(id).unwrap()
}

pub fn usd(text: &str) -> Usd {
    Usd::parse(text).unwrap()
}

/// An active subscription snapshot.
pub fn snapshot(version: u64, period: Option<BillingPeriod>) -> SubscriptionSnapshot {
    SubscriptionSnapshot {
        subscription_id: StripeSubscriptionId::parse("sub_contract").unwrap(),
        status: SubscriptionStatus::Active,
        current_period: period,
        cancel_at_period_end: false,
        version,
    }
}

pub fn record(id: &str, customer: &CustomerId, cost: &str, occurred_at: i64) -> UsageRecord {
    UsageRecord {
        usage_id: uid(id),
        customer_id: customer.clone(),
        openai_cost_usd: usd(cost),
        occurred_at,
    }
}

pub fn application(id: &str, billed: &str) -> UsageApplication {
    UsageApplication {
        usage_id: uid(id),
        billed: usd(billed),
        late_reason: None,
    }
}

pub fn intent(customer: &CustomerId, period: &BillingPeriod, from: u64, to: u64) -> MeterIntent {
    MeterIntent {
        from,
        to,
        timestamp: period.start() + 10,
        identifier: MeterIntent::identifier_for(customer, period.start(), from, to),
        created_at: NOW,
    }
}

/// A customer linked to a Stripe customer, on `period` (version 1) when given.
pub async fn customer_on<S: Store>(
    store: &S,
    id: &str,
    period: Option<BillingPeriod>,
) -> CustomerId {
    let customer = cid(id);
    store
        .link_stripe_customer(&customer, &scid(id), NOW)
        .await
        .unwrap();
    if period.is_some() {
        store
            .apply_subscription(&customer, &snapshot(1, period), NOW)
            .await
            .unwrap();
    }
    customer
}

/// Writes the records `ids` (cost 1 each) and applies them to `period` with `billed` each.
pub async fn put_and_apply<S: Store>(
    store: &S,
    customer: &CustomerId,
    period: &BillingPeriod,
    ids: &[&str],
    billed: &str,
) {
    let mut applications = Vec::new();
    for id in ids {
        assert!(
            store
                .put_usage_record(&record(id, customer, "1", period.start()), NOW)
                .await
                .unwrap()
        );
        applications.push(application(id, billed));
    }
    let outcome = store
        .apply_usage(customer, period, &applications, NOW)
        .await
        .unwrap();
    assert_eq!(outcome.applied.len(), ids.len());
}

/// A short random pause, so that concurrent calls interleave differently each round.
pub async fn jitter() {
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..8))).await;
}

/// An HTTP client that sends one request at a time.
///
/// moto serves requests on threads without a lock: a conditional write checks and writes in
/// separate steps, and a cancelled transaction restores copies of whole tables, wiping writes
/// made meanwhile. Concurrent requests can thus interleave *inside* moto in ways DynamoDB never
/// allows (two conditional writes both succeeding, a lost `ADD`). Sending one request at a time
/// makes each request atomic, as DynamoDB's are, while the store's calls still interleave
/// *between* their requests: the races that the adapter's conditions must handle.
///
/// Each request first waits a random time, writes (the commit points) up to 15 ms and reads up to
/// 2 ms, which widens every call's gap between what it read and what it writes: the calls of a
/// race then interleave in many orders (another call's commit inside that gap), so a test of a
/// race fails within a few rounds when a condition is missing.
#[derive(Debug, Clone)]
struct OneAtATime {
    inner: SharedHttpClient,
    turn: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct OneAtATimeConnector {
    inner: SharedHttpConnector,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl HttpClient for OneAtATime {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(OneAtATimeConnector {
            inner: self.inner.http_connector(settings, components),
            turn: self.turn.clone(),
        })
    }
}

impl HttpConnector for OneAtATimeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let turn = self.turn.clone();
        let pause = pause_before(&request);
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(pause).await;
            let _turn = turn.lock().await;
            inner.call(request).await
        })
    }
}

tokio::task_local! {
    /// The longest pause before a write for the calls made inside [`with_slow_writes`].
    static SLOW_WRITES: Duration;
}

/// Runs `call` as a slow writer: on DynamoDB its writes wait up to `most` (instead of 15 ms)
/// before their turn, like a Lambda paused between what it read and what it writes, so that
/// the other side of a race commits in that gap. No effect on the in-memory store.
pub async fn with_slow_writes<F: std::future::Future>(most: Duration, call: F) -> F::Output {
    SLOW_WRITES.scope(most, call).await
}

/// How long a request waits before its turn: longer for writes (see [`OneAtATime`]).
fn pause_before(request: &HttpRequest) -> Duration {
    let target = request.headers().get("x-amz-target").unwrap_or_default();
    let write = ["TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"]
        .iter()
        .any(|operation| target.ends_with(operation));
    let most = if write {
        SLOW_WRITES
            .try_with(|most| *most)
            .unwrap_or(Duration::from_millis(15))
    } else {
        Duration::from_millis(2)
    };
    Duration::from_micros(fastrand::u64(0..=most.as_micros() as u64))
}

/// A DynamoDB store on moto with fresh tables named after the test, or `None` (after saying
/// why) when no endpoint is configured.
pub async fn dynamo_store(test: &str) -> Option<DynamoStore> {
    let Ok(endpoint) = std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT") else {
        if std::env::var("BILLING_REQUIRE_DYNAMODB").as_deref() == Ok("1") {
            panic!("BILLING_REQUIRE_DYNAMODB=1 but BILLING_TEST_DYNAMODB_ENDPOINT is not set");
        }
        println!("{test}: skipped: set BILLING_TEST_DYNAMODB_ENDPOINT (./scripts/test does)");
        return None;
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "store-contract",
        ))
        .http_client(OneAtATime {
            inner: aws_smithy_http_client::Builder::new().build_http(),
            turn: Arc::default(),
        })
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let prefix = format!(
        "t{}-{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &test[..test.len().min(60)]
    );
    let tables = TablesConfig {
        customers: format!("{prefix}-customers"),
        usage_records: format!("{prefix}-usage_records"),
        webhook_events: format!("{prefix}-stripe_webhook_events"),
        billing_ledger: format!("{prefix}-billing_ledger"),
    };
    create_tables(&client, &tables)
        .await
        .unwrap_or_else(|e| panic!("creating tables on {prefix}: {e:?}"));
    // Idempotent: a second call finds them all.
    create_tables(&client, &tables).await.unwrap();
    Some(DynamoStore::new(client, tables))
}

/// Deletes a passed test's tables: moto keeps everything in memory (and a cancelled transaction
/// keeps copies of whole tables alive), so a long mutation run would otherwise exhaust it.
pub async fn drop_tables(store: &DynamoStore) {
    let tables = store.tables();
    for table in [
        &tables.customers,
        &tables.usage_records,
        &tables.webhook_events,
        &tables.billing_ledger,
    ] {
        store
            .client()
            .delete_table()
            .table_name(table)
            .send()
            .await
            .unwrap_or_else(|e| panic!("deleting {table}: {e:?}"));
    }
}

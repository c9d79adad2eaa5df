//! Helpers shared by the end-to-end tests of the function packages: a DynamoDB store on moto with
//! fresh tables per test. Test-only: no production crate depends on this one.
//!
//! # Layout
//! - [`moto_store`]: the store, or `None` (after saying why) when no moto endpoint is configured.
//! - `OneAtATime`: the HTTP client that sends one DynamoDB request at a time.
//! - [`access_log`]: every DynamoDB request a test made, recorded by an SDK interceptor.
//! - [`counting_stripe`]: a Stripe client wrapper counting the calls made through it.

pub mod access_log;
pub mod counting_stripe;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
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
use billing_adapters::dynamodb::{DynamoStore, create_tables};

/// How the tests' requests reach moto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requests {
    /// Straight through, as the SDK sends them.
    Direct,
    /// One at a time, each after a random pause of up to this long: moto serves requests on
    /// threads without a lock, so concurrent conditional writes could both succeed there, as they
    /// never do on DynamoDB. Calls still interleave between their requests (the pauses widen the
    /// gaps), which is where the races the store's conditions handle happen.
    OneAtATime(Duration),
}

#[derive(Debug, Clone)]
struct OneAtATime {
    inner: SharedHttpClient,
    turn: Arc<tokio::sync::Mutex<()>>,
    max_pause: Duration,
}

#[derive(Debug)]
struct OneAtATimeConnector {
    inner: SharedHttpConnector,
    turn: Arc<tokio::sync::Mutex<()>>,
    max_pause: Duration,
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
            max_pause: self.max_pause,
        })
    }
}

impl HttpConnector for OneAtATimeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let turn = self.turn.clone();
        let micros = u64::try_from(self.max_pause.as_micros()).unwrap_or(u64::MAX);
        let pause = Duration::from_micros(fastrand::u64(0..micros.max(1)));
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(pause).await;
            let _turn = turn.lock().await;
            inner.call(request).await
        })
    }
}

/// A DynamoDB store on moto (`BILLING_TEST_DYNAMODB_ENDPOINT`) with fresh tables named after
/// `tag` and `test`, or `None` after printing a skip line when no endpoint is set; with
/// `BILLING_REQUIRE_DYNAMODB=1` a missing endpoint panics instead, so no test passes by skipping.
pub async fn moto_store(tag: &str, test: &str, requests: Requests) -> Option<DynamoStore> {
    let Ok(endpoint) = std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("BILLING_REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "BILLING_REQUIRE_DYNAMODB=1 but BILLING_TEST_DYNAMODB_ENDPOINT is not set"
        );
        println!("{test}: skipped: set BILLING_TEST_DYNAMODB_ENDPOINT (./scripts/test does)");
        return None;
    };
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"));
    if let Requests::OneAtATime(max_pause) = requests {
        config = config.http_client(OneAtATime {
            inner: aws_smithy_http_client::Builder::new().build_http(),
            turn: Arc::default(),
            max_pause,
        });
    }
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let prefix = format!(
        "{tag}{}-{}-{}-{}",
        std::process::id(),
        fastrand::u32(..),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &test[..test.len().min(60)]
    );
    let tables = TablesConfig {
        customers: format!("{prefix}-customers"),
        usage_records: format!("{prefix}-usage_records"),
        webhook_events: format!("{prefix}-stripe_webhook_events"),
        billing_ledger: format!("{prefix}-billing_ledger"),
    };
    if let Err(e) = create_tables(&client, &tables).await {
        panic!("creating tables on {prefix}: {e:?}");
    }
    Some(DynamoStore::new(client, tables))
}

/// Drops the four tables of `store` (moto keeps every table in memory until it stops); errors are
/// ignored, as a test's clean-up must not fail the test.
pub async fn drop_tables(store: &DynamoStore) {
    let t = store.tables();
    for table in [
        &t.customers,
        &t.usage_records,
        &t.webhook_events,
        &t.billing_ledger,
    ] {
        let _ = store.client().delete_table().table_name(table).send().await;
    }
}

/// An API Gateway (payload 2.0) response's status and JSON body; panics (failing the test) on
/// a body that is not JSON text.
pub fn apigw_answer(response: &ApiGatewayV2httpResponse) -> (i64, serde_json::Value) {
    let body = match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text}")),
        other => panic!("unexpected body {other:?}"),
    };
    (response.status_code, body)
}

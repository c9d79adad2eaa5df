//! End to end: API Gateway v2 events with JWT authorizer claims (built from the fixture) into the
//! handler, over a DynamoDB store on moto with fresh tables per test. Skipped (with a printed
//! line) when `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless `BILLING_REQUIRE_DYNAMODB=1`.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use billing::config::TablesConfig;
use billing::ids::{CustomerId, StripeCustomerId, StripeSubscriptionId, UsageId};
use billing::money::Usd;
use billing::period::{BillingPeriod, to_rfc3339};
use billing::ports::{Clock, CustomerStore, UsageLedger};
use billing::service::subscription_view::ViewSettings;
use billing::subscription::{SubscriptionSnapshot, SubscriptionStatus};
use billing::usage::{UsageApplication, UsageRecord};
use billing_adapters::dynamodb::{DynamoStore, create_tables};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use subscription::Deps;

const FIXTURE: &str = include_str!("fixtures/apigw-v2-subscription-jwt.json");
const NOW: i64 = 1_790_000_000;
const DAY: i64 = 86_400;

/// A fixed time.
struct FixedClock(i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

fn client() -> Option<aws_sdk_dynamodb::Client> {
    let Ok(endpoint) = std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT") else {
        if std::env::var("BILLING_REQUIRE_DYNAMODB").as_deref() == Ok("1") {
            panic!("BILLING_REQUIRE_DYNAMODB=1 but BILLING_TEST_DYNAMODB_ENDPOINT is not set");
        }
        println!("skipped: set BILLING_TEST_DYNAMODB_ENDPOINT (./scripts/test does)");
        return None;
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
        .build();
    Some(aws_sdk_dynamodb::Client::from_conf(config))
}

fn tables(test: &str) -> TablesConfig {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let prefix = format!(
        "sv{}-{}-{}-{test}",
        std::process::id(),
        fastrand::u32(..),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    TablesConfig {
        customers: format!("{prefix}-customers"),
        usage_records: format!("{prefix}-usage_records"),
        webhook_events: format!("{prefix}-stripe_webhook_events"),
        billing_ledger: format!("{prefix}-billing_ledger"),
    }
}

/// A store on moto with fresh tables, or `None` when moto is not configured.
async fn store(test: &str) -> Option<DynamoStore> {
    let client = client()?;
    let tables = tables(test);
    create_tables(&client, &tables).await.unwrap();
    Some(DynamoStore::new(client, tables))
}

fn usd(text: &str) -> Usd {
    Usd::parse(text).unwrap()
}

/// A customer linked to Stripe with a subscription in `status` on `period`, and `billed` of usage
/// applied to that period.
async fn customer(
    store: &DynamoStore,
    id: &str,
    status: SubscriptionStatus,
    period: BillingPeriod,
    billed: &str,
) {
    let customer = CustomerId::parse(id).unwrap();
    store
        .link_stripe_customer(
            &customer,
            &StripeCustomerId::parse(format!("cus_{id}")).unwrap(),
            NOW,
        )
        .await
        .unwrap();
    let snapshot = SubscriptionSnapshot {
        subscription_id: StripeSubscriptionId::parse(format!("sub_{id}")).unwrap(),
        status,
        current_period: Some(period),
        cancel_at_period_end: false,
        version: 1,
    };
    store
        .apply_subscription(&customer, &snapshot, NOW)
        .await
        .unwrap();
    let usage_id = UsageId::parse(format!("u-{id}")).unwrap();
    let record = UsageRecord {
        usage_id: usage_id.clone(),
        customer_id: customer.clone(),
        openai_cost_usd: usd("1"),
        occurred_at: period.start(),
    };
    assert!(store.put_usage_record(&record, NOW).await.unwrap());
    let application = UsageApplication {
        usage_id,
        billed: usd(billed),
        late_reason: None,
    };
    let outcome = store
        .apply_usage(&customer, &period, &[application], NOW)
        .await
        .unwrap();
    assert_eq!(outcome.applied.len(), 1);
}

/// The request API Gateway sends after its JWT authorizer verified `claims` (no authorizer at
/// all when `None`).
fn request(claims: Option<Value>) -> ApiGatewayV2httpRequest {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    match claims {
        Some(claims) => value["requestContext"]["authorizer"]["jwt"]["claims"] = claims,
        None => {
            value["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
    }
    serde_json::from_value(value).unwrap()
}

async fn call(store: &DynamoStore, now: i64, request: ApiGatewayV2httpRequest) -> (i64, Value) {
    let settings = ViewSettings::default();
    let clock = FixedClock(now);
    let deps = Deps {
        customers: store,
        clock: &clock,
        settings: &settings,
    };
    let mut context = Context::default();
    context.request_id = format!("req-{}", fastrand::u32(..));
    let response = subscription::handler(&deps, LambdaEvent::new(request, context)).await;
    answer(&response)
}

fn answer(response: &ApiGatewayV2httpResponse) -> (i64, Value) {
    billing_test_support::apigw_answer(response)
}

fn this_period() -> BillingPeriod {
    BillingPeriod::new(NOW - DAY, NOW + 29 * DAY).unwrap()
}

#[tokio::test]
async fn an_active_customer_sees_status_period_and_usage_with_the_invoice_estimate() {
    let Some(store) = store("active").await else {
        return;
    };
    // GIVEN an active customer with $16 of usage billed this period
    customer(
        &store,
        "tenant-a",
        SubscriptionStatus::Active,
        this_period(),
        "16",
    )
    .await;
    // WHEN they ask for their subscription
    let (status, body) = call(&store, NOW, request(Some(json!({"sub": "tenant-a"})))).await;
    // THEN the view, from DynamoDB alone
    assert_eq!(status, 200);
    assert_eq!(body["has_subscription"], json!(true));
    assert_eq!(body["status"], json!("active"));
    assert_eq!(body["can_use_paid_features"], json!(true));
    assert_eq!(body["payment_needs_attention"], json!(false));
    assert_eq!(body["cancel_at_period_end"], json!(false));
    assert_eq!(body["plan"]["name"], json!("Lead Magnet AI Pro"));
    assert_eq!(body["plan"]["base_price_usd"], json!("29.00"));
    assert_eq!(body["current_period_start"], json!(to_rfc3339(NOW - DAY)));
    assert_eq!(
        body["current_period_end"],
        json!(to_rfc3339(NOW + 29 * DAY))
    );
    assert_eq!(body["next_billing_date"], json!(to_rfc3339(NOW + 29 * DAY)));
    assert_eq!(
        body["usage"],
        json!({"billed_usd": "16.00", "allowance_usd": "10.00", "remaining_allowance_usd": "0.00",
               "overage_usd": "6.00", "percent_of_allowance_used": 160,
               "estimated_next_invoice_usd": "35.00"})
    );
    billing_test_support::drop_tables(&store).await;
}

#[tokio::test]
async fn a_caller_without_a_customer_record_gets_a_no_subscription_answer() {
    let Some(store) = store("no_record").await else {
        return;
    };
    // GIVEN a signed-in user never seen by billing
    // WHEN they ask THEN 200 with a well-formed "none"
    let (status, body) = call(&store, NOW, request(Some(json!({"sub": "newcomer"})))).await;
    assert_eq!(status, 200);
    assert_eq!(body["has_subscription"], json!(false));
    assert_eq!(body["status"], json!("none"));
    assert_eq!(body["can_use_paid_features"], json!(false));
    assert_eq!(body["usage"], Value::Null);
    assert_eq!(body["plan"]["base_price_usd"], json!("29.00"));
    billing_test_support::drop_tables(&store).await;
}

#[tokio::test]
async fn missing_or_blank_identity_claims_are_a_401() {
    let Some(store) = store("no_claims").await else {
        return;
    };
    customer(
        &store,
        "tenant-a",
        SubscriptionStatus::Active,
        this_period(),
        "1",
    )
    .await;
    // GIVEN requests without an authorizer, without identity claims, or with blank ones
    for request in [
        request(None),
        request(Some(json!({"client_id": "4example"}))),
        request(Some(json!({"sub": "", "custom:customer_id": "  "}))),
    ] {
        // WHEN handled THEN 401, whatever exists in the store
        let (status, body) = call(&store, NOW, request).await;
        assert_eq!((status, body), (401, json!({"error": "unauthorized"})));
    }
    billing_test_support::drop_tables(&store).await;
}

#[tokio::test]
async fn a_user_never_reads_another_customers_data_whatever_the_request_says() {
    let Some(store) = store("isolation").await else {
        return;
    };
    // GIVEN two customers in different states
    customer(
        &store,
        "tenant-a",
        SubscriptionStatus::Active,
        this_period(),
        "16",
    )
    .await;
    customer(
        &store,
        "tenant-b",
        SubscriptionStatus::PastDue,
        this_period(),
        "2",
    )
    .await;
    // WHEN A asks, naming B in the query string, path parameters, headers and body
    let mut value = serde_json::to_value(request(Some(json!({"sub": "tenant-a"})))).unwrap();
    value["rawQueryString"] = json!("customer_id=tenant-b&sub=tenant-b");
    value["queryStringParameters"] = json!({"customer_id": "tenant-b", "sub": "tenant-b"});
    value["pathParameters"] = json!({"customer_id": "tenant-b"});
    value["headers"]["x-customer-id"] = json!("tenant-b");
    value["body"] = json!("{\"customer_id\": \"tenant-b\"}");
    let (status, body) = call(&store, NOW, serde_json::from_value(value).unwrap()).await;
    // THEN A gets A's data only
    assert_eq!(status, 200);
    assert_eq!(body["status"], json!("active"));
    assert_eq!(body["usage"]["billed_usd"], json!("16.00"));
    // AND B, asking as B, gets B's
    let (_, body) = call(&store, NOW, request(Some(json!({"sub": "tenant-b"})))).await;
    assert_eq!(body["status"], json!("past_due"));
    assert_eq!(body["usage"]["billed_usd"], json!("2.00"));
    billing_test_support::drop_tables(&store).await;
}

#[tokio::test]
async fn the_customer_id_claim_wins_over_sub() {
    let Some(store) = store("claim_order").await else {
        return;
    };
    // GIVEN a token whose custom:customer_id names a customer and whose sub names another
    customer(
        &store,
        "tenant-a",
        SubscriptionStatus::Active,
        this_period(),
        "3",
    )
    .await;
    customer(
        &store,
        "tenant-b",
        SubscriptionStatus::Trialing,
        this_period(),
        "4",
    )
    .await;
    let claims = json!({"sub": "tenant-b", "custom:customer_id": "tenant-a"});
    // WHEN handled THEN custom:customer_id is the caller
    let (_, body) = call(&store, NOW, request(Some(claims))).await;
    assert_eq!(body["status"], json!("active"));
    assert_eq!(body["usage"]["billed_usd"], json!("3.00"));
    billing_test_support::drop_tables(&store).await;
}

#[tokio::test]
async fn a_past_due_customer_keeps_access_for_the_grace_and_is_asked_to_pay() {
    let Some(store) = store("past_due").await else {
        return;
    };
    // GIVEN a past_due customer whose period started at NOW - 1 day
    customer(
        &store,
        "tenant-late",
        SubscriptionStatus::PastDue,
        this_period(),
        "0",
    )
    .await;
    let ask = || request(Some(json!({"sub": "tenant-late"})));
    // WHEN asked within the 7-day grace THEN allowed, payment flagged
    let (_, body) = call(&store, NOW, ask()).await;
    assert_eq!(body["can_use_paid_features"], json!(true));
    assert_eq!(body["payment_needs_attention"], json!(true));
    assert_eq!(
        body["past_due_grace_ends_at"],
        json!(to_rfc3339(NOW + 6 * DAY))
    );
    // WHEN asked after it THEN refused, still flagged
    let (_, body) = call(&store, NOW + 6 * DAY, ask()).await;
    assert_eq!(body["can_use_paid_features"], json!(false));
    assert_eq!(body["payment_needs_attention"], json!(true));
    billing_test_support::drop_tables(&store).await;
}

#[tokio::test]
async fn a_store_failure_is_a_500_response_not_a_runtime_error() {
    // GIVEN a store whose tables do not exist
    let Some(client) = client() else {
        return;
    };
    let store = DynamoStore::new(client, tables("missing"));
    // WHEN asked THEN 500 with a retry hint
    let (status, body) = call(&store, NOW, request(Some(json!({"sub": "tenant-a"})))).await;
    assert_eq!(status, 500);
    assert!(body["error"].as_str().unwrap().contains("retry"));
}

//! The Stripe HTTP client against a local wiremock server (and a raw TCP listener for connection
//! resets): exact form bytes, headers, the retry schedule, error fields, pagination, redaction.

use billing::config::{SecretSource, StripeConfig};
use billing::ids::{CheckoutSessionId, CustomerId, StripeCustomerId, StripeSubscriptionId};
use billing::stripe::{
    MeterEventOutcome, NewCheckoutSession, NewCustomer, NewMeterEvent, NewPortalSession, StripeApi,
    StripeError,
};
use billing_adapters::stripe_http::{
    FullJitter, Jitter, NoJitter, RequestError, RetryPolicy, Sleeper, StripeHttpClient,
};
use secrecy::SecretString;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk_test_NEVERSHOWN_51Hx9";
const CUSTOMER: &str = "cus_Q1w2e3r4";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Records every wait, then really waits (the delays are milliseconds).
#[derive(Debug, Clone, Default)]
struct RecordingSleeper(Arc<Mutex<Vec<Duration>>>);

impl RecordingSleeper {
    fn delays(&self) -> Vec<Duration> {
        self.0.lock().expect("sleeper lock").clone()
    }
}

#[async_trait::async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, delay: Duration) {
        self.0.lock().expect("sleeper lock").push(delay);
        tokio::time::sleep(delay).await;
    }
}

/// Deterministic "jitter": three quarters of the cap, in whole nanoseconds.
#[derive(Debug)]
struct ThreeQuarters;

impl Jitter for ThreeQuarters {
    fn pick(&self, cap: Duration) -> Duration {
        cap * 3 / 4
    }
}

/// Tiny delays: caps of 4, 8, 16 ms, at most 40 ms.
fn fast_policy(sleeper: &RecordingSleeper) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(3)
        .with_base_delay(ms(4))
        .with_max_delay(ms(40))
        .with_jitter(NoJitter)
        .with_sleeper(sleeper.clone())
}

fn client_with(base: &str, policy: RetryPolicy, timeout: Duration) -> StripeHttpClient {
    StripeHttpClient::builder(SecretString::from(KEY))
        .base_url(base)
        .timeout(timeout)
        .retry_policy(policy)
        .build()
        .expect("client builds")
}

fn client(server: &MockServer, sleeper: &RecordingSleeper) -> StripeHttpClient {
    client_with(&server.uri(), fast_policy(sleeper), ms(2_000))
}

fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn body(request: &Request) -> &str {
    std::str::from_utf8(&request.body).expect("utf-8 body")
}

fn stripe_error(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"type": error_type, "message": message}
    }))
}

fn customer_json() -> serde_json::Value {
    json!({"id": CUSTOMER, "object": "customer", "email": "ada@example.com",
           "metadata": {"customer_id": "tenant-1"}})
}

fn checkout() -> NewCheckoutSession {
    NewCheckoutSession {
        customer_id: CustomerId::parse("tenant-1").expect("id"),
        stripe_customer_id: StripeCustomerId::parse(CUSTOMER).expect("id"),
        base_price_id: "price_base29".into(),
        metered_price_id: "price_metered".into(),
        success_url: "https://app.example.com/billing?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://app.example.com/billing".into(),
    }
}

fn meter_event() -> NewMeterEvent {
    NewMeterEvent {
        event_name: "leadmagnet_ai_usage".into(),
        stripe_customer_id: StripeCustomerId::parse(CUSTOMER).expect("id"),
        value: 250,
        identifier: "usage-tenant-1-1767225600-0-250".into(),
        timestamp: 1_767_300_000,
    }
}

fn meter_event_json() -> serde_json::Value {
    json!({"object": "billing.meter_event", "event_name": "leadmagnet_ai_usage",
           "identifier": "usage-tenant-1-1767225600-0-250", "timestamp": 1_767_300_000,
           "created": 1_767_300_001, "livemode": false,
           "payload": {"stripe_customer_id": CUSTOMER, "value": "250"}})
}

#[tokio::test]
async fn a_checkout_session_is_posted_as_the_exact_form_with_pinned_headers() {
    // GIVEN a Stripe that creates checkout sessions
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_a1",
            "customer": CUSTOMER, "client_reference_id": "tenant-1", "mode": "subscription", "status": "open"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a subscription checkout is created
    let session = client(&server, &sleeper)
        .create_checkout_session(&checkout(), "checkout-tenant-1-v1")
        .await
        .expect("session");

    // THEN the body is the core's fields in order, brackets encoded, the metered item without quantity
    assert_eq!(session.id.as_str(), "cs_test_a1");
    let requests = server.received_requests().await.expect("recording");
    let request = &requests[0];
    assert_eq!(
        body(request),
        "mode=subscription&customer=cus_Q1w2e3r4&client_reference_id=tenant-1\
         &success_url=https%3A%2F%2Fapp.example.com%2Fbilling%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D\
         &cancel_url=https%3A%2F%2Fapp.example.com%2Fbilling\
         &line_items%5B0%5D%5Bprice%5D=price_base29&line_items%5B0%5D%5Bquantity%5D=1\
         &line_items%5B1%5D%5Bprice%5D=price_metered\
         &metadata%5Bcustomer_id%5D=tenant-1\
         &subscription_data%5Bmetadata%5D%5Bcustomer_id%5D=tenant-1"
    );
    assert!(!body(request).contains("line_items%5B1%5D%5Bquantity%5D"));
    // AND the headers pin the version, authenticate, name the project and carry the key
    assert_eq!(header(request, "stripe-version"), Some("2026-10-28.endive"));
    assert_eq!(
        header(request, "authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        header(request, "idempotency-key"),
        Some("checkout-tenant-1-v1")
    );
    assert_eq!(
        header(request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        header(request, "user-agent").is_some_and(|ua| ua.starts_with("LeadMagnetAI-Billing/"))
    );
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn every_post_carries_the_idempotency_key_it_was_given() {
    // GIVEN a Stripe that accepts customers, portal sessions, meter events and generic posts
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/x"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(meter_event_json()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meters"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "mtr_1"})))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let stripe = client(&server, &sleeper);
    let new_customer = NewCustomer {
        customer_id: CustomerId::parse("tenant-1").expect("id"),
        email: Some("ada@example.com".into()),
        name: Some("Ada Lovelace".into()),
        cognito_sub: Some("sub-1".into()),
        test_clock: None,
    };

    // WHEN each kind of POST is made
    let customer = stripe
        .create_customer(&new_customer, &new_customer.idempotency_key())
        .await
        .expect("customer");
    let portal = stripe
        .create_portal_session(
            &NewPortalSession {
                stripe_customer_id: StripeCustomerId::parse(CUSTOMER).expect("id"),
                return_url: "https://app.example.com/billing".into(),
                configuration: None,
            },
            "portal-tenant-1-42",
        )
        .await
        .expect("portal");
    let outcome = stripe
        .create_meter_event(&meter_event())
        .await
        .expect("meter event");
    let meter = stripe
        .post_form(
            "/v1/billing/meters",
            &[("display_name".to_string(), "AI usage".to_string())],
            "setup-meter-v1",
        )
        .await
        .expect("meter");

    // THEN each answer is read and each request carried its key (the meter event's is its identifier)
    assert_eq!(customer.id.as_str(), CUSTOMER);
    assert_eq!(portal.url, "https://billing.stripe.com/p/session/x");
    assert!(
        matches!(outcome, MeterEventOutcome::Accepted(ref e) if e.identifier == "usage-tenant-1-1767225600-0-250")
    );
    assert_eq!(meter["id"], "mtr_1");
    let requests = server.received_requests().await.expect("recording");
    let keys: Vec<_> = requests
        .iter()
        .map(|r| header(r, "idempotency-key"))
        .collect();
    assert_eq!(
        keys,
        [
            Some("customer-create-tenant-1"),
            Some("portal-tenant-1-42"),
            Some("usage-tenant-1-1767225600-0-250"),
            Some("setup-meter-v1"),
        ]
    );
    assert_eq!(
        body(&requests[0]),
        "email=ada%40example.com&name=Ada+Lovelace&metadata%5Bcustomer_id%5D=tenant-1&metadata%5Bcognito_sub%5D=sub-1"
    );
    assert_eq!(
        body(&requests[2]),
        "event_name=leadmagnet_ai_usage&payload%5Bstripe_customer_id%5D=cus_Q1w2e3r4&payload%5Bvalue%5D=250\
         &identifier=usage-tenant-1-1767225600-0-250&timestamp=1767300000"
    );
    for request in &requests {
        assert_eq!(header(request, "stripe-version"), Some("2026-10-28.endive"));
        assert_eq!(
            header(request, "authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
}

#[tokio::test]
async fn a_post_with_an_empty_idempotency_key_is_refused_before_sending() {
    // GIVEN a Stripe that must not be called
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a POST is made without a key
    let err = client(&server, &sleeper)
        .post_form("/v1/customers", &[], " ")
        .await
        .unwrap_err();

    // THEN it is refused locally, not retryable, with the reason kept as the source
    assert!(!err.is_retryable());
    let StripeError::InvalidRequest(source) = err else {
        panic!("expected a local refusal, got {err:?}");
    };
    assert!(matches!(
        source.downcast_ref::<RequestError>(),
        Some(RequestError::EmptyIdempotencyKey)
    ));
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn a_429_is_retried_on_the_jittered_schedule_with_identical_body_and_key() {
    // GIVEN a Stripe that rate-limits three times, then accepts
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .respond_with(stripe_error(
            429,
            "invalid_request_error",
            "Too many requests",
        ))
        .up_to_n_times(3)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(meter_event_json()))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let policy = fast_policy(&sleeper).with_jitter(ThreeQuarters);
    let stripe = client_with(&server.uri(), policy, ms(2_000));

    // WHEN a meter event is sent
    let started = Instant::now();
    let outcome = stripe
        .create_meter_event(&meter_event())
        .await
        .expect("sent");

    // THEN it is accepted after waits of 3/4 of the caps 4, 8 and 16 ms
    assert!(matches!(outcome, MeterEventOutcome::Accepted(_)));
    assert_eq!(sleeper.delays(), [ms(3), ms(6), ms(12)]);
    assert!(started.elapsed() >= ms(21));
    // AND all four attempts sent the same bytes under the same key
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert_eq!(request.body, requests[0].body);
        assert_eq!(
            header(request, "idempotency-key"),
            Some("usage-tenant-1-1767225600-0-250")
        );
    }
}

#[tokio::test]
async fn a_500_is_retried_until_the_retries_run_out() {
    // GIVEN a Stripe that always fails with 500
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            stripe_error(500, "api_error", "Something went wrong")
                .insert_header("Request-Id", "req_boom"),
        )
        .expect(4)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a POST is made with the default of three retries
    let err = client(&server, &sleeper)
        .post_form(
            "/v1/customers",
            &[("email".into(), "a@b.c".into())],
            "k-500",
        )
        .await
        .unwrap_err();

    // THEN four attempts were made, waiting the doubling caps (no jitter), and the last answer is kept
    assert_eq!(sleeper.delays(), [ms(4), ms(8), ms(16)]);
    assert!(
        matches!(err, StripeError::Api { status: 500, ref request_id, .. }
        if request_id.as_deref() == Some("req_boom"))
    );
    let requests = server.received_requests().await.expect("recording");
    assert!(
        requests
            .iter()
            .all(|r| r.body == b"email=a%40b.c" && header(r, "idempotency-key") == Some("k-500"))
    );
}

#[tokio::test]
async fn a_seeded_full_jitter_gives_a_reproducible_schedule() {
    // GIVEN a Stripe failing twice with 503, and full jitter seeded with 42
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json()))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let policy = fast_policy(&sleeper).with_jitter(FullJitter::seeded(42));
    let stripe = client_with(&server.uri(), policy, ms(2_000));

    // WHEN a customer is read
    let customer = stripe
        .retrieve_customer(&StripeCustomerId::parse(CUSTOMER).expect("id"))
        .await
        .expect("customer");

    // THEN the waits are the same seed's picks under the caps 4 and 8 ms
    assert_eq!(customer.id.as_str(), CUSTOMER);
    let same_seed = FullJitter::seeded(42);
    let expected = [same_seed.pick(ms(4)), same_seed.pick(ms(8))];
    assert_eq!(sleeper.delays(), expected);
    assert!(expected[0] <= ms(4) && expected[1] <= ms(8));
}

#[tokio::test]
async fn retry_after_raises_the_wait_but_is_bounded_by_the_maximum() {
    // GIVEN a Stripe that asks to wait 2 s once, then 0 s once
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            stripe_error(429, "invalid_request_error", "slow down")
                .insert_header("Retry-After", "2"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            stripe_error(429, "invalid_request_error", "slow down")
                .insert_header("Retry-After", "0"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a GET is made (max delay 40 ms)
    let answer = client(&server, &sleeper)
        .get_json("/v1/balance", &[])
        .await
        .expect("answer");

    // THEN the first wait is capped at 40 ms, and the second is the plain backoff (8 ms)
    assert_eq!(answer["ok"], true);
    assert_eq!(sleeper.delays(), [ms(40), ms(8)]);
}

#[tokio::test]
async fn stripe_should_retry_false_stops_retries_on_a_500() {
    // GIVEN a 500 that Stripe says not to retry
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            stripe_error(500, "api_error", "already processed")
                .insert_header("Stripe-Should-Retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a POST is made
    let err = client(&server, &sleeper)
        .post_form("/v1/customers", &[], "k-no-retry")
        .await
        .unwrap_err();

    // THEN one attempt is made and the header is kept in the error
    assert!(matches!(
        err,
        StripeError::Api {
            status: 500,
            should_retry: Some(false),
            ..
        }
    ));
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn stripe_should_retry_true_forces_a_retry_on_a_400() {
    // GIVEN a 400 that Stripe says to retry, then a success
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            stripe_error(400, "invalid_request_error", "try again")
                .insert_header("Stripe-Should-Retry", "true"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json()))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let new_customer = NewCustomer {
        customer_id: CustomerId::parse("tenant-1").expect("id"),
        email: None,
        name: None,
        cognito_sub: None,
        test_clock: None,
    };

    // WHEN a customer is created
    let customer = client(&server, &sleeper)
        .create_customer(&new_customer, "customer-create-tenant-1")
        .await
        .expect("customer");

    // THEN it succeeds on the second attempt
    assert_eq!(customer.id.as_str(), CUSTOMER);
    assert_eq!(sleeper.delays(), [ms(4)]);
    assert_eq!(
        server.received_requests().await.expect("recording").len(),
        2
    );
}

#[tokio::test]
async fn a_409_lock_timeout_is_retried_but_a_plain_400_is_not() {
    // GIVEN a lock timeout once, then a validation error
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"error": {
            "type": "invalid_request_error", "code": "lock_timeout", "message": "locked"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(stripe_error(400, "invalid_request_error", "Invalid email"))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a POST is made
    let err = client(&server, &sleeper)
        .post_form("/v1/customers", &[], "k-409")
        .await
        .unwrap_err();

    // THEN the 409 was retried once and the 400 ended it
    assert!(matches!(err, StripeError::Api { status: 400, .. }));
    assert_eq!(sleeper.delays(), [ms(4)]);
}

#[tokio::test]
async fn stripe_error_fields_and_request_id_are_kept() {
    // GIVEN a Stripe that does not know the customer
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/customers/cus_missing"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("Request-Id", "req_Zx81")
                .set_body_json(json!({"error": {
                    "type": "invalid_request_error", "code": "resource_missing", "param": "id",
                    "message": "No such customer: 'cus_missing'",
                    "doc_url": "https://stripe.com/docs/error-codes/resource-missing"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN it is read
    let err = client(&server, &sleeper)
        .retrieve_customer(&StripeCustomerId::parse("cus_missing").expect("id"))
        .await
        .unwrap_err();

    // THEN every field is kept, it is not retried, and it reads as "not found"
    let StripeError::Api {
        status,
        ref error_type,
        ref code,
        ref param,
        ref message,
        ref request_id,
        should_retry,
    } = err
    else {
        panic!("expected an API error, got {err:?}");
    };
    assert_eq!(status, 404);
    assert_eq!(error_type, "invalid_request_error");
    assert_eq!(code.as_deref(), Some("resource_missing"));
    assert_eq!(param.as_deref(), Some("id"));
    assert_eq!(message, "No such customer: 'cus_missing'");
    assert_eq!(request_id.as_deref(), Some("req_Zx81"));
    assert_eq!(should_retry, None);
    assert!(err.is_not_found());
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn a_duplicate_meter_event_identifier_counts_as_already_delivered() {
    // GIVEN a Stripe that already has an event with this identifier
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .respond_with(
            stripe_error(
                400,
                "invalid_request_error",
                "An event already exists with identifier usage-tenant-1-1767225600-0-250.",
            )
            .insert_header("Stripe-Should-Retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN the event is sent again
    let outcome = client(&server, &sleeper)
        .create_meter_event(&meter_event())
        .await
        .expect("not an error");

    // THEN it is reported as delivered before, without retrying
    assert_eq!(outcome, MeterEventOutcome::AlreadyDelivered);
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn an_unreadable_success_body_is_a_decode_error_and_not_retried() {
    // GIVEN a Stripe answering 200 with something that is not a customer
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Request-Id", "req_odd")
                .set_body_string("<html>hello</html>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN a customer is read
    let err = client(&server, &sleeper)
        .retrieve_customer(&StripeCustomerId::parse(CUSTOMER).expect("id"))
        .await
        .unwrap_err();

    // THEN it is a decode error naming the request, and it was not retried
    assert!(matches!(err, StripeError::Decode { ref request_id, .. }
        if request_id.as_deref() == Some("req_odd")));
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn gets_read_objects_by_id_without_body_or_idempotency_key() {
    // GIVEN a Stripe holding a subscription and a checkout session
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sub_1", "object": "subscription", "customer": CUSTOMER, "status": "active",
            "items": {"object": "list", "data": [{"id": "si_1", "current_period_start": 1_767_225_600,
                      "current_period_end": 1_769_904_000,
                      "price": {"id": "price_metered", "recurring": {"usage_type": "metered"}}}]}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "complete",
            "customer": CUSTOMER, "subscription": {"id": "sub_1", "object": "subscription"}
        })))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let stripe = client(&server, &sleeper);

    // WHEN both are read
    let subscription = stripe
        .retrieve_subscription(&StripeSubscriptionId::parse("sub_1").expect("id"))
        .await
        .expect("subscription");
    let session = stripe
        .retrieve_checkout_session(&CheckoutSessionId::parse("cs_test_1").expect("id"))
        .await
        .expect("session");

    // THEN the objects are read, and the GETs carried auth and version but no key or body
    assert!(subscription.current_period().is_some());
    assert_eq!(
        session.subscription.expect("subscription").as_str(),
        "sub_1"
    );
    for request in server.received_requests().await.expect("recording") {
        assert_eq!(request.method.as_str(), "GET");
        assert!(request.body.is_empty());
        assert_eq!(header(&request, "idempotency-key"), None);
        assert_eq!(
            header(&request, "stripe-version"),
            Some("2026-10-28.endive")
        );
        assert_eq!(
            header(&request, "authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
}

#[tokio::test]
async fn get_json_encodes_its_query_and_delete_reaches_stripe() {
    // GIVEN a Stripe with an expandable subscription and a deletable webhook endpoint
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_1"))
        .and(query_param("expand[]", "items.data.price"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "sub_1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/webhook_endpoints/we_1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "we_1", "deleted": true})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let stripe = client(&server, &sleeper);

    // WHEN the generic calls are made
    let sub = stripe
        .get_json(
            "/v1/subscriptions/sub_1",
            &[("expand[]".into(), "items.data.price".into())],
        )
        .await
        .expect("get");
    let deleted = stripe
        .delete("/v1/webhook_endpoints/we_1")
        .await
        .expect("delete");

    // THEN the answers come back as JSON and the query was bracket-encoded
    assert_eq!(sub["id"], "sub_1");
    assert_eq!(deleted["deleted"], true);
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(
        requests[0].url.query(),
        Some("expand%5B%5D=items.data.price")
    );
    assert_eq!(
        header(&requests[1], "stripe-version"),
        Some("2026-10-28.endive")
    );
}

#[tokio::test]
async fn meter_event_summaries_follow_has_more_with_starting_after() {
    // GIVEN two pages of summaries
    let server = MockServer::start().await;
    let summary = |id: &str, start: i64, value: u64| {
        json!({"id": id, "object": "billing.meter_event_summary", "meter": "mtr_1",
               "start_time": start, "end_time": start + 3600, "aggregated_value": value})
    };
    Mock::given(method("GET"))
        .and(path("/v1/billing/meters/mtr_1/event_summaries"))
        .and(query_param("customer", CUSTOMER))
        .and(query_param("start_time", "1767225600"))
        .and(query_param("end_time", "1769904000"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": true, "url": "/v1/billing/meters/mtr_1/event_summaries",
            "data": [summary("mtrusg_1", 1_767_225_600, 100), summary("mtrusg_2", 1_767_229_200, 50)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/billing/meters/mtr_1/event_summaries"))
        .and(query_param("starting_after", "mtrusg_2"))
        .and(query_param("customer", CUSTOMER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false,
            "data": [summary("mtrusg_3", 1_767_232_800, 7)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN the summaries are listed
    let summaries = client(&server, &sleeper)
        .list_meter_event_summaries(
            "mtr_1",
            &StripeCustomerId::parse(CUSTOMER).expect("id"),
            1_767_225_600,
            1_769_904_000,
        )
        .await
        .expect("summaries");

    // THEN both pages are joined in order
    let ids: Vec<_> = summaries.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["mtrusg_1", "mtrusg_2", "mtrusg_3"]);
    let total: u64 = summaries.iter().filter_map(|s| s.whole_units()).sum();
    assert_eq!(total, 157);
}

#[tokio::test]
async fn a_page_that_has_more_but_no_new_cursor_ends_with_an_error_not_a_loop() {
    // GIVEN a Stripe that always says "more" with an empty page
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "has_more": true, "data": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();

    // WHEN the summaries are listed
    let err = client(&server, &sleeper)
        .list_meter_event_summaries(
            "mtr_1",
            &StripeCustomerId::parse(CUSTOMER).expect("id"),
            0,
            1,
        )
        .await
        .unwrap_err();

    // THEN it stops with a decode error
    assert!(matches!(err, StripeError::Decode { .. }));
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_transport_error_and_retried() {
    // GIVEN a Stripe whose first answer takes 400 ms, then answers at once
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(customer_json())
                .set_delay(ms(400)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json()))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let stripe = client_with(&server.uri(), fast_policy(&sleeper), ms(100));

    // WHEN a POST is made with a 100 ms timeout per attempt
    let answer = stripe
        .post_form(
            "/v1/customers",
            &[("email".into(), "a@b.c".into())],
            "k-slow",
        )
        .await
        .expect("second attempt");

    // THEN the second attempt answered, with the same bytes and key
    assert_eq!(answer["id"], CUSTOMER);
    assert_eq!(sleeper.delays(), [ms(4)]);
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(header(&requests[1], "idempotency-key"), Some("k-slow"));
}

#[tokio::test]
async fn when_every_attempt_times_out_the_timeout_is_kept_as_the_source() {
    // GIVEN a Stripe that is always too slow
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(ms(300)))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let stripe = client_with(
        &server.uri(),
        fast_policy(&sleeper).with_max_retries(1),
        ms(50),
    );

    // WHEN a GET is made
    let err = stripe.get_json("/v1/balance", &[]).await.unwrap_err();

    // THEN it is a transport error whose source is reqwest's timeout
    let StripeError::Transport(source) = err else {
        panic!("expected a transport error, got {err:?}");
    };
    let reqwest_error = source
        .downcast_ref::<reqwest::Error>()
        .expect("reqwest source");
    assert!(reqwest_error.is_timeout());
    assert_eq!(sleeper.delays(), [ms(4)]);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_as_transport() {
    // GIVEN a port nobody listens on
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let sleeper = RecordingSleeper::default();
    let stripe = client_with(&format!("http://{addr}"), fast_policy(&sleeper), ms(500));

    // WHEN a meter event is sent
    let err = stripe.create_meter_event(&meter_event()).await.unwrap_err();

    // THEN every retry was made on schedule, and the connect error is the source
    assert_eq!(sleeper.delays(), [ms(4), ms(8), ms(16)]);
    let StripeError::Transport(source) = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(
        source
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect)
    );
    assert!(err.is_retryable());
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) off `stream`.
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.expect("read");
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().expect("length"));
        if buf.len() >= head_end + 4 + length {
            return buf;
        }
    }
}

/// A server that resets the first connection after reading its request, then answers the second
/// with `answer`. Returns its address and the raw requests it read.
async fn resetting_server(answer: String) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        let (mut first, _) = listener.accept().await.expect("accept");
        seen.push(read_request(&mut first).await);
        first.set_zero_linger().expect("linger");
        drop(first);
        let (mut second, _) = listener.accept().await.expect("accept");
        seen.push(read_request(&mut second).await);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
        second.write_all(response.as_bytes()).await.expect("write");
        second.shutdown().await.expect("shutdown");
        seen
    });
    (addr, task)
}

fn split_request(raw: &[u8]) -> (String, Vec<u8>) {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete head");
    (
        String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase(),
        raw[head_end + 4..].to_vec(),
    )
}

#[tokio::test]
async fn a_reset_connection_is_retried_with_the_same_bytes_and_key() {
    // GIVEN a server that resets the first connection, then accepts the meter event
    let (addr, server) = resetting_server(meter_event_json().to_string()).await;
    let sleeper = RecordingSleeper::default();
    let stripe = client_with(&format!("http://{addr}"), fast_policy(&sleeper), ms(2_000));

    // WHEN the meter event is sent
    let outcome = stripe
        .create_meter_event(&meter_event())
        .await
        .expect("sent");

    // THEN it was accepted after one retry on schedule
    assert!(matches!(outcome, MeterEventOutcome::Accepted(_)));
    assert_eq!(sleeper.delays(), [ms(4)]);
    // AND both attempts sent the same body under the same key
    let seen = server.await.expect("server task");
    assert_eq!(seen.len(), 2);
    let (head_1, body_1) = split_request(&seen[0]);
    let (head_2, body_2) = split_request(&seen[1]);
    assert_eq!(body_1, body_2);
    assert!(body_1.starts_with(b"event_name=leadmagnet_ai_usage&"));
    for head in [head_1, head_2] {
        assert!(head.contains("\r\nidempotency-key: usage-tenant-1-1767225600-0-250"));
        assert!(head.contains("\r\nstripe-version: 2026-10-28.endive"));
    }
}

#[tokio::test]
async fn debug_and_display_never_show_the_api_key() {
    // GIVEN a client and the errors it can produce
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(stripe_error(
            401,
            "invalid_request_error",
            "Invalid API Key provided",
        ))
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let stripe = client(&server, &sleeper);
    let api_error = stripe.get_json("/v1/balance", &[]).await.unwrap_err();
    let refused = client_with("http://127.0.0.1:9", RetryPolicy::none(), ms(200))
        .get_json("/v1/balance", &[])
        .await
        .unwrap_err();
    let builder = StripeHttpClient::builder(SecretString::from(KEY));
    let bad_key = StripeHttpClient::builder(SecretString::from(format!("{KEY}\n")))
        .build()
        .unwrap_err();

    // WHEN they are printed
    let printed = [
        format!("{stripe:?}"),
        format!("{stripe:#?}"),
        format!("{builder:?}"),
        format!("{api_error} {api_error:?}"),
        format!("{refused} {refused:?}"),
        format!("{bad_key} {bad_key:?}"),
    ];

    // THEN the key never appears, and the client says it is redacted
    for text in &printed {
        assert!(!text.contains("NEVERSHOWN"), "{text}");
    }
    assert!(printed[0].contains("[REDACTED]"));
    assert!(printed[0].contains("2026-10-28.endive"));
}

#[tokio::test]
async fn from_config_takes_base_version_timeout_and_retries() {
    // GIVEN a configuration pointing at a local stand-in with another version and no retries
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let config = StripeConfig {
        api_base: format!("{}/", server.uri()),
        api_version: "2026-09-30.endive".into(),
        timeout: ms(1_500),
        max_retries: 0,
        api_key: SecretSource::SecretsManager("leadmagnet/stripe".into()),
    };

    // WHEN the client is built from it and used
    let stripe = StripeHttpClient::from_config(&config, SecretString::from(KEY)).expect("client");
    let err = stripe.get_json("/v1/balance", &[]).await.unwrap_err();

    // THEN the settings are applied: one attempt, the configured version, the trimmed base
    assert!(matches!(err, StripeError::Api { status: 500, .. }));
    assert_eq!(stripe.base_url(), server.uri());
    assert_eq!(stripe.timeout(), ms(1_500));
    assert_eq!(stripe.retry_policy().max_retries(), 0);
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(
        header(&requests[0], "stripe-version"),
        Some("2026-09-30.endive")
    );
}

/// Collects formatted log lines in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_attempt_logs_one_debug_line_without_key_or_body() {
    // GIVEN a Stripe that fails once, then accepts, and a debug-level log collector
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("Request-Id", "req_first"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Request-Id", "req_second")
                .set_body_json(customer_json()),
        )
        .mount(&server)
        .await;
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sleeper = RecordingSleeper::default();

    // WHEN a POST with a recognisable body is made
    client(&server, &sleeper)
        .post_form(
            "/v1/customers",
            &[("email".into(), "private-body@example.com".into())],
            "k-logs",
        )
        .await
        .expect("second attempt");

    // THEN there is one line per attempt with method, path, status and request id, and no secrets
    let text = String::from_utf8(logs.0.lock().expect("log lock").clone()).expect("utf-8");
    let lines: Vec<_> = text
        .lines()
        .filter(|l| l.contains("Stripe request attempt"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("attempt=1") && lines[0].contains("Some(503)"));
    assert!(lines[0].contains("req_first") && lines[0].contains("retry_in_ms=Some(4)"));
    assert!(lines[1].contains("attempt=2") && lines[1].contains("Some(200)"));
    assert!(
        lines[1].contains("req_second") && lines[1].contains("path=\"/v1/customers\""),
        "{text}"
    );
    assert!(!text.contains("NEVERSHOWN"), "{text}");
    assert!(!text.contains("private-body"), "{text}");
}

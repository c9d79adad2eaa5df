//! What the end-to-end tests share: a store on moto with fresh tables, the Stripe stand-in over
//! HTTP, an injectable clock, and API Gateway v2 events built from the fixture.

#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use base64::Engine as _;
use billing::ids::{CustomerId, StripeCustomerId};
use billing::ports::{Clock, CustomerStore};
use billing::subscription::SubscriptionSnapshot;
use billing::webhook::{SignatureVerifier, sign_header};
use billing_adapters::dynamodb::DynamoStore;
use billing_adapters::stripe_http::StripeHttpClient;
use billing_test_support::Requests;
use billing_test_support::counting_stripe::CountingStripe;
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::{Value, json};
use stripe_webhook::WebhookDeps;

/// The stand-in accepts any test key.
pub const KEY: &str = "sk_test_stripe_sim";
/// The signing secret most tests configure.
pub const SECRET: &str = "whsec_e2e_current";

const FIXTURE: &str = include_str!("../fixtures/apigw-v2-stripe-webhook.json");

/// The machine's clock moved by an offset the test controls (versions stay increasing).
#[derive(Debug, Default)]
pub struct TestClock {
    offset_secs: AtomicI64,
}

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.now_millis() / 1000
    }

    fn now_millis(&self) -> i64 {
        billing::ports::SystemClock.now_millis() + self.offset_secs.load(Ordering::SeqCst) * 1000
    }
}

/// One test's world: its own tables, its own stand-in, its own clock.
pub struct World {
    pub store: DynamoStore,
    pub sim: stripe_sim::Server,
    pub stripe: CountingStripe<StripeHttpClient>,
    pub clock: TestClock,
    pub verifier: SignatureVerifier,
    pub price: String,
    invocations: AtomicU32,
}

impl World {
    /// A world whose verifier accepts `secrets`, or `None` when moto is not configured.
    pub async fn new(test: &str, secrets: &[&str]) -> Option<World> {
        let store = dynamo_store(test).await?;
        let sim = stripe_sim::serve(stripe_sim::Config {
            port: 0,
            ..stripe_sim::Config::default()
        })
        .await
        .unwrap();
        let inner = StripeHttpClient::builder(SecretString::from(KEY))
            .base_url(sim.base_url())
            .build()
            .unwrap();
        let verifier =
            SignatureVerifier::new(secrets.iter().map(|s| SecretString::from(*s)).collect());
        let mut world = World {
            store,
            sim,
            stripe: CountingStripe::new(inner),
            clock: TestClock::default(),
            verifier,
            price: String::new(),
            invocations: AtomicU32::new(0),
        };
        let price = world
            .sim_post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("unit_amount", "2900"),
                    ("recurring[interval]", "month"),
                    ("product_data[name]", "Lead Magnet AI Pro"),
                ],
            )
            .await;
        world.price = price["id"].as_str().unwrap().to_string();
        Some(world)
    }

    /// The ports as the function's `main` lends them.
    pub fn deps(&self) -> WebhookDeps<'_> {
        WebhookDeps {
            events: &self.store,
            customers: &self.store,
            stripe: &self.stripe,
            clock: &self.clock,
            verifier: &self.verifier,
        }
    }

    /// A POST to the stand-in (a fresh idempotency key each time).
    pub async fn sim_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
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

    /// A customer in the stand-in, not linked in the store.
    pub async fn stripe_customer(&self, customer_id: &str) -> StripeCustomerId {
        let customer = self
            .sim_post(
                "/v1/customers",
                &[
                    ("email", &format!("{customer_id}@example.com")),
                    ("metadata[customer_id]", customer_id),
                ],
            )
            .await;
        StripeCustomerId::parse(customer["id"].as_str().unwrap()).unwrap()
    }

    /// Links `customer_id` to `stripe` in the store.
    pub async fn link(&self, customer_id: &str, stripe: &StripeCustomerId) {
        self.store
            .link_stripe_customer(&cid(customer_id), stripe, self.clock.now())
            .await
            .unwrap();
    }

    /// A customer in the stand-in, linked in the store.
    pub async fn linked_customer(&self, customer_id: &str) -> StripeCustomerId {
        let stripe = self.stripe_customer(customer_id).await;
        self.link(customer_id, &stripe).await;
        stripe
    }

    /// An active $29/month subscription in the stand-in.
    pub async fn subscription(&self, stripe: &StripeCustomerId) -> Value {
        self.sim_post(
            "/v1/subscriptions",
            &[
                ("customer", stripe.as_str()),
                ("items[0][price]", self.price.as_str()),
            ],
        )
        .await
    }

    /// The stand-in's subscription as it is now.
    pub async fn sim_subscription(&self, id: &str) -> Value {
        self.stripe
            .inner()
            .get_json(&format!("/v1/subscriptions/{id}"), &[])
            .await
            .unwrap()
    }

    /// The stored subscription of `customer_id`.
    pub async fn stored(&self, customer_id: &str) -> Option<SubscriptionSnapshot> {
        self.store
            .get_customer(&cid(customer_id))
            .await
            .unwrap()
            .and_then(|c| c.subscription)
    }

    /// A header signed with [`SECRET`] now.
    pub fn sign(&self, body: &[u8]) -> String {
        sign_header(body, SECRET, self.clock.now())
    }

    /// Delivers `body` signed with [`SECRET`] now, as a text body.
    pub async fn deliver(&self, body: &[u8]) -> ApiGatewayV2httpResponse {
        let header = self.sign(body);
        self.invoke(request(body, Some(&header), false)).await
    }

    /// Runs the handler on `request` with a fresh Lambda request id.
    pub async fn invoke(&self, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let n = self.invocations.fetch_add(1, Ordering::SeqCst);
        stripe_webhook::handler(&self.deps(), lambda_event(request, &format!("req-{n}"))).await
    }

    /// How many times Stripe was asked for a subscription.
    pub fn retrievals(&self) -> usize {
        usize::try_from(self.stripe.count("retrieve_subscription")).unwrap()
    }

    /// Drops the tables of a passed test (moto keeps everything in memory).
    pub async fn drop_tables(&self) {
        billing_test_support::drop_tables(&self.store).await;
    }
}

pub fn cid(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

/// An event envelope around `object`, as Stripe sends it.
pub fn event(id: &str, event_type: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": event_type, "api_version": "2026-10-28.endive",
        "created": billing::ports::SystemClock.now(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    }))
    .unwrap()
}

/// A unique event id.
pub fn event_id() -> String {
    format!("evt_e2e{}", fastrand::u64(..))
}

/// An API Gateway v2 request from the fixture with `body` (base64-encoded when asked) and the
/// `stripe-signature` header (removed when `None`).
pub fn request(body: &[u8], signature: Option<&str>, base64: bool) -> ApiGatewayV2httpRequest {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    let headers = value["headers"].as_object_mut().unwrap();
    headers.insert("content-length".into(), json!(body.len().to_string()));
    match signature {
        Some(signature) => {
            headers.insert("stripe-signature".into(), json!(signature));
        }
        None => {
            headers.remove("stripe-signature");
        }
    }
    value["body"] = if base64 {
        json!(base64::engine::general_purpose::STANDARD.encode(body))
    } else {
        json!(String::from_utf8(body.to_vec()).unwrap())
    };
    value["isBase64Encoded"] = json!(base64);
    serde_json::from_value(value).unwrap()
}

/// The invocation as the runtime hands it over.
pub fn lambda_event(
    request: ApiGatewayV2httpRequest,
    request_id: &str,
) -> LambdaEvent<ApiGatewayV2httpRequest> {
    let mut context = Context::default();
    context.request_id = request_id.to_string();
    LambdaEvent::new(request, context)
}

/// The response's status and JSON body.
pub fn answer(response: &ApiGatewayV2httpResponse) -> (i64, Value) {
    billing_test_support::apigw_answer(response)
}

/// A DynamoDB store on moto with fresh tables, or `None` (after saying why) when moto is not
/// configured.
pub async fn dynamo_store(test: &str) -> Option<DynamoStore> {
    billing_test_support::moto_store("wh", test, Requests::OneAtATime(Duration::from_millis(3)))
        .await
}

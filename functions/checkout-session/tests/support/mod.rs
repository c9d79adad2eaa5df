//! The world of one checkout test: a DynamoDB store on moto with fresh tables, the Stripe
//! stand-in with the two prices, and the handlers of the three functions a journey crosses
//! (post-confirmation, checkout-session, stripe-webhook behind a tiny HTTP front).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::config::{CheckoutConfig, PricesConfig};
use billing::ids::CustomerId;
use billing::ports::{CustomerStore, SystemClock};
use billing::service::onboarding::OnboardingDeps;
use billing::service::webhook::WebhookDeps;
use billing::subscription::SubscriptionSnapshot;
use billing::webhook::SignatureVerifier;
use billing_adapters::dynamodb::DynamoStore;
use billing_adapters::stripe_http::StripeHttpClient;
use billing_test_support::Requests;
use checkout_session::Deps;
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::{Value, json};

/// The stand-in accepts any test key.
pub const KEY: &str = "sk_test_stripe_sim";
/// Where Checkout returns (configuration only).
pub const SUCCESS_URL: &str =
    "https://app.example.com/billing/done?session_id={CHECKOUT_SESSION_ID}";
/// Where a cancelled Checkout returns.
pub const CANCEL_URL: &str = "https://app.example.com/billing?canceled=1";

const FIXTURE: &str = include_str!("../fixtures/apigw-v2-checkout-session-jwt.json");
const SIGN_UP: &str = include_str!(
    "../../../post-confirmation/tests/fixtures/cognito-post-confirmation-sign-up.json"
);

/// What the webhook front needs: the store, Stripe and the endpoint's secret.
#[derive(Clone)]
struct Front {
    store: DynamoStore,
    stripe: StripeHttpClient,
    verifier: SignatureVerifier,
}

/// One test's world.
pub struct World {
    pub store: DynamoStore,
    /// The stand-in, kept running for the test.
    _sim: stripe_sim::Server,
    pub stripe: StripeHttpClient,
    pub prices: PricesConfig,
    pub urls: CheckoutConfig,
    front: Option<tokio::task::JoinHandle<()>>,
}

impl World {
    /// A world with prices in the stand-in, or `None` when moto is not configured.
    pub async fn new(test: &str) -> Option<World> {
        let store = dynamo_store(test).await?;
        let sim = stripe_sim::serve(stripe_sim::Config {
            port: 0,
            ..stripe_sim::Config::default()
        })
        .await
        .unwrap();
        let stripe = StripeHttpClient::builder(SecretString::from(KEY))
            .base_url(sim.base_url())
            .build()
            .unwrap();
        let mut world = World {
            store,
            _sim: sim,
            stripe,
            prices: PricesConfig {
                base_price_id: String::new(),
                metered_price_id: String::new(),
            },
            urls: CheckoutConfig {
                success_url: SUCCESS_URL.into(),
                cancel_url: CANCEL_URL.into(),
            },
            front: None,
        };
        let event_name = format!("usage_{}", fastrand::u32(..));
        let meter = world
            .sim_post(
                "/v1/billing/meters",
                &[
                    ("display_name", "OpenAI usage"),
                    ("event_name", &event_name),
                    ("default_aggregation[formula]", "sum"),
                ],
            )
            .await;
        let base = world
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
        let metered = world
            .sim_post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("unit_amount", "1"),
                    ("recurring[interval]", "month"),
                    ("recurring[usage_type]", "metered"),
                    ("recurring[meter]", meter["id"].as_str().unwrap()),
                    ("product_data[name]", "Lead Magnet AI usage"),
                ],
            )
            .await;
        world.prices = PricesConfig {
            base_price_id: base["id"].as_str().unwrap().into(),
            metered_price_id: metered["id"].as_str().unwrap().into(),
        };
        Some(world)
    }

    /// A POST to the stand-in (a fresh idempotency key each time).
    pub async fn sim_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let key = format!("test-{}", fastrand::u64(..));
        self.stripe.post_form(path, &form, &key).await.unwrap()
    }

    /// A GET from the stand-in.
    pub async fn sim_get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.stripe.get_json(path, &query).await.unwrap()
    }

    /// Arms a fault in the stand-in (`/_sim/faults`), or disarms them all (`reset`).
    pub async fn fault(&self, rule: Option<Value>) {
        let client = reqwest::Client::new();
        let base = self.stripe.base_url();
        let request = match rule {
            Some(rule) => client.post(format!("{base}/_sim/faults")).json(&rule),
            None => client.post(format!("{base}/_sim/reset")),
        };
        assert!(request.send().await.unwrap().status().is_success());
    }

    /// Registers a webhook endpoint in the stand-in pointing at a tiny HTTP front that stands
    /// for API Gateway in front of the stripe-webhook function.
    pub async fn deliver_webhooks(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/v1/stripe/webhook",
            listener.local_addr().unwrap()
        );
        let endpoint = self
            .sim_post(
                "/v1/webhook_endpoints",
                &[("url", &url), ("enabled_events[]", "*")],
            )
            .await;
        let secret = endpoint["secret"].as_str().unwrap().to_string();
        let front = Arc::new(Front {
            store: self.store.clone(),
            stripe: self.stripe.clone(),
            verifier: SignatureVerifier::new(vec![SecretString::from(secret)]),
        });
        let app = axum::Router::new()
            .route("/v1/stripe/webhook", axum::routing::post(via_api_gateway))
            .with_state(front);
        self.front = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// The checkout-session handler's answer to a caller with `claims` (no authorizer when
    /// `None`) and `body`.
    pub async fn checkout(&self, claims: Option<Value>, body: &str) -> (i64, Value) {
        let deps = Deps {
            onboarding: OnboardingDeps {
                customers: &self.store,
                onboarding: &self.store,
                stripe: &self.stripe,
                clock: &SystemClock,
            },
            prices: &self.prices,
            urls: &self.urls,
        };
        let response = checkout_session::handler(&deps, lambda_event(request(claims, body))).await;
        answer(&response)
    }

    /// The post-confirmation handler on a sign-up of `customer` by `user` (through `stripe`, the
    /// stand-in when `None`); returns the user's email.
    pub async fn sign_up(
        &self,
        customer: &str,
        user: &str,
        stripe: Option<&StripeHttpClient>,
    ) -> String {
        self.sign_up_with(customer, user, stripe, false).await
    }

    /// [`World::sign_up`], with `STRIPE_TEST_CLOCKS` on when `clocks`.
    pub async fn sign_up_with(
        &self,
        customer: &str,
        user: &str,
        stripe: Option<&StripeHttpClient>,
        clocks: bool,
    ) -> String {
        let email = format!("{user}-{}@example.com", fastrand::u32(..));
        let mut event: Value = serde_json::from_str(SIGN_UP).unwrap();
        let attributes = &mut event["request"]["userAttributes"];
        attributes["custom:customer_id"] = json!(customer);
        attributes["email"] = json!(email);
        attributes["name"] = json!(format!("{user} at sign-up"));
        attributes["sub"] = json!(format!("sub-{user}"));
        let stripe = stripe.unwrap_or(&self.stripe);
        let deps = post_confirmation::Deps {
            onboarding: OnboardingDeps {
                customers: &self.store,
                onboarding: &self.store,
                stripe,
                clock: &SystemClock,
            },
            test_clocks: clocks.then_some(stripe),
            stripe_timeout: Duration::from_millis(3_000),
        };
        let mut context = Context::default();
        context.request_id = format!("req-{}", fastrand::u32(..));
        let returned =
            post_confirmation::handler(&deps, LambdaEvent::new(event.clone(), context)).await;
        assert_eq!(returned, event);
        email
    }

    /// The stand-in's customers with `email`.
    pub async fn stripe_customers(&self, email: &str) -> Vec<Value> {
        self.sim_get("/v1/customers", &[("email", email)]).await["data"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The Stripe customer linked to `customer`.
    pub async fn linked(&self, customer: &str) -> Option<String> {
        self.store
            .get_customer(&CustomerId::parse(customer).unwrap())
            .await
            .unwrap()
            .and_then(|c| c.stripe_customer_id)
            .map(|id| id.to_string())
    }

    /// The stored subscription of `customer`.
    pub async fn stored(&self, customer: &str) -> Option<SubscriptionSnapshot> {
        self.store
            .get_customer(&CustomerId::parse(customer).unwrap())
            .await
            .unwrap()
            .and_then(|c| c.subscription)
    }

    /// Waits (up to 5 s) until the stored subscription of `customer` has `status`.
    pub async fn wait_for_status(
        &self,
        customer: &str,
        status: &str,
    ) -> Option<SubscriptionSnapshot> {
        let mut stored = None;
        for _ in 0..100 {
            stored = self.stored(customer).await;
            if stored.as_ref().is_some_and(|s| s.status.as_str() == status) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stored
    }

    /// Drops the tables (moto keeps everything in memory) and stops the front.
    pub async fn finish(&self) {
        if let Some(front) = &self.front {
            front.abort();
        }
        billing_test_support::drop_tables(&self.store).await;
    }
}

/// Pays a hosted Checkout page as a browser does: GET the page, POST its form with the card that
/// succeeds, and follow the 303 (answering where it points to).
pub async fn pay(url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let page = browser.get(url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    let action = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(html.contains("name=\"card_number\""), "{html}");
    let origin = url.split("/c/pay/").next().unwrap();
    let body: String = [
        ("card_number", "4242 4242 4242 4242"),
        ("card_expiry", "12 / 34"),
        ("card_cvc", "123"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('/', "%2F")))
    .collect::<Vec<_>>()
    .join("&");
    let paid = browser
        .post(format!("{origin}{action}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 303);
    paid.headers()["location"].to_str().unwrap().to_string()
}

/// Turns each POST into the API Gateway v2 event Lambda would receive and runs the
/// stripe-webhook handler.
async fn via_api_gateway(
    axum::extract::State(front): axum::extract::State<Arc<Front>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> (axum::http::StatusCode, String) {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    value["routeKey"] = json!("POST /v1/stripe/webhook");
    value["rawPath"] = json!("/v1/stripe/webhook");
    value["requestContext"]["http"]["path"] = json!("/v1/stripe/webhook");
    value["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let mut lowered = serde_json::Map::new();
    for (name, v) in &headers {
        lowered.insert(
            name.as_str().to_ascii_lowercase(),
            json!(v.to_str().unwrap_or_default()),
        );
    }
    value["headers"] = Value::Object(lowered);
    value["body"] = json!(body);
    value["isBase64Encoded"] = json!(false);
    let deps = WebhookDeps {
        events: &front.store,
        customers: &front.store,
        stripe: &front.stripe,
        clock: &SystemClock,
        verifier: &front.verifier,
    };
    let response =
        stripe_webhook::handler(&deps, lambda_event(serde_json::from_value(value).unwrap())).await;
    let (status, body) = answer(&response);
    (
        axum::http::StatusCode::from_u16(u16::try_from(status).unwrap()).unwrap(),
        body.to_string(),
    )
}

/// An API Gateway v2 request from the fixture: the JWT authorizer verified `claims` (on top of
/// the fixture's issuer, audience and times; no authorizer at all when `None`), with `body`.
pub fn request(claims: Option<Value>, body: &str) -> ApiGatewayV2httpRequest {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    match claims {
        Some(claims) => {
            let jwt = &mut value["requestContext"]["authorizer"]["jwt"]["claims"];
            let fixture = jwt.as_object_mut().unwrap();
            fixture.retain(|_, v| v != "replaced-by-the-test");
            for (k, v) in claims.as_object().unwrap() {
                fixture.insert(k.clone(), v.clone());
            }
        }
        None => {
            value["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
    }
    value["body"] = json!(body);
    serde_json::from_value(value).unwrap()
}

/// The invocation as the runtime hands it over, with a fresh request id.
pub fn lambda_event(request: ApiGatewayV2httpRequest) -> LambdaEvent<ApiGatewayV2httpRequest> {
    let mut context = Context::default();
    context.request_id = format!("req-{}", fastrand::u64(..));
    LambdaEvent::new(request, context)
}

/// The response's status and JSON body.
pub fn answer(response: &ApiGatewayV2httpResponse) -> (i64, Value) {
    billing_test_support::apigw_answer(response)
}

/// A DynamoDB store on moto with fresh tables, or `None` (after saying why) when moto is not
/// configured.
pub async fn dynamo_store(test: &str) -> Option<DynamoStore> {
    billing_test_support::moto_store("co", test, Requests::OneAtATime(Duration::from_millis(3)))
        .await
}

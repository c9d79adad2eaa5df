//! End to end: API Gateway v2 events with JWT authorizer claims (built from the fixture) into the
//! handler, a DynamoDB store on moto with fresh tables per test, and the Stripe stand-in over
//! HTTP with a portal configuration, as Stripe requires. Skipped (with a printed line) when
//! `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless `BILLING_REQUIRE_DYNAMODB=1`.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use billing::config::PortalConfig;
use billing::ids::CustomerId;
use billing::ports::SystemClock;
use billing::service::onboarding::{OnboardingDeps, ensure_stripe_customer};
use billing::stripe::NewCustomer;
use billing_adapters::dynamodb::DynamoStore;
use billing_adapters::stripe_http::StripeHttpClient;
use billing_test_support::Requests;
use lambda_runtime::{Context, LambdaEvent};
use portal_session::Deps;
use secrecy::SecretString;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/apigw-v2-portal-session-jwt.json");
const RETURN_URL: &str = "https://app.example.com/billing";

/// One test's world: its own tables and its own stand-in.
struct World {
    store: DynamoStore,
    sim: stripe_sim::Server,
    stripe: StripeHttpClient,
    portal: PortalConfig,
}

impl World {
    /// A world whose stand-in has a portal configuration when `configured`.
    async fn new(test: &str, configured: bool) -> Option<World> {
        let store = dynamo_store(test).await?;
        let sim = stripe_sim::serve(stripe_sim::Config {
            port: 0,
            ..stripe_sim::Config::default()
        })
        .await
        .unwrap();
        let stripe = StripeHttpClient::builder(SecretString::from("sk_test_stripe_sim"))
            .base_url(sim.base_url())
            .build()
            .unwrap();
        if configured {
            let form: Vec<(String, String)> = [
                ("business_profile[headline]", "Lead Magnet AI billing"),
                ("features[subscription_cancel][enabled]", "true"),
                ("features[subscription_cancel][mode]", "at_period_end"),
                ("features[payment_method_update][enabled]", "true"),
                ("features[invoice_history][enabled]", "true"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            stripe
                .post_form("/v1/billing_portal/configurations", &form, "portal-config")
                .await
                .unwrap();
        }
        Some(World {
            store,
            sim,
            stripe,
            portal: PortalConfig {
                return_url: RETURN_URL.into(),
                configuration_id: None,
            },
        })
    }

    fn deps(&self) -> Deps<'_> {
        Deps {
            onboarding: OnboardingDeps {
                customers: &self.store,
                onboarding: &self.store,
                stripe: &self.stripe,
                clock: &SystemClock,
            },
            portal: &self.portal,
        }
    }

    /// `customer`'s Stripe customer, created and linked as sign-up does.
    async fn signed_up(&self, customer: &str) -> String {
        let proposal = NewCustomer {
            customer_id: CustomerId::parse(customer).unwrap(),
            email: Some(format!("{customer}@example.com")),
            name: None,
            cognito_sub: Some(format!("sub-{customer}")),
            test_clock: None,
        };
        ensure_stripe_customer(&self.deps().onboarding, &proposal)
            .await
            .unwrap()
            .to_string()
    }

    /// The handler's answer to a caller with `claims` (no authorizer when `None`) and `body`.
    async fn portal(&self, claims: Option<Value>, body: &str) -> (i64, Value) {
        let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
        match claims {
            Some(claims) => {
                let fixture = value["requestContext"]["authorizer"]["jwt"]["claims"]
                    .as_object_mut()
                    .unwrap();
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
        let request: ApiGatewayV2httpRequest = serde_json::from_value(value).unwrap();
        let mut context = Context::default();
        context.request_id = format!("req-{}", fastrand::u32(..));
        let response =
            portal_session::handler(&self.deps(), LambdaEvent::new(request, context)).await;
        let body = match &response.body {
            Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
            other => panic!("unexpected body {other:?}"),
        };
        (response.status_code, body)
    }

    async fn drop_tables(&self) {
        billing_test_support::drop_tables(&self.store).await;
    }
}

/// A DynamoDB store on moto with fresh tables, or `None` (after saying why) when moto is not
/// configured.
async fn dynamo_store(test: &str) -> Option<DynamoStore> {
    billing_test_support::moto_store("ps", test, Requests::Direct).await
}

fn claims(customer: &str) -> Value {
    json!({"sub": format!("sub-{customer}"), "custom:customer_id": customer})
}

#[tokio::test]
async fn a_customer_gets_a_portal_session_that_returns_to_the_configured_url() {
    let Some(w) = World::new("portal", true).await else {
        return;
    };
    // GIVEN a signed-up customer and a portal configuration in Stripe
    w.signed_up("tenant-portal").await;
    // WHEN they ask for the portal, the body naming another return URL
    let (status, body) = w
        .portal(
            Some(claims("tenant-portal")),
            "{\"return_url\": \"https://evil.example/\"}",
        )
        .await;
    // THEN 200 with the stand-in's portal page, which links back to the configured URL only
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/p/session/", w.sim.base_url())),
        "{url}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "only the url: {body}");
    let html = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(html.contains(RETURN_URL), "{html}");
    assert!(!html.contains("evil.example"));
    // AND each click gets a new session
    let (_, again) = w.portal(Some(claims("tenant-portal")), "{}").await;
    assert_ne!(again["url"], body["url"]);
    w.drop_tables().await;
}

#[tokio::test]
async fn a_caller_without_a_stripe_customer_gets_a_clear_404_whatever_the_body_says() {
    let Some(w) = World::new("no_customer", true).await else {
        return;
    };
    // GIVEN B has a Stripe customer and A has none
    let b = w.signed_up("tenant-b").await;
    // WHEN A asks, naming B in the body
    let body = json!({"customer_id": "tenant-b", "customer": b}).to_string();
    let (status, answer) = w.portal(Some(claims("tenant-a")), &body).await;
    // THEN 404 saying to subscribe first, never B's portal
    assert_eq!(status, 404, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("no Stripe customer yet"), "{message}");
    assert!(message.contains("tenant-a"), "{message}");
    w.drop_tables().await;
}

#[tokio::test]
async fn missing_or_blank_identity_claims_are_a_401() {
    let Some(w) = World::new("no_claims", true).await else {
        return;
    };
    w.signed_up("tenant-x").await;
    // GIVEN requests without usable identity claims, whose body names a customer
    for claims in [
        None,
        Some(json!({"client_id": "4example"})),
        Some(json!({"sub": "", "custom:customer_id": " "})),
    ] {
        // WHEN handled THEN 401
        let (status, body) = w.portal(claims, "{\"customer_id\": \"tenant-x\"}").await;
        assert_eq!((status, body), (401, json!({"error": "unauthorized"})));
    }
    w.drop_tables().await;
}

#[tokio::test]
async fn without_a_portal_configuration_stripe_refuses_and_the_answer_is_a_502() {
    let Some(w) = World::new("unconfigured", false).await else {
        return;
    };
    // GIVEN a customer, and no portal configuration in Stripe
    w.signed_up("tenant-unconfigured").await;
    // WHEN they ask for the portal
    let (status, body) = w.portal(Some(claims("tenant-unconfigured")), "{}").await;
    // THEN 502, never a 200
    assert_eq!(status, 502, "{body}");
    assert!(body.get("url").is_none());
    w.drop_tables().await;
}

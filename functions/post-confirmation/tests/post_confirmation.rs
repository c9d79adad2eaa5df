//! End to end: real Cognito PostConfirmation payloads (built from the fixture) into the handler,
//! a DynamoDB store on moto with fresh tables per test, and the Stripe stand-in over HTTP.
//! Skipped (with a printed line) when `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless
//! `BILLING_REQUIRE_DYNAMODB=1`.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use billing::ids::CustomerId;
use billing::ports::{CustomerStore, SystemClock};
use billing::service::onboarding::OnboardingDeps;
use billing_adapters::dynamodb::DynamoStore;
use billing_adapters::stripe_http::{RetryPolicy, StripeHttpClient};
use billing_test_support::Requests;
use lambda_runtime::{Context, LambdaEvent};
use post_confirmation::Deps;
use secrecy::SecretString;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/cognito-post-confirmation-sign-up.json");
const KEY: &str = "sk_test_stripe_sim";

/// One test's world: its own tables and its own stand-in.
struct World {
    store: DynamoStore,
    sim: stripe_sim::Server,
    stripe: StripeHttpClient,
}

impl World {
    async fn new(test: &str) -> Option<World> {
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
        Some(World { store, sim, stripe })
    }

    /// Runs the handler with `stripe` (this world's stand-in unless another client is given).
    async fn invoke(
        &self,
        event: Value,
        stripe: Option<&StripeHttpClient>,
        bound: Duration,
        clocks: bool,
    ) -> Value {
        let stripe = stripe.unwrap_or(&self.stripe);
        let deps = Deps {
            onboarding: OnboardingDeps {
                customers: &self.store,
                onboarding: &self.store,
                stripe,
                clock: &SystemClock,
            },
            test_clocks: clocks.then_some(stripe),
            stripe_timeout: bound,
        };
        let mut context = Context::default();
        context.request_id = format!("req-{}", fastrand::u32(..));
        post_confirmation::handler(&deps, LambdaEvent::new(event, context)).await
    }

    async fn sign_up(&self, event: Value) -> Value {
        self.invoke(event, None, Duration::from_millis(3_500), false)
            .await
    }

    /// The stand-in's customers with `email`.
    async fn stripe_customers(&self, email: &str) -> Vec<Value> {
        let list = self
            .stripe
            .get_json("/v1/customers", &[("email".into(), email.into())])
            .await
            .unwrap();
        list["data"].as_array().unwrap().clone()
    }

    /// The Stripe customer linked to `customer` in the store.
    async fn linked(&self, customer: &str) -> Option<String> {
        self.store
            .get_customer(&CustomerId::parse(customer).unwrap())
            .await
            .unwrap()
            .and_then(|c| c.stripe_customer_id)
            .map(|id| id.to_string())
    }

    async fn drop_tables(&self) {
        billing_test_support::drop_tables(&self.store).await;
    }
}

/// A DynamoDB store on moto with fresh tables, or `None` (after saying why) when moto is not
/// configured.
async fn dynamo_store(test: &str) -> Option<DynamoStore> {
    billing_test_support::moto_store("pc", test, Requests::Direct).await
}

/// The fixture with `triggerSource` and user attributes replaced where given.
fn event(source: &str, attributes: &[(&str, Option<&str>)]) -> Value {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    value["triggerSource"] = json!(source);
    let user = value["request"]["userAttributes"].as_object_mut().unwrap();
    for (name, v) in attributes {
        match v {
            Some(v) => user.insert((*name).into(), json!(v)),
            None => user.remove(*name),
        };
    }
    value
}

/// A sign-up of `customer` by a user with a unique email, returned with the email.
fn sign_up_of(customer: &str, user: &str) -> (Value, String) {
    let email = format!("{user}-{}@example.com", fastrand::u32(..));
    let sub = format!("sub-{user}-{}", fastrand::u32(..));
    let e = event(
        "PostConfirmation_ConfirmSignUp",
        &[
            ("custom:customer_id", Some(customer)),
            ("email", Some(&email)),
            ("sub", Some(&sub)),
            ("name", Some(user)),
        ],
    );
    (e, email)
}

#[tokio::test]
async fn a_confirmed_sign_up_creates_one_stripe_customer_and_links_it() {
    let Some(w) = World::new("sign_up").await else {
        return;
    };
    // GIVEN Cognito's PostConfirmation event for a confirmed sign-up
    let (e, email) = sign_up_of("tenant-signup", "ann");
    // WHEN the trigger runs
    let returned = w.sign_up(e.clone()).await;
    // THEN the event comes back exactly as it came
    assert_eq!(returned, e);
    // AND one Stripe customer exists, with our ids in its metadata, linked in the store
    let customers = w.stripe_customers(&email).await;
    assert_eq!(customers.len(), 1);
    assert_eq!(
        customers[0]["metadata"]["customer_id"],
        json!("tenant-signup")
    );
    assert_eq!(customers[0]["name"], json!("ann"));
    assert_eq!(customers[0]["test_clock"], Value::Null);
    assert_eq!(
        w.linked("tenant-signup").await.as_deref(),
        customers[0]["id"].as_str()
    );
    w.drop_tables().await;
}

#[tokio::test]
async fn a_cognito_retry_and_a_second_user_of_the_same_customer_create_no_second_stripe_customer() {
    let Some(w) = World::new("retry").await else {
        return;
    };
    // GIVEN a sign-up that Cognito delivers twice
    let (first, ann) = sign_up_of("tenant-retry", "ann");
    assert_eq!(w.sign_up(first.clone()).await, first);
    assert_eq!(w.sign_up(first.clone()).await, first);
    // AND a second user of the same customer (other sub and email) signs up
    let (second, bob) = sign_up_of("tenant-retry", "bob");
    assert_eq!(w.sign_up(second.clone()).await, second);
    // THEN one Stripe customer exists, the first user's, and it is the linked one
    let customers = w.stripe_customers(&ann).await;
    assert_eq!(customers.len(), 1);
    assert!(w.stripe_customers(&bob).await.is_empty());
    let all = w
        .stripe
        .get_json("/v1/customers", &[("limit".into(), "100".into())])
        .await
        .unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        w.linked("tenant-retry").await.as_deref(),
        customers[0]["id"].as_str()
    );
    w.drop_tables().await;
}

#[tokio::test]
async fn without_custom_customer_id_the_cognito_sub_is_the_customer() {
    let Some(w) = World::new("sub").await else {
        return;
    };
    // GIVEN a sign-up without the custom attribute
    let e = event(
        "PostConfirmation_ConfirmSignUp",
        &[("custom:customer_id", None), ("sub", Some("sub-only-user"))],
    );
    // WHEN the trigger runs THEN the sub is linked
    assert_eq!(w.sign_up(e.clone()).await, e);
    assert!(w.linked("sub-only-user").await.unwrap().starts_with("cus_"));
    w.drop_tables().await;
}

#[tokio::test]
async fn a_password_reset_creates_nothing_and_returns_the_event_unchanged() {
    let Some(w) = World::new("forgot").await else {
        return;
    };
    // GIVEN the PostConfirmation event of a password reset
    let (mut e, email) = sign_up_of("tenant-forgot", "ann");
    e["triggerSource"] = json!("PostConfirmation_ConfirmForgotPassword");
    // WHEN the trigger runs
    let returned = w.sign_up(e.clone()).await;
    // THEN the event comes back unchanged, and nothing exists in Stripe or the store
    assert_eq!(returned, e);
    assert!(w.stripe_customers(&email).await.is_empty());
    assert_eq!(w.linked("tenant-forgot").await, None);
    w.drop_tables().await;
}

#[tokio::test]
async fn with_stripe_unreachable_the_event_is_returned_within_the_bound_and_nothing_is_linked() {
    let Some(w) = World::new("unreachable").await else {
        return;
    };
    // GIVEN Stripe at a closed port, its client retrying with long waits, and a 700 ms bound
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let down = StripeHttpClient::builder(SecretString::from(KEY))
        .base_url(format!("http://127.0.0.1:{closed}"))
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(10)
                .with_base_delay(Duration::from_secs(1)),
        )
        .build()
        .unwrap();
    let (e, _) = sign_up_of("tenant-down", "ann");
    // WHEN the trigger runs
    let started = Instant::now();
    let returned = w
        .invoke(e.clone(), Some(&down), Duration::from_millis(700), false)
        .await;
    // THEN the event comes back unchanged within the bound, and nothing is linked
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(returned, e);
    assert_eq!(w.linked("tenant-down").await, None);
    // AND when Stripe is back, a Cognito retry creates and links it
    assert_eq!(w.sign_up(e.clone()).await, e);
    assert!(w.linked("tenant-down").await.is_some());
    w.drop_tables().await;
}

#[tokio::test]
async fn with_test_clocks_on_each_new_customer_lives_on_its_own_fresh_clock() {
    let Some(w) = World::new("clocks").await else {
        return;
    };
    // GIVEN STRIPE_TEST_CLOCKS=1 and two customers signing up, the first one twice
    let (ann, ann_email) = sign_up_of("tenant-clock-a", "ann");
    let (bob, bob_email) = sign_up_of("tenant-clock-b", "bob");
    let bound = Duration::from_millis(3_500);
    for e in [&ann, &ann, &bob] {
        assert_eq!(w.invoke(e.clone(), None, bound, true).await, *e);
    }
    // AND a second user of the first customer
    let (carl, _) = sign_up_of("tenant-clock-a", "carl");
    assert_eq!(w.invoke(carl.clone(), None, bound, true).await, carl);
    // THEN each customer is on its own clock, frozen at about now
    let a = w.stripe_customers(&ann_email).await;
    let b = w.stripe_customers(&bob_email).await;
    assert_eq!((a.len(), b.len()), (1, 1));
    let (clock_a, clock_b) = (
        a[0]["test_clock"].as_str().unwrap(),
        b[0]["test_clock"].as_str().unwrap(),
    );
    assert!(clock_a.starts_with("clock_"));
    assert_ne!(clock_a, clock_b);
    let clock = w
        .stripe
        .get_json(&format!("/v1/test_helpers/test_clocks/{clock_a}"), &[])
        .await
        .unwrap();
    let frozen = clock["frozen_time"].as_i64().unwrap();
    assert!((frozen - w.sim.now()).abs() < 60, "{frozen}");
    // AND the retry and the second user made no other clock
    let clocks = w
        .stripe
        .get_json(
            "/v1/test_helpers/test_clocks",
            &[("limit".into(), "100".into())],
        )
        .await
        .unwrap();
    assert_eq!(clocks["data"].as_array().unwrap().len(), 2);
    w.drop_tables().await;
}

#[tokio::test]
async fn a_test_clock_retried_at_another_second_is_made_instead_of_failing() {
    let Some(w) = World::new("clock_retry").await else {
        return;
    };
    // GIVEN a clock made for a customer at one instant
    let customer = CustomerId::parse("tenant-clock-retry").unwrap();
    let now = w.sim.now();
    let first = post_confirmation::create_test_clock(&w.stripe, &customer, now)
        .await
        .unwrap();
    // WHEN the same instant is asked again THEN Stripe replays the same clock
    let replay = post_confirmation::create_test_clock(&w.stripe, &customer, now)
        .await
        .unwrap();
    assert_eq!(replay, first);
    // WHEN a retry comes a second later (Stripe refuses the key with other parameters)
    let later = post_confirmation::create_test_clock(&w.stripe, &customer, now + 1)
        .await
        .unwrap();
    // THEN another clock is made instead of failing (the stored request decides which one counts)
    assert_ne!(later, first);
    w.drop_tables().await;
}

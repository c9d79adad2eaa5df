//! End to end: API Gateway v2 events with JWT authorizer claims into the handler, a DynamoDB store
//! on moto (fresh tables per test), the Stripe stand-in over HTTP, and for the journey the
//! post-confirmation and stripe-webhook handlers too. Skipped (with a printed line) when
//! `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless `BILLING_REQUIRE_DYNAMODB=1`.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use billing::ports::SystemClock;
use billing::service::onboarding::OnboardingDeps;
use billing_adapters::stripe_http::{RetryPolicy, StripeHttpClient};
use checkout_session::Deps;
use secrecy::SecretString;
use serde_json::{Value, json};
use support::{KEY, World, answer, lambda_event, pay, request};

/// The claims of an ID token of `user` in `customer`.
fn claims(customer: &str, user: &str) -> Value {
    json!({"sub": format!("sub-{user}"), "custom:customer_id": customer,
           "email": format!("{user}@example.com"), "name": user})
}

/// A Stripe client at a port nothing listens on, without retries.
fn unreachable_stripe() -> StripeHttpClient {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    StripeHttpClient::builder(SecretString::from(KEY))
        .base_url(format!("http://127.0.0.1:{closed}"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_checkout_payment_and_webhooks_end_with_an_active_subscription() {
    let Some(mut w) = World::new("journey").await else {
        return;
    };
    // GIVEN the stand-in delivers its webhooks to the stripe-webhook function
    w.deliver_webhooks().await;
    // AND Ann signed up (the post-confirmation trigger created and linked her Stripe customer)
    let email = w.sign_up("tenant-journey", "ann", None).await;
    let stripe_customer = w.linked("tenant-journey").await.unwrap();
    // WHEN she asks for a checkout session
    let (status, body) = w
        .checkout(Some(claims("tenant-journey", "ann")), "{}")
        .await;
    // THEN 200 with the hosted page's URL and the session id, for her Stripe customer
    assert_eq!(status, 200, "{body}");
    let (url, id) = (body["url"].as_str().unwrap(), body["id"].as_str().unwrap());
    assert!(id.starts_with("cs_test_"));
    let session = w.sim_get(&format!("/v1/checkout/sessions/{id}"), &[]).await;
    assert_eq!(session["customer"], json!(stripe_customer));
    // WHEN she pays on the hosted page with 4242 4242 4242 4242
    let location = pay(url).await;
    // THEN the browser goes to the configured success URL with the session id
    assert_eq!(
        location,
        format!("https://app.example.com/billing/done?session_id={id}")
    );
    // AND the stand-in's signed webhooks, through the stripe-webhook handler, make it active
    let stored = w.wait_for_status("tenant-journey", "active").await;
    let stored = stored.unwrap();
    assert_eq!(stored.status.as_str(), "active");
    let paid = w.sim_get(&format!("/v1/checkout/sessions/{id}"), &[]).await;
    assert_eq!(paid["subscription"], json!(stored.subscription_id.as_str()));
    // AND there is still one Stripe customer
    assert_eq!(w.stripe_customers(&email).await.len(), 1);
    // WHEN she asks for a second checkout while active
    let (status, body) = w
        .checkout(Some(claims("tenant-journey", "ann")), "{}")
        .await;
    // THEN 409, pointing to the portal
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("billing portal"),
        "{body}"
    );
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_checkout_whose_webhooks_have_not_arrived_blocks_a_second_one_with_409() {
    let Some(w) = World::new("just_completed").await else {
        return;
    };
    // GIVEN a paid session whose webhooks go nowhere (no endpoint registered)
    w.sign_up("tenant-early", "ann", None).await;
    let (_, body) = w.checkout(Some(claims("tenant-early", "ann")), "{}").await;
    pay(body["url"].as_str().unwrap()).await;
    // WHEN a second checkout is asked for
    let (status, body) = w.checkout(Some(claims("tenant-early", "ann")), "{}").await;
    // THEN 409: the subscription is on its way
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("just completed"),
        "{body}"
    );
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_checkout_requests_return_one_session() {
    let Some(w) = World::new("concurrent").await else {
        return;
    };
    // GIVEN a signed-up customer
    w.sign_up("tenant-twice", "ann", None).await;
    let stripe_customer = w.linked("tenant-twice").await.unwrap();
    // WHEN two checkout requests arrive at once (two tabs, a double click)
    let (a, b) = tokio::join!(
        w.checkout(Some(claims("tenant-twice", "ann")), "{}"),
        w.checkout(Some(claims("tenant-twice", "ann")), "{}")
    );
    // THEN both get the same session, and the stand-in has one
    assert_eq!(a.0, 200, "{}", a.1);
    assert_eq!(a, b);
    let sessions = w
        .sim_get("/v1/checkout/sessions", &[("customer", &stripe_customer)])
        .await;
    assert_eq!(sessions["data"].as_array().unwrap().len(), 1);
    w.finish().await;
}

#[tokio::test]
async fn a_caller_never_acts_on_another_customer_whatever_the_body_says() {
    let Some(w) = World::new("isolation").await else {
        return;
    };
    // GIVEN two signed-up customers
    w.sign_up("tenant-a", "ann", None).await;
    w.sign_up("tenant-b", "bob", None).await;
    let (a, b) = (
        w.linked("tenant-a").await.unwrap(),
        w.linked("tenant-b").await.unwrap(),
    );
    // WHEN A asks with a body naming B, B's Stripe customer and other return URLs
    let body = json!({"customer_id": "tenant-b", "customer": b, "stripe_customer_id": b,
        "success_url": "https://evil.example/steal", "cancel_url": "https://evil.example/"})
    .to_string();
    let (status, answer) = w.checkout(Some(claims("tenant-a", "ann")), &body).await;
    // THEN the session is A's, with the configured URLs, and B has none
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().unwrap();
    let session = w.sim_get(&format!("/v1/checkout/sessions/{id}"), &[]).await;
    assert_eq!(session["customer"], json!(a));
    assert_eq!(session["success_url"], json!(support::SUCCESS_URL));
    let of_b = w
        .sim_get("/v1/checkout/sessions", &[("customer", &b)])
        .await;
    assert!(of_b["data"].as_array().unwrap().is_empty());
    w.finish().await;
}

#[tokio::test]
async fn when_sign_up_could_not_reach_stripe_checkout_creates_the_customer_with_the_sign_up_request()
 {
    let Some(w) = World::new("lazy").await else {
        return;
    };
    // GIVEN a sign-up while Stripe was unreachable: nothing linked, the request stored
    let email = w
        .sign_up("tenant-lazy", "ann", Some(&unreachable_stripe()))
        .await;
    assert_eq!(w.linked("tenant-lazy").await, None);
    assert!(w.stripe_customers(&email).await.is_empty());
    // WHEN the user starts checkout with an access token (no email or name claims)
    let (status, body) = w
        .checkout(
            Some(json!({"sub": "sub-ann", "custom:customer_id": "tenant-lazy"})),
            "{}",
        )
        .await;
    // THEN 200, and the Stripe customer has the sign-up's email, name and sub, and is linked
    assert_eq!(status, 200, "{body}");
    let customers = w.stripe_customers(&email).await;
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["name"], json!("ann at sign-up"));
    assert_eq!(customers[0]["metadata"]["cognito_sub"], json!("sub-ann"));
    assert_eq!(
        w.linked("tenant-lazy").await.as_deref(),
        customers[0]["id"].as_str()
    );
    w.finish().await;
}

#[tokio::test]
async fn missing_or_blank_identity_claims_are_a_401_and_create_nothing() {
    let Some(w) = World::new("no_claims").await else {
        return;
    };
    // GIVEN requests without an authorizer, without identity claims, or with blank ones,
    // whose body names a customer
    for claims in [
        None,
        Some(json!({"client_id": "4example"})),
        Some(json!({"sub": " ", "custom:customer_id": ""})),
    ] {
        // WHEN handled THEN 401
        let (status, body) = w.checkout(claims, "{\"customer_id\": \"tenant-x\"}").await;
        assert_eq!((status, body), (401, json!({"error": "unauthorized"})));
    }
    // AND nothing was created
    assert_eq!(w.linked("tenant-x").await, None);
    let all = w.sim_get("/v1/customers", &[]).await;
    assert!(all["data"].as_array().unwrap().is_empty());
    w.finish().await;
}

#[tokio::test]
async fn when_stripe_is_unreachable_checkout_answers_502_never_200() {
    let Some(w) = World::new("stripe_down").await else {
        return;
    };
    // GIVEN Stripe at a closed port
    let down = unreachable_stripe();
    let deps = Deps {
        onboarding: OnboardingDeps {
            customers: &w.store,
            onboarding: &w.store,
            stripe: &down,
            clock: &SystemClock,
        },
        prices: &w.prices,
        urls: &w.urls,
    };
    // WHEN a signed-in user asks for checkout
    let response = checkout_session::handler(
        &deps,
        lambda_event(request(Some(claims("tenant-down", "ann")), "{}")),
    )
    .await;
    // THEN 502 with a short retryable message
    let (status, body) = answer(&response);
    assert_eq!(status, 502);
    assert!(body["error"].as_str().unwrap().contains("retry"), "{body}");
    w.finish().await;
}

#[tokio::test]
async fn with_test_clocks_a_customer_created_lazily_at_checkout_lives_on_the_sign_up_clock() {
    let Some(w) = World::new("lazy_clock").await else {
        return;
    };
    // GIVEN STRIPE_TEST_CLOCKS=1 and a sign-up whose clock was made but whose customer was not
    // (the stand-in answers 500 to customer creation, retries included)
    w.fault(Some(
        json!({"method": "POST", "path": "/v1/customers", "fault": "500", "times": 10}),
    ))
    .await;
    let email = w.sign_up_with("tenant-clock", "ann", None, true).await;
    assert_eq!(w.linked("tenant-clock").await, None);
    let clocks = w.sim_get("/v1/test_helpers/test_clocks", &[]).await;
    let clocks = clocks["data"].as_array().unwrap();
    assert_eq!(clocks.len(), 1);
    // WHEN Stripe is back and the user starts checkout
    w.fault(None).await;
    let (status, body) = w.checkout(Some(claims("tenant-clock", "ann")), "{}").await;
    // THEN the customer is created on the sign-up's clock, from the stored request
    assert_eq!(status, 200, "{body}");
    let customers = w.stripe_customers(&email).await;
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["test_clock"], clocks[0]["id"]);
    w.finish().await;
}

//! End to end: real API Gateway v2 events into the handler, a DynamoDB store on moto (fresh
//! tables per test), and the Stripe stand-in over HTTP for the re-fetch. Skipped (with a printed
//! line) when `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless `BILLING_REQUIRE_DYNAMODB=1`.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use billing::ids::StripeEventId;
use billing::ports::{ClaimOutcome, Clock, WEBHOOK_CLAIM_SECS, WebhookEvents};
use billing::subscription::SubscriptionStatus;
use billing::webhook::sign_header;
use serde_json::{Value, json};
use support::{SECRET, World, answer, event, event_id, request};

const TYPES: [&str; 5] = [
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
];

/// A subscription's id, status, cancel-at-period-end and current period.
type State = (String, String, bool, Option<(i64, i64)>);

/// What the stand-in says of a subscription, in the stored snapshot's terms.
fn sim_state(sub: &Value) -> State {
    let item = &sub["items"]["data"][0];
    (
        sub["id"].as_str().unwrap().to_string(),
        sub["status"].as_str().unwrap().to_string(),
        sub["cancel_at_period_end"].as_bool().unwrap(),
        Some((
            item["current_period_start"].as_i64().unwrap(),
            item["current_period_end"].as_i64().unwrap(),
        )),
    )
}

async fn stored_state(w: &World, customer: &str) -> Option<State> {
    w.stored(customer).await.map(|s| {
        (
            s.subscription_id.to_string(),
            s.status.as_str().to_string(),
            s.cancel_at_period_end,
            s.current_period.map(|p| (p.start(), p.end())),
        )
    })
}

/// The object an event of `event_type` carries about `sub` of `customer`.
fn object_for(event_type: &str, customer: &str, sub: &Value) -> Value {
    let sub_id = sub["id"].as_str().unwrap();
    let stripe_customer = sub["customer"].as_str().unwrap();
    match event_type {
        "checkout.session.completed" => json!({
            "id": format!("cs_test_{}", fastrand::u64(..)), "object": "checkout.session",
            "mode": "subscription", "status": "complete", "payment_status": "paid",
            "customer": stripe_customer, "subscription": sub_id,
            "client_reference_id": customer, "metadata": {"customer_id": customer}}),
        "invoice.paid" | "invoice.payment_failed" => json!({
            "id": format!("in_{}", fastrand::u64(..)), "object": "invoice",
            "customer": stripe_customer, "status": if event_type == "invoice.paid" { "paid" } else { "open" },
            "billing_reason": "subscription_cycle", "total": 2900, "amount_paid": 0,
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": sub_id, "metadata": {}}}}),
        _ => sub.clone(),
    }
}

#[tokio::test]
async fn a_signed_subscription_update_stores_what_the_stand_in_says() {
    let Some(w) = World::new("update_stores", &[SECRET]).await else {
        return;
    };
    // GIVEN a linked customer whose subscription, created in the stand-in, is set to cancel
    let stripe = w.linked_customer("tenant-update").await;
    let sub = w.subscription(&stripe).await;
    let sub_id = sub["id"].as_str().unwrap();
    let updated = w
        .sim_post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[("cancel_at_period_end", "true")],
        )
        .await;
    // WHEN Stripe's customer.subscription.updated event, built from that object, arrives signed
    let body = event(
        &event_id(),
        "customer.subscription.updated",
        updated.clone(),
    );
    let response = w.deliver(&body).await;
    // THEN 200 {"received": true} and the stand-in's state is stored
    assert_eq!(answer(&response), (200, json!({"received": true})));
    assert_eq!(
        stored_state(&w, "tenant-update").await,
        Some(sim_state(&updated))
    );
    assert_eq!(
        w.stored("tenant-update").await.unwrap().status,
        SubscriptionStatus::Active
    );
    w.drop_tables().await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_at_once_is_applied_once() {
    let Some(w) = World::new("twice_at_once", &[SECRET]).await else {
        return;
    };
    // GIVEN a linked customer with a subscription and its update event
    let stripe = w.linked_customer("tenant-twice").await;
    let sub = w.subscription(&stripe).await;
    let body = event(&event_id(), "customer.subscription.updated", sub.clone());
    // WHEN it is delivered twice concurrently, by two invocations
    let (first, second) = tokio::join!(w.deliver(&body), w.deliver(&body));
    // THEN one applied it (the only Stripe re-fetch) and the other saw a duplicate (200) or a
    // claim in progress (409, Stripe retries)
    let mut statuses = vec![first.status_code, second.status_code];
    statuses.sort();
    assert!(
        statuses == [200, 200] || statuses == [200, 409],
        "{statuses:?}"
    );
    assert_eq!(w.retrievals(), 1);
    assert_eq!(
        stored_state(&w, "tenant-twice").await,
        Some(sim_state(&sub))
    );
    // AND a later redelivery is a duplicate, still without re-fetching
    assert_eq!(w.deliver(&body).await.status_code, 200);
    assert_eq!(w.retrievals(), 1);
    w.drop_tables().await;
}

#[tokio::test]
async fn every_pair_of_event_types_delivered_in_reverse_order_ends_as_in_order() {
    let Some(w) = World::new("pairs_reverse", &[SECRET]).await else {
        return;
    };
    for (i, first) in TYPES.iter().enumerate() {
        for second in &TYPES[i + 1..] {
            // GIVEN two customers whose subscriptions go through the same two changes, the
            // event of each change carrying the object as it was then
            let mut bodies = Vec::new();
            let mut finals = Vec::new();
            for side in ["in-order", "reverse"] {
                let customer = format!("pair-{i}-{}-{side}", second.len());
                let customer = format!("{customer}-{}", fastrand::u32(..));
                let stripe = w.linked_customer(&customer).await;
                let mut sub = w.subscription(&stripe).await;
                let sub_id = sub["id"].as_str().unwrap().to_string();
                let mut events = Vec::new();
                for event_type in [first, second] {
                    match *event_type {
                        "customer.subscription.updated" => {
                            sub = w
                                .sim_post(
                                    &format!("/v1/subscriptions/{sub_id}"),
                                    &[("cancel_at_period_end", "true")],
                                )
                                .await;
                        }
                        "customer.subscription.deleted" => {
                            sub = w
                                .stripe
                                .inner()
                                .delete(&format!("/v1/subscriptions/{sub_id}"))
                                .await
                                .unwrap();
                        }
                        _ => {}
                    }
                    events.push(event(
                        &event_id(),
                        event_type,
                        object_for(event_type, &customer, &sub),
                    ));
                }
                finals.push((customer, w.sim_subscription(&sub_id).await));
                bodies.push(events);
            }
            // WHEN one customer's events arrive in order and the other's in reverse
            for body in &bodies[0] {
                assert_eq!(
                    w.deliver(body).await.status_code,
                    200,
                    "{first} then {second}"
                );
            }
            for body in bodies[1].iter().rev() {
                assert_eq!(
                    w.deliver(body).await.status_code,
                    200,
                    "{second} then {first}"
                );
            }
            // THEN both store the stand-in's final state: the same whatever the order
            let in_order = stored_state(&w, &finals[0].0).await;
            let reverse = stored_state(&w, &finals[1].0).await;
            assert_eq!(in_order, Some(sim_state(&finals[0].1)), "{first}, {second}");
            assert_eq!(reverse, Some(sim_state(&finals[1].1)), "{second}, {first}");
            let strip_id = |s: Option<State>| {
                s.map(|(_, status, cancel, period)| (status, cancel, period.is_some()))
            };
            assert_eq!(strip_id(in_order), strip_id(reverse), "{first} / {second}");
        }
    }
    w.drop_tables().await;
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_invocation_is_retried_after_it_expires() {
    let Some(w) = World::new("crashed_claim", &[SECRET]).await else {
        return;
    };
    // GIVEN an event claimed by an invocation that crashed before completing it
    let stripe = w.linked_customer("tenant-crash").await;
    let sub = w.subscription(&stripe).await;
    let id = event_id();
    let body = event(&id, "customer.subscription.updated", sub.clone());
    let claimed = w
        .store
        .claim(
            &StripeEventId::parse(&id).unwrap(),
            "crashed-invocation",
            w.clock.now(),
            WEBHOOK_CLAIM_SECS,
        )
        .await
        .unwrap();
    assert_eq!(claimed, ClaimOutcome::Claimed);
    // WHEN Stripe retries within the claim window THEN 409 and nothing is applied
    assert_eq!(w.deliver(&body).await.status_code, 409);
    assert_eq!(w.stored("tenant-crash").await, None);
    // WHEN it retries after the claim expired THEN it is processed
    w.clock.advance(WEBHOOK_CLAIM_SECS + 1);
    assert_eq!(
        answer(&w.deliver(&body).await),
        (200, json!({"received": true}))
    );
    assert_eq!(
        stored_state(&w, "tenant-crash").await,
        Some(sim_state(&sub))
    );
    // AND completed: a later retry is a duplicate
    assert_eq!(w.deliver(&body).await.status_code, 200);
    assert_eq!(w.retrievals(), 1);
    w.drop_tables().await;
}

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_are_refused_with_400_and_store_nothing() {
    let Some(w) = World::new("bad_signatures", &[SECRET]).await else {
        return;
    };
    // GIVEN a valid event for a linked customer
    let stripe = w.linked_customer("tenant-bad").await;
    let sub = w.subscription(&stripe).await;
    let body = event(&event_id(), "customer.subscription.updated", sub);
    let now = w.clock.now();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing Stripe-Signature header", None),
        (
            "no signatures found matching",
            Some(sign_header(&body, "whsec_someone_else", now)),
        ),
        (
            "unable to extract timestamp",
            Some("v1=abc,t=notanumber".into()),
        ),
        (
            "no signatures found with expected scheme v1",
            Some(sign_header(&body, SECRET, now).replace("v1=", "v0=")),
        ),
        (
            "outside the tolerance zone",
            Some(sign_header(&body, SECRET, now - 301)),
        ),
    ];
    for (reason, header) in cases {
        // WHEN delivered with that signature
        let response = w.invoke(request(&body, header.as_deref(), false)).await;
        // THEN 400 with that reason, and nothing was fetched or stored
        let (status, answer) = answer(&response);
        assert_eq!(status, 400, "{reason}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.starts_with("invalid signature: ") && error.contains(reason),
            "{reason}: {answer}"
        );
    }
    assert_eq!(w.retrievals(), 0);
    assert_eq!(w.stored("tenant-bad").await, None);
    // AND a tampered body under a valid header is refused too
    let header = w.sign(&body);
    let mut tampered = body.clone();
    tampered.push(b' ');
    let response = w.invoke(request(&tampered, Some(&header), false)).await;
    assert_eq!(response.status_code, 400);
    w.drop_tables().await;
}

#[tokio::test]
async fn during_a_rotation_events_signed_by_the_new_or_the_old_secret_are_accepted() {
    let Some(w) = World::new("rotation", &["whsec_old_one", "whsec_new_one"]).await else {
        return;
    };
    // GIVEN two secrets configured and a linked customer with a subscription
    let stripe = w.linked_customer("tenant-rotation").await;
    let sub = w.subscription(&stripe).await;
    // WHEN an event signed by the new secret arrives THEN 200 and it is applied
    let body = event(&event_id(), "customer.subscription.updated", sub.clone());
    let header = sign_header(&body, "whsec_new_one", w.clock.now());
    let response = w.invoke(request(&body, Some(&header), false)).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        stored_state(&w, "tenant-rotation").await,
        Some(sim_state(&sub))
    );
    // AND one signed by the old secret is still accepted
    let body = event(&event_id(), "customer.subscription.updated", sub);
    let header = sign_header(&body, "whsec_old_one", w.clock.now());
    assert_eq!(
        w.invoke(request(&body, Some(&header), false))
            .await
            .status_code,
        200
    );
    w.drop_tables().await;
}

#[tokio::test]
async fn a_base64_encoded_body_is_verified_on_its_decoded_bytes() {
    let Some(w) = World::new("base64_body", &[SECRET]).await else {
        return;
    };
    // GIVEN an event whose body API Gateway passed base64-encoded
    let stripe = w.linked_customer("tenant-b64").await;
    let sub = w.subscription(&stripe).await;
    let body = event(&event_id(), "customer.subscription.updated", sub.clone());
    let header = w.sign(&body);
    // WHEN handled THEN the signature over the raw bytes holds and it is applied
    let response = w.invoke(request(&body, Some(&header), true)).await;
    assert_eq!(answer(&response), (200, json!({"received": true})));
    assert_eq!(stored_state(&w, "tenant-b64").await, Some(sim_state(&sub)));
    w.drop_tables().await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_400_without_verifying() {
    let Some(w) = World::new("too_large", &[SECRET]).await else {
        return;
    };
    // GIVEN a validly signed body one byte over the limit
    let mut body = event(&event_id(), "customer.created", json!({"id": "cus_x"}));
    body.resize(stripe_webhook::MAX_BODY_BYTES + 1, b' ');
    let header = w.sign(&body);
    // WHEN delivered, as text or base64 THEN 400 "body too large"
    for base64 in [false, true] {
        let response = w.invoke(request(&body, Some(&header), base64)).await;
        assert_eq!(answer(&response), (400, json!({"error": "body too large"})));
    }
    // AND at the limit it is verified and handled (an event type we do not act on: 200)
    body.truncate(stripe_webhook::MAX_BODY_BYTES);
    let response = w.deliver(&body).await;
    assert_eq!(response.status_code, 200);
    w.drop_tables().await;
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_a_400() {
    let Some(w) = World::new("malformed_json", &[SECRET]).await else {
        return;
    };
    // GIVEN bodies that are signed but are not Stripe events
    for body in [
        &b"{\"id\": \"evt_1\", "[..],
        b"[]",
        b"{\"id\": \"evt_1\", \"type\": \"invoice.paid\", \"data\": {\"object\": {\"id\": 5}}}",
    ] {
        // WHEN delivered THEN 400 with a reason
        let (status, answer) = answer(&w.deliver(body).await);
        assert_eq!(status, 400);
        assert!(answer["error"].is_string());
    }
    w.drop_tables().await;
}

#[tokio::test]
async fn an_event_for_an_unknown_stripe_customer_is_a_500_until_the_customer_is_linked() {
    let Some(w) = World::new("unknown_customer", &[SECRET]).await else {
        return;
    };
    // GIVEN a Stripe customer not linked to any customer yet, with a subscription
    let stripe = w.stripe_customer("tenant-late").await;
    let sub = w.subscription(&stripe).await;
    let body = event(&event_id(), "customer.subscription.updated", sub.clone());
    // WHEN its event arrives THEN 500 (Stripe retries) and the claim is released
    let (status, answer_body) = answer(&w.deliver(&body).await);
    assert_eq!(status, 500);
    assert!(answer_body["error"].as_str().unwrap().contains("linked"));
    // WHEN the customer is linked and Stripe retries THEN 200 and the state is stored
    w.link("tenant-late", &stripe).await;
    assert_eq!(
        answer(&w.deliver(&body).await),
        (200, json!({"received": true}))
    );
    assert_eq!(stored_state(&w, "tenant-late").await, Some(sim_state(&sub)));
    w.drop_tables().await;
}

/// Turns each POST into the API Gateway v2 event Lambda would receive and runs the handler.
async fn via_api_gateway(
    axum::extract::State(world): axum::extract::State<Arc<World>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> (axum::http::StatusCode, String) {
    let mut value: Value = serde_json::to_value(request(body.as_bytes(), None, false)).unwrap();
    let mut lowered = serde_json::Map::new();
    for (name, v) in &headers {
        lowered.insert(
            name.as_str().to_ascii_lowercase(),
            json!(v.to_str().unwrap_or_default()),
        );
    }
    value["headers"] = Value::Object(lowered);
    let response = world.invoke(serde_json::from_value(value).unwrap()).await;
    let (status, body) = answer(&response);
    (
        axum::http::StatusCode::from_u16(u16::try_from(status).unwrap()).unwrap(),
        body.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_delivered_by_the_stand_in_bring_the_store_to_its_state() {
    let Some(mut w) = World::new("delivered", &[SECRET]).await else {
        return;
    };
    // GIVEN a tiny HTTP front standing for API Gateway, registered as a webhook endpoint in the
    // stand-in, whose signing secret the handler is configured with
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/stripe/webhook",
        listener.local_addr().unwrap()
    );
    let endpoint = w
        .sim_post(
            "/v1/webhook_endpoints",
            &[("url", &url), ("enabled_events[]", "*")],
        )
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    w.verifier = billing::webhook::SignatureVerifier::new(vec![secret.into()]);
    let w = Arc::new(w);
    let app = axum::Router::new()
        .route("/v1/stripe/webhook", axum::routing::post(via_api_gateway))
        .with_state(w.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // WHEN a linked customer gets a subscription, which is then set to cancel at period end
    let stripe = w.linked_customer("tenant-delivered").await;
    let sub = w.subscription(&stripe).await;
    let sub_id = sub["id"].as_str().unwrap();
    w.sim_post(
        &format!("/v1/subscriptions/{sub_id}"),
        &[("cancel_at_period_end", "true")],
    )
    .await;
    let expected = sim_state(&w.sim_subscription(sub_id).await);
    // THEN the stand-in's own deliveries bring the store to the stand-in's state
    let mut stored = None;
    for _ in 0..100 {
        stored = stored_state(&w, "tenant-delivered").await;
        if stored.as_ref() == Some(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, Some(expected));
    assert!(stored.unwrap().2, "cancel_at_period_end is stored");
    server.abort();
    w.drop_tables().await;
}

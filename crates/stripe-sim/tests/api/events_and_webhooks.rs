//! Webhook endpoints, events, and signed delivery with retries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use billing::webhook::SignatureVerifier;
use secrecy::SecretString;
use serde_json::{Value, json};
use stripe_sim::Config;
use stripe_sim::delivery::DeliveryConfig;

use crate::support::{Receiver, Sim};

fn fast_retries(attempts: u32) -> Config {
    Config {
        delivery: DeliveryConfig {
            first_retry: Duration::from_millis(50),
            factor: 2,
            attempts,
            timeout: Duration::from_secs(2),
        },
        ..Config::default()
    }
}

async fn endpoint(sim: &Sim, url: &str, events: &[&str]) -> (String, String) {
    let mut form = vec![("url", url), ("description", "billing webhook")];
    for e in events {
        form.push(("enabled_events[]", e));
    }
    let r = sim.post("/v1/webhook_endpoints", &form).await;
    r.expect_ok();
    (r.id(), r.body["secret"].as_str().unwrap().to_string())
}

fn wall_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_webhook_endpoint_shows_its_secret_only_on_creation() {
    // GIVEN a running stand-in
    let sim = Sim::start().await;
    // WHEN an endpoint is created
    let r = sim
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", "https://example.com/hook"),
                ("enabled_events[0]", "customer.subscription.updated"),
                ("enabled_events[1]", "invoice.paid"),
                ("api_version", "2026-10-28.endive"),
                ("metadata[env]", "dev"),
            ],
        )
        .await;
    // THEN it carries a whsec_ secret and Stripe's fields
    let body = r.expect_ok().clone();
    let id = r.id();
    assert!(id.starts_with("we_"));
    assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(body["object"], "webhook_endpoint");
    assert_eq!(body["status"], "enabled");
    assert_eq!(body["api_version"], "2026-10-28.endive");
    assert_eq!(
        body["enabled_events"],
        json!(["customer.subscription.updated", "invoice.paid"])
    );
    // AND retrieve and list never show the secret
    let read = sim.get(&format!("/v1/webhook_endpoints/{id}"), &[]).await;
    assert!(read.expect_ok().get("secret").is_none());
    let list = sim.get("/v1/webhook_endpoints", &[]).await;
    assert_eq!(list.body["url"], "/v1/webhook_endpoints");
    assert!(list.body["data"][0].get("secret").is_none());
    // AND it can be updated and deleted
    let updated = sim
        .post(
            &format!("/v1/webhook_endpoints/{id}"),
            &[
                ("enabled_events[]", "*"),
                ("disabled", "true"),
                ("url", "https://example.com/other"),
            ],
        )
        .await;
    let body = updated.expect_ok();
    assert_eq!(body["enabled_events"], json!(["*"]));
    assert_eq!(body["status"], "disabled");
    assert_eq!(body["url"], "https://example.com/other");
    let deleted = sim.delete(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(
        deleted.expect_ok(),
        &json!({"id": id, "object": "webhook_endpoint", "deleted": true})
    );
    sim.get(&format!("/v1/webhook_endpoints/{id}"), &[])
        .await
        .expect_error(404, "invalid_request_error", Some("resource_missing"));
}

#[tokio::test]
async fn invalid_webhook_endpoints_are_refused() {
    let sim = Sim::start().await;
    let r = sim
        .post("/v1/webhook_endpoints", &[("enabled_events[]", "*")])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "url"
    );
    let r = sim
        .post("/v1/webhook_endpoints", &[("url", "https://example.com")])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "enabled_events"
    );
    let r = sim
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", "https://example.com"),
                ("enabled_events[]", "customer.exploded"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "enabled_events[0]"
    );
    let r = sim
        .post(
            "/v1/webhook_endpoints",
            &[("url", "ftp://example.com"), ("enabled_events[]", "*")],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("url_invalid"))["param"],
        "url"
    );
}

#[tokio::test]
async fn a_matching_event_is_delivered_signed_as_stripe_signs() {
    // GIVEN a receiver subscribed to customer.created only
    let sim = Sim::start().await;
    let receiver = Receiver::start(0).await;
    let (_, secret) = endpoint(&sim, &receiver.url, &["customer.created"]).await;
    // WHEN a product (not subscribed) and then a customer are created
    sim.product().await;
    let created = sim
        .post_idem("/v1/customers", "signup-1", &[("email", "ann@x.io")])
        .await;
    let customer = created.id();
    // THEN exactly one delivery arrives, as JSON, with a signature that verifies
    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "application/json; charset=utf-8"
    );
    let signature = headers["stripe-signature"].to_str().unwrap();
    assert!(signature.starts_with("t="), "{signature}");
    let verifier = SignatureVerifier::new(vec![SecretString::from(secret.clone())]);
    verifier
        .verify(body, Some(signature), wall_now())
        .expect("the signature verifies");
    let wrong = SignatureVerifier::new(vec![SecretString::from("whsec_other".to_string())]);
    assert!(wrong.verify(body, Some(signature), wall_now()).is_err());
    // AND the body is the event, caused by the request that created the customer
    let event: Value = serde_json::from_slice(body).unwrap();
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["api_version"], "2026-10-28.endive");
    assert_eq!(event["livemode"], false);
    assert_eq!(event["data"]["object"]["id"], customer.as_str());
    assert_eq!(event["pending_webhooks"], 1);
    assert_eq!(
        event["request"],
        json!({"id": created.header("request-id").unwrap(), "idempotency_key": "signup-1"})
    );
    // AND the stored event now counts no pending webhooks
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stored = sim
        .get(
            &format!("/v1/events/{}", event["id"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_eq!(stored.body["pending_webhooks"], 0);
}

#[tokio::test]
async fn a_delivery_answered_with_500_is_retried_and_then_succeeds() {
    // GIVEN a receiver that fails its first request
    let sim = Sim::start_with(fast_retries(4)).await;
    let receiver = Receiver::start(1).await;
    let (_, secret) = endpoint(&sim, &receiver.url, &["*"]).await;
    // WHEN an event is emitted
    sim.post("/v1/customers", &[]).await.expect_ok();
    // THEN it is delivered twice, each attempt signed, with the same event
    let received = receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);
    let verifier = SignatureVerifier::new(vec![SecretString::from(secret)]);
    let mut ids = Vec::new();
    for (headers, body) in &received {
        let signature = headers["stripe-signature"].to_str().unwrap();
        verifier.verify(body, Some(signature), wall_now()).unwrap();
        let event: Value = serde_json::from_slice(body).unwrap();
        ids.push(event["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids[0], ids[1]);
    // AND no third attempt follows a success
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received.lock().unwrap().len(), 2);
    let delivered = sim.get("/v1/events", &[("delivery_success", "true")]).await;
    assert_eq!(delivered.body["data"][0]["id"], ids[0].as_str());
}

#[tokio::test]
async fn undelivered_events_are_listed_with_delivery_success_false() {
    // GIVEN an endpoint that always fails, and another that works
    let sim = Sim::start_with(fast_retries(3)).await;
    let failing = Receiver::start(usize::MAX).await;
    endpoint(&sim, &failing.url, &["product.created"]).await;
    let working = Receiver::start(0).await;
    endpoint(&sim, &working.url, &["customer.created"]).await;
    // WHEN one event goes to each
    let product = sim.product().await;
    sim.post("/v1/customers", &[]).await.expect_ok();
    // THEN the failing one is attempted 3 times and stays undelivered
    let attempts = failing.wait_for(3).await;
    assert_eq!(attempts.len(), 3);
    working.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let failed = sim
        .get("/v1/events", &[("delivery_success", "false")])
        .await;
    let failed = failed.body["data"].as_array().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["type"], "product.created");
    assert_eq!(failed[0]["data"]["object"]["id"], product.as_str());
    assert_eq!(failed[0]["pending_webhooks"], 1);
    let ok = sim.get("/v1/events", &[("delivery_success", "true")]).await;
    assert!(
        ok.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "product.created")
    );
}

#[tokio::test]
async fn a_disabled_endpoint_receives_nothing() {
    let sim = Sim::start().await;
    let receiver = Receiver::start(0).await;
    let (id, _) = endpoint(&sim, &receiver.url, &["*"]).await;
    sim.post(
        &format!("/v1/webhook_endpoints/{id}"),
        &[("disabled", "true")],
    )
    .await
    .expect_ok();
    sim.post("/v1/customers", &[]).await.expect_ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn events_are_listed_newest_first_and_filtered_by_type() {
    // GIVEN a few state changes
    let sim = Sim::start().await;
    let customer = sim.customer("a@x.io").await;
    sim.post(&format!("/v1/customers/{customer}"), &[("name", "A")])
        .await
        .expect_ok();
    let product = sim.product().await;
    sim.base_price(&product).await;
    sim.meter("m", "sum").await;
    // WHEN events are listed
    let all = sim.get("/v1/events", &[]).await;
    let types: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // THEN newest come first
    assert_eq!(
        types,
        [
            "billing.meter.created",
            "price.created",
            "product.created",
            "customer.updated",
            "customer.created"
        ]
    );
    assert_eq!(all.body["url"], "/v1/events");
    // AND filters narrow them
    let by_wildcard = sim.get("/v1/events", &[("type", "customer.*")]).await;
    assert_eq!(by_wildcard.body["data"].as_array().unwrap().len(), 2);
    let by_types = sim
        .get(
            "/v1/events",
            &[("types[]", "price.created"), ("types[]", "product.created")],
        )
        .await;
    assert_eq!(by_types.body["data"].as_array().unwrap().len(), 2);
    let paged = sim.get("/v1/events", &[("limit", "2")]).await;
    assert_eq!(paged.body["has_more"], true);
    let cursor = paged.body["data"][1]["id"].as_str().unwrap();
    let next = sim
        .get("/v1/events", &[("limit", "2"), ("starting_after", cursor)])
        .await;
    assert_eq!(next.body["data"][0]["type"], "product.created");
    // AND one event reads back by id; an unknown id is a 404
    let id = all.body["data"][0]["id"].as_str().unwrap();
    let one = sim.get(&format!("/v1/events/{id}"), &[]).await;
    assert_eq!(one.expect_ok(), &all.body["data"][0]);
    sim.get("/v1/events/evt_nope", &[]).await.expect_error(
        404,
        "invalid_request_error",
        Some("resource_missing"),
    );
    sim.get(
        "/v1/events",
        &[
            ("type", "customer.created"),
            ("types[]", "customer.created"),
        ],
    )
    .await
    .expect_error(400, "invalid_request_error", Some("parameters_exclusive"));
}

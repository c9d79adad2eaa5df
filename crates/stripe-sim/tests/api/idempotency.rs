//! Idempotency keys over HTTP.

use std::time::Duration;

use stripe_sim::Config;

use crate::support::Sim;

#[tokio::test]
async fn a_retry_with_the_same_key_and_parameters_replays_the_first_response() {
    // GIVEN a customer created with an idempotency key
    let sim = Sim::start().await;
    let form = [("email", "ann@x.io"), ("metadata[customer_id]", "c1")];
    let first = sim.post_idem("/v1/customers", "cust-c1", &form).await;
    first.expect_ok();
    assert_eq!(first.header("idempotent-replayed"), None);
    // WHEN the same request is retried
    let second = sim.post_idem("/v1/customers", "cust-c1", &form).await;
    // THEN the saved response comes back, flagged as replayed, and nothing new is created
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        second.header("original-request"),
        first.header("request-id")
    );
    let list = sim.get("/v1/customers", &[("email", "ann@x.io")]).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let events = sim.get("/v1/events", &[("type", "customer.created")]).await;
    assert_eq!(events.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_reused_with_other_parameters_is_an_idempotency_error() {
    let sim = Sim::start().await;
    sim.post_idem("/v1/customers", "k1", &[("email", "a@x.io")])
        .await
        .expect_ok();
    // WHEN the key is reused with another body or on another path
    let r = sim
        .post_idem("/v1/customers", "k1", &[("email", "b@x.io")])
        .await;
    // THEN Stripe's idempotency_error comes back
    let error = r.expect_error(400, "idempotency_error", None);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Keys for idempotent requests can only be used with the same parameters")
    );
    sim.post_idem("/v1/products", "k1", &[("email", "a@x.io")])
        .await
        .expect_error(400, "idempotency_error", None);
}

#[tokio::test]
async fn a_request_that_failed_validation_leaves_its_key_free() {
    let sim = Sim::start().await;
    // GIVEN a first attempt with a typo
    sim.post_idem("/v1/customers", "k2", &[("emial", "a@x.io")])
        .await
        .expect_error(400, "invalid_request_error", Some("parameter_unknown"));
    // WHEN it is corrected and retried with the same key
    let r = sim
        .post_idem("/v1/customers", "k2", &[("email", "a@x.io")])
        .await;
    // THEN it runs
    assert_eq!(r.expect_ok()["email"], "a@x.io");
    assert_eq!(r.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn a_retry_while_the_first_request_runs_gets_a_409() {
    // GIVEN slow meter event processing
    let sim = Sim::start_with(Config {
        meter_event_delay: Duration::from_millis(600),
        ..Config::default()
    })
    .await;
    sim.meter("e", "sum").await;
    let customer = sim.customer("a@x.io").await;
    let form = [
        ("event_name", "e"),
        ("payload[stripe_customer_id]", customer.as_str()),
        ("payload[value]", "5"),
        ("identifier", "batch-1"),
    ];
    // WHEN the same keyed request is sent twice at once
    let (first, second) = tokio::join!(
        sim.post_idem("/v1/billing/meter_events", "batch-1", &form),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sim.post_idem("/v1/billing/meter_events", "batch-1", &form)
                .await
        }
    );
    // THEN the second is told the key is in use
    first.expect_ok();
    second.expect_error(409, "idempotency_error", Some("idempotency_key_in_use"));
    // AND a later retry replays the success instead of hitting the duplicate identifier
    let third = sim
        .post_idem("/v1/billing/meter_events", "batch-1", &form)
        .await;
    assert_eq!(third.status, 200);
    assert_eq!(third.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn keys_are_forgotten_after_24_hours() {
    let sim = Sim::start().await;
    sim.post_idem("/v1/customers", "k3", &[("email", "a@x.io")])
        .await
        .expect_ok();
    sim.server.advance_time(24 * 60 * 60 + 1);
    let r = sim
        .post_idem("/v1/customers", "k3", &[("email", "b@x.io")])
        .await;
    assert_eq!(r.expect_ok()["email"], "b@x.io");
}

//! Faults on demand under `/_sim/`: API calls failing before or after they take effect, and
//! webhook deliveries duplicated, reordered, delayed or paused.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Receiver, Sim, encode};

async fn customer_count(sim: &Sim, email: &str) -> usize {
    let r = sim.get("/v1/customers", &[("email", email)]).await;
    r.body["data"].as_array().unwrap().len()
}

/// Sends a request that is expected to lose its connection: the error reqwest reports.
async fn expect_dropped(request: reqwest::RequestBuilder) -> reqwest::Error {
    match request.send().await {
        Ok(response) => panic!(
            "expected a dropped connection, got HTTP {}",
            response.status()
        ),
        Err(err) => err,
    }
}

#[tokio::test]
async fn a_500_before_the_request_takes_effect_leaves_nothing_behind() {
    // GIVEN the next customer creation fails with a 500 before taking effect
    let sim = Sim::start().await;
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/customers", "fault": "500", "when": "before"}),
    )
    .await;
    // WHEN a customer is created
    let r = sim.post("/v1/customers", &[("email", "a@x.io")]).await;
    // THEN the client gets Stripe's api_error, and no customer exists
    r.expect_error(500, "api_error", None);
    assert_eq!(r.header("stripe-should-retry"), Some("true"));
    assert_eq!(customer_count(&sim, "a@x.io").await, 0);
    // AND the fault was used up: the retry works
    sim.post("/v1/customers", &[("email", "a@x.io")])
        .await
        .expect_ok();
    assert_eq!(customer_count(&sim, "a@x.io").await, 1);
}

#[tokio::test]
async fn a_429_is_rate_limit_in_stripes_shape_for_the_next_n_calls() {
    // GIVEN the next two meter-event calls are rate limited
    let sim = Sim::start().await;
    let armed = sim
        .control(
            "/_sim/faults",
            json!({"method": "POST", "path": "/v1/billing/meter_events", "fault": "429", "times": 2}),
        )
        .await;
    assert_eq!(armed["faults"][0]["times"], 2);
    // WHEN three calls are made (to any body: the fault strikes before validation)
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = sim.post("/v1/billing/meter_events", &[]).await;
        statuses.push(r.status);
        if r.status == 429 {
            r.expect_error(429, "invalid_request_error", Some("rate_limit"));
        }
    }
    // THEN the first two get 429 and the third reaches the endpoint
    assert_eq!(statuses, [429, 429, 400]);
}

#[tokio::test]
async fn a_500_after_the_request_took_effect_is_saved_so_a_retry_with_the_same_key_replays_it() {
    // GIVEN customer creation answers 500 after taking effect
    let sim = Sim::start().await;
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/customers", "fault": "500", "when": "after"}),
    )
    .await;
    // WHEN a customer is created with an Idempotency-Key
    let first = sim
        .post_idem("/v1/customers", "signup-c1", &[("email", "b@x.io")])
        .await;
    // THEN the client saw a 500, but the customer exists
    assert_eq!(first.status, 500);
    assert_eq!(customer_count(&sim, "b@x.io").await, 1);
    // WHEN the client retries with the same key
    let retry = sim
        .post_idem("/v1/customers", "signup-c1", &[("email", "b@x.io")])
        .await;
    // THEN it gets the saved answer, and still only one customer exists
    retry.expect_ok();
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(customer_count(&sim, "b@x.io").await, 1);
    // AND a retry without a key would have made a duplicate
    sim.post("/v1/customers", &[("email", "b@x.io")])
        .await
        .expect_ok();
    assert_eq!(customer_count(&sim, "b@x.io").await, 2);
}

#[tokio::test]
async fn a_dropped_connection_before_or_after_the_effect_is_a_real_connection_error() {
    // GIVEN the next meter event call drops the connection before taking effect
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/billing/meter_events", "fault": "drop"}),
    )
    .await;
    let form = [
        ("event_name", plan.event_name.as_str()),
        ("payload[stripe_customer_id]", plan.customer.as_str()),
        ("payload[value]", "7"),
        ("identifier", "usage-1"),
    ];
    // WHEN it is sent
    let err = expect_dropped(sim.post_request("/v1/billing/meter_events", &form)).await;
    // THEN the client sees the connection closed without an answer, and nothing was recorded
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    let again = sim.post("/v1/billing/meter_events", &form).await;
    again.expect_ok();
    // GIVEN the next call drops the connection after taking effect
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/billing/meter_events", "fault": "drop", "when": "after"}),
    )
    .await;
    let form2 = [
        ("event_name", plan.event_name.as_str()),
        ("payload[stripe_customer_id]", plan.customer.as_str()),
        ("payload[value]", "5"),
        ("identifier", "usage-2"),
    ];
    // WHEN it is sent with an Idempotency-Key
    expect_dropped(
        sim.post_request("/v1/billing/meter_events", &form2)
            .header("Idempotency-Key", "usage-2"),
    )
    .await;
    // THEN the same retry is replayed, not rejected as a duplicate identifier
    let retry = sim
        .post_idem("/v1/billing/meter_events", "usage-2", &form2)
        .await;
    retry.expect_ok();
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    // AND the usage counted once: 7 + 5
    let meter = sim.get("/v1/billing/meters", &[]).await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let summary = sim
        .get(
            &format!("/v1/billing/meters/{meter}/event_summaries"),
            &[
                ("customer", &plan.customer),
                ("start_time", "1767225600"),
                ("end_time", "1772236800"),
            ],
        )
        .await;
    assert_eq!(summary.body["data"][0]["aggregated_value"], 12);
}

#[tokio::test]
async fn a_timeout_holds_the_answer_then_fails_after_the_operation_happened() {
    // GIVEN customer creation is held 300 ms after taking effect, then answers 500
    let sim = Sim::start().await;
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/customers", "fault": "timeout", "when": "after", "hold_ms": 300}),
    )
    .await;
    // WHEN a client with a 100 ms timeout creates a customer
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = client
        .post(sim.url("/v1/customers"))
        .bearer_auth(crate::support::KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode(&[("email", "t@x.io")]))
        .send()
        .await
        .unwrap_err();
    // THEN it times out, yet the customer was created
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(customer_count(&sim, "t@x.io").await, 1);
    // AND a patient client sees the 500 after the hold, or a drop when asked for
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/customers", "fault": "timeout", "hold_ms": 200}),
    )
    .await;
    let started = Instant::now();
    let r = sim.post("/v1/customers", &[("email", "u@x.io")]).await;
    assert_eq!(r.status, 500);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(customer_count(&sim, "u@x.io").await, 0);
    sim.control(
        "/_sim/faults",
        json!({"method": "*", "path": "/v1/customers", "fault": "timeout", "hold_ms": 50, "then": "drop"}),
    )
    .await;
    expect_dropped(sim.post_request("/v1/customers", &[("email", "v@x.io")])).await;
    // AND reset disarms everything
    sim.control(
        "/_sim/faults",
        json!({"method": "POST", "path": "/v1/customers", "fault": "500", "times": 5}),
    )
    .await;
    sim.control("/_sim/reset", json!({})).await;
    sim.post("/v1/customers", &[("email", "w@x.io")])
        .await
        .expect_ok();
}

async fn webhook_sim() -> (Sim, Receiver) {
    let sim = Sim::start().await;
    let receiver = Receiver::start(0).await;
    sim.post(
        "/v1/webhook_endpoints",
        &[
            ("url", &receiver.url),
            ("enabled_events[]", "customer.created"),
        ],
    )
    .await
    .expect_ok();
    (sim, receiver)
}

fn event_ids(received: &[(axum::http::HeaderMap, axum::body::Bytes)]) -> Vec<String> {
    received
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_slice(body).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn webhooks_can_be_delivered_twice_and_the_attempts_are_listed() {
    // GIVEN duplicate delivery is on
    let (sim, receiver) = webhook_sim().await;
    sim.control("/_sim/webhooks", json!({"duplicate": true}))
        .await;
    // WHEN one event happens
    sim.customer("d@x.io").await;
    // THEN the endpoint receives it twice, with the same event id
    let received = receiver.wait_for(2).await;
    let ids = event_ids(&received);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
    // AND /_sim/deliveries lists both copies
    let log = sim
        .client
        .get(sim.url("/_sim/deliveries"))
        .send()
        .await
        .unwrap();
    let log: Value = log.json().await.unwrap();
    let attempts: Vec<&Value> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event_id"] == ids[0].as_str())
        .collect();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["event_type"], "customer.created");
    assert_eq!(attempts[0]["delivered"], true);
    assert_eq!(attempts[0]["outcome"], "HTTP 200");
    assert_ne!(attempts[0]["copy"], attempts[1]["copy"]);
}

#[tokio::test]
async fn paused_webhooks_are_held_then_released_in_reverse_order() {
    // GIVEN delivery is paused
    let (sim, receiver) = webhook_sim().await;
    let paused = sim.control("/_sim/webhooks/pause", json!({})).await;
    assert_eq!(paused["paused"], true);
    // WHEN three events happen
    for email in ["1@x.io", "2@x.io", "3@x.io"] {
        sim.post("/v1/customers", &[("email", email)])
            .await
            .expect_ok();
    }
    // THEN nothing is delivered while paused
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.received.lock().unwrap().is_empty());
    let pending = sim
        .get("/v1/events", &[("delivery_success", "false")])
        .await;
    assert_eq!(pending.body["data"].as_array().unwrap().len(), 3);
    // WHEN delivery resumes in reverse order
    let resumed = sim
        .control("/_sim/webhooks/resume", json!({"order": "reversed"}))
        .await;
    assert_eq!(resumed["released"], 3);
    // THEN the newest event arrives first
    let received = receiver.wait_for(3).await;
    let emails: Vec<String> = received
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_slice(body).unwrap();
            v["data"]["object"]["email"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(emails, ["3@x.io", "2@x.io", "1@x.io"]);
}

#[tokio::test]
async fn delayed_webhooks_arrive_late() {
    // GIVEN a 300 ms delivery delay
    let (sim, receiver) = webhook_sim().await;
    sim.control("/_sim/webhooks", json!({"delay_ms": 300}))
        .await;
    // WHEN an event happens
    let started = Instant::now();
    sim.customer("late@x.io").await;
    // THEN it is not there at once, but arrives after the delay
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.received.lock().unwrap().is_empty());
    receiver.wait_for(1).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    // AND after a reset, deliveries are prompt again
    sim.control("/_sim/reset", json!({})).await;
    let started = Instant::now();
    sim.customer("prompt@x.io").await;
    receiver.wait_for(2).await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

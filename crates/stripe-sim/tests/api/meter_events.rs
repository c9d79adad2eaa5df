//! Meter events over HTTP: validation, identifiers, timestamps and the concurrency limit.

use std::time::Duration;

use serde_json::json;
use stripe_sim::Config;

use crate::support::Sim;

async fn setup(sim: &Sim) -> (String, String) {
    let meter = sim.meter("usage_cents", "sum").await;
    let customer = sim.customer("ann@x.io").await;
    (meter, customer)
}

fn usage<'a>(customer: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("event_name", "usage_cents"),
        ("payload[stripe_customer_id]", customer),
        ("payload[value]", value),
    ]
}

#[tokio::test]
async fn a_meter_event_is_accepted_and_returned_as_stripe_does() {
    // GIVEN a meter and a customer
    let sim = Sim::start().await;
    let (_, customer) = setup(&sim).await;
    // WHEN usage is sent with an identifier and a timestamp
    let t = sim.server.now() - 60;
    let mut form = usage(&customer, "25");
    let ts = t.to_string();
    form.push(("identifier", "usage-1"));
    form.push(("timestamp", &ts));
    let r = sim.post("/v1/billing/meter_events", &form).await;
    // THEN it is a billing.meter_event echoing the payload as strings
    let body = r.expect_ok();
    assert_eq!(body["object"], "billing.meter_event");
    assert_eq!(body["event_name"], "usage_cents");
    assert_eq!(body["identifier"], "usage-1");
    assert_eq!(body["livemode"], false);
    assert_eq!(body["timestamp"], t);
    assert!(body["created"].as_i64().unwrap() >= t);
    assert_eq!(
        body["payload"],
        json!({"stripe_customer_id": customer, "value": "25"})
    );
    // AND without identifier and timestamp, Stripe's defaults apply
    let r = sim
        .post("/v1/billing/meter_events", &usage(&customer, "1"))
        .await;
    let body = r.expect_ok();
    assert_eq!(body["identifier"].as_str().unwrap().len(), 36);
    assert!((body["timestamp"].as_i64().unwrap() - sim.server.now()).abs() <= 2);
}

#[tokio::test]
async fn a_duplicate_identifier_is_refused_and_marked_not_retryable() {
    let sim = Sim::start().await;
    let (_, customer) = setup(&sim).await;
    let mut form = usage(&customer, "25");
    form.push(("identifier", "cus-period-0-2500"));
    sim.post("/v1/billing/meter_events", &form)
        .await
        .expect_ok();
    // WHEN the same identifier is sent again (even with another value)
    let mut again = usage(&customer, "30");
    again.push(("identifier", "cus-period-0-2500"));
    let r = sim.post("/v1/billing/meter_events", &again).await;
    // THEN it is a 400 invalid_request_error that must not be retried
    let error = r.expect_error(400, "invalid_request_error", None);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("An event already exists with identifier cus-period-0-2500")
    );
    assert_eq!(r.header("stripe-should-retry"), Some("false"));
    // AND after 24 hours the identifier is free again
    sim.server.advance_time(24 * 60 * 60);
    let mut later = usage(&customer, "30");
    later.push(("identifier", "cus-period-0-2500"));
    sim.post("/v1/billing/meter_events", &later)
        .await
        .expect_ok();
}

#[tokio::test]
async fn fractional_and_non_numeric_values_are_refused() {
    let sim = Sim::start().await;
    let (_, customer) = setup(&sim).await;
    for bad in ["2.5", "1e3", "ten", ""] {
        let r = sim
            .post("/v1/billing/meter_events", &usage(&customer, bad))
            .await;
        assert_eq!(r.status, 400, "{bad}: {:#}", r.body);
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert_eq!(r.body["error"]["param"], "payload[value]", "{bad}");
    }
    // a negative whole number is a correction and is accepted
    sim.post("/v1/billing/meter_events", &usage(&customer, "-5"))
        .await
        .expect_ok();
}

#[tokio::test]
async fn timestamps_must_lie_within_35_days_back_and_5_minutes_ahead() {
    let sim = Sim::start().await;
    let (_, customer) = setup(&sim).await;
    let now = sim.server.now();
    let at = |t: i64| {
        let customer = customer.clone();
        let sim = &sim;
        async move {
            let ts = t.to_string();
            let mut form = usage(&customer, "1");
            form.push(("timestamp", &ts));
            sim.post("/v1/billing/meter_events", &form).await
        }
    };
    // too old
    let r = at(now - 36 * 86_400).await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "timestamp"
    );
    // too far ahead
    let r = at(now + 10 * 60).await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "timestamp"
    );
    // inside both edges
    at(now - 34 * 86_400).await.expect_ok();
    at(now + 4 * 60).await.expect_ok();
    // not a number
    let r = at(0).await;
    r.expect_error(400, "invalid_request_error", None);
    let mut form = usage(&customer, "1");
    form.push(("timestamp", "soon"));
    sim.post("/v1/billing/meter_events", &form)
        .await
        .expect_error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
        );
}

#[tokio::test]
async fn meter_events_need_an_active_meter_and_a_known_customer() {
    let sim = Sim::start().await;
    let (meter, customer) = setup(&sim).await;
    // unknown customer
    let r = sim
        .post("/v1/billing/meter_events", &usage("cus_nope", "1"))
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("resource_missing"))["param"],
        "payload[stripe_customer_id]"
    );
    // no customer key
    let r = sim
        .post(
            "/v1/billing/meter_events",
            &[("event_name", "usage_cents"), ("payload[value]", "1")],
        )
        .await;
    r.expect_error(400, "invalid_request_error", Some("parameter_missing"));
    // no payload, no event name
    sim.post("/v1/billing/meter_events", &[("event_name", "usage_cents")])
        .await
        .expect_error(400, "invalid_request_error", Some("parameter_missing"));
    sim.post("/v1/billing/meter_events", &[("payload[value]", "1")])
        .await
        .expect_error(400, "invalid_request_error", Some("parameter_missing"));
    // unknown event name
    let mut form = usage(&customer, "1");
    form[0] = ("event_name", "nope");
    let r = sim.post("/v1/billing/meter_events", &form).await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "event_name"
    );
    // a deactivated meter takes no events
    sim.post(&format!("/v1/billing/meters/{meter}/deactivate"), &[])
        .await
        .expect_ok();
    let r = sim
        .post("/v1/billing/meter_events", &usage(&customer, "1"))
        .await;
    r.expect_error(400, "invalid_request_error", None);
}

#[tokio::test]
async fn a_meter_with_custom_payload_keys_reads_them() {
    let sim = Sim::start().await;
    sim.post(
        "/v1/billing/meters",
        &[
            ("display_name", "m"),
            ("event_name", "custom"),
            ("default_aggregation[formula]", "sum"),
            ("customer_mapping[event_payload_key]", "customer"),
            ("customer_mapping[type]", "by_id"),
            ("value_settings[event_payload_key]", "cents"),
        ],
    )
    .await
    .expect_ok();
    let customer = sim.customer("a@x.io").await;
    let ok = sim
        .post(
            "/v1/billing/meter_events",
            &[
                ("event_name", "custom"),
                ("payload[customer]", &customer),
                ("payload[cents]", "3"),
            ],
        )
        .await;
    ok.expect_ok();
    let r = sim
        .post(
            "/v1/billing/meter_events",
            &[
                ("event_name", "custom"),
                ("payload[customer]", &customer),
                ("payload[value]", "3"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "payload[cents]"
    );
}

#[tokio::test]
async fn a_second_concurrent_call_for_the_same_customer_and_meter_is_rate_limited() {
    // GIVEN meter event calls that take 600 ms to process
    let sim = Sim::start_with(Config {
        meter_event_delay: Duration::from_millis(600),
        ..Config::default()
    })
    .await;
    let (_, ann) = setup(&sim).await;
    let bob = sim.customer("bob@x.io").await;
    // WHEN two calls for ann and one for bob run at once
    let first_form = usage(&ann, "1");
    let (first, second, other) = tokio::join!(
        sim.post("/v1/billing/meter_events", &first_form),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sim.post("/v1/billing/meter_events", &usage(&ann, "2"))
                .await
        },
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sim.post("/v1/billing/meter_events", &usage(&bob, "3"))
                .await
        },
    );
    // THEN ann's second call gets Stripe's 429 rate_limit, the others succeed
    first.expect_ok();
    other.expect_ok();
    second.expect_error(429, "invalid_request_error", Some("rate_limit"));
    // AND once the first finished, ann can send again
    sim.post("/v1/billing/meter_events", &usage(&ann, "4"))
        .await
        .expect_ok();
}

//! Billing meters and event summaries over HTTP.

use serde_json::json;

use crate::support::Sim;

#[tokio::test]
async fn a_meter_is_created_with_its_mappings_and_read_back() {
    // GIVEN a running stand-in
    let sim = Sim::start().await;
    // WHEN a meter is created with every setting
    let r = sim
        .post(
            "/v1/billing/meters",
            &[
                ("display_name", "OpenAI cost"),
                ("event_name", "openai_cost"),
                ("default_aggregation[formula]", "sum"),
                ("customer_mapping[event_payload_key]", "customer"),
                ("customer_mapping[type]", "by_id"),
                ("value_settings[event_payload_key]", "cents"),
                ("event_time_window", "hour"),
            ],
        )
        .await;
    // THEN it is a billing.meter with Stripe's shape
    let body = r.expect_ok().clone();
    assert!(r.id().starts_with("mtr_"));
    assert_eq!(body["object"], "billing.meter");
    assert_eq!(body["status"], "active");
    assert_eq!(
        body["customer_mapping"],
        json!({"event_payload_key": "customer", "type": "by_id"})
    );
    assert_eq!(
        body["value_settings"],
        json!({"event_payload_key": "cents"})
    );
    assert_eq!(body["default_aggregation"], json!({"formula": "sum"}));
    assert_eq!(body["event_time_window"], "hour");
    assert_eq!(body["status_transitions"], json!({"deactivated_at": null}));
    // AND it reads back and lists
    let read = sim
        .get(&format!("/v1/billing/meters/{}", r.id()), &[])
        .await;
    assert_eq!(read.body, body);
    let list = sim.get("/v1/billing/meters", &[]).await;
    assert_eq!(list.body["url"], "/v1/billing/meters");
    assert_eq!(list.body["data"][0], body);
    // AND a billing.meter.created event exists
    let events = sim
        .get("/v1/events", &[("type", "billing.meter.created")])
        .await;
    assert_eq!(
        events.body["data"][0]["data"]["object"]["id"],
        r.id().as_str()
    );
}

#[tokio::test]
async fn meters_default_their_payload_keys_and_accept_count_and_last() {
    let sim = Sim::start().await;
    for formula in ["count", "last"] {
        let r = sim
            .post(
                "/v1/billing/meters",
                &[
                    ("display_name", "m"),
                    ("event_name", formula),
                    ("default_aggregation[formula]", formula),
                ],
            )
            .await;
        let body = r.expect_ok();
        assert_eq!(body["default_aggregation"]["formula"], formula);
        assert_eq!(
            body["customer_mapping"]["event_payload_key"],
            "stripe_customer_id"
        );
        assert_eq!(body["value_settings"]["event_payload_key"], "value");
        assert_eq!(body["event_time_window"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn invalid_meters_are_refused() {
    let sim = Sim::start().await;
    let r = sim
        .post(
            "/v1/billing/meters",
            &[("display_name", "m"), ("event_name", "e")],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "default_aggregation"
    );
    let r = sim
        .post(
            "/v1/billing/meters",
            &[
                ("display_name", "m"),
                ("event_name", "e"),
                ("default_aggregation[formula]", "max"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "default_aggregation[formula]"
    );
    let r = sim
        .post(
            "/v1/billing/meters",
            &[
                ("display_name", "m"),
                ("event_name", &"e".repeat(101)),
                ("default_aggregation[formula]", "sum"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "event_name"
    );
    // an event name already used by an active meter
    sim.meter("dup", "sum").await;
    let r = sim
        .post(
            "/v1/billing/meters",
            &[
                ("display_name", "m2"),
                ("event_name", "dup"),
                ("default_aggregation[formula]", "sum"),
            ],
        )
        .await;
    r.expect_error(
        400,
        "invalid_request_error",
        Some("resource_already_exists"),
    );
    sim.get("/v1/billing/meters/mtr_nope", &[])
        .await
        .expect_error(404, "invalid_request_error", Some("resource_missing"));
}

#[tokio::test]
async fn a_meter_can_be_renamed_deactivated_and_reactivated() {
    let sim = Sim::start().await;
    let id = sim.meter("e", "sum").await;
    let renamed = sim
        .post(
            &format!("/v1/billing/meters/{id}"),
            &[("display_name", "New")],
        )
        .await;
    assert_eq!(renamed.expect_ok()["display_name"], "New");
    let off = sim
        .post(&format!("/v1/billing/meters/{id}/deactivate"), &[])
        .await;
    assert_eq!(off.expect_ok()["status"], "inactive");
    assert!(off.body["status_transitions"]["deactivated_at"].is_i64());
    let inactive = sim
        .get("/v1/billing/meters", &[("status", "inactive")])
        .await;
    assert_eq!(inactive.body["data"][0]["id"], id.as_str());
    let on = sim
        .post(&format!("/v1/billing/meters/{id}/reactivate"), &[])
        .await;
    assert_eq!(on.expect_ok()["status"], "active");
    // the event name is immutable
    let r = sim
        .post(&format!("/v1/billing/meters/{id}"), &[("event_name", "x")])
        .await;
    r.expect_error(400, "invalid_request_error", Some("parameter_unknown"));
}

async fn send_usage(sim: &Sim, event: &str, customer: &str, value: &str, timestamp: i64) {
    sim.post(
        "/v1/billing/meter_events",
        &[
            ("event_name", event),
            ("payload[stripe_customer_id]", customer),
            ("payload[value]", value),
            ("timestamp", &timestamp.to_string()),
        ],
    )
    .await
    .expect_ok();
}

#[tokio::test]
async fn event_summaries_aggregate_per_formula_with_an_exclusive_end() {
    // GIVEN a sum meter, two customers and usage at known times
    let sim = Sim::start().await;
    let meter = sim.meter("cents", "sum").await;
    let ann = sim.customer("ann@x.io").await;
    let bob = sim.customer("bob@x.io").await;
    let hour = (sim.server.now() / 3600 - 2) * 3600;
    send_usage(&sim, "cents", &ann, "25", hour + 10).await;
    send_usage(&sim, "cents", &ann, "5", hour + 3599).await;
    send_usage(&sim, "cents", &ann, "100", hour + 3600).await;
    send_usage(&sim, "cents", &bob, "7", hour + 20).await;
    // WHEN the first hour is summarised for ann
    let r = sim
        .get(
            &format!("/v1/billing/meters/{meter}/event_summaries"),
            &[
                ("customer", &ann),
                ("start_time", &hour.to_string()),
                ("end_time", &(hour + 3600).to_string()),
            ],
        )
        .await;
    // THEN only her events with start <= timestamp < end count
    let body = r.expect_ok();
    assert_eq!(body["object"], "list");
    assert_eq!(
        body["url"],
        format!("/v1/billing/meters/{meter}/event_summaries")
    );
    let summary = &body["data"][0];
    assert_eq!(summary["object"], "billing.meter_event_summary");
    assert_eq!(summary["aggregated_value"], 30);
    assert_eq!(summary["meter"], meter.as_str());
    assert_eq!(summary["start_time"], hour);
    assert_eq!(summary["end_time"], hour + 3600);
    assert!(summary["id"].as_str().unwrap().starts_with("mtrusg_"));
    // AND hourly grouping gives one summary per hour, newest first
    let r = sim
        .get(
            &format!("/v1/billing/meters/{meter}/event_summaries"),
            &[
                ("customer", &ann),
                ("start_time", &hour.to_string()),
                ("end_time", &(hour + 7200).to_string()),
                ("value_grouping_window", "hour"),
            ],
        )
        .await;
    let values: Vec<i64> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["aggregated_value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [100, 30]);
}

#[tokio::test]
async fn count_and_last_meters_summarise_their_way() {
    let sim = Sim::start().await;
    sim.meter("calls", "count").await;
    let last = sim.meter("seats", "last").await;
    let count = sim.get("/v1/billing/meters", &[("limit", "2")]).await.body["data"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ann = sim.customer("ann@x.io").await;
    let t = (sim.server.now() / 60 - 60) * 60;
    for (i, value) in ["3", "9", "4"].iter().enumerate() {
        send_usage(&sim, "calls", &ann, value, t + i as i64).await;
    }
    // a count meter does not need a value
    sim.post(
        "/v1/billing/meter_events",
        &[
            ("event_name", "calls"),
            ("payload[stripe_customer_id]", &ann),
            ("timestamp", &t.to_string()),
        ],
    )
    .await
    .expect_ok();
    send_usage(&sim, "seats", &ann, "9", t + 5).await;
    send_usage(&sim, "seats", &ann, "4", t + 1).await;
    let summary = |meter: String| {
        let sim = &sim;
        let ann = ann.clone();
        async move {
            sim.get(
                &format!("/v1/billing/meters/{meter}/event_summaries"),
                &[
                    ("customer", ann.as_str()),
                    ("start_time", &t.to_string()),
                    ("end_time", &(t + 60).to_string()),
                ],
            )
            .await
            .body["data"][0]["aggregated_value"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(summary(count).await, 4);
    // the latest timestamp wins, not the latest arrival
    assert_eq!(summary(last).await, 9);
}

#[tokio::test]
async fn event_summaries_check_their_parameters() {
    let sim = Sim::start().await;
    let meter = sim.meter("e", "sum").await;
    let ann = sim.customer("a@x.io").await;
    let path = format!("/v1/billing/meters/{meter}/event_summaries");
    let r = sim
        .get(&path, &[("customer", &ann), ("start_time", "0")])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "end_time"
    );
    let r = sim
        .get(&path, &[("start_time", "0"), ("end_time", "60")])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "customer"
    );
    let r = sim
        .get(
            &path,
            &[
                ("customer", &ann),
                ("start_time", "30"),
                ("end_time", "120"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "start_time"
    );
    let r = sim
        .get(
            &path,
            &[
                ("customer", &ann),
                ("start_time", "60"),
                ("end_time", "7200"),
                ("value_grouping_window", "hour"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "start_time"
    );
    let r = sim
        .get(
            &path,
            &[
                ("customer", "cus_nope"),
                ("start_time", "0"),
                ("end_time", "60"),
            ],
        )
        .await;
    r.expect_error(400, "invalid_request_error", Some("resource_missing"));
    let r = sim
        .get(
            "/v1/billing/meters/mtr_nope/event_summaries",
            &[("customer", &ann), ("start_time", "0"), ("end_time", "60")],
        )
        .await;
    r.expect_error(404, "invalid_request_error", Some("resource_missing"));
}

//! Customers over HTTP.

use crate::support::Sim;

#[tokio::test]
async fn a_customer_is_created_with_its_fields_and_read_back() {
    // GIVEN a running stand-in with a test clock
    let sim = Sim::start().await;
    let clock = sim
        .post(
            "/v1/test_helpers/test_clocks",
            &[("frozen_time", "1769817600")],
        )
        .await
        .id();
    // WHEN a customer is created with email, name, metadata and the test clock
    let created = sim
        .post(
            "/v1/customers",
            &[
                ("email", "ann@example.com"),
                ("name", "Ann Lee"),
                ("metadata[cognito_sub]", "sub-123"),
                ("test_clock", &clock),
            ],
        )
        .await;
    // THEN it is a Stripe customer object
    let body = created.expect_ok();
    let id = created.id();
    assert!(id.starts_with("cus_"), "{id}");
    assert_eq!(body["object"], "customer");
    assert_eq!(body["livemode"], false);
    // (created on the clock's time)
    assert_eq!(body["created"], 1_769_817_600);
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["name"], "Ann Lee");
    assert_eq!(body["metadata"]["cognito_sub"], "sub-123");
    assert_eq!(body["test_clock"], clock.as_str());
    assert_eq!(body["phone"], serde_json::Value::Null);
    // AND it reads back identically
    let read = sim.get(&format!("/v1/customers/{id}"), &[]).await;
    assert_eq!(read.expect_ok(), body);
}

#[tokio::test]
async fn an_unknown_customer_is_a_404_resource_missing() {
    let sim = Sim::start().await;
    let r = sim.get("/v1/customers/cus_nope", &[]).await;
    let error = r.expect_error(404, "invalid_request_error", Some("resource_missing"));
    assert_eq!(error["param"], "id");
    assert_eq!(error["message"], "No such customer: 'cus_nope'");
    let r = sim.post("/v1/customers/cus_nope", &[("name", "x")]).await;
    r.expect_error(404, "invalid_request_error", Some("resource_missing"));
}

#[tokio::test]
async fn an_update_changes_fields_unsets_empty_ones_and_emits_customer_updated() {
    // GIVEN a customer with metadata
    let sim = Sim::start().await;
    let id = sim
        .post(
            "/v1/customers",
            &[
                ("email", "a@x.io"),
                ("metadata[a]", "1"),
                ("metadata[b]", "2"),
            ],
        )
        .await
        .id();
    // WHEN its email changes, one metadata key is removed and one added
    let r = sim
        .post(
            &format!("/v1/customers/{id}"),
            &[
                ("email", "b@x.io"),
                ("metadata[a]", ""),
                ("metadata[c]", "3"),
                ("name", "Bo"),
            ],
        )
        .await;
    // THEN the customer reflects it
    let body = r.expect_ok();
    assert_eq!(body["email"], "b@x.io");
    assert_eq!(body["metadata"], serde_json::json!({"b": "2", "c": "3"}));
    // AND a customer.updated event carries the previous values
    let events = sim.get("/v1/events", &[("type", "customer.updated")]).await;
    let event = &events.body["data"][0];
    assert_eq!(event["data"]["object"]["id"], id.as_str());
    assert_eq!(
        event["data"]["previous_attributes"],
        serde_json::json!({"email": "a@x.io", "name": null, "metadata": {"a": "1", "c": null}})
    );
    // AND an empty string unsets a field
    let r = sim
        .post(&format!("/v1/customers/{id}"), &[("name", "")])
        .await;
    assert_eq!(r.expect_ok()["name"], serde_json::Value::Null);
}

#[tokio::test]
async fn customers_list_newest_first_filter_by_email_and_paginate() {
    // GIVEN five customers, two sharing an email
    let sim = Sim::start().await;
    let mut ids = Vec::new();
    for email in ["a@x.io", "b@x.io", "a@x.io", "c@x.io", "d@x.io"] {
        ids.push(sim.post("/v1/customers", &[("email", email)]).await.id());
    }
    // WHEN listed with a limit
    let page = sim.get("/v1/customers", &[("limit", "2")]).await;
    // THEN the newest come first, with Stripe's list envelope
    let body = page.expect_ok();
    assert_eq!(body["object"], "list");
    assert_eq!(body["url"], "/v1/customers");
    assert_eq!(body["has_more"], true);
    assert_eq!(body["data"][0]["id"], ids[4].as_str());
    assert_eq!(body["data"][1]["id"], ids[3].as_str());
    // AND starting_after continues from the cursor
    let next = sim
        .get(
            "/v1/customers",
            &[("limit", "2"), ("starting_after", &ids[3])],
        )
        .await;
    assert_eq!(next.body["data"][0]["id"], ids[2].as_str());
    // AND ending_before goes back
    let prev = sim
        .get(
            "/v1/customers",
            &[("limit", "1"), ("ending_before", &ids[3])],
        )
        .await;
    assert_eq!(prev.body["data"][0]["id"], ids[4].as_str());
    // AND email filters exactly
    let by_email = sim.get("/v1/customers", &[("email", "a@x.io")]).await;
    let found: Vec<&str> = by_email.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [ids[2].as_str(), ids[0].as_str()]);
    assert_eq!(by_email.body["has_more"], false);
    // AND the default limit is 10
    for _ in 0..8 {
        sim.post("/v1/customers", &[]).await;
    }
    let all = sim.get("/v1/customers", &[]).await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 10);
    assert_eq!(all.body["has_more"], true);
}

#[tokio::test]
async fn customer_parameters_are_checked_like_stripe() {
    let sim = Sim::start().await;
    // unknown parameter
    let r = sim.post("/v1/customers", &[("emial", "a@x.io")]).await;
    let error = r.expect_error(400, "invalid_request_error", Some("parameter_unknown"));
    assert_eq!(error["param"], "emial");
    assert_eq!(error["message"], "Received unknown parameter: emial");
    // too long
    let r = sim
        .post("/v1/customers", &[("phone", &"1".repeat(21))])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "phone"
    );
    // bad limit and unknown cursor
    sim.get("/v1/customers", &[("limit", "101")])
        .await
        .expect_error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
        );
    sim.get("/v1/customers", &[("starting_after", "cus_nope")])
        .await
        .expect_error(400, "invalid_request_error", Some("resource_missing"));
    // a property that cannot be expanded
    sim.post("/v1/customers", &[("expand[]", "email")])
        .await
        .expect_error(400, "invalid_request_error", None);
}

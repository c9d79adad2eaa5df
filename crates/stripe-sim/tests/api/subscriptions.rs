//! Subscriptions over HTTP, including Stripe's month-end period rule.

use serde_json::Value;
use stripe_sim::Config;
use stripe_sim::billing_cycle::{AfterLastFailure, BillingSettings};
use time::macros::datetime;

use crate::support::Sim;

struct Plan {
    customer: String,
    base: String,
    metered: String,
}

async fn plan(sim: &Sim) -> Plan {
    let product = sim.product().await;
    let meter = sim.meter("usage_cents", "sum").await;
    Plan {
        customer: sim.customer("ann@x.io").await,
        base: sim.base_price(&product).await,
        metered: sim.metered_price(&product, &meter).await,
    }
}

async fn subscribe(sim: &Sim, plan: &Plan) -> crate::support::Resp {
    sim.post(
        "/v1/subscriptions",
        &[
            ("customer", &plan.customer),
            ("items[0][price]", &plan.base),
            ("items[0][quantity]", "1"),
            ("items[1][price]", &plan.metered),
            ("metadata[tenant]", "t1"),
        ],
    )
    .await
}

fn periods(subscription: &Value) -> Vec<(i64, i64)> {
    subscription["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["current_period_start"].as_i64().unwrap(),
                i["current_period_end"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_subscription_with_base_and_metered_items_is_active_with_periods_on_its_items() {
    // GIVEN a customer, a base price and a metered price
    let sim = Sim::start().await;
    let plan = plan(&sim).await;
    // WHEN the customer subscribes to both (the metered item without quantity)
    let r = subscribe(&sim, &plan).await;
    // THEN the subscription is active and shaped as at endive
    let body = r.expect_ok().clone();
    assert!(r.id().starts_with("sub_"));
    assert_eq!(body["object"], "subscription");
    assert_eq!(body["status"], "active");
    assert_eq!(body["customer"], plan.customer.as_str());
    assert_eq!(body["currency"], "usd");
    assert_eq!(body["cancel_at_period_end"], false);
    assert_eq!(body["metadata"]["tenant"], "t1");
    assert!(body.get("current_period_start").is_none());
    assert!(body.get("current_period_end").is_none());
    assert_eq!(body["items"]["object"], "list");
    let items = body["items"]["data"].as_array().unwrap();
    assert!(items[0]["id"].as_str().unwrap().starts_with("si_"));
    assert_eq!(items[0]["object"], "subscription_item");
    assert_eq!(items[0]["price"]["id"], plan.base.as_str());
    assert_eq!(items[0]["quantity"], 1);
    assert_eq!(items[1]["price"]["id"], plan.metered.as_str());
    assert!(items[1].get("quantity").is_none());
    assert_eq!(items[1]["plan"]["usage_type"], "metered");
    let (start, end) = periods(&body)[0];
    assert_eq!(start, body["billing_cycle_anchor"].as_i64().unwrap());
    assert!(end - start >= 28 * 86_400 && end - start <= 31 * 86_400);
    // AND it reads back, with the customer expandable
    let read = sim
        .get(
            &format!("/v1/subscriptions/{}", r.id()),
            &[("expand[]", "customer")],
        )
        .await;
    assert_eq!(read.body["customer"]["id"], plan.customer.as_str());
    assert_eq!(read.body["items"], body["items"]);
    // AND customer.subscription.created was emitted
    let events = sim
        .get("/v1/events", &[("type", "customer.subscription.created")])
        .await;
    assert_eq!(
        events.body["data"][0]["data"]["object"]["id"],
        r.id().as_str()
    );
}

#[tokio::test]
async fn a_quantity_on_a_metered_item_is_refused() {
    let sim = Sim::start().await;
    let plan = plan(&sim).await;
    let r = sim
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &plan.customer),
                ("items[0][price]", &plan.base),
                ("items[1][price]", &plan.metered),
                ("items[1][quantity]", "1"),
            ],
        )
        .await;
    let error = r.expect_error(400, "invalid_request_error", None);
    assert_eq!(error["param"], "items[1][quantity]");
    assert_eq!(
        error["message"],
        "You cannot set the quantity for metered plans."
    );
}

#[tokio::test]
async fn invalid_subscriptions_are_refused() {
    let sim = Sim::start().await;
    let plan = plan(&sim).await;
    let r = sim
        .post("/v1/subscriptions", &[("items[0][price]", &plan.base)])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "customer"
    );
    let r = sim
        .post("/v1/subscriptions", &[("customer", &plan.customer)])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "items"
    );
    let r = sim
        .post(
            "/v1/subscriptions",
            &[("customer", "cus_nope"), ("items[0][price]", &plan.base)],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("resource_missing"))["param"],
        "customer"
    );
    let r = sim
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &plan.customer),
                ("items[0][price]", "price_nope"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("resource_missing"))["param"],
        "items[0][price]"
    );
    // a yearly price next to a monthly one
    let product = sim.product().await;
    let yearly = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("product", &product),
                ("unit_amount", "1"),
                ("recurring[interval]", "year"),
            ],
        )
        .await
        .id();
    let r = sim
        .post(
            "/v1/subscriptions",
            &[
                ("customer", &plan.customer),
                ("items[0][price]", &plan.base),
                ("items[1][price]", &yearly),
            ],
        )
        .await;
    r.expect_error(400, "invalid_request_error", None);
}

#[tokio::test]
async fn periods_follow_the_calendar_from_a_jan_31_anchor() {
    // GIVEN the account clock on 2026-01-31 10:00 UTC
    // (an API-created subscription has no card, so its renewals fail; with `unpaid` after the
    // last retry it keeps rolling periods instead of being canceled on Mar 7)
    let start = datetime!(2026-01-31 10:00 UTC).unix_timestamp();
    let sim = Sim::start_with(Config {
        start_time: Some(start),
        billing: BillingSettings {
            after_last_failure: AfterLastFailure::Unpaid,
            ..BillingSettings::default()
        },
        ..Config::default()
    })
    .await;
    let plan = plan(&sim).await;
    // WHEN the customer subscribes
    let created = subscribe(&sim, &plan).await;
    let id = created.id();
    // THEN the first period ends on Feb 28 (clamped), at the anchor's time of day
    // (the clock keeps running, so the anchor may be a second or two after 10:00)
    let anchor = created.body["billing_cycle_anchor"].as_i64().unwrap();
    let drift = anchor - start;
    assert!((0..=2).contains(&drift), "{drift}");
    let feb_28 = datetime!(2026-02-28 10:00 UTC).unix_timestamp() + drift;
    let mar_31 = datetime!(2026-03-31 10:00 UTC).unix_timestamp() + drift;
    let apr_30 = datetime!(2026-04-30 10:00 UTC).unix_timestamp() + drift;
    assert_eq!(periods(&created.body), [(anchor, feb_28), (anchor, feb_28)]);
    // WHEN the clock reaches March 5
    sim.server
        .set_time(datetime!(2026-03-05 00:00 UTC).unix_timestamp());
    // THEN the period is Feb 28 -> Mar 31, not Mar 28
    let read = sim.get(&format!("/v1/subscriptions/{id}"), &[]).await;
    assert_eq!(periods(&read.body), [(feb_28, mar_31), (feb_28, mar_31)]);
    assert_eq!(
        read.body["billing_cycle_anchor"].as_i64().unwrap(),
        created.body["billing_cycle_anchor"].as_i64().unwrap()
    );
    // AND after Mar 31 it is Mar 31 -> Apr 30
    sim.server
        .set_time(datetime!(2026-04-01 00:00 UTC).unix_timestamp());
    let read = sim.get(&format!("/v1/subscriptions/{id}"), &[]).await;
    assert_eq!(periods(&read.body)[0], (mar_31, apr_30));
    // AND each roll emitted customer.subscription.updated with the old item periods
    let updates = sim
        .get("/v1/events", &[("type", "customer.subscription.updated")])
        .await;
    // (failed renewal charges also update the status, without a card: keep the period rolls)
    let updates: Vec<Value> = updates.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["previous_attributes"].get("items").is_some())
        .cloned()
        .collect();
    assert_eq!(updates.len(), 2);
    let previous = &updates[0]["data"]["previous_attributes"]["items"]["data"][0];
    assert_eq!(previous["current_period_start"], feb_28);
    assert_eq!(previous["current_period_end"], mar_31);
}

#[tokio::test]
async fn a_leap_year_february_period_ends_on_the_29th() {
    let start = datetime!(2028-01-31 00:00 UTC).unix_timestamp();
    let sim = Sim::start_with(Config {
        start_time: Some(start),
        ..Config::default()
    })
    .await;
    let plan = plan(&sim).await;
    let created = subscribe(&sim, &plan).await;
    let drift = created.body["billing_cycle_anchor"].as_i64().unwrap() - start;
    assert_eq!(
        periods(&created.body)[0].1 - drift,
        datetime!(2028-02-29 00:00 UTC).unix_timestamp()
    );
}

#[tokio::test]
async fn cancel_at_period_end_is_scheduled_updated_and_ends_the_subscription_at_the_period_end() {
    let sim = Sim::start().await;
    let plan = plan(&sim).await;
    let id = subscribe(&sim, &plan).await.id();
    // WHEN cancellation at period end is requested
    let r = sim
        .post(
            &format!("/v1/subscriptions/{id}"),
            &[
                ("cancel_at_period_end", "true"),
                ("metadata[reason]", "price"),
            ],
        )
        .await;
    // THEN it is scheduled for the period end
    let body = r.expect_ok().clone();
    assert_eq!(body["cancel_at_period_end"], true);
    assert_eq!(body["status"], "active");
    assert_eq!(body["cancel_at"], periods(&body)[0].1);
    assert_eq!(
        body["cancellation_details"]["reason"],
        "cancellation_requested"
    );
    assert_eq!(body["metadata"]["reason"], "price");
    // AND customer.subscription.updated carries the previous values
    let events = sim
        .get("/v1/events", &[("type", "customer.subscription.updated")])
        .await;
    let previous = &events.body["data"][0]["data"]["previous_attributes"];
    assert_eq!(previous["cancel_at_period_end"], false);
    assert_eq!(previous["cancel_at"], Value::Null);
    assert_eq!(previous["metadata"], serde_json::json!({"reason": null}));
    // WHEN the period ends
    sim.server.advance_time(32 * 86_400);
    // THEN the subscription is canceled and customer.subscription.deleted was emitted
    let read = sim.get(&format!("/v1/subscriptions/{id}"), &[]).await;
    assert_eq!(read.body["status"], "canceled");
    assert_eq!(read.body["ended_at"], body["cancel_at"]);
    let deleted = sim
        .get("/v1/events", &[("type", "customer.subscription.deleted")])
        .await;
    assert_eq!(deleted.body["data"][0]["data"]["object"]["id"], id.as_str());
}

#[tokio::test]
async fn a_subscription_is_canceled_now_and_listed_by_status_and_customer() {
    let sim = Sim::start().await;
    let plan = plan(&sim).await;
    let keep = subscribe(&sim, &plan).await.id();
    let gone = subscribe(&sim, &plan).await.id();
    // WHEN one is canceled
    let r = sim.delete(&format!("/v1/subscriptions/{gone}")).await;
    // THEN it is canceled now, with a deleted event
    let body = r.expect_ok();
    assert_eq!(body["status"], "canceled");
    assert!(body["canceled_at"].is_i64());
    assert!(body["ended_at"].is_i64());
    let events = sim
        .get("/v1/events", &[("type", "customer.subscription.deleted")])
        .await;
    assert_eq!(
        events.body["data"][0]["data"]["object"]["id"],
        gone.as_str()
    );
    // AND the default list leaves canceled subscriptions out
    let ids = |r: &crate::support::Resp| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&sim.get("/v1/subscriptions", &[]).await),
        std::slice::from_ref(&keep)
    );
    assert_eq!(
        ids(&sim
            .get("/v1/subscriptions", &[("status", "canceled")])
            .await),
        std::slice::from_ref(&gone)
    );
    assert_eq!(
        ids(&sim
            .get(
                "/v1/subscriptions",
                &[("status", "all"), ("customer", &plan.customer)]
            )
            .await),
        [gone.clone(), keep.clone()]
    );
    assert!(
        ids(&sim
            .get("/v1/subscriptions", &[("customer", "cus_other")])
            .await)
        .is_empty()
    );
    // AND a canceled subscription cannot be canceled or rescheduled again
    sim.delete(&format!("/v1/subscriptions/{gone}"))
        .await
        .expect_error(400, "invalid_request_error", None);
    sim.post(
        &format!("/v1/subscriptions/{gone}"),
        &[("cancel_at_period_end", "true")],
    )
    .await
    .expect_error(400, "invalid_request_error", None);
    sim.get("/v1/subscriptions/sub_nope", &[])
        .await
        .expect_error(404, "invalid_request_error", Some("resource_missing"));
}

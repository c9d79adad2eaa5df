//! Test clocks, cycle invoices with the grace period, and payment retries.

use serde_json::Value;
use stripe_sim::Config;
use stripe_sim::billing_cycle::{AfterLastFailure, BillingSettings};

use crate::support::{DAY, FEB_28, HOUR, JAN_31, MAR_31, Sim};

#[tokio::test]
async fn test_clocks_are_created_read_listed_advanced_forward_only_and_deleted() {
    // GIVEN a test clock
    let sim = Sim::start().await;
    let r = sim
        .post(
            "/v1/test_helpers/test_clocks",
            &[("frozen_time", &JAN_31.to_string()), ("name", "renewals")],
        )
        .await;
    let clock = r.expect_ok().clone();
    let id = r.id();
    assert!(id.starts_with("clock_"));
    assert_eq!(clock["object"], "test_helpers.test_clock");
    assert_eq!(clock["frozen_time"], JAN_31);
    assert_eq!(clock["name"], "renewals");
    assert_eq!(clock["status"], "ready");
    // WHEN it is advanced
    let advanced = sim.advance(&id, JAN_31 + DAY).await;
    // THEN it reports advancing, then reads ready at the new time, with both events
    assert_eq!(advanced.body["status"], "advancing");
    let read = sim
        .get(&format!("/v1/test_helpers/test_clocks/{id}"), &[])
        .await;
    assert_eq!(read.body["status"], "ready");
    assert_eq!(read.body["frozen_time"], JAN_31 + DAY);
    let types = sim.event_types().await;
    let advancing = types
        .iter()
        .position(|t| t == "test_helpers.test_clock.advancing");
    let ready = types
        .iter()
        .position(|t| t == "test_helpers.test_clock.ready");
    assert!(advancing.unwrap() < ready.unwrap(), "{types:?}");
    // AND it cannot go back
    let back = sim
        .post(
            &format!("/v1/test_helpers/test_clocks/{id}/advance"),
            &[("frozen_time", &JAN_31.to_string())],
        )
        .await;
    assert_eq!(
        back.expect_error(400, "invalid_request_error", None)["param"],
        "frozen_time"
    );
    // AND it is listed, then deleted
    let listed = sim.get("/v1/test_helpers/test_clocks", &[]).await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    let deleted = sim
        .delete(&format!("/v1/test_helpers/test_clocks/{id}"))
        .await;
    assert_eq!(deleted.expect_ok()["deleted"], true);
    let gone = sim
        .get(&format!("/v1/test_helpers/test_clocks/{id}"), &[])
        .await;
    gone.expect_error(404, "invalid_request_error", Some("resource_missing"));
    // AND a customer cannot name a clock that does not exist
    let r = sim
        .post("/v1/customers", &[("test_clock", "clock_nope")])
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("resource_missing"))["param"],
        "test_clock"
    );
}

fn line_for<'a>(invoice: &'a Value, price: &str) -> &'a Value {
    invoice["lines"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["pricing"]["price_details"]["price"] == price)
        .unwrap()
}

#[tokio::test]
async fn a_period_end_drafts_an_invoice_that_counts_late_usage_in_the_grace_hour_only() {
    // GIVEN a subscription paid at Checkout on Jan 31 ($29/month + $0.01 per unit)
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let sub = sim.subscribe_with(&plan, "4242424242424242").await;
    // AND 500 units used in February
    sim.advance(&plan.clock, FEB_28 - DAY).await;
    sim.usage(&plan, 500, FEB_28 - 2 * DAY).await.expect_ok();
    // WHEN the clock passes the period end by ten minutes
    sim.advance(&plan.clock, FEB_28 + 600).await;
    // THEN the subscription moved on, with the old periods in previous_attributes
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    let item = &read.body["items"]["data"][0];
    assert_eq!(item["current_period_start"], FEB_28);
    assert_eq!(item["current_period_end"], MAR_31);
    let updated = &sim.events_of("customer.subscription.updated").await[0];
    let previous = &updated["data"]["previous_attributes"]["items"]["data"][0];
    assert_eq!(previous["current_period_start"], JAN_31);
    assert_eq!(previous["current_period_end"], FEB_28);
    // AND a draft cycle invoice for the closed period bills the new base period and the usage
    let draft = sim.invoices(&plan.customer).await[0].clone();
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["billing_reason"], "subscription_cycle");
    assert_eq!(draft["period_start"], JAN_31);
    assert_eq!(draft["period_end"], FEB_28);
    assert_eq!(draft["automatically_finalizes_at"], FEB_28 + HOUR);
    assert_eq!(draft["test_clock"], plan.clock.as_str());
    assert_eq!(draft["total"], 2900 + 500);
    let base = line_for(&draft, &plan.base);
    assert_eq!(base["period"]["start"], FEB_28);
    assert_eq!(base["period"]["end"], MAR_31);
    let usage = line_for(&draft, &plan.metered);
    assert_eq!(usage["quantity"], 500);
    assert_eq!(usage["period"]["start"], JAN_31);
    assert_eq!(usage["period"]["end"], FEB_28);
    assert_eq!(read.body["latest_invoice"], draft["id"]);
    // WHEN late usage for February arrives inside the grace hour
    sim.usage(&plan, 100, FEB_28 - 60).await.expect_ok();
    // AND the grace hour ends
    sim.advance(&plan.clock, FEB_28 + 2 * HOUR).await;
    // THEN the invoice was finalized with the late usage ($29 + 600 x $0.01 = $35.00) and paid
    let invoice_id = draft["id"].as_str().unwrap();
    let paid = sim.get(&format!("/v1/invoices/{invoice_id}"), &[]).await;
    let paid = paid.expect_ok();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["total"], 3500);
    assert_eq!(paid["subtotal"], 3500);
    assert_eq!(paid["amount_due"], 3500);
    assert_eq!(paid["amount_paid"], 3500);
    assert_eq!(paid["amount_remaining"], 0);
    assert_eq!(line_for(paid, &plan.metered)["quantity"], 600);
    assert_eq!(line_for(paid, &plan.metered)["amount"], 600);
    assert_eq!(paid["status_transitions"]["finalized_at"], FEB_28 + HOUR);
    assert_eq!(paid["status_transitions"]["paid_at"], FEB_28 + HOUR);
    assert!(paid["number"].as_str().is_some());
    // WHEN more February usage arrives after finalization (still within 35 days, so accepted)
    sim.usage(&plan, 50, FEB_28 - 60).await.expect_ok();
    // THEN the finalized invoice does not change
    let again = sim.get(&format!("/v1/invoices/{invoice_id}"), &[]).await;
    assert_eq!(again.body["total"], 3500);
    // AND the invoice's events were emitted in order, on the clock's time
    let types = sim.event_types().await;
    let at = |t: &str| types.iter().rposition(|x| x == t).unwrap();
    assert!(at("invoice.created") < at("invoice.finalized"));
    assert!(at("invoice.finalized") < at("invoice.paid"));
    let finalized = &sim.events_of("invoice.finalized").await[0];
    assert_eq!(finalized["created"], FEB_28 + HOUR);
    assert_eq!(finalized["data"]["object"]["id"], invoice_id);
}

#[tokio::test]
async fn graduated_usage_with_1000_free_units_bills_1600_units_as_6_dollars() {
    // GIVEN a subscription with the first 1,000 units free, then 1 cent each
    let sim = Sim::start().await;
    let plan = sim.plan(true).await;
    sim.subscribe_with(&plan, "4242 4242 4242 4242").await;
    // AND 1,600 units in the period
    sim.advance(&plan.clock, JAN_31 + 10 * DAY).await;
    sim.usage(&plan, 1_000, JAN_31 + DAY).await.expect_ok();
    sim.usage(&plan, 600, JAN_31 + 9 * DAY).await.expect_ok();
    // WHEN the period closes and the invoice finalizes
    sim.advance(&plan.clock, FEB_28 + 2 * HOUR).await;
    // THEN it bills $29 + $6.00 = $35.00
    let invoice = sim.invoices(&plan.customer).await[0].clone();
    assert_eq!(invoice["status"], "paid");
    assert_eq!(line_for(&invoice, &plan.metered)["quantity"], 1_600);
    assert_eq!(line_for(&invoice, &plan.metered)["amount"], 600);
    assert_eq!(invoice["total"], 3500);
}

async fn exhaust_retries(sim: &Sim) -> (String, crate::support::Plan) {
    let plan = sim.plan(false).await;
    let sub = sim.subscribe_with(&plan, "4000 0000 0000 0341").await;
    // the renewal fails at finalization, then at each retry (3, 5 and 7 days later by default)
    sim.advance(&plan.clock, FEB_28 + 2 * HOUR).await;
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "past_due");
    sim.advance(&plan.clock, FEB_28 + 8 * DAY).await;
    (sub, plan)
}

#[tokio::test]
async fn when_every_retry_fails_the_subscription_is_canceled_by_default() {
    // GIVEN a renewal that keeps failing
    let sim = Sim::start().await;
    // WHEN the clock passes the last retry
    let (sub, plan) = exhaust_retries(&sim).await;
    // THEN the invoice was attempted four times and no more are scheduled
    let invoice = sim.invoices(&plan.customer).await[0].clone();
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["attempt_count"], 4);
    assert_eq!(invoice["next_payment_attempt"], Value::Null);
    assert_eq!(sim.events_of("invoice.payment_failed").await.len(), 4);
    // AND the subscription was canceled for non-payment
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "canceled");
    assert_eq!(
        read.body["cancellation_details"]["reason"],
        "payment_failed"
    );
    let deleted = sim.events_of("customer.subscription.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["created"], FEB_28 + HOUR + 7 * DAY);
}

#[tokio::test]
async fn when_every_retry_fails_the_subscription_is_unpaid_if_so_configured() {
    // GIVEN the stand-in set to leave subscriptions unpaid, with retries after 1 and 2 days
    let sim = Sim::start_with(Config {
        billing: BillingSettings {
            after_last_failure: AfterLastFailure::Unpaid,
            retry_days: vec![1, 2],
            ..BillingSettings::default()
        },
        ..Config::default()
    })
    .await;
    // WHEN the renewal fails every time
    let (sub, plan) = exhaust_retries(&sim).await;
    // THEN the subscription is unpaid after three attempts, not canceled
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "unpaid");
    assert_eq!(sim.invoices(&plan.customer).await[0]["attempt_count"], 3);
    assert!(
        sim.events_of("customer.subscription.deleted")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn meter_event_timestamps_are_checked_against_the_customers_test_clock() {
    // GIVEN a customer on a clock frozen on Jan 31 (months before the wall clock)
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    // WHEN usage is sent for the clock's "now" and for a day after it
    let on_time = sim.usage(&plan, 1, JAN_31).await;
    let ahead = sim.usage(&plan, 1, JAN_31 + DAY).await;
    // THEN the first is accepted and stamped on the clock, the second is too far in the future
    assert_eq!(on_time.expect_ok()["created"], JAN_31);
    assert_eq!(
        ahead.expect_error(400, "invalid_request_error", None)["param"],
        "timestamp"
    );
    // AND once the clock moves 36 days on, Jan 31 is too far in the past
    sim.advance(&plan.clock, JAN_31 + 36 * DAY).await;
    let late = sim.usage(&plan, 1, JAN_31).await;
    assert_eq!(
        late.expect_error(400, "invalid_request_error", None)["param"],
        "timestamp"
    );
}

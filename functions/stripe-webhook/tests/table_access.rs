//! The DynamoDB requests the handler really sends, recorded on moto, against the function's
//! `MANIFEST` (which `crates/infra-check` compares with the IAM policy in `infra/`): every
//! request must be declared, and the paths driven here exercise every declared action.

#![allow(clippy::unwrap_used)]

mod support;

use billing_test_support::access_log::AccessLog;
use serde_json::json;
use support::{SECRET, World, answer, event, event_id};

#[tokio::test]
async fn every_dynamodb_request_of_the_handler_is_in_the_manifest() {
    let Some(mut w) = World::new("table_access", &[SECRET]).await else {
        return;
    };
    // GIVEN a linked customer with a subscription in the stand-in, and a logged store
    let stripe = w.linked_customer("tenant-access").await;
    let sub = w.subscription(&stripe).await;
    let log = AccessLog::new();
    w.store = log.attach_store(&w.store);
    // WHEN a checkout completes (claim, index lookup, first period, complete)
    let completed = event(
        &event_id(),
        "checkout.session.completed",
        json!({"id": "cs_test_access", "object": "checkout.session", "mode": "subscription",
               "status": "complete", "payment_status": "paid", "customer": stripe.as_str(),
               "subscription": sub["id"], "client_reference_id": "tenant-access"}),
    );
    assert_eq!(answer(&w.deliver(&completed).await).0, 200);
    // AND it is delivered again (a duplicate)
    assert_eq!(answer(&w.deliver(&completed).await).0, 200);
    // AND the subscription changes (an update over a stored period)
    let sub_id = sub["id"].as_str().unwrap();
    let updated = w
        .sim_post(
            &format!("/v1/subscriptions/{sub_id}"),
            &[("cancel_at_period_end", "true")],
        )
        .await;
    let body = event(&event_id(), "customer.subscription.updated", updated);
    assert_eq!(answer(&w.deliver(&body).await).0, 200);
    // AND an event names a Stripe customer not linked yet (released for Stripe's retry)
    let stranger = w.stripe_customer("tenant-stranger").await;
    let other = w.subscription(&stranger).await;
    let body = event(&event_id(), "customer.subscription.updated", other);
    assert_eq!(answer(&w.deliver(&body).await).0, 500);

    // THEN every request is declared in the manifest, and every declared action was used
    let accesses = log.accesses();
    let report = stripe_webhook::MANIFEST.compare_accesses(
        w.store.tables(),
        accesses
            .iter()
            .map(|a| (a.table.as_str(), a.index.as_deref(), a.action.as_str())),
    );
    println!("{} requests: {accesses:#?}", log.request_count());
    assert!(report.undeclared.is_empty(), "{report:#?}");
    assert!(report.unexercised.is_empty(), "{report:#?}");
    w.drop_tables().await;
}

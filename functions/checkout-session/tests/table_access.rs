//! The DynamoDB requests the handler really sends, recorded on moto, against the function's
//! `MANIFEST` (which `crates/infra-check` compares with the IAM policy in `infra/`): every
//! request must be declared, and the paths driven here exercise every declared action.

#![allow(clippy::unwrap_used)]

// The journey tests' world; this test uses a part of it.
#[allow(dead_code)]
mod support;

use billing_test_support::access_log::AccessLog;
use serde_json::{Value, json};
use support::World;

fn claims(customer: &str, user: &str) -> Value {
    json!({"sub": format!("sub-{user}"), "custom:customer_id": customer,
           "email": format!("{user}@example.com"), "name": user})
}

#[tokio::test]
async fn every_dynamodb_request_of_the_handler_is_in_the_manifest() {
    let Some(mut w) = World::new("table_access").await else {
        return;
    };
    // GIVEN a signed-up customer (the sign-up's requests are not this function's)
    w.sign_up("tenant-access", "ann", None).await;
    let log = AccessLog::new();
    w.store = log.attach_store(&w.store);
    // WHEN the customer starts a checkout twice (the second finds the open session)
    let (status, first) = w.checkout(Some(claims("tenant-access", "ann")), "").await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = w.checkout(Some(claims("tenant-access", "ann")), "").await;
    assert_eq!((status, &again["id"]), (200, &first["id"]));
    // AND a customer whose sign-up never reached Stripe starts one (customer created lazily)
    let (status, late) = w.checkout(Some(claims("tenant-late", "bob")), "").await;
    assert_eq!(status, 200, "{late}");
    // THEN every request is declared, and every declared action used
    let accesses = log.accesses();
    let report = checkout_session::MANIFEST.compare_accesses(
        w.store.tables(),
        accesses
            .iter()
            .map(|a| (a.table.as_str(), a.index.as_deref(), a.action.as_str())),
    );
    println!("{} requests: {accesses:#?}", log.request_count());
    assert!(report.undeclared.is_empty(), "{report:#?}");
    assert!(report.unexercised.is_empty(), "{report:#?}");
    w.finish().await;
}

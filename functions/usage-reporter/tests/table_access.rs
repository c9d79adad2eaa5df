//! The DynamoDB requests the handler really sends, recorded on moto, against the function's
//! `MANIFEST` (which `crates/infra-check` compares with the IAM policy in `infra/`): every
//! request must be declared, and the paths driven here exercise every declared action.

#![allow(clippy::unwrap_used)]

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use billing::money::AllowanceMode;
use billing::ports::Clock;
use billing_test_support::access_log::AccessLog;
use serde_json::json;
use support::{World, scheduled_event};

#[tokio::test]
async fn every_dynamodb_request_of_the_handler_is_in_the_manifest() {
    let Some(mut w) = World::new("table_access", AllowanceMode::App).await else {
        return;
    };
    // GIVEN records written by a producer (not by this function): two for the stream, one the
    // stream lost, one of an unknown customer, one unreadable
    let c = w.subscribed("tenant-access").await;
    let now = w.clock.now();
    let first = w.write("access-1", &c, "4", now - 600).await;
    let second = w.write("access-2", &c, "4.5", now - 600).await;
    w.write("access-lost", &c, "0.25", now - 600).await;
    let bad = w
        .write_raw(&[
            ("usage_id", AttributeValue::S("access-bad".into())),
            ("customer_id", AttributeValue::S(c.customer_id.to_string())),
            ("openai_cost_usd", AttributeValue::S("abc".into())),
            (
                "occurred_at",
                AttributeValue::N(c.period.start().to_string()),
            ),
            ("created_at", AttributeValue::N(now.to_string())),
        ])
        .await;
    let log = AccessLog::new();
    w.store = log.attach_store(&w.store);
    // WHEN the stream delivers a batch (apply, ledger, intent, meter event, mark sent, reject)
    let attempts = w.deliver(&w.inserts(&[first.clone(), second, bad])).await;
    assert_eq!(attempts, 1);
    // AND replays a record already applied
    w.deliver(&w.inserts(&[first])).await;
    // AND the schedule sweeps what the stream lost
    let answer = w.invoke(scheduled_event()).await.unwrap();
    assert_eq!(answer["swept"]["applied"], json!(1), "{answer}");
    // (8.75 of cost bills 17.50, 7.50 over the allowance)
    assert_eq!(w.units(&c).await, 750);

    // THEN every request is declared in the manifest, and every declared action was used
    let accesses = log.accesses();
    let report = usage_reporter::MANIFEST.compare_accesses(
        w.store.tables(),
        accesses
            .iter()
            .map(|a| (a.table.as_str(), a.index.as_deref(), a.action.as_str())),
    );
    println!("{} requests: {accesses:#?}", log.request_count());
    assert!(report.undeclared.is_empty(), "{report:#?}");
    // (the one path not driven here: a late record's ConditionCheck that its period is not the
    // customer's current one; the core's tests and the store's contract suite cover it)
    assert_eq!(
        report.unexercised,
        vec!["ConditionCheckItem on Customers".to_string()],
        "{report:#?}"
    );
    w.drop_tables().await;
}

//! The same stack on DynamoDB (moto): tables created at start, the journey's figures unchanged,
//! and the stream's images read back from the table. Skipped (with a printed line) when
//! `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless `BILLING_REQUIRE_DYNAMODB=1`.

#![allow(clippy::unwrap_used)]

mod support;

use billing::money::AllowanceMode;
use support::{Local, unix};

fn endpoint() -> Option<String> {
    match std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT") {
        Ok(endpoint) => Some(endpoint),
        Err(_) if std::env::var("BILLING_REQUIRE_DYNAMODB").as_deref() == Ok("1") => {
            panic!("BILLING_REQUIRE_DYNAMODB=1 but BILLING_TEST_DYNAMODB_ENDPOINT is not set")
        }
        Err(_) => {
            println!("skipped: set BILLING_TEST_DYNAMODB_ENDPOINT to a moto server to run it");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journey_runs_the_same_on_dynamodb() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let prefix = format!("ls{}", fastrand::u32(..));
    let local = Local::on_dynamodb(&endpoint, &prefix, AllowanceMode::App).await;
    // GIVEN a subscribed customer (the tables were created at start)
    let (_, token, stripe_customer) = local.sign_up("fay@example.com").await;
    local.subscribe(&token).await;
    let view = local
        .subscription_when(&token, |v| v["status"] == "active")
        .await;
    assert_eq!(view["status"], "active", "{view}");
    let (start, end) = (
        unix(&view["current_period_start"]),
        unix(&view["current_period_end"]),
    );
    // WHEN $8.00 of cost is written in 4 records
    for cost in ["2", "2.5", "1.5", "2"] {
        let body = format!(r#"{{"openai_cost_usd": "{cost}"}}"#);
        let (status, answer) = local.post("/dev/usage", Some(&token), &body).await;
        assert_eq!(status, 201, "{answer}");
    }
    // THEN $16.00 is billed and 600 units reach the meter
    let view = local
        .subscription_when(&token, |v| v["usage"]["billed_usd"] == "16.00")
        .await;
    assert_eq!(view["usage"]["overage_usd"], "6.00", "{view}");
    local.stream_drained().await;
    assert_eq!(local.meter_units(&stripe_customer, start, end).await, 600);
    // AND the usage records are in the DynamoDB table, applied
    let dynamo = local.stack.shared().stores.dynamo.clone().unwrap();
    let items = dynamo
        .client()
        .scan()
        .table_name(format!("{prefix}_usage_records"))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|i| i.contains_key("applied_at")));
    // WHEN the clock passes the period end THEN the invoice is $35.00 and the period resets
    let (status, _) = local
        .post("/dev/clock/advance", Some(&token), r#"{"days": 32}"#)
        .await;
    assert_eq!(status, 200);
    let view = local
        .subscription_when(&token, |v| unix(&v["current_period_start"]) == end)
        .await;
    assert_eq!(view["usage"]["billed_usd"], "0.00", "{view}");
    let invoices = local
        .stripe_get(&format!(
            "/v1/invoices?customer={stripe_customer}&status=paid"
        ))
        .await;
    let cycle: Vec<_> = invoices["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["billing_reason"] == "subscription_cycle")
        .collect();
    assert_eq!(cycle.len(), 1, "{invoices}");
    assert_eq!(cycle[0]["amount_paid"], 3_500);
    local.stack.shutdown().await;
    for table in [
        "customers",
        "usage_records",
        "webhook_events",
        "billing_ledger",
    ] {
        let _ = dynamo
            .client()
            .delete_table()
            .table_name(format!("{prefix}_{table}"))
            .send()
            .await;
    }
}

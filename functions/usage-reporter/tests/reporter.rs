//! End to end: real DynamoDB Stream batches (built from `tests/fixtures/`, with the images read
//! back from a `usage_records` table on moto) and the EventBridge scheduled event into the
//! handler, Stripe being the stand-in over HTTP. What Stripe counted is read from the stand-in's
//! meter event summaries and compared with an integer oracle. Skipped (with a printed line) when
//! `BILLING_TEST_DYNAMODB_ENDPOINT` is not set, unless `BILLING_REQUIRE_DYNAMODB=1`.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use billing::ids::UsageId;
use billing::money::{AllowanceMode, Usd};
use billing::ports::{Clock, UsageLedger};
use billing::stripe::{NewMeterEvent, StripeApi};
use billing::usage::{MeterIntent, UsageRecord};
use serde_json::{Value, json};
use support::{World, batch, failed_sequences, oracle_units, scheduled_event, usd_text};

/// Delivers 200 records of one customer in random batches, some concurrently, then replays
/// every batch whole and in halves; checks the units against the oracle after each phase.
async fn two_hundred_records_bill_exactly_the_oracle(mode: AllowanceMode, seed: u64) {
    let Some(w) = World::new(&format!("two_hundred_{mode:?}"), mode).await else {
        return;
    };
    // GIVEN 200 records of random costs ($0.000001 to $0.20) written by a producer
    let c = w.subscribed("tenant-200").await;
    let mut rng = fastrand::Rng::with_seed(seed);
    let now = w.clock.now();
    let mut images = Vec::new();
    let mut total_micros = 0;
    for i in 0..200 {
        let micros = rng.u64(1..=200_000);
        total_micros += micros;
        images.push(
            w.write(&format!("u{i:03}"), &c, &usd_text(micros), now)
                .await,
        );
    }
    let expected = oracle_units(mode, total_micros);
    assert!(
        total_micros * 2 > 10_000_000,
        "the batch must cross the allowance"
    );
    // AND the stream cuts them into random batches
    let mut batches = Vec::new();
    let mut rest = &images[..];
    while !rest.is_empty() {
        let size = rng.usize(1..=rest.len().min(25));
        batches.push(w.inserts(&rest[..size]));
        rest = &rest[size..];
    }
    // WHEN the batches are delivered, every other pair at once (two invocations, one customer)
    for (i, pair) in batches.chunks(2).enumerate() {
        if pair.len() == 2 && i % 2 == 0 {
            tokio::join!(w.deliver(&pair[0]), w.deliver(&pair[1]));
        } else {
            for b in pair {
                w.deliver(b).await;
            }
        }
    }
    // THEN Stripe counted exactly the oracle's units
    assert_eq!(w.units(&c).await, expected, "{mode:?}");
    // WHEN every batch is replayed whole and bisected, as Lambda's retries and bisection do
    for b in &batches {
        w.deliver(b).await;
        let records = b["Records"].as_array().unwrap();
        let (left, right) = records.split_at(records.len() / 2);
        for half in [left, right] {
            if !half.is_empty() {
                w.deliver(&batch(half.to_vec())).await;
            }
        }
    }
    // THEN nothing changes
    assert_eq!(w.units(&c).await, expected, "{mode:?} after replays");
    w.drop_tables().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_random_records_in_random_concurrent_batches_bill_the_oracle_in_mode_stripe() {
    two_hundred_records_bill_exactly_the_oracle(AllowanceMode::Stripe, 20_261_126).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_random_records_in_random_concurrent_batches_bill_the_oracle_in_mode_app() {
    two_hundred_records_bill_exactly_the_oracle(AllowanceMode::App, 7).await;
}

#[tokio::test]
async fn modify_and_remove_are_ignored_and_a_malformed_record_is_rejected_while_the_rest_is_billed()
{
    let Some(w) = World::new("modify_remove_malformed", AllowanceMode::Stripe).await else {
        return;
    };
    // GIVEN three good records, two pending records seen only as MODIFY and REMOVE, and an item
    // whose cost is "abc"
    let c = w.subscribed("tenant-mixed").await;
    let now = w.clock.now();
    let g1 = w.write("good-1", &c, "0.05", now).await;
    let g2 = w.write("good-2", &c, "0.1", now).await;
    let g3 = w.write("good-3", &c, "0.125", now).await;
    let modified = w.write("modified-only", &c, "3", now).await;
    let removed = w.write("removed-only", &c, "4", now).await;
    let bad = w
        .write_raw(&[
            ("usage_id", AttributeValue::S("bad-cost".into())),
            ("customer_id", AttributeValue::S(c.customer_id.to_string())),
            ("openai_cost_usd", AttributeValue::S("abc".into())),
            (
                "occurred_at",
                AttributeValue::N(c.period.start().to_string()),
            ),
            ("created_at", AttributeValue::N(now.to_string())),
        ])
        .await;
    let garbage = json!({"usage_id": {"S": "garbage"}, "openai_cost_usd": {"S": "abc"}});
    let records = vec![
        w.stream_record("INSERT", &g1),
        w.stream_record("MODIFY", &modified),
        w.stream_record("INSERT", &g2),
        w.stream_record("REMOVE", &removed),
        w.stream_record("INSERT", &bad),
        w.stream_record("MODIFY", &garbage),
        w.stream_record("INSERT", &g3),
    ];
    // WHEN the batch is delivered
    let answer = w.invoke(batch(records)).await.unwrap();
    // THEN nothing is to retry
    assert_eq!(answer, json!({"batchItemFailures": []}));
    // AND the malformed record is rejected with its reason
    let bad_item = w.raw_item("bad-cost").await.unwrap();
    match bad_item.get("rejected_reason") {
        Some(AttributeValue::S(reason)) => assert!(reason.contains("openai_cost_usd"), "{reason}"),
        other => panic!("not rejected: {other:?}"),
    }
    // AND the good ones are billed: 2 × $0.275 = 55 units; the MODIFY/REMOVE ones are not
    assert_eq!(w.units(&c).await, 55);
    for id in ["modified-only", "removed-only"] {
        assert!(
            !w.raw_item(id).await.unwrap().contains_key("applied_at"),
            "{id}"
        );
    }
    w.drop_tables().await;
}

#[tokio::test]
async fn only_the_records_of_a_customer_whose_subscription_is_not_known_yet_are_retried() {
    let Some(w) = World::new("partial_failure", AllowanceMode::Stripe).await else {
        return;
    };
    // GIVEN a subscribed customer, and a customer whose checkout webhook has not arrived yet
    // (linked, no subscription) with one recent record and one from an hour ago
    let c = w.subscribed("tenant-paying").await;
    let waiting = w.unsubscribed("tenant-waiting").await;
    let now = w.clock.now();
    let a1 = w.write("paying-1", &c, "0.2", now).await;
    let a2 = w.write("paying-2", &c, "0.3", now).await;
    let record = |id: &str, occurred_at: i64| UsageRecord {
        usage_id: UsageId::parse(id).unwrap(),
        customer_id: waiting.clone(),
        openai_cost_usd: Usd::parse("1").unwrap(),
        occurred_at,
    };
    let recent = w.write_record(&record("waiting-recent", now - 5)).await;
    let old = w.write_record(&record("waiting-old", now - 3_600)).await;
    let records = vec![
        w.stream_record("INSERT", &a1),
        w.stream_record("INSERT", &recent),
        w.stream_record("INSERT", &old),
        w.stream_record("INSERT", &a2),
    ];
    let recent_sequence = records[1]["dynamodb"]["SequenceNumber"].clone();
    // WHEN the batch is delivered
    let answer = w.invoke(batch(records)).await.unwrap();
    // THEN only the waiting customer's recent record is to be retried (the old one is rejected
    // for good, so it is not retried with it)
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": recent_sequence}]})
    );
    // AND the old one is recorded as never billable, and the paying customer is billed
    let old_item = w.raw_item("waiting-old").await.unwrap();
    assert!(
        matches!(old_item.get("rejected_reason"), Some(AttributeValue::S(r)) if r.contains("no billable subscription")),
        "{old_item:?}"
    );
    assert_eq!(w.units(&c).await, 100);
    w.drop_tables().await;
}

#[tokio::test]
async fn a_record_the_stream_never_delivered_is_billed_by_the_scheduled_sweep() {
    let Some(w) = World::new("lost_record_swept", AllowanceMode::Stripe).await else {
        return;
    };
    // GIVEN three records written ten minutes ago, of which the stream delivered two, and one
    // written just now
    let c = w.subscribed("tenant-lost").await;
    let now = w.clock.now();
    let seen_1 = w.write("seen-1", &c, "0.25", now - 600).await;
    let seen_2 = w.write("seen-2", &c, "0.5", now - 600).await;
    w.write("lost", &c, "1.25", now - 600).await;
    w.write("recent", &c, "2", now).await;
    w.deliver(&w.inserts(&[seen_1, seen_2])).await;
    assert_eq!(w.units(&c).await, 150);
    // WHEN the schedule fires
    let answer = w.invoke(scheduled_event()).await.unwrap();
    // THEN the lost record is applied and billed, the recent one left to the stream
    assert_eq!(answer["swept"]["applied"], json!(1), "{answer}");
    assert_eq!(answer["swept"]["failed"], json!(0), "{answer}");
    assert_eq!(w.units(&c).await, 400);
    assert!(
        !w.raw_item("recent")
            .await
            .unwrap()
            .contains_key("applied_at")
    );
    // AND a second sweep changes nothing
    let again = w.invoke(scheduled_event()).await.unwrap();
    assert_eq!(again["swept"]["applied"], json!(0), "{again}");
    assert_eq!(w.units(&c).await, 400);
    w.drop_tables().await;
}

#[tokio::test]
async fn meter_event_faults_fail_the_records_and_their_retry_bills_exactly_once() {
    let Some(w) = World::new("faults", AllowanceMode::App).await else {
        return;
    };
    for (i, (fault, when)) in [("500", "before"), ("429", "before"), ("500", "after")]
        .into_iter()
        .enumerate()
    {
        // GIVEN a customer over the allowance with five records in one batch
        let c = w.subscribed(&format!("tenant-fault-{i}")).await;
        let now = w.clock.now();
        let mut images = Vec::new();
        for (j, cost) in ["4", "1.5", "0.000007", "0.333333", "0.17"]
            .iter()
            .enumerate()
        {
            images.push(w.write(&format!("f{i}-{j}"), &c, cost, now).await);
        }
        let expected = oracle_units(AllowanceMode::App, 6_003_340);
        let stream_batch = w.inserts(&images);
        // AND meter events fail for longer than the client retries (1 + 5 attempts)
        w.arm_fault(json!({"method": "POST", "path": "/v1/billing/meter_events",
                           "fault": fault, "when": when, "times": 6}))
            .await;
        // WHEN the batch is delivered
        let answer = w.invoke(stream_batch.clone()).await.unwrap();
        // THEN every record is to be retried, and none is reported twice
        let all: Vec<String> = stream_batch["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(failed_sequences(&answer), all, "{fault} {when}");
        // WHEN Lambda retries the batch
        let deliveries = w.deliver(&stream_batch).await;
        // THEN it goes through and Stripe counted the oracle's units once
        assert_eq!(deliveries, 1, "{fault} {when}");
        assert_eq!(w.units(&c).await, expected, "{fault} {when}");
        assert!(w.meter_event_calls(&c) >= 2, "{fault} {when}");
    }
    w.drop_tables().await;
}

/// Meter events that time out: the stand-in holds the answer 10 s (`timeout` fault) while the
/// client gives each attempt 300 ms. Held before the event takes effect, after it did (the
/// client's retry replays it under the same `Idempotency-Key`), longer than the client retries
/// (the invocation fails and Lambda retries the batch) or only once (the client's own retry gets
/// through): Stripe counts the oracle's units once in every case.
async fn meter_event_timeouts_bill_exactly_once(mode: AllowanceMode) {
    let Some(w) = World::with_stripe_timeout(
        &format!("timeouts_{mode:?}"),
        mode,
        std::time::Duration::from_millis(300),
    )
    .await
    else {
        return;
    };
    for (i, (when, times)) in [("before", 6_u32), ("after", 6), ("after", 1), ("before", 1)]
        .into_iter()
        .enumerate()
    {
        let what = format!("{mode:?} timeout {when} x{times}");
        // GIVEN a customer with five records over the allowance in one batch
        let c = w.subscribed(&format!("tenant-timeout-{i}")).await;
        let now = w.clock.now();
        let mut images = Vec::new();
        for (j, cost) in ["4", "1.5", "0.000007", "0.333333", "0.17"]
            .iter()
            .enumerate()
        {
            images.push(w.write(&format!("t{i}-{j}"), &c, cost, now).await);
        }
        let expected = oracle_units(mode, 6_003_340);
        let stream_batch = w.inserts(&images);
        // AND the next `times` meter event calls time out (1 + 5 attempts per invocation)
        w.arm_fault(json!({"method": "POST", "path": "/v1/billing/meter_events",
                           "fault": "timeout", "hold_ms": 10_000, "when": when, "times": times}))
            .await;
        // WHEN the batch is delivered, and redelivered while records fail
        let started = std::time::Instant::now();
        let deliveries = w.deliver(&stream_batch).await;
        // THEN the calls really timed out: each held attempt gave up after 300 ms, none waited
        // for the held answer
        let elapsed = started.elapsed();
        let min_wait = std::time::Duration::from_millis(300 * u64::from(times));
        assert!(elapsed >= min_wait, "{what}: {elapsed:?}");
        assert!(
            elapsed < std::time::Duration::from_secs(10),
            "{what}: {elapsed:?}"
        );
        // AND the invocation failed only when every attempt timed out
        assert_eq!(deliveries, if times == 6 { 2 } else { 1 }, "{what}");
        // AND Stripe counted the oracle's units once
        assert_eq!(w.units(&c).await, expected, "{what}");
        assert_eq!(
            w.meter_event_calls(&c),
            deliveries,
            "{what}: one reporter call per invocation"
        );
    }
    w.drop_tables().await;
}

#[tokio::test]
async fn meter_event_timeouts_bill_exactly_once_in_mode_app() {
    meter_event_timeouts_bill_exactly_once(AllowanceMode::App).await;
}

#[tokio::test]
async fn meter_event_timeouts_bill_exactly_once_in_mode_stripe() {
    meter_event_timeouts_bill_exactly_once(AllowanceMode::Stripe).await;
}

/// How many customers the one-batch test uses on moto: 100, or `USAGE_REPORTER_E2E_CUSTOMERS`.
/// The 1,000 run in `many_customers.rs` on the memory store: moto deep-copies a table for
/// every item of a transaction (and keeps the copies), so each customer's apply costs time and
/// memory in proportion to the tables (about 0.15 s per transaction item at 2,000 records); 1,000
/// customers here run for many minutes and grow moto past 20 GB.
fn customers_in_one_batch() -> usize {
    std::env::var("USAGE_REPORTER_E2E_CUSTOMERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100)
}

#[tokio::test]
async fn one_batch_of_many_customers_sends_one_meter_event_per_customer_owing_units() {
    let Some(w) = World::new("many_customers", AllowanceMode::App).await else {
        return;
    };
    // GIVEN customers with two records each, half of them over the $10 allowance
    let mut rng = fastrand::Rng::with_seed(1_000);
    let now = w.clock.now();
    let mut customers = Vec::new();
    let mut images = Vec::new();
    for i in 0..customers_in_one_batch() {
        let c = w.subscribed(&format!("tenant-{i:04}")).await;
        let total = if i % 2 == 0 {
            rng.u64(5_010_000..9_000_000)
        } else {
            rng.u64(2..5_000_000)
        };
        let first = rng.u64(1..total);
        images.push(w.write(&format!("m{i}-a"), &c, &usd_text(first), now).await);
        images.push(
            w.write(&format!("m{i}-b"), &c, &usd_text(total - first), now)
                .await,
        );
        customers.push((c, oracle_units(AllowanceMode::App, total)));
    }
    // WHEN they arrive in one stream batch
    let answer = w.invoke(w.inserts(&images)).await.unwrap();
    // THEN nothing is to retry
    assert_eq!(answer, json!({"batchItemFailures": []}));
    // AND each customer owing units got exactly one meter event with them, the others none
    for (c, expected) in &customers {
        let calls = w.meter_event_calls(c);
        assert_eq!(
            calls,
            usize::from(*expected > 0),
            "{} owes {expected}",
            c.customer_id
        );
        assert_eq!(w.units(c).await, *expected, "{}", c.customer_id);
    }
    assert!(customers.iter().any(|(_, u)| *u > 0) && customers.iter().any(|(_, u)| *u == 0));
    w.drop_tables().await;
}

#[tokio::test]
async fn a_payload_of_another_trigger_fails_the_invocation() {
    let Some(w) = World::new("other_trigger", AllowanceMode::App).await else {
        return;
    };
    // GIVEN an SQS batch, which this function is not wired to
    let sqs = json!({"Records": [{"messageId": "1", "eventSource": "aws:sqs", "body": "{}"}]});
    // WHEN invoked THEN it is an error, so the misconfiguration shows
    let error = w.invoke(sqs).await.unwrap_err();
    assert!(error.to_string().contains("unrecognised event"), "{error}");
    let diagnostic: lambda_runtime::Diagnostic = error.into();
    assert_eq!(diagnostic.error_type, "UsageReporter.UnrecognisedEvent");
    // AND an empty object is refused too
    assert!(w.invoke(Value::Object(Default::default())).await.is_err());
    w.drop_tables().await;
}

#[tokio::test]
async fn an_old_pending_intent_is_settled_by_the_sweep_whatever_second_its_period_starts() {
    let Some(w) = World::new("old_intent_unaligned", AllowanceMode::Stripe).await else {
        return;
    };
    // GIVEN a customer whose period does not start on a whole minute (as most do on Stripe)
    let mut c = w.subscribed("tenant-old-intent").await;
    if c.period.start() % 60 == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        c = w.subscribed("tenant-old-intent-2").await;
    }
    assert_ne!(c.period.start() % 60, 0);
    // AND an intent persisted 25 hours ago whose meter event Stripe received, the invocation
    // having stopped before marking it sent
    let now = w.clock.now();
    let intent = MeterIntent {
        from: 0,
        to: 7,
        timestamp: c.period.start() + 10,
        identifier: MeterIntent::identifier_for(&c.customer_id, c.period.start(), 0, 7),
        created_at: now - 90_000,
    };
    w.store
        .begin_intent(&c.customer_id, &c.period, &intent)
        .await
        .unwrap();
    w.stand_in
        .stripe
        .create_meter_event(&NewMeterEvent {
            event_name: support::EVENT_NAME.into(),
            stripe_customer_id: c.stripe_customer_id.clone(),
            value: 7,
            identifier: intent.identifier.clone(),
            timestamp: intent.timestamp,
        })
        .await
        .unwrap();
    // WHEN the schedule fires (STRIPE_METER_ID is set)
    let answer = w.invoke(scheduled_event()).await.unwrap();
    // THEN the intent is settled (confirmed from the summaries), not left pending for ever
    assert_eq!(answer["swept"]["left"], json!(0), "{answer}");
    assert!(w.store.list_pending_intents().await.unwrap().is_empty());
    assert_eq!(w.units(&c).await, 7);
    w.drop_tables().await;
}

#[tokio::test]
async fn one_unreadable_record_the_stream_never_delivered_does_not_stop_the_sweep() {
    let Some(w) = World::new("sweep_corrupt_record", AllowanceMode::Stripe).await else {
        return;
    };
    // GIVEN, written ten minutes ago and never delivered, a good record and an unreadable one
    let c = w.subscribed("tenant-sweep-corrupt").await;
    let now = w.clock.now();
    w.write("lost-good", &c, "0.5", now - 600).await;
    w.write_raw(&[
        ("usage_id", AttributeValue::S("lost-bad".into())),
        ("customer_id", AttributeValue::S(c.customer_id.to_string())),
        ("openai_cost_usd", AttributeValue::S("abc".into())),
        (
            "occurred_at",
            AttributeValue::N(c.period.start().to_string()),
        ),
        ("created_at", AttributeValue::N((now - 600).to_string())),
    ])
    .await;
    // WHEN the schedule fires
    let answer = w.invoke(scheduled_event()).await;
    // THEN the good record is billed (and the bad one is rejected or skipped)
    let answer = answer.unwrap();
    assert_eq!(answer["swept"]["applied"], json!(1), "{answer}");
    assert_eq!(w.units(&c).await, 100);
    w.drop_tables().await;
}

//! End to end: a crash at each of the reporter's fail points (after apply, after the intent is
//! persisted, after Stripe took the event but before it is marked sent, after it is marked sent),
//! in both allowance modes. The crash is injected through `ReporterDeps.fail_points`; the handler
//! answers the batch's records as failed, as Lambda sees a failed invocation. Then Lambda's retry
//! of the same batch and the scheduled sweep run, in both orders (one customer each), and Stripe's
//! meter event summaries, the ledger and the customer's period usage must equal the oracle: no unit
//! lost or doubled. A crash after apply is also recovered by the sweep alone, the stream never
//! retrying (retries exhausted, the records' pointers gone to the failure destination). Skipped
//! (with a printed line) without `BILLING_TEST_DYNAMODB_ENDPOINT`, unless
//! `BILLING_REQUIRE_DYNAMODB=1`.

#![allow(clippy::unwrap_used)]

mod support;

use billing::money::{AllowanceMode, Usd};
use billing::ports::{Clock, CustomerStore, UsageLedger};
use billing::service::usage_reporting::FailPoint;
use serde_json::Value;
use support::{Subscribed, World, failed_sequences, oracle_units, scheduled_event};

/// Already billed before the crash: $4.50 of OpenAI cost ($9 billed, under the $10 allowance).
const BEFORE: [&str; 2] = ["4", "0.5"];
/// The batch that crashes: $2.40334 more, so the total crosses the allowance.
const CRASHING: [&str; 5] = ["0.4", "0.000007", "0.333333", "0.17", "1.5"];
const BEFORE_MICROS: u64 = 4_500_000;
const CRASHING_MICROS: u64 = 2_403_340;

/// How the crashed batch is recovered.
#[derive(Debug, Clone, Copy)]
enum Recovery {
    /// Lambda retries the batch, then the schedule fires.
    RetryThenSweep,
    /// The schedule fires before Lambda's retry (and once more after it).
    SweepThenRetry,
}

async fn crash_and_recover(point: FailPoint, mode: AllowanceMode) {
    let Some(w) = World::new(&format!("crash_{point:?}_{mode:?}"), mode).await else {
        return;
    };
    for recovery in [Recovery::RetryThenSweep, Recovery::SweepThenRetry] {
        let what = format!("{point:?} {mode:?} {recovery:?}");
        // GIVEN a customer whose first $4.50 of usage is billed and settled, written ten
        // minutes ago so that the sweep would take anything left unapplied
        let c = w.subscribed(&format!("tenant-{recovery:?}")).await;
        let written = w.clock.now() - 600;
        let mut before = Vec::new();
        for (i, cost) in BEFORE.iter().enumerate() {
            before.push(
                w.write(&format!("{recovery:?}-a{i}"), &c, cost, written)
                    .await,
            );
        }
        w.deliver(&w.inserts(&before)).await;
        let units_before = oracle_units(mode, BEFORE_MICROS);
        assert_eq!(w.units(&c).await, units_before, "{what}");
        // AND a batch of five more records crossing the allowance
        let mut images = Vec::new();
        for (i, cost) in CRASHING.iter().enumerate() {
            images.push(
                w.write(&format!("{recovery:?}-b{i}"), &c, cost, written)
                    .await,
            );
        }
        let stream_batch = w.inserts(&images);
        let expected = oracle_units(mode, BEFORE_MICROS + CRASHING_MICROS);
        assert!(expected > units_before, "{what}: the batch must owe units");

        // WHEN the invocation crashes at the fail point
        w.crash.arm(point);
        let answer = w.invoke(stream_batch.clone()).await.unwrap();
        // THEN it struck, and every record of the batch is answered for retry
        assert!(!w.crash.is_armed(), "{what}: the crash never struck");
        assert_eq!(
            failed_sequences(&answer),
            sequences(&stream_batch),
            "{what}"
        );
        // AND the crash left Stripe and the ledger where that point says
        let ledger = w.ledger(&c, c.period.start()).await;
        let sent_at_crash = match point {
            FailPoint::AfterApply | FailPoint::AfterIntent => units_before,
            FailPoint::AfterSend | FailPoint::AfterMarkSent => expected,
        };
        assert_eq!(w.units(&c).await, sent_at_crash, "{what}: at the crash");
        let pending = ledger.pending.as_ref().map(|i| (i.from, i.to));
        match point {
            FailPoint::AfterApply | FailPoint::AfterMarkSent => assert_eq!(pending, None, "{what}"),
            FailPoint::AfterIntent | FailPoint::AfterSend => {
                assert_eq!(pending, Some((units_before, expected)), "{what}");
            }
        }

        // WHEN the batch is retried and the schedule fires, in this recovery's order
        match recovery {
            Recovery::RetryThenSweep => {
                assert_eq!(w.deliver(&stream_batch).await, 1, "{what}");
                sweep_leaves_nothing_pending(&w, &what).await;
            }
            Recovery::SweepThenRetry => {
                sweep_leaves_nothing_pending(&w, &what).await;
                assert_eq!(w.deliver(&stream_batch).await, 1, "{what}");
                sweep_leaves_nothing_pending(&w, &what).await;
            }
        }

        // THEN Stripe counted exactly the oracle's units, once
        assert_eq!(w.units(&c).await, expected, "{what}");
        // AND the ledger holds every record once and every unit as sent
        assert_settled(&w, &c, BEFORE_MICROS + CRASHING_MICROS, expected, &what).await;
        // AND a replay of both batches changes nothing
        w.deliver(&w.inserts(&before)).await;
        w.deliver(&stream_batch).await;
        assert_eq!(w.units(&c).await, expected, "{what} after replays");
        assert_settled(&w, &c, BEFORE_MICROS + CRASHING_MICROS, expected, &what).await;
    }
    w.drop_tables().await;
}

/// A crash after apply, the batch never delivered again: only the schedule runs, first before the
/// sweep's minimum age (nothing to do yet), then after it.
async fn crash_after_apply_then_sweep_alone(mode: AllowanceMode) {
    let Some(w) = World::new(&format!("crash_noretry_{mode:?}"), mode).await else {
        return;
    };
    let what = format!("AfterApply, no retry, {mode:?}");
    // GIVEN a customer (its Stripe side on a test clock, the reporter's clock pinned with it)
    // whose first $4.50 of usage is billed and settled
    let start = w.clock.now();
    let (c, test_clock) = w.subscribed_on_test_clock("tenant-noretry", start).await;
    let mut before = Vec::new();
    for (i, cost) in BEFORE.iter().enumerate() {
        before.push(w.write(&format!("noretry-a{i}"), &c, cost, start).await);
    }
    w.deliver(&w.inserts(&before)).await;
    let units_before = oracle_units(mode, BEFORE_MICROS);
    assert_eq!(w.units(&c).await, units_before, "{what}");
    // AND a batch crossing the allowance whose invocation crashes after applying it
    let mut images = Vec::new();
    for (i, cost) in CRASHING.iter().enumerate() {
        images.push(w.write(&format!("noretry-b{i}"), &c, cost, start).await);
    }
    let stream_batch = w.inserts(&images);
    let expected = oracle_units(mode, BEFORE_MICROS + CRASHING_MICROS);
    assert!(expected > units_before, "{what}: the batch must owe units");
    w.crash.arm(FailPoint::AfterApply);
    let answer = w.invoke(stream_batch.clone()).await.unwrap();
    assert!(!w.crash.is_armed(), "{what}: the crash never struck");
    assert_eq!(
        failed_sequences(&answer),
        sequences(&stream_batch),
        "{what}"
    );
    assert_eq!(w.units(&c).await, units_before, "{what}: at the crash");

    // WHEN the stream never retries, and the schedule fires before the sweep's minimum age
    sweep_leaves_nothing_pending(&w, &what).await;
    // THEN it leaves the fresh ledger to the stream
    assert_eq!(
        w.units(&c).await,
        units_before,
        "{what}: before the minimum age"
    );
    // WHEN the schedule fires again past the minimum age
    w.advance_test_clock(&test_clock, start + w.sweep.min_age_secs + 60)
        .await;
    sweep_leaves_nothing_pending(&w, &what).await;
    // THEN Stripe counted exactly the oracle's units, in one meter event for the owed rest
    assert_eq!(w.units(&c).await, expected, "{what}");
    assert_settled(&w, &c, BEFORE_MICROS + CRASHING_MICROS, expected, &what).await;
    assert!(
        w.store
            .list_unsettled_ledgers(i64::MAX)
            .await
            .unwrap()
            .is_empty(),
        "{what}: still unsettled"
    );
    // AND a later sweep, and a late redelivery of both batches, change nothing
    let calls = w.meter_event_calls(&c);
    sweep_leaves_nothing_pending(&w, &what).await;
    w.deliver(&w.inserts(&before)).await;
    w.deliver(&stream_batch).await;
    assert_eq!(w.units(&c).await, expected, "{what} after replays");
    assert_eq!(
        w.meter_event_calls(&c),
        calls,
        "{what}: no call after settling"
    );
    assert_settled(&w, &c, BEFORE_MICROS + CRASHING_MICROS, expected, &what).await;
    w.drop_tables().await;
}

/// Fires the schedule; checks that it failed nothing and left no intent pending.
async fn sweep_leaves_nothing_pending(w: &World, what: &str) {
    let answer = w.invoke(scheduled_event()).await.unwrap();
    assert_eq!(
        answer["swept"]["failed"],
        Value::from(0),
        "{what}: {answer}"
    );
    assert_eq!(answer["swept"]["left"], Value::from(0), "{what}: {answer}");
    assert!(
        w.store.list_pending_intents().await.unwrap().is_empty(),
        "{what}: pending after the sweep"
    );
}

/// The ledger of the customer's period: billed 2 × the cost, `units` intended and sent, nothing
/// pending; the customer's `current_period_usage` equal to the ledger total.
async fn assert_settled(w: &World, c: &Subscribed, micros: u64, units: u64, what: &str) {
    let billed = Usd::parse(&support::usd_text(2 * micros)).unwrap();
    let ledger = w.ledger(c, c.period.start()).await;
    assert_eq!(ledger.billed_total, billed, "{what}");
    assert_eq!(
        (ledger.units_intended, ledger.units_sent),
        (units, units),
        "{what}"
    );
    assert!(ledger.pending.is_none(), "{what}");
    let customer = w.store.get_customer(&c.customer_id).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, billed, "{what}");
}

fn sequences(stream_batch: &Value) -> Vec<String> {
    stream_batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_crash_after_apply_then_retry_and_sweep_bill_exactly_once_in_mode_app() {
    crash_and_recover(FailPoint::AfterApply, AllowanceMode::App).await;
}

#[tokio::test]
async fn a_crash_after_apply_then_retry_and_sweep_bill_exactly_once_in_mode_stripe() {
    crash_and_recover(FailPoint::AfterApply, AllowanceMode::Stripe).await;
}

#[tokio::test]
async fn a_crash_after_apply_never_retried_is_billed_by_the_sweep_alone_in_mode_app() {
    crash_after_apply_then_sweep_alone(AllowanceMode::App).await;
}

#[tokio::test]
async fn a_crash_after_apply_never_retried_is_billed_by_the_sweep_alone_in_mode_stripe() {
    crash_after_apply_then_sweep_alone(AllowanceMode::Stripe).await;
}

#[tokio::test]
async fn a_crash_after_the_intent_then_retry_and_sweep_bill_exactly_once_in_mode_app() {
    crash_and_recover(FailPoint::AfterIntent, AllowanceMode::App).await;
}

#[tokio::test]
async fn a_crash_after_the_intent_then_retry_and_sweep_bill_exactly_once_in_mode_stripe() {
    crash_and_recover(FailPoint::AfterIntent, AllowanceMode::Stripe).await;
}

#[tokio::test]
async fn a_crash_after_send_before_mark_sent_then_retry_and_sweep_bill_exactly_once_in_mode_app() {
    crash_and_recover(FailPoint::AfterSend, AllowanceMode::App).await;
}

#[tokio::test]
async fn a_crash_after_send_before_mark_sent_then_retry_and_sweep_bill_exactly_once_in_mode_stripe()
{
    crash_and_recover(FailPoint::AfterSend, AllowanceMode::Stripe).await;
}

#[tokio::test]
async fn a_crash_after_mark_sent_then_retry_and_sweep_bill_exactly_once_in_mode_app() {
    crash_and_recover(FailPoint::AfterMarkSent, AllowanceMode::App).await;
}

#[tokio::test]
async fn a_crash_after_mark_sent_then_retry_and_sweep_bill_exactly_once_in_mode_stripe() {
    crash_and_recover(FailPoint::AfterMarkSent, AllowanceMode::Stripe).await;
}

//! End to end: usage around a period end, with the customer on a Stripe test clock and the
//! reporter's clock pinned to it. A stream batch with records on both sides of the period end
//! (the renewal webhook not yet arrived) bills each side in its period, each meter event stamped
//! inside it; late usage inside Stripe's one-hour finalization grace lands on the closed period's
//! invoice; after the grace, on the next period's invoice, with the reason recorded on the record.
//! What Stripe counted is read from per-period meter event summaries and from the invoices' totals
//! (in both modes: $29 plus 1 cent per unit over the $10 allowance). Skipped (with a printed line)
//! without `BILLING_TEST_DYNAMODB_ENDPOINT`, unless `BILLING_REQUIRE_DYNAMODB=1`.

#![allow(clippy::unwrap_used)]

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use billing::ids::UsageId;
use billing::money::{AllowanceMode, Usd};
use billing::period::BillingPeriod;
use billing::ports::{Clock, CustomerStore};
use billing::usage::UsageRecord;
use serde_json::Value;
use support::{Subscribed, World, oracle_units};

/// The cents of a cycle invoice: the $29 base for the new period plus the closed period's usage
/// over the allowance (flat 1 cent a unit in `app`, the free first tier then 1 cent in `stripe`).
fn invoice_cents(usage_micros: u64) -> i64 {
    2_900 + i64::try_from(oracle_units(AllowanceMode::App, usage_micros)).unwrap()
}

/// `at` rounded down to a whole minute (meter event summaries take whole minutes).
fn minute(at: i64) -> i64 {
    at - at.rem_euclid(60)
}

async fn usage_around_the_period_end(mode: AllowanceMode) {
    let Some(w) = World::new(&format!("periods_{mode:?}"), mode).await else {
        return;
    };
    // GIVEN a customer subscribed now on a test clock: its first period is [start, end)
    let (c, clock) = w
        .subscribed_on_test_clock("tenant-periods", w.clock.now())
        .await;
    let first = c.period;
    let end = first.end();
    let record = |id: &str, cost: &str, occurred_at: i64| UsageRecord {
        usage_id: UsageId::parse(id).unwrap(),
        customer_id: c.customer_id.clone(),
        openai_cost_usd: Usd::parse(cost).unwrap(),
        occurred_at,
    };

    // AND the clock two minutes past the period end: Stripe has rolled the period and holds a
    // draft invoice for the first one, but the renewal webhook has not reached the store
    w.advance_test_clock(&clock, end + 120).await;
    let stored = w.store.get_customer(&c.customer_id).await.unwrap().unwrap();
    assert_eq!(stored.subscription.unwrap().current_period, Some(first));
    // WHEN one batch brings usage from after the end ($7.50) and from before it ($6.25)
    let after_end = w.write_record(&record("after-end", "7.5", end + 30)).await;
    let before_end = w
        .write_record(&record("before-end", "6.25", end - 60))
        .await;
    assert_eq!(w.deliver(&w.inserts(&[after_end, before_end])).await, 1);
    // THEN the reporter learnt the new period from Stripe
    let stored = w.store.get_customer(&c.customer_id).await.unwrap().unwrap();
    let second = stored.subscription.unwrap().current_period.unwrap();
    assert_eq!(second.start(), end);
    assert_eq!(stored.previous_period, Some(first));
    // AND each side is billed in its own period, one meter event each, stamped inside it
    let units_in =
        |period: BillingPeriod| w.units_between(&c, minute(period.start()), minute(period.end()));
    assert_eq!(
        units_in(first).await,
        oracle_units(mode, 6_250_000),
        "{mode:?}"
    );
    assert_eq!(
        units_in(second).await,
        oracle_units(mode, 7_500_000),
        "{mode:?}"
    );
    assert_billed(&w, &c, first, 6_250_000, mode).await;
    assert_billed(&w, &c, second, 7_500_000, mode).await;
    assert_applied(&w, "before-end", first, false).await;
    assert_applied(&w, "after-end", second, false).await;

    // WHEN late usage of the first period ($0.50) arrives ten minutes after its end, inside the
    // finalization grace
    w.advance_test_clock(&clock, end + 600).await;
    let late = w
        .write_record(&record("late-in-grace", "0.5", end - 10))
        .await;
    assert_eq!(w.deliver(&w.inserts(&[late])).await, 1);
    // THEN it is billed in the first period, without a late reason
    assert_eq!(
        units_in(first).await,
        oracle_units(mode, 6_750_000),
        "{mode:?}"
    );
    assert_billed(&w, &c, first, 6_750_000, mode).await;
    assert_applied(&w, "late-in-grace", first, false).await;

    // WHEN the grace ends
    w.advance_test_clock(&clock, end + 3_700).await;
    // THEN the first period's invoice is final with its usage: $29 + the units over $10
    let closed = cycle_invoice(&w, &c, first).await;
    assert_ne!(closed["status"], "draft", "{closed}");
    assert_eq!(
        closed["total"],
        Value::from(invoice_cents(6_750_000)),
        "{mode:?}"
    );

    // WHEN more usage of the first period ($1.25) arrives after the grace
    let too_late = w
        .write_record(&record("late-after-grace", "1.25", end - 5))
        .await;
    assert_eq!(w.deliver(&w.inserts(&[too_late])).await, 1);
    // THEN it is billed in the current period, with the reason on the record
    assert_applied(&w, "late-after-grace", second, true).await;
    assert_eq!(
        units_in(first).await,
        oracle_units(mode, 6_750_000),
        "{mode:?}"
    );
    assert_eq!(
        units_in(second).await,
        oracle_units(mode, 8_750_000),
        "{mode:?}"
    );
    assert_billed(&w, &c, second, 8_750_000, mode).await;
    // AND the closed invoice is unchanged
    let closed = cycle_invoice(&w, &c, first).await;
    assert_eq!(
        closed["total"],
        Value::from(invoice_cents(6_750_000)),
        "{mode:?}"
    );

    // WHEN the second period ends and its grace passes
    w.advance_test_clock(&clock, second.end() + 3_700).await;
    // THEN its invoice carries the late usage: $29 + the units of $7.50 + $1.25 over $10
    let next = cycle_invoice(&w, &c, second).await;
    assert_ne!(next["status"], "draft", "{next}");
    assert_eq!(
        next["total"],
        Value::from(invoice_cents(8_750_000)),
        "{mode:?}"
    );
    w.drop_tables().await;
}

/// The ledger of `period` holds `micros` of OpenAI cost billed twice over, and its units, all
/// sent.
async fn assert_billed(
    w: &World,
    c: &Subscribed,
    period: BillingPeriod,
    micros: u64,
    mode: AllowanceMode,
) {
    let ledger = w.ledger(c, period.start()).await;
    assert_eq!(
        ledger.billed_total,
        Usd::parse(&support::usd_text(2 * micros)).unwrap(),
        "{mode:?} {period:?}"
    );
    let units = oracle_units(mode, micros);
    assert_eq!(
        (ledger.units_intended, ledger.units_sent, ledger.pending),
        (units, units, None),
        "{mode:?} {period:?}"
    );
}

/// The record `id` was applied to `period`, with a late reason or without.
async fn assert_applied(w: &World, id: &str, period: BillingPeriod, late: bool) {
    let item = w.raw_item(id).await.unwrap();
    assert_eq!(
        item.get("applied_period_start"),
        Some(&AttributeValue::N(period.start().to_string())),
        "{id}: {item:?}"
    );
    match (late, item.get("late_reason")) {
        (false, None) => {}
        (true, Some(AttributeValue::S(reason))) => {
            assert!(reason.contains("before the current period"), "{reason}");
        }
        (_, other) => panic!("{id}: late {late}, late_reason {other:?}"),
    }
}

/// The stand-in's cycle invoice of `period` for the customer.
async fn cycle_invoice(w: &World, c: &Subscribed, period: BillingPeriod) -> Value {
    let invoices = w.invoices(c).await;
    let matching: Vec<&Value> = invoices
        .iter()
        .filter(|i| {
            i["billing_reason"] == "subscription_cycle"
                && i["period_start"] == period.start()
                && i["period_end"] == period.end()
        })
        .collect();
    assert_eq!(matching.len(), 1, "{period:?}: {invoices:?}");
    matching[0].clone()
}

#[tokio::test]
async fn usage_around_a_period_end_is_billed_in_its_period_and_late_usage_by_the_grace_in_mode_app()
{
    usage_around_the_period_end(AllowanceMode::App).await;
}

#[tokio::test]
async fn usage_around_a_period_end_is_billed_in_its_period_and_late_usage_by_the_grace_in_mode_stripe()
 {
    usage_around_the_period_end(AllowanceMode::Stripe).await;
}

//! End to end at scale: 1,000 customers in one DynamoDB Stream batch, through the handler and the
//! Stripe stand-in over HTTP, on the core's memory store. (The same test on moto is in
//! `reporter.rs` with 100 customers by default: moto copies a whole table for every item of a
//! transaction, so 1,000 customers there take minutes and gigabytes; the store contract suite keeps
//! the memory store and DynamoDB equal.) Runs without moto.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use billing::ids::{CustomerId, UsageId};
use billing::memory::MemoryStore;
use billing::money::{AllowanceMode, Usd};
use billing::ports::{Clock, CustomerStore, SystemClock, UsageLedger};
use billing::subscription::SubscriptionSnapshot;
use billing::usage::UsageRecord;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{StandIn, Subscribed, batch, oracle_units, pricing, stream_record, usd_text};
use usage_reporter::{Deps, ReporterDeps, ReporterSettings, SweepConfig};

const CUSTOMERS: usize = 1_000;

/// A `usage_records` item as the README documents it for producers, as its stream image.
fn producer_image(record: &UsageRecord, created_at: i64) -> Value {
    json!({
        "usage_id": {"S": record.usage_id.as_str()},
        "customer_id": {"S": record.customer_id.as_str()},
        "openai_cost_usd": {"N": record.openai_cost_usd.to_string()},
        "occurred_at": {"N": record.occurred_at.to_string()},
        "created_at": {"N": created_at.to_string()},
    })
}

/// One subscribed customer (number `i`) with two records totalling `total` micros of OpenAI
/// cost; returns it with its records' stream images.
async fn customer_with_usage(
    stand_in: &StandIn,
    store: &MemoryStore,
    i: usize,
    total: u64,
    first: u64,
    now: i64,
) -> (Subscribed, Vec<Value>) {
    let name = format!("tenant-{i:04}");
    let (stripe_customer_id, subscription) = stand_in.subscribe(&name, None).await;
    let customer_id = CustomerId::parse(&name).unwrap();
    store
        .link_stripe_customer(&customer_id, &stripe_customer_id, now)
        .await
        .unwrap();
    let snapshot = SubscriptionSnapshot::from_stripe(&subscription, 1);
    let period = snapshot.current_period.unwrap();
    store
        .apply_subscription(&customer_id, &snapshot, now)
        .await
        .unwrap();
    let mut images = Vec::new();
    for (suffix, micros) in [("a", first), ("b", total - first)] {
        let record = UsageRecord {
            usage_id: UsageId::parse(format!("m{i}-{suffix}")).unwrap(),
            customer_id: customer_id.clone(),
            openai_cost_usd: Usd::parse(&usd_text(micros)).unwrap(),
            occurred_at: (now - 5).max(period.start()),
        };
        assert!(store.put_usage_record(&record, now).await.unwrap());
        images.push(producer_image(&record, now));
    }
    let subscribed = Subscribed {
        customer_id,
        stripe_customer_id,
        period,
    };
    (subscribed, images)
}

async fn a_thousand_customers_in_one_batch(mode: AllowanceMode) {
    // (no artificial meter event delay: one call per customer never meets the concurrency limit)
    let stand_in = StandIn::start_with(mode, Duration::from_secs(10), Duration::ZERO).await;
    let store = MemoryStore::new();
    let clock = SystemClock;
    let now = clock.now();
    // GIVEN 1,000 subscribed customers with two records each: half of them over the $10
    // allowance, the other half under it (owing nothing in mode app); set up four at a time
    let mut rng = fastrand::Rng::with_seed(1_000);
    let totals: Vec<(u64, u64)> = (0..CUSTOMERS)
        .map(|i| {
            let total = if i % 2 == 0 {
                rng.u64(5_010_000..9_000_000)
            } else {
                rng.u64(2..5_000_000)
            };
            (total, rng.u64(1..total))
        })
        .collect();
    let set_up = |lane: usize| {
        let (stand_in, store, totals) = (&stand_in, &store, &totals);
        async move {
            let mut made = Vec::new();
            for i in (lane..CUSTOMERS).step_by(4) {
                let (total, first) = totals[i];
                let (c, images) = customer_with_usage(stand_in, store, i, total, first, now).await;
                made.push((c, oracle_units(mode, total), images));
            }
            made
        }
    };
    let (a, b, c, d) = tokio::join!(set_up(0), set_up(1), set_up(2), set_up(3));
    let mut customers = Vec::new();
    let mut records = Vec::new();
    for (c, units, images) in [a, b, c, d].into_iter().flatten() {
        customers.push((c, units));
        records.extend(images);
    }
    // AND the stream delivers all their records in one batch, shuffled
    rng.shuffle(&mut records);
    let payload = batch(
        records
            .iter()
            .enumerate()
            .map(|(n, image)| {
                stream_record("usage_records", u64::try_from(n).unwrap(), "INSERT", image)
            })
            .collect(),
    );
    // WHEN the handler takes it
    let settings = ReporterSettings::new(pricing(mode), support::EVENT_NAME);
    let sweep = SweepConfig {
        meter_id: Some(stand_in.meter_id.clone()),
        min_age_secs: usage_reporter::DEFAULT_SWEEP_MIN_AGE_SECS,
    };
    let deps = Deps {
        reporter: ReporterDeps {
            customers: &store,
            ledger: &store,
            stripe: &stand_in.stripe,
            clock: &clock,
            fail_points: None,
        },
        settings: &settings,
        sweep: &sweep,
    };
    let answer = usage_reporter::handler(&deps, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    // THEN nothing is to retry
    assert_eq!(answer, json!({"batchItemFailures": []}));
    // AND each customer owing units got exactly one meter event call, with all of them; the
    // others none
    for (c, expected) in &customers {
        let calls = stand_in.meter_event_calls(&c.stripe_customer_id);
        assert_eq!(
            calls,
            usize::from(*expected > 0),
            "{} owes {expected}",
            c.customer_id
        );
        assert_eq!(stand_in.units(c).await, *expected, "{}", c.customer_id);
    }
    let owing = customers.iter().filter(|(_, units)| *units > 0).count();
    match mode {
        AllowanceMode::App => assert_eq!(owing, CUSTOMERS / 2),
        AllowanceMode::Stripe => assert!(owing > CUSTOMERS / 2, "{owing}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_customers_in_one_batch_make_one_meter_event_call_per_customer_owing_units_in_mode_app()
 {
    a_thousand_customers_in_one_batch(AllowanceMode::App).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_customers_in_one_batch_make_one_meter_event_call_per_customer_owing_units_in_mode_stripe()
 {
    a_thousand_customers_in_one_batch(AllowanceMode::Stripe).await;
}

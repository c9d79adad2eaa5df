//! Each customer's simulated time. Customers live on their own Stripe test clocks (the
//! post-confirmation function creates one per sign-up when `STRIPE_TEST_CLOCKS=1`), and a test
//! clock is frozen: left alone, it would fall behind the wall clock, and the reporter's meter
//! events (stamped with the current time, clamped into the period) would soon be "in the future"
//! for Stripe. So the stack keeps each clock running: a customer's time is the wall clock plus
//! the days advanced through `/dev/clock/advance`, and the test clock is moved up to it before
//! usage is written for the customer and on every sweep tick.

use std::collections::HashMap;
use std::time::Duration;

use billing::ids::CustomerId;
use billing::ports::Clock;
use billing_adapters::stripe_http::StripeHttpClient;
use serde_json::Value;

use crate::stack::Shared;

/// How stale a clock may get before a usage write moves it up (meter events may be 5 minutes
/// ahead of a customer's clock).
const SYNC_EVERY_SECS: i64 = 20;

/// Why a customer's clock could not be read or moved.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The customer is unknown or has no Stripe customer yet.
    #[error("customer {0} has no Stripe customer yet")]
    NoStripeCustomer(String),
    /// The Stripe customer is not on a test clock.
    #[error("customer {0} is not on a Stripe test clock")]
    NoTestClock(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] billing::ports::StoreError),
    /// Stripe (the stand-in) refused or failed.
    #[error("stripe: {0}")]
    Stripe(#[from] billing::stripe::StripeError),
    /// The stand-in did not report the clock ready in time.
    #[error("test clock {0} did not become ready")]
    NotReady(String),
}

#[derive(Debug, Clone)]
struct Entry {
    clock_id: String,
    /// Seconds the customer's time is ahead of the wall clock.
    offset: i64,
    /// Wall time of the last sync.
    synced_at: i64,
}

/// What an advance did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advanced {
    /// The test clock.
    pub clock_id: String,
    /// Its frozen time before.
    pub from: i64,
    /// Its frozen time now.
    pub to: i64,
}

/// The customers' clocks.
#[derive(Debug, Default)]
pub struct SimClocks {
    entries: tokio::sync::Mutex<HashMap<CustomerId, Entry>>,
}

async fn frozen_time(
    stripe: &StripeHttpClient,
    clock_id: &str,
) -> Result<(i64, String), ClockError> {
    let clock = stripe
        .get_json(
            &format!("/v1/test_helpers/test_clocks/{clock_id}"),
            &Vec::new(),
        )
        .await?;
    Ok((
        clock["frozen_time"].as_i64().unwrap_or(0),
        clock["status"].as_str().unwrap_or("").to_string(),
    ))
}

/// Moves `clock_id` forward to `target` and waits until the stand-in reports it `ready`.
async fn move_to(stripe: &StripeHttpClient, clock_id: &str, target: i64) -> Result<(), ClockError> {
    let form = vec![("frozen_time".to_string(), target.to_string())];
    let key = format!("local-stack-advance-{clock_id}-{target}");
    stripe
        .post_form(
            &format!("/v1/test_helpers/test_clocks/{clock_id}/advance"),
            &form,
            &key,
        )
        .await?;
    for _ in 0..300 {
        let (_, status) = frozen_time(stripe, clock_id).await?;
        if status == "ready" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ClockError::NotReady(clock_id.to_string()))
}

impl SimClocks {
    /// The customer's entry, found through the store and the Stripe customer when not known yet.
    async fn entry(
        &self,
        shared: &Shared,
        entries: &mut HashMap<CustomerId, Entry>,
        customer: &CustomerId,
    ) -> Result<Entry, ClockError> {
        if let Some(entry) = entries.get(customer) {
            return Ok(entry.clone());
        }
        let stripe_customer = shared
            .stores
            .customers
            .get_customer(customer)
            .await?
            .and_then(|c| c.stripe_customer_id)
            .ok_or_else(|| ClockError::NoStripeCustomer(customer.to_string()))?;
        let object: Value = shared
            .stripe
            .get_json(&format!("/v1/customers/{stripe_customer}"), &Vec::new())
            .await?;
        let clock_id = object["test_clock"]
            .as_str()
            .ok_or_else(|| ClockError::NoTestClock(customer.to_string()))?
            .to_string();
        let now = shared.clock.now();
        let (frozen, _) = frozen_time(&shared.stripe, &clock_id).await?;
        let entry = Entry {
            clock_id,
            offset: (frozen - now).max(0),
            synced_at: 0,
        };
        entries.insert(customer.clone(), entry.clone());
        Ok(entry)
    }

    /// The customer's current time (unix seconds), its test clock moved up to it first when it
    /// was last synced a while ago; the wall clock for a customer without a test clock.
    pub async fn now_for(&self, shared: &Shared, customer: &CustomerId) -> i64 {
        let now = shared.clock.now();
        let mut entries = self.entries.lock().await;
        let Ok(mut entry) = self.entry(shared, &mut entries, customer).await else {
            return now;
        };
        let target = now + entry.offset;
        if now - entry.synced_at >= SYNC_EVERY_SECS {
            if let Err(e) = self.sync_entry(shared, &mut entry, now).await {
                tracing::warn!(customer_id = %customer, error = %e, "test clock not moved up");
            }
            entries.insert(customer.clone(), entry);
        }
        target
    }

    async fn sync_entry(
        &self,
        shared: &Shared,
        entry: &mut Entry,
        now: i64,
    ) -> Result<(), ClockError> {
        let target = now + entry.offset;
        let (frozen, _) = frozen_time(&shared.stripe, &entry.clock_id).await?;
        if target > frozen {
            move_to(&shared.stripe, &entry.clock_id, target).await?;
        }
        entry.synced_at = now;
        Ok(())
    }

    /// Moves every known customer's test clock up to the customer's time (those not synced in
    /// the last few seconds).
    pub async fn sync_all(&self, shared: &Shared) {
        let now = shared.clock.now();
        let mut entries = self.entries.lock().await;
        for (customer, entry) in entries.iter_mut() {
            if now - entry.synced_at < SYNC_EVERY_SECS {
                continue;
            }
            if let Err(e) = self.sync_entry(shared, entry, now).await {
                tracing::warn!(customer_id = %customer, error = %e, "test clock not moved up");
            }
        }
    }

    /// Advances the customer's time by `secs`: its test clock is moved there and the stand-in has
    /// run everything that fell due (period ends, invoices, charges) when this returns; the
    /// webhooks are on their way.
    pub async fn advance(
        &self,
        shared: &Shared,
        customer: &CustomerId,
        secs: i64,
    ) -> Result<Advanced, ClockError> {
        let mut entries = self.entries.lock().await;
        let mut entry = self.entry(shared, &mut entries, customer).await?;
        let now = shared.clock.now();
        let (frozen, _) = frozen_time(&shared.stripe, &entry.clock_id).await?;
        let target = frozen.max(now + entry.offset) + secs;
        move_to(&shared.stripe, &entry.clock_id, target).await?;
        entry.offset = target - now;
        entry.synced_at = now;
        let clock_id = entry.clock_id.clone();
        entries.insert(customer.clone(), entry);
        Ok(Advanced {
            clock_id,
            from: frozen,
            to: target,
        })
    }
}

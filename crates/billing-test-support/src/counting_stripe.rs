//! A Stripe client wrapper that counts the calls made through it, for tests and benchmarks.
//!
//! [`CountingStripe`] forwards every [`StripeApi`] call to the real client and counts it by
//! method (and meter-event calls by Stripe customer), with the wall time during which at least
//! one call was waiting for Stripe. Retries inside the wrapped HTTP client are not counted: a
//! count is the calls the caller made.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use billing::ids::{CheckoutSessionId, StripeCustomerId, StripeSubscriptionId};
use billing::stripe::{
    CheckoutSession, Customer, MeterEventOutcome, MeterEventSummary, NewCheckoutSession,
    NewCustomer, NewMeterEvent, NewPortalSession, PortalSession, StripeApi, StripeError,
    Subscription,
};

/// A Stripe client that counts calls by method name.
pub struct CountingStripe<S> {
    inner: S,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    meter_events: Mutex<BTreeMap<StripeCustomerId, u64>>,
    waiting: Mutex<Waiting>,
}

/// Wall time with at least one call in flight: concurrent calls overlap, and are counted once.
#[derive(Default)]
struct Waiting {
    in_flight: u32,
    since: Option<Instant>,
    total: Duration,
}

impl<S> CountingStripe<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CountingStripe {
            inner,
            calls: Mutex::default(),
            meter_events: Mutex::default(),
            waiting: Mutex::default(),
        }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Calls so far, by method.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Calls of one method so far.
    pub fn count(&self, method: &str) -> u64 {
        self.calls().get(method).copied().unwrap_or(0)
    }

    /// Meter-event calls so far, by Stripe customer.
    pub fn meter_events_by_customer(&self) -> BTreeMap<StripeCustomerId, u64> {
        self.meter_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every call so far.
    pub fn total(&self) -> u64 {
        self.calls().values().sum()
    }

    /// Wall time so far with at least one call waiting for Stripe's answer (concurrent calls
    /// are counted once, so this never exceeds the elapsed time).
    pub fn time_in_calls(&self) -> Duration {
        let waiting = self.waiting();
        waiting.total + waiting.since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets the counts and the time (after set-up).
    pub fn reset(&self) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.meter_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        let mut waiting = self.waiting();
        waiting.total = Duration::ZERO;
        waiting.since = (waiting.in_flight > 0).then(Instant::now);
    }

    async fn timed<T>(&self, call: impl Future<Output = T>) -> T {
        {
            let mut waiting = self.waiting();
            waiting.in_flight += 1;
            if waiting.in_flight == 1 {
                waiting.since = Some(Instant::now());
            }
        }
        let out = call.await;
        let mut waiting = self.waiting();
        waiting.in_flight -= 1;
        if waiting.in_flight == 0
            && let Some(since) = waiting.since.take()
        {
            waiting.total += since.elapsed();
        }
        out
    }

    fn count_call(&self, method: &'static str) {
        *self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(method)
            .or_default() += 1;
    }
}

#[async_trait]
impl<S: StripeApi> StripeApi for CountingStripe<S> {
    async fn create_customer(&self, p: &NewCustomer, k: &str) -> Result<Customer, StripeError> {
        self.count_call("create_customer");
        self.timed(self.inner.create_customer(p, k)).await
    }
    async fn retrieve_customer(&self, id: &StripeCustomerId) -> Result<Customer, StripeError> {
        self.count_call("retrieve_customer");
        self.timed(self.inner.retrieve_customer(id)).await
    }
    async fn create_checkout_session(
        &self,
        p: &NewCheckoutSession,
        k: &str,
    ) -> Result<CheckoutSession, StripeError> {
        self.count_call("create_checkout_session");
        self.timed(self.inner.create_checkout_session(p, k)).await
    }
    async fn retrieve_checkout_session(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<CheckoutSession, StripeError> {
        self.count_call("retrieve_checkout_session");
        self.timed(self.inner.retrieve_checkout_session(id)).await
    }
    async fn create_portal_session(
        &self,
        p: &NewPortalSession,
        k: &str,
    ) -> Result<PortalSession, StripeError> {
        self.count_call("create_portal_session");
        self.timed(self.inner.create_portal_session(p, k)).await
    }
    async fn retrieve_subscription(
        &self,
        id: &StripeSubscriptionId,
    ) -> Result<Subscription, StripeError> {
        self.count_call("retrieve_subscription");
        self.timed(self.inner.retrieve_subscription(id)).await
    }
    async fn create_meter_event(
        &self,
        e: &NewMeterEvent,
    ) -> Result<MeterEventOutcome, StripeError> {
        self.count_call("create_meter_event");
        *self
            .meter_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(e.stripe_customer_id.clone())
            .or_default() += 1;
        self.timed(self.inner.create_meter_event(e)).await
    }
    async fn list_meter_event_summaries(
        &self,
        meter_id: &str,
        customer: &StripeCustomerId,
        start: i64,
        end: i64,
    ) -> Result<Vec<MeterEventSummary>, StripeError> {
        self.count_call("list_meter_event_summaries");
        self.timed(
            self.inner
                .list_meter_event_summaries(meter_id, customer, start, end),
        )
        .await
    }
}

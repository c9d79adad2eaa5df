//! Test doubles for the use-case unit tests: a fixed clock and a Stripe that serves subscriptions
//! from a map. Integration tests use the real stand-in over HTTP instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::ids::{CheckoutSessionId, StripeCustomerId, StripeSubscriptionId};
use crate::ports::Clock;
use crate::stripe::{
    CheckoutSession, Customer, MeterEventOutcome, MeterEventSummary, NewCheckoutSession,
    NewCustomer, NewMeterEvent, NewPortalSession, PortalSession, StripeApi, StripeError,
    Subscription,
};

/// A clock that moves only when told; milliseconds advance on every read so fetches are ordered.
pub struct FakeClock {
    millis: AtomicI64,
}

impl FakeClock {
    pub fn at(secs: i64) -> Self {
        FakeClock {
            millis: AtomicI64::new(secs * 1000),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.millis.load(Ordering::SeqCst) / 1000
    }

    fn now_millis(&self) -> i64 {
        self.millis.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Serves `retrieve_subscription` from a map; every other call is refused.
#[derive(Default)]
pub struct FakeStripe {
    pub subscriptions: Mutex<HashMap<StripeSubscriptionId, Subscription>>,
    pub retrievals: Mutex<u32>,
}

impl FakeStripe {
    pub fn put(&self, subscription: serde_json::Value) {
        let sub: Subscription = serde_json::from_value(subscription).unwrap();
        self.subscriptions
            .lock()
            .unwrap()
            .insert(sub.id.clone(), sub);
    }
}

fn unused() -> StripeError {
    StripeError::InvalidRequest("not served by FakeStripe".into())
}

#[async_trait::async_trait]
impl StripeApi for FakeStripe {
    async fn create_customer(&self, _: &NewCustomer, _: &str) -> Result<Customer, StripeError> {
        Err(unused())
    }
    async fn retrieve_customer(&self, _: &StripeCustomerId) -> Result<Customer, StripeError> {
        Err(unused())
    }
    async fn create_checkout_session(
        &self,
        _: &NewCheckoutSession,
        _: &str,
    ) -> Result<CheckoutSession, StripeError> {
        Err(unused())
    }
    async fn retrieve_checkout_session(
        &self,
        _: &CheckoutSessionId,
    ) -> Result<CheckoutSession, StripeError> {
        Err(unused())
    }
    async fn create_portal_session(
        &self,
        _: &NewPortalSession,
        _: &str,
    ) -> Result<PortalSession, StripeError> {
        Err(unused())
    }
    async fn retrieve_subscription(
        &self,
        id: &StripeSubscriptionId,
    ) -> Result<Subscription, StripeError> {
        *self.retrievals.lock().unwrap() += 1;
        self.subscriptions
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(StripeError::Api {
                status: 404,
                error_type: "invalid_request_error".into(),
                code: Some("resource_missing".into()),
                param: Some("id".into()),
                message: format!("No such subscription: '{id}'"),
                request_id: None,
                should_retry: None,
            })
    }
    async fn create_meter_event(
        &self,
        _: &NewMeterEvent,
    ) -> Result<MeterEventOutcome, StripeError> {
        Err(unused())
    }
    async fn list_meter_event_summaries(
        &self,
        _: &str,
        _: &StripeCustomerId,
        _: i64,
        _: i64,
    ) -> Result<Vec<MeterEventSummary>, StripeError> {
        Err(unused())
    }
}

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

/// Serves subscriptions from a map, and customers, Checkout Sessions and portal sessions with
/// Stripe's idempotency (same key and parameters replay, other parameters are refused); meter
/// events are refused.
#[derive(Default)]
pub struct FakeStripe {
    pub subscriptions: Mutex<HashMap<StripeSubscriptionId, Subscription>>,
    pub retrievals: Mutex<u32>,
    /// Idempotency key -> (parameters, response JSON).
    pub replies: Mutex<HashMap<String, (String, serde_json::Value)>>,
    /// Every object created (not replayed), in order.
    pub created: Mutex<Vec<String>>,
    /// Checkout Session status by id (`open` when created).
    pub session_status: Mutex<HashMap<String, String>>,
    /// Meter events accepted, one per identifier.
    pub meter_events: Mutex<Vec<NewMeterEvent>>,
    /// Every meter event call, accepted or not.
    pub meter_event_calls: Mutex<u32>,
    /// How many of the next meter event calls fail with a 500 before taking effect.
    pub failing_meter_events: Mutex<u32>,
    /// Meter event calls in flight now, by customer (each call yields to the executor once
    /// while counted, as a network call would, so concurrent callers overlap).
    pub meter_calls_in_flight: Mutex<HashMap<StripeCustomerId, u32>>,
    /// Most meter event calls ever in flight at once, over all customers.
    pub peak_meter_calls: Mutex<u32>,
    /// Most meter event calls ever in flight at once for one customer.
    pub peak_meter_calls_per_customer: Mutex<u32>,
}

/// Counts a meter event call in flight until dropped.
struct InFlight<'a> {
    stripe: &'a FakeStripe,
    customer: StripeCustomerId,
}

impl<'a> InFlight<'a> {
    fn enter(stripe: &'a FakeStripe, customer: &StripeCustomerId) -> Self {
        let mut calls = stripe.meter_calls_in_flight.lock().unwrap();
        let mine = calls.entry(customer.clone()).or_default();
        *mine += 1;
        let mine = *mine;
        let all: u32 = calls.values().sum();
        let mut peak = stripe.peak_meter_calls.lock().unwrap();
        *peak = (*peak).max(all);
        let mut peak_one = stripe.peak_meter_calls_per_customer.lock().unwrap();
        *peak_one = (*peak_one).max(mine);
        InFlight {
            stripe,
            customer: customer.clone(),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut calls = self.stripe.meter_calls_in_flight.lock().unwrap();
        if let Some(n) = calls.get_mut(&self.customer) {
            *n -= 1;
        }
    }
}

impl FakeStripe {
    fn idempotent(
        &self,
        key: &str,
        params: String,
        make: impl FnOnce(usize) -> serde_json::Value,
    ) -> Result<serde_json::Value, StripeError> {
        let mut replies = self.replies.lock().unwrap();
        if let Some((stored, reply)) = replies.get(key) {
            if *stored != params {
                return Err(StripeError::Api {
                    status: 400,
                    error_type: "idempotency_error".into(),
                    code: None,
                    param: None,
                    message: "Keys for idempotent requests can only be used with the same parameters they were first used with.".into(),
                    request_id: None,
                    should_retry: None,
                });
            }
            return Ok(reply.clone());
        }
        let mut created = self.created.lock().unwrap();
        let reply = make(created.len());
        created.push(reply["id"].as_str().unwrap_or_default().to_string());
        replies.insert(key.to_string(), (params, reply.clone()));
        Ok(reply)
    }

    pub fn created_with_prefix(&self, prefix: &str) -> usize {
        self.created
            .lock()
            .unwrap()
            .iter()
            .filter(|id| id.starts_with(prefix))
            .count()
    }

    /// Units accepted for one customer, over every period.
    pub fn units_sent(&self) -> u64 {
        self.meter_events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.value)
            .sum()
    }

    pub fn set_session_status(&self, id: &str, status: &str) {
        self.session_status
            .lock()
            .unwrap()
            .insert(id.to_string(), status.to_string());
    }
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
    async fn create_customer(
        &self,
        params: &NewCustomer,
        key: &str,
    ) -> Result<Customer, StripeError> {
        let reply = self.idempotent(
            key,
            format!("{:?}", params.to_form()),
            |n| serde_json::json!({"id": format!("cus_fake{n}"), "email": params.email}),
        )?;
        Ok(serde_json::from_value(reply).unwrap())
    }
    async fn retrieve_customer(&self, _: &StripeCustomerId) -> Result<Customer, StripeError> {
        Err(unused())
    }
    async fn create_checkout_session(
        &self,
        params: &NewCheckoutSession,
        key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        let reply = self.idempotent(key, format!("{:?}", params.to_form()), |n| {
            let id = format!("cs_fake{n}");
            serde_json::json!({"id": id, "url": format!("https://checkout.fake/{id}"),
                "status": "open", "expires_at": 4_000_000_000i64,
                "customer": params.stripe_customer_id.as_str()})
        })?;
        let session: CheckoutSession = serde_json::from_value(reply).unwrap();
        self.session_status
            .lock()
            .unwrap()
            .entry(session.id.to_string())
            .or_insert_with(|| "open".into());
        Ok(session)
    }
    async fn retrieve_checkout_session(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<CheckoutSession, StripeError> {
        let status = self
            .session_status
            .lock()
            .unwrap()
            .get(id.as_str())
            .cloned()
            .unwrap_or_else(|| "expired".into());
        Ok(
            serde_json::from_value(serde_json::json!({"id": id.as_str(), "status": status}))
                .unwrap(),
        )
    }
    async fn create_portal_session(
        &self,
        params: &NewPortalSession,
        key: &str,
    ) -> Result<PortalSession, StripeError> {
        let reply = self.idempotent(key, format!("{:?}", params.to_form()), |n| {
            serde_json::json!({"id": format!("bps_fake{n}"), "url": format!("https://portal.fake/{n}")})
        })?;
        Ok(serde_json::from_value(reply).unwrap())
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
        event: &NewMeterEvent,
    ) -> Result<MeterEventOutcome, StripeError> {
        *self.meter_event_calls.lock().unwrap() += 1;
        let _in_flight = InFlight::enter(self, &event.stripe_customer_id);
        tokio::task::yield_now().await;
        {
            let mut failing = self.failing_meter_events.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(StripeError::Api {
                    status: 500,
                    error_type: "api_error".into(),
                    code: None,
                    param: None,
                    message: "injected".into(),
                    request_id: None,
                    should_retry: None,
                });
            }
        }
        let mut events = self.meter_events.lock().unwrap();
        if events.iter().any(|e| e.identifier == event.identifier) {
            return Ok(MeterEventOutcome::AlreadyDelivered);
        }
        events.push(event.clone());
        Ok(MeterEventOutcome::Accepted(crate::stripe::MeterEvent {
            event_name: event.event_name.clone(),
            identifier: event.identifier.clone(),
            timestamp: event.timestamp,
            payload: Default::default(),
        }))
    }
    async fn list_meter_event_summaries(
        &self,
        meter_id: &str,
        customer: &StripeCustomerId,
        start: i64,
        end: i64,
    ) -> Result<Vec<MeterEventSummary>, StripeError> {
        let total: u64 = self
            .meter_events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                &e.stripe_customer_id == customer && start <= e.timestamp && e.timestamp < end
            })
            .map(|e| e.value)
            .sum();
        Ok(vec![MeterEventSummary {
            id: "mtrusg_fake".into(),
            meter: meter_id.into(),
            start_time: start,
            end_time: end,
            aggregated_value: serde_json::Number::from(total),
        }])
    }
}

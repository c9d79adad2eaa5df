//! The part of Stripe's API the product uses: objects, requests, errors and the port.

pub mod error;
pub mod objects;
pub mod params;

pub use error::StripeError;
pub use objects::{
    CheckoutSession, Customer, MeterEvent, MeterEventSummary, PortalSession, Subscription,
};
pub use params::{NewCheckoutSession, NewCustomer, NewMeterEvent, NewPortalSession};

use crate::ids::{CheckoutSessionId, StripeCustomerId, StripeSubscriptionId};

/// The API version every request pins and the webhook endpoint is created with.
pub const DEFAULT_API_VERSION: &str = "2026-10-28.endive";

/// What came of sending a meter event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterEventOutcome {
    /// Stripe accepted it now.
    Accepted(MeterEvent),
    /// Stripe already had an event with this identifier: delivered earlier.
    AlreadyDelivered,
}

/// The Stripe calls the functions make. Implemented over HTTP by `billing-adapters`.
#[async_trait::async_trait]
pub trait StripeApi: Send + Sync {
    /// Creates a customer under `idempotency_key`.
    async fn create_customer(
        &self,
        params: &NewCustomer,
        idempotency_key: &str,
    ) -> Result<Customer, StripeError>;

    /// Reads a customer.
    async fn retrieve_customer(&self, id: &StripeCustomerId) -> Result<Customer, StripeError>;

    /// Creates a Checkout Session under `idempotency_key`.
    async fn create_checkout_session(
        &self,
        params: &NewCheckoutSession,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError>;

    /// Reads a Checkout Session.
    async fn retrieve_checkout_session(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<CheckoutSession, StripeError>;

    /// Creates a billing portal session under `idempotency_key`.
    async fn create_portal_session(
        &self,
        params: &NewPortalSession,
        idempotency_key: &str,
    ) -> Result<PortalSession, StripeError>;

    /// Reads a subscription (its items carry the current period).
    async fn retrieve_subscription(
        &self,
        id: &StripeSubscriptionId,
    ) -> Result<Subscription, StripeError>;

    /// Sends a meter event; its identifier doubles as the `Idempotency-Key`. Stripe's
    /// duplicate-identifier answer comes back as [`MeterEventOutcome::AlreadyDelivered`].
    async fn create_meter_event(
        &self,
        event: &NewMeterEvent,
    ) -> Result<MeterEventOutcome, StripeError>;

    /// Aggregated usage of one customer on a meter over `[start, end)`.
    async fn list_meter_event_summaries(
        &self,
        meter_id: &str,
        customer: &StripeCustomerId,
        start: i64,
        end: i64,
    ) -> Result<Vec<MeterEventSummary>, StripeError>;
}

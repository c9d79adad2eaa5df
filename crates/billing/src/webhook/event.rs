//! Typed Stripe events: the five the product handles, parsed narrowly; every other type is
//! [`BillingEvent::Unhandled`] rather than an error, so Stripe never sees a failure for an event
//! we do not use.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ids::StripeEventId;
use crate::stripe::{CheckoutSession, Invoice, Subscription};

/// Why an event body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventParseError {
    /// The body is not JSON, or not a Stripe event envelope.
    #[error("not a Stripe event: {0}")]
    Envelope(#[source] serde_json::Error),
    /// A handled event type whose object lacks a field the product needs.
    #[error("{event_type} event {event_id} has an unreadable object: {source}")]
    Object {
        /// The event type.
        event_type: String,
        /// The event id.
        event_id: String,
        /// What was wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// The event kinds the product acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEvent {
    /// `checkout.session.completed`.
    CheckoutCompleted(CheckoutSession),
    /// `customer.subscription.updated`.
    SubscriptionUpdated(Subscription),
    /// `customer.subscription.deleted`.
    SubscriptionDeleted(Subscription),
    /// `invoice.paid`.
    InvoicePaid(Invoice),
    /// `invoice.payment_failed`.
    InvoicePaymentFailed(Invoice),
    /// Any other type: acknowledged and logged, never acted on.
    Unhandled,
}

/// A Stripe event envelope with its typed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `evt_...`.
    pub id: StripeEventId,
    /// The event type as Stripe names it.
    pub event_type: String,
    /// When Stripe created it (unix seconds; one-second resolution, ties happen).
    pub created: i64,
    /// The API version its object is rendered in.
    pub api_version: Option<String>,
    /// Whether it is a live-mode event.
    pub livemode: bool,
    /// The typed content.
    pub kind: BillingEvent,
}

/// The envelope, borrowing the object's raw JSON: the object is then read once, straight into its
/// typed struct, without building an intermediate `serde_json::Value` tree (the measured cost of
/// a webhook's parse, docs/PERFORMANCE.md item 3).
#[derive(Deserialize)]
struct Envelope<'a> {
    id: StripeEventId,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    livemode: bool,
    #[serde(borrow)]
    data: EnvelopeData<'a>,
}

#[derive(Deserialize)]
struct EnvelopeData<'a> {
    #[serde(borrow)]
    object: &'a RawValue,
}

impl StripeEvent {
    /// Parses an event body (after its signature was verified).
    pub fn parse(body: &[u8]) -> Result<Self, EventParseError> {
        let envelope: Envelope<'_> =
            serde_json::from_slice(body).map_err(EventParseError::Envelope)?;
        let object = envelope.data.object.get();
        let typed = |object: &str| -> Result<BillingEvent, serde_json::Error> {
            Ok(match envelope.event_type.as_str() {
                "checkout.session.completed" => {
                    BillingEvent::CheckoutCompleted(serde_json::from_str(object)?)
                }
                "customer.subscription.updated" => {
                    BillingEvent::SubscriptionUpdated(serde_json::from_str(object)?)
                }
                "customer.subscription.deleted" => {
                    BillingEvent::SubscriptionDeleted(serde_json::from_str(object)?)
                }
                "invoice.paid" => BillingEvent::InvoicePaid(serde_json::from_str(object)?),
                "invoice.payment_failed" => {
                    BillingEvent::InvoicePaymentFailed(serde_json::from_str(object)?)
                }
                _ => BillingEvent::Unhandled,
            })
        };
        let kind = typed(object).map_err(|source| EventParseError::Object {
            event_type: envelope.event_type.clone(),
            event_id: envelope.id.to_string(),
            source,
        })?;
        Ok(StripeEvent {
            id: envelope.id,
            event_type: envelope.event_type,
            created: envelope.created,
            api_version: envelope.api_version,
            livemode: envelope.livemode,
            kind,
        })
    }
}

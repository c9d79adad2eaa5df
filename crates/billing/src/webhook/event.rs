//! Typed Stripe events: the five the product handles, read narrowly; every other type is
//! [`BillingEvent::Unhandled`] rather than an error, so Stripe never sees a failure for an event
//! we do not use.
//!
//! **What is read, and why so little.** An event's object is a snapshot taken when the event was
//! created; events arrive late, twice and out of order, so the handler never stores it: it
//! re-fetches the subscription from Stripe and stores that (see `service::webhook`). The event
//! only has to say *which* customer and subscription it is about, so the parse reads those ids
//! and skips the rest of the object. It reads the body once, in one pass (Stripe writes `type`
//! after `data`, so the object's fields are collected before the type is known and checked
//! against it afterwards); that one pass is what makes a delivery cheap (docs/PERFORMANCE.md,
//! item 3). A body that pass cannot read (an unrelated object of an unhandled type may use those
//! field names for other shapes) is read again for its envelope only, and is unhandled or an
//! error by its type.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::ids::{CheckoutSessionId, StripeCustomerId, StripeEventId, StripeSubscriptionId};

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
    CheckoutCompleted(CheckoutCompleted),
    /// `customer.subscription.updated`.
    SubscriptionUpdated(SubscriptionRef),
    /// `customer.subscription.deleted`.
    SubscriptionDeleted(SubscriptionRef),
    /// `invoice.paid`.
    InvoicePaid(InvoiceRef),
    /// `invoice.payment_failed`.
    InvoicePaymentFailed(InvoiceRef),
    /// Any other type: acknowledged and logged, never acted on.
    Unhandled,
}

/// The subscription a `customer.subscription.*` event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRef {
    /// `sub_...`.
    pub id: StripeSubscriptionId,
    /// The Stripe customer it bills.
    pub customer: Option<StripeCustomerId>,
}

/// The invoice an `invoice.*` event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRef {
    /// `in_...`.
    pub id: String,
    /// The Stripe customer it bills.
    pub customer: Option<StripeCustomerId>,
    /// The subscription that generated it: `parent.subscription_details.subscription`, else the
    /// pre-basil top-level `subscription`; a value that is not a `sub_` id counts as absent.
    pub subscription: Option<StripeSubscriptionId>,
}

/// The completed Checkout Session of a `checkout.session.completed` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutCompleted {
    /// `cs_...`.
    pub id: CheckoutSessionId,
    /// The Stripe customer it was created for.
    pub customer: Option<StripeCustomerId>,
    /// The subscription it started, if any.
    pub subscription: Option<StripeSubscriptionId>,
    /// Our customer id, as the checkout-session function set it.
    pub client_reference_id: Option<String>,
    /// `metadata.customer_id`, our customer id again (the fallback).
    pub metadata_customer_id: Option<String>,
}

/// The event types the product acts on; every other one is [`BillingEvent::Unhandled`].
pub const HANDLED_TYPES: [&str; 5] = [
    "checkout.session.completed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

/// A Stripe event envelope with what the product reads of its object.
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

/// The envelope with `O` for its object: [`ObjectIds`] in the one pass, [`IgnoredAny`] in the
/// fallback.
#[derive(Deserialize)]
struct Envelope<O> {
    id: StripeEventId,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    livemode: bool,
    data: Data<O>,
}

#[derive(Deserialize)]
struct Data<O> {
    object: O,
}

impl<O> Envelope<O> {
    /// The event read so far ([`BillingEvent::Unhandled`] until its object is typed), and the
    /// object.
    fn into_parts(self) -> (StripeEvent, O) {
        let event = StripeEvent {
            id: self.id,
            event_type: self.event_type,
            created: self.created,
            api_version: self.api_version,
            livemode: self.livemode,
            kind: BillingEvent::Unhandled,
        };
        (event, self.data.object)
    }
}

/// The top-level fields of any handled object that name a customer or a subscription; the
/// others are skipped without being built.
#[derive(Deserialize)]
struct ObjectIds {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, deserialize_with = "id_or_object")]
    customer: Option<String>,
    /// A Checkout Session's subscription; a pre-basil invoice's.
    #[serde(default, deserialize_with = "id_or_object")]
    subscription: Option<String>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: Option<CustomerIdMetadata>,
    /// An invoice's origin (basil and later).
    #[serde(default)]
    parent: Option<InvoiceParent>,
}

#[derive(Deserialize, Default)]
struct CustomerIdMetadata {
    #[serde(default)]
    customer_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct InvoiceParent {
    #[serde(default)]
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize, Default)]
struct SubscriptionDetails {
    #[serde(default, deserialize_with = "id_or_object")]
    subscription: Option<String>,
}

/// Reads an id string, an expanded object (reduced to its `id`, the rest skipped) or `null`.
fn id_or_object<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct IdOrObject;

    impl<'de> Visitor<'de> for IdOrObject {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an id, an expanded object with an id, or null")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(IdOrObject)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut id = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "id" && id.is_none() {
                    id = Some(map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            id.map(Some)
                .ok_or_else(|| de::Error::custom("an expanded object without an id"))
        }
    }

    deserializer.deserialize_option(IdOrObject)
}

fn object_error(message: String) -> serde_json::Error {
    de::Error::custom(message)
}

/// An id of the kind `T`, or an error naming the field.
fn required<T: TryFrom<String>>(value: Option<String>, field: &str) -> Result<T, serde_json::Error>
where
    T::Error: std::fmt::Display,
{
    let value = value.ok_or_else(|| object_error(format!("missing field `{field}`")))?;
    T::try_from(value).map_err(|e| object_error(format!("`{field}`: {e}")))
}

/// An optional id of the kind `T`; a malformed one is an error naming the field.
fn optional<T: TryFrom<String>>(
    value: Option<String>,
    field: &str,
) -> Result<Option<T>, serde_json::Error>
where
    T::Error: std::fmt::Display,
{
    value
        .map(|v| T::try_from(v).map_err(|e| object_error(format!("`{field}`: {e}"))))
        .transpose()
}

impl ObjectIds {
    /// The event kind of `event_type` from the ids read, checked for what that kind needs.
    fn into_kind(self, event_type: &str) -> Result<BillingEvent, serde_json::Error> {
        Ok(match event_type {
            "checkout.session.completed" => BillingEvent::CheckoutCompleted(CheckoutCompleted {
                id: required(self.id, "id")?,
                customer: optional(self.customer, "customer")?,
                subscription: optional(self.subscription, "subscription")?,
                client_reference_id: self.client_reference_id,
                metadata_customer_id: self.metadata.and_then(|m| m.customer_id),
            }),
            "customer.subscription.updated" | "customer.subscription.deleted" => {
                let subscription = SubscriptionRef {
                    id: required(self.id, "id")?,
                    customer: optional(self.customer, "customer")?,
                };
                if event_type.ends_with("updated") {
                    BillingEvent::SubscriptionUpdated(subscription)
                } else {
                    BillingEvent::SubscriptionDeleted(subscription)
                }
            }
            "invoice.paid" | "invoice.payment_failed" => {
                // Stripe's own example invoice carries a placeholder here: not a `sub_` id,
                // counted as absent rather than refused.
                let from_parent = self
                    .parent
                    .and_then(|p| p.subscription_details)
                    .and_then(|d| d.subscription);
                let subscription = from_parent
                    .and_then(|id| StripeSubscriptionId::parse(id).ok())
                    .or_else(|| {
                        self.subscription
                            .and_then(|id| StripeSubscriptionId::parse(id).ok())
                    });
                let invoice = InvoiceRef {
                    id: required::<String>(self.id, "id")?,
                    customer: optional(self.customer, "customer")?,
                    subscription,
                };
                if event_type == "invoice.paid" {
                    BillingEvent::InvoicePaid(invoice)
                } else {
                    BillingEvent::InvoicePaymentFailed(invoice)
                }
            }
            _ => BillingEvent::Unhandled,
        })
    }
}

impl StripeEvent {
    /// Parses an event body (after its signature was verified).
    pub fn parse(body: &[u8]) -> Result<Self, EventParseError> {
        match serde_json::from_slice::<Envelope<ObjectIds>>(body) {
            Ok(envelope) => {
                let (mut event, object) = envelope.into_parts();
                event.kind = object.into_kind(&event.event_type).map_err(|source| {
                    EventParseError::Object {
                        event_type: event.event_type.clone(),
                        event_id: event.id.to_string(),
                        source,
                    }
                })?;
                Ok(event)
            }
            Err(source) => Self::parse_envelope_only(body, source),
        }
    }

    /// The fallback when the one pass failed: an unhandled type is acknowledged whatever its
    /// object holds; a handled one is an error with the first pass's reason.
    fn parse_envelope_only(
        body: &[u8],
        first_error: serde_json::Error,
    ) -> Result<Self, EventParseError> {
        let envelope: Envelope<IgnoredAny> =
            serde_json::from_slice(body).map_err(EventParseError::Envelope)?;
        let (event, _) = envelope.into_parts();
        if !HANDLED_TYPES.contains(&event.event_type.as_str()) {
            return Ok(event);
        }
        Err(EventParseError::Object {
            event_id: event.id.to_string(),
            event_type: event.event_type,
            source: first_error,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ids() -> ObjectIds {
        serde_json::from_str(
            r#"{"id": "sub_1", "customer": "cus_1", "subscription": "sub_1",
                "client_reference_id": "tenant-1"}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_handled_types_are_exactly_those_given_a_typed_kind() {
        // The list the fallback (and the webhook endpoint's subscription) uses and the match
        // that types an event must agree.
        for event_type in HANDLED_TYPES {
            let mut object = ids();
            if event_type.starts_with("checkout") {
                object.id = Some("cs_test_1".into());
            }
            let kind = object.into_kind(event_type).unwrap();
            assert_ne!(kind, BillingEvent::Unhandled, "{event_type}");
        }
        for other in [
            "customer.subscription.created",
            "invoice.created",
            "plan.created",
        ] {
            assert_eq!(ids().into_kind(other).unwrap(), BillingEvent::Unhandled);
        }
    }
}

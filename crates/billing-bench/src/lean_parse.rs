//! A prototype of a leaner event parse, to measure what would close the webhook target: the
//! envelope is read once for its `type` (everything else skipped without building values), then
//! the object is deserialised straight from the bytes into the typed struct, with no
//! intermediate `serde_json::Value` (which is what [`billing::webhook::StripeEvent::parse`]
//! builds). Only `customer.subscription.updated` is wired here; it is not used by the product.

use billing::stripe::Subscription;
use serde::Deserialize;

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    event_type: &'a str,
}

#[derive(Deserialize)]
struct Typed<T> {
    id: String,
    created: i64,
    data: TypedData<T>,
}

#[derive(Deserialize)]
struct TypedData<T> {
    object: T,
}

/// The subscription of a `customer.subscription.updated` body, with the event id and creation
/// time; `None` for any other type.
pub fn subscription_updated(
    body: &[u8],
) -> Result<Option<(String, i64, Subscription)>, serde_json::Error> {
    let head: TypeOnly<'_> = serde_json::from_slice(body)?;
    if head.event_type != "customer.subscription.updated" {
        return Ok(None);
    }
    let typed: Typed<Subscription> = serde_json::from_slice(body)?;
    Ok(Some((typed.id, typed.created, typed.data.object)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use billing::webhook::{BillingEvent, StripeEvent};

    #[test]
    fn the_lean_parse_reads_the_same_subscription_as_the_product() {
        let w = crate::payload::signed(1_800_000_000);
        let (id, created, sub) = subscription_updated(&w.payload).unwrap().unwrap();
        let event = StripeEvent::parse(&w.payload).unwrap();
        assert_eq!(id, event.id.to_string());
        assert_eq!(created, event.created);
        assert_eq!(BillingEvent::SubscriptionUpdated(sub), event.kind);
    }
}

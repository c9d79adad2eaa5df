//! The webhook every webhook figure uses: a `customer.subscription.updated` event of about 3 KB
//! (compact JSON), built from Stripe's own example subscription (`fixtures3.json`, as copied in
//! `crates/billing/tests/fixtures/stripe/subscription.json`) rendered as API
//! `2026-10-28.endive` renders it (the billing period on the item), and signed as Stripe signs it.

use billing::webhook::sign_header;
use serde_json::{Value, json};

/// The signing secret of the benchmark's webhook endpoint.
pub const SECRET: &str = "whsec_bench_0123456789abcdefghijklmnopqrstuv";

/// Stripe's example subscription object.
const SUBSCRIPTION_FIXTURE: &str =
    include_str!("../../billing/tests/fixtures/stripe/subscription.json");

/// Start and end of the item's billing period in the payload.
pub const PERIOD: (i64, i64) = (1_790_000_000, 1_792_592_000);

/// A signed webhook: the exact body, its `Stripe-Signature` header and the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    /// The raw body, as Stripe posts it.
    pub payload: Vec<u8>,
    /// `t=<timestamp>,v1=<hex>`.
    pub header: String,
    /// The endpoint's signing secret.
    pub secret: String,
    /// The signed timestamp.
    pub timestamp: i64,
}

/// The subscription object: Stripe's example with the fields an update of ours does not carry
/// dropped (`pending_update`, preview `billing_schedules`, `payment_settings`, the legacy `plan` of
/// the item), its item given a real period, `status` active and our `customer_id` in metadata.
pub fn subscription_object(subscription_id: &str, stripe_customer_id: &str) -> Value {
    let mut sub: Value = serde_json::from_str(SUBSCRIPTION_FIXTURE)
        .unwrap_or_else(|e| unreachable!("the fixture is JSON: {e}"));
    if let Some(object) = sub.as_object_mut() {
        for unused in ["pending_update", "billing_schedules", "payment_settings"] {
            object.remove(unused);
        }
        object.insert("id".into(), json!(subscription_id));
        object.insert("customer".into(), json!(stripe_customer_id));
        object.insert("status".into(), json!("active"));
        object.insert("cancel_at_period_end".into(), json!(false));
        object.insert("metadata".into(), json!({"customer_id": "tenant-bench"}));
    }
    if let Some(item) = sub["items"]["data"][0].as_object_mut() {
        item.remove("plan");
        item.insert("subscription".into(), json!(subscription_id));
        item.insert("current_period_start".into(), json!(PERIOD.0));
        item.insert("current_period_end".into(), json!(PERIOD.1));
    }
    sub
}

/// The event body around `object` (compact JSON, ~3 KB for the example subscription).
pub fn event_body(event_id: &str, object: Value) -> Vec<u8> {
    let event = json!({
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": PERIOD.0,
        "data": {"object": object, "previous_attributes": {"cancel_at_period_end": true}},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": "req_bench", "idempotency_key": null},
        "type": "customer.subscription.updated"
    });
    serde_json::to_vec(&event).unwrap_or_else(|e| unreachable!("a Value serialises: {e}"))
}

/// The benchmark's webhook, signed at `timestamp`.
pub fn signed(timestamp: i64) -> SignedWebhook {
    let payload = event_body(
        "evt_1BenchSubscriptionUpdated",
        subscription_object("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw", "cus_QXg1o8vcGmoR32"),
    );
    SignedWebhook {
        header: sign_header(&payload, SECRET, timestamp),
        payload,
        secret: SECRET.to_string(),
        timestamp,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use billing::webhook::{BillingEvent, SignatureVerifier, StripeEvent};
    use secrecy::SecretString;

    #[test]
    fn the_payload_is_about_three_kilobytes_verifies_and_parses_as_an_update() {
        // GIVEN the benchmark's webhook
        let w = signed(1_800_000_000);
        // THEN it is about 3 KB
        assert!(
            (2_800..=3_300).contains(&w.payload.len()),
            "{}",
            w.payload.len()
        );
        // AND it verifies and parses as the product parses it
        let verifier = SignatureVerifier::new(vec![SecretString::from(w.secret.clone())]);
        assert_eq!(
            verifier.verify(&w.payload, Some(&w.header), w.timestamp),
            Ok(w.timestamp)
        );
        let event = StripeEvent::parse(&w.payload).unwrap();
        let BillingEvent::SubscriptionUpdated(sub) = event.kind else {
            panic!("{:?}", event.kind)
        };
        assert_eq!(sub.id.as_str(), "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw");
        assert_eq!(sub.customer.unwrap().as_str(), "cus_QXg1o8vcGmoR32");
    }
}

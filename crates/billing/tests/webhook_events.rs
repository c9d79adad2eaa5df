//! Event parsing against Stripe's own example objects and payloads written for API
//! `2026-10-28.endive`, plus the older shapes the parser still tolerates; and the subscription
//! the webhook handler re-fetches and stores, read from the same objects.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use billing::period::BillingPeriod;
use billing::stripe::Subscription;
use billing::subscription::SubscriptionStatus;
use billing::webhook::{BillingEvent, EventParseError, StripeEvent};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn event(event_type: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "evt_1TestEvent",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_790_000_000,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
        "data": {"object": object, "previous_attributes": {"status": "incomplete"}}
    }))
    .unwrap()
}

/// A subscription as API 2026-10-28.endive renders it: the period lives on the items.
fn endive_subscription(status: &str) -> Value {
    json!({
        "id": "sub_1Endive",
        "object": "subscription",
        "customer": "cus_Endive",
        "status": status,
        "cancel_at_period_end": true,
        "created": 1_789_000_000,
        "metadata": {"customer_id": "tenant-1"},
        "billing_mode": {"type": "flexible"},
        "items": {"object": "list", "data": [
            {"id": "si_base", "object": "subscription_item",
             "price": {"id": "price_base", "object": "price", "recurring": {"usage_type": "licensed", "interval": "month", "meter": null}},
             "quantity": 1, "current_period_start": 1_790_000_000, "current_period_end": 1_792_592_000},
            {"id": "si_metered", "object": "subscription_item",
             "price": {"id": "price_metered", "object": "price", "recurring": {"usage_type": "metered", "interval": "month", "meter": "mtr_1"}},
             "current_period_start": 1_790_000_000, "current_period_end": 1_792_592_000}
        ], "has_more": false}
    })
}

#[test]
fn stripes_example_subscription_parses_as_an_update() {
    // GIVEN Stripe's own example subscription object
    let body = event("customer.subscription.updated", fixture("subscription"));
    // WHEN it is parsed
    let parsed = StripeEvent::parse(&body).unwrap();
    // THEN the subscription and its customer are named
    let BillingEvent::SubscriptionUpdated(sub) = parsed.kind else {
        panic!("wrong kind: {:?}", parsed.kind)
    };
    assert_eq!(sub.id.as_str(), "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw");
    assert_eq!(
        sub.customer.as_ref().unwrap().as_str(),
        "cus_QXg1o8vcGmoR32"
    );
}

#[test]
fn stripes_example_subscription_reads_as_the_stored_subscription() {
    // The object the handler re-fetches has the same shape as the event's.
    let sub: Subscription = serde_json::from_value(fixture("subscription")).unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.items().len(), 1);
}

#[test]
fn stripes_example_invoice_and_checkout_session_parse() {
    let invoice = StripeEvent::parse(&event("invoice.paid", fixture("invoice"))).unwrap();
    let BillingEvent::InvoicePaid(inv) = invoice.kind else {
        panic!("wrong kind")
    };
    assert_eq!(
        inv.customer.as_ref().unwrap().as_str(),
        "cus_QXg1o8vcGmoR32"
    );
    // the example's parent holds a placeholder, not a sub_ id
    assert_eq!(inv.subscription, None);

    let session = StripeEvent::parse(&event(
        "checkout.session.completed",
        fixture("checkout_session"),
    ))
    .unwrap();
    assert!(matches!(session.kind, BillingEvent::CheckoutCompleted(_)));
}

#[test]
fn stripes_example_event_of_another_type_is_unhandled() {
    let body = serde_json::to_vec(&fixture("event")).unwrap();
    let parsed = StripeEvent::parse(&body).unwrap();
    assert_eq!(parsed.event_type, "plan.created");
    assert_eq!(parsed.kind, BillingEvent::Unhandled);
}

#[test]
fn endive_subscription_event_names_the_subscription_and_customer() {
    let parsed = StripeEvent::parse(&event(
        "customer.subscription.deleted",
        endive_subscription("canceled"),
    ))
    .unwrap();
    assert_eq!(parsed.id.as_str(), "evt_1TestEvent");
    assert_eq!(parsed.created, 1_790_000_000);
    assert_eq!(parsed.api_version.as_deref(), Some("2026-10-28.endive"));
    let BillingEvent::SubscriptionDeleted(sub) = parsed.kind else {
        panic!("wrong kind")
    };
    assert_eq!(sub.id.as_str(), "sub_1Endive");
    assert_eq!(sub.customer.unwrap().as_str(), "cus_Endive");
}

#[test]
fn endive_subscription_takes_its_period_from_the_metered_item() {
    let sub: Subscription = serde_json::from_value(endive_subscription("canceled")).unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Canceled);
    assert!(sub.cancel_at_period_end);
    assert_eq!(sub.metered_item().unwrap().id, "si_metered");
    assert_eq!(
        sub.current_period(),
        Some(BillingPeriod::new(1_790_000_000, 1_792_592_000).unwrap())
    );
    assert_eq!(sub.metadata["customer_id"], "tenant-1");
}

#[test]
fn pre_basil_subscription_period_is_still_read() {
    // GIVEN a 2024-04-10 subscription: period on the subscription, none on the items
    let mut sub = endive_subscription("past_due");
    for item in sub["items"]["data"].as_array_mut().unwrap() {
        let item = item.as_object_mut().unwrap();
        item.remove("current_period_start");
        item.remove("current_period_end");
    }
    sub["current_period_start"] = json!(1_700_000_000);
    sub["current_period_end"] = json!(1_702_592_000);
    // WHEN read THEN the subscription-level period is used
    let sub: Subscription = serde_json::from_value(sub).unwrap();
    assert_eq!(sub.status, SubscriptionStatus::PastDue);
    assert_eq!(
        sub.current_period(),
        Some(BillingPeriod::new(1_700_000_000, 1_702_592_000).unwrap())
    );
}

#[test]
fn endive_invoice_names_its_subscription_under_parent() {
    let invoice = json!({
        "id": "in_1", "object": "invoice", "customer": {"id": "cus_Endive", "object": "customer"},
        "billing_reason": "subscription_cycle", "status": "open", "total": 3500, "amount_paid": 0,
        "attempt_count": 1, "next_payment_attempt": 1_790_086_400,
        "period_start": 1_787_400_000, "period_end": 1_790_000_000,
        "parent": {"type": "subscription_details", "quote_details": null,
                   "subscription_details": {"metadata": {}, "subscription": "sub_1Endive"}}
    });
    let BillingEvent::InvoicePaymentFailed(inv) =
        StripeEvent::parse(&event("invoice.payment_failed", invoice))
            .unwrap()
            .kind
    else {
        panic!("wrong kind")
    };
    assert_eq!(inv.id, "in_1");
    assert_eq!(inv.subscription.unwrap().as_str(), "sub_1Endive");
    // an expanded customer is reduced to its id
    assert_eq!(inv.customer.unwrap().as_str(), "cus_Endive");
}

#[test]
fn pre_basil_invoice_subscription_is_still_read() {
    let invoice = json!({"id": "in_2", "object": "invoice", "customer": "cus_Old",
                         "subscription": "sub_Old", "billing_reason": "subscription_create"});
    let BillingEvent::InvoicePaid(inv) = StripeEvent::parse(&event("invoice.paid", invoice))
        .unwrap()
        .kind
    else {
        panic!("wrong kind")
    };
    assert_eq!(inv.subscription.unwrap().as_str(), "sub_Old");
}

#[test]
fn completed_checkout_session_links_customer_and_subscription() {
    let session = json!({
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
        "status": "complete", "payment_status": "paid", "customer": "cus_Endive",
        "subscription": "sub_1Endive", "client_reference_id": "tenant-1",
        "metadata": {"customer_id": "tenant-2", "campaign": "spring"}, "url": null
    });
    let BillingEvent::CheckoutCompleted(cs) =
        StripeEvent::parse(&event("checkout.session.completed", session))
            .unwrap()
            .kind
    else {
        panic!("wrong kind")
    };
    assert_eq!(cs.id.as_str(), "cs_test_1");
    assert_eq!(cs.client_reference_id.as_deref(), Some("tenant-1"));
    assert_eq!(cs.metadata_customer_id.as_deref(), Some("tenant-2"));
    assert_eq!(cs.subscription.unwrap().as_str(), "sub_1Endive");
    assert_eq!(cs.customer.unwrap().as_str(), "cus_Endive");
}

#[test]
fn unknown_types_are_unhandled_not_errors() {
    let parsed = StripeEvent::parse(&event(
        "customer.subscription.created",
        endive_subscription("active"),
    ))
    .unwrap();
    assert_eq!(parsed.kind, BillingEvent::Unhandled);
    let parsed =
        StripeEvent::parse(&event("v1.billing.meter.error_report_triggered", json!({}))).unwrap();
    assert_eq!(parsed.kind, BillingEvent::Unhandled);
}

#[test]
fn an_unhandled_object_using_our_field_names_otherwise_is_still_acknowledged() {
    // GIVEN objects of types we do not handle whose `customer`, `parent` or `metadata` have other
    // shapes than the handled objects' (the one-pass read of those fields fails)
    for object in [
        json!({"id": "x_1", "customer": 42}),
        json!({"id": "x_2", "parent": "in_1"}),
        json!({"id": "x_3", "metadata": ["not", "a", "map"]}),
        json!({"id": "x_4", "customer": {"object": "customer"}}),
    ] {
        // THEN the event is read, as unhandled
        let parsed = StripeEvent::parse(&event("issuing_card.updated", object.clone()))
            .unwrap_or_else(|e| panic!("{object}: {e}"));
        assert_eq!(parsed.kind, BillingEvent::Unhandled, "{object}");
        assert_eq!(parsed.event_type, "issuing_card.updated");
    }
}

#[test]
fn malformed_bodies_are_errors_that_say_why() {
    assert!(matches!(
        StripeEvent::parse(b"{not json"),
        Err(EventParseError::Envelope(_))
    ));
    assert!(matches!(
        StripeEvent::parse(br#"{"id":"evt_1","type":"invoice.paid"}"#),
        Err(EventParseError::Envelope(_))
    ));
    // a handled type whose object lacks what we need, or has it in another shape
    for object in [
        json!({"status": "active", "customer": "cus_1"}),
        json!({"id": "sub_1", "customer": 42}),
        json!({"id": "sub_1", "customer": {"object": "customer"}}),
    ] {
        let err = StripeEvent::parse(&event("customer.subscription.updated", object.clone()))
            .unwrap_err();
        assert!(
            matches!(err, EventParseError::Object { .. })
                && err.to_string().contains("customer.subscription.updated"),
            "{object}: {err}"
        );
    }
    // an id with the wrong prefix is refused
    for (event_type, object) in [
        (
            "customer.subscription.updated",
            json!({"id": "cus_1", "customer": "cus_1"}),
        ),
        (
            "customer.subscription.deleted",
            json!({"id": "sub_1", "customer": "sub_1"}),
        ),
        (
            "checkout.session.completed",
            json!({"id": "cs_1", "subscription": "cus_1"}),
        ),
    ] {
        assert!(
            StripeEvent::parse(&event(event_type, object.clone())).is_err(),
            "{event_type} {object}"
        );
    }
}

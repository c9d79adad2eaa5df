//! Handling one Stripe webhook delivery: verify, deduplicate, apply, answer.
//!
//! Ordering: Stripe delivers late, twice and out of order, and an event's `created` has one-second
//! resolution, so events are never applied from their own payload. Every handled event names a
//! subscription; the handler **re-fetches that subscription from Stripe** and stores what Stripe
//! says now, stamped with the fetch time in milliseconds as its version. The store applies a
//! snapshot only over an older version, so whichever order deliveries are processed in, the stored
//! state is the latest Stripe state fetched: an older event processed last re-fetches the newest
//! state, and a slow handler whose fetch is older loses to a faster, newer one.
//!
//! Events about a subscription that is no longer the customer's current one never touch the
//! current one: a snapshot for another subscription is stored only when the current one is over
//! (canceled or expired) or absent. The handler checks this early to skip the Stripe call, and
//! the store's write re-checks it, so a race between two handlers cannot get around it.

use tracing::{info, warn};

use crate::ids::{CustomerId, StripeCustomerId, StripeSubscriptionId};
use crate::ports::{
    ClaimOutcome, Clock, CustomerRecord, CustomerStore, SnapshotOutcome, StoreError,
    WEBHOOK_CLAIM_SECS, WEBHOOK_KEEP_SECS, WebhookEvents,
};
use crate::stripe::{StripeApi, StripeError};
use crate::subscription::SubscriptionSnapshot;
use crate::webhook::{BillingEvent, SignatureError, SignatureVerifier, StripeEvent};

/// The ports a webhook needs.
pub struct WebhookDeps<'a> {
    /// Deduplication by event id.
    pub events: &'a dyn WebhookEvents,
    /// The customers table.
    pub customers: &'a dyn CustomerStore,
    /// Stripe, to re-fetch subscriptions.
    pub stripe: &'a dyn StripeApi,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The signing secrets.
    pub verifier: &'a SignatureVerifier,
}

/// What to answer Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAnswer {
    /// 200: applied now, seen before, or not an event we act on.
    Done(Outcome),
    /// 400: the signature or the body is wrong; nothing was processed or stored.
    Rejected(String),
    /// 409: another invocation is processing this event; Stripe will retry.
    InProgress,
    /// 500: processing failed and may succeed on Stripe's retry; the claim was released.
    RetryLater(String),
}

impl WebhookAnswer {
    /// The HTTP status for this answer.
    pub fn status(&self) -> u16 {
        match self {
            WebhookAnswer::Done(_) => 200,
            WebhookAnswer::Rejected(_) => 400,
            WebhookAnswer::InProgress => 409,
            WebhookAnswer::RetryLater(_) => 500,
        }
    }
}

/// What a 200 meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The subscription state was stored.
    Applied,
    /// The stored state was already as new.
    Stale,
    /// The event was processed before.
    Duplicate,
    /// Not an event type the product acts on.
    Unhandled,
    /// Handled type, but nothing to do (e.g. an invoice without a subscription, or an event about
    /// a subscription that is not the customer's current one).
    Ignored(String),
}

/// Why applying an event failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Stripe failed.
    #[error("stripe: {0}")]
    Stripe(#[from] StripeError),
    /// The Stripe customer is not linked to any customer yet (the index may lag): retry later.
    #[error("no customer is linked to Stripe customer {0} yet")]
    UnknownStripeCustomer(StripeCustomerId),
    /// The customer named by a completed checkout does not exist.
    #[error("checkout names unknown customer {0}")]
    UnknownCustomer(CustomerId),
}

/// Handles one delivery: `body` is the exact raw body, `signature` the `Stripe-Signature` header,
/// `token` identifies this invocation (e.g. the Lambda request id).
pub async fn handle(
    deps: &WebhookDeps<'_>,
    body: &[u8],
    signature: Option<&str>,
    token: &str,
) -> WebhookAnswer {
    if let Err(e) = deps.verifier.verify(body, signature, deps.clock.now()) {
        warn!(error = %e, "webhook refused: signature");
        return WebhookAnswer::Rejected(signature_reason(&e));
    }
    let event = match StripeEvent::parse(body) {
        Ok(event) => event,
        Err(e) => {
            warn!(error = %e, "webhook refused: body");
            return WebhookAnswer::Rejected(e.to_string());
        }
    };
    if event.kind == BillingEvent::Unhandled {
        info!(event_id = %event.id, event_type = %event.event_type, "webhook event not handled");
        return WebhookAnswer::Done(Outcome::Unhandled);
    }
    let now = deps.clock.now();
    match deps
        .events
        .claim(&event.id, token, now, WEBHOOK_CLAIM_SECS)
        .await
    {
        Ok(ClaimOutcome::Claimed) => {}
        Ok(ClaimOutcome::AlreadyCompleted) => return WebhookAnswer::Done(Outcome::Duplicate),
        Ok(ClaimOutcome::InProgress) => return WebhookAnswer::InProgress,
        Err(e) => return WebhookAnswer::RetryLater(format!("claim failed: {e}")),
    }
    match apply(deps, &event).await {
        Ok(outcome) => {
            match deps
                .events
                .complete(&event.id, token, deps.clock.now(), WEBHOOK_KEEP_SECS)
                .await
            {
                // Not completing (claim taken over after expiry) is harmless: applying is
                // idempotent under the version guard.
                Ok(_) => {}
                Err(e) => warn!(event_id = %event.id, error = %e, "could not mark event completed"),
            }
            info!(event_id = %event.id, event_type = %event.event_type, outcome = ?outcome, "webhook applied");
            WebhookAnswer::Done(outcome)
        }
        Err(e) => {
            warn!(event_id = %event.id, event_type = %event.event_type, error = %e, "webhook failed; releasing claim");
            if let Err(release) = deps.events.release(&event.id, token).await {
                warn!(event_id = %event.id, error = %release, "could not release claim; it expires by itself");
            }
            WebhookAnswer::RetryLater(e.to_string())
        }
    }
}

fn signature_reason(e: &SignatureError) -> String {
    format!("invalid signature: {e}")
}

/// Applies a verified, claimed event.
async fn apply(deps: &WebhookDeps<'_>, event: &StripeEvent) -> Result<Outcome, ApplyError> {
    match &event.kind {
        BillingEvent::CheckoutCompleted(session) => {
            let Some(subscription_id) = &session.subscription else {
                return Ok(Outcome::Ignored("checkout without a subscription".into()));
            };
            let named = session
                .client_reference_id
                .clone()
                .or_else(|| session.metadata_customer_id.clone());
            let Some(customer_id) = named.and_then(|id| CustomerId::parse(id).ok()) else {
                return Ok(Outcome::Ignored("checkout names no customer".into()));
            };
            let customer = deps
                .customers
                .get_customer(&customer_id)
                .await?
                .ok_or_else(|| ApplyError::UnknownCustomer(customer_id.clone()))?;
            if customer.stripe_customer_id.is_none()
                || customer.stripe_customer_id != session.customer
            {
                // A session whose Stripe customer is not this customer's must not link anything.
                return Ok(Outcome::Ignored(format!(
                    "checkout's Stripe customer does not belong to customer {customer_id}"
                )));
            }
            store_latest(deps, &customer, subscription_id).await
        }
        BillingEvent::SubscriptionUpdated(sub) | BillingEvent::SubscriptionDeleted(sub) => {
            let customer = customer_of(deps, sub.customer.as_ref()).await?;
            store_latest(deps, &customer, &sub.id).await
        }
        BillingEvent::InvoicePaid(invoice) | BillingEvent::InvoicePaymentFailed(invoice) => {
            let Some(subscription_id) = &invoice.subscription else {
                return Ok(Outcome::Ignored("invoice without a subscription".into()));
            };
            let customer = customer_of(deps, invoice.customer.as_ref()).await?;
            store_latest(deps, &customer, subscription_id).await
        }
        BillingEvent::Unhandled => Ok(Outcome::Unhandled),
    }
}

async fn customer_of(
    deps: &WebhookDeps<'_>,
    stripe_customer: Option<&StripeCustomerId>,
) -> Result<CustomerRecord, ApplyError> {
    let Some(stripe_customer) = stripe_customer else {
        return Err(ApplyError::Stripe(StripeError::InvalidRequest(
            "event object names no customer".into(),
        )));
    };
    deps.customers
        .find_by_stripe_customer(stripe_customer)
        .await?
        .ok_or_else(|| ApplyError::UnknownStripeCustomer(stripe_customer.clone()))
}

/// Re-fetches the subscription and stores it, guarded by the fetch time.
async fn store_latest(
    deps: &WebhookDeps<'_>,
    customer: &CustomerRecord,
    subscription_id: &StripeSubscriptionId,
) -> Result<Outcome, ApplyError> {
    if let Some(current) = &customer.subscription
        && current.subscription_id != *subscription_id
        && !current.status.is_terminal()
    {
        return Ok(Outcome::Ignored(format!(
            "{subscription_id} is not the current subscription {}",
            current.subscription_id
        )));
    }
    let version = u64::try_from(deps.clock.now_millis()).unwrap_or(0);
    let subscription = deps.stripe.retrieve_subscription(subscription_id).await?;
    if subscription.customer != customer.stripe_customer_id {
        return Ok(Outcome::Ignored(format!(
            "{subscription_id} belongs to another Stripe customer"
        )));
    }
    let snapshot = SubscriptionSnapshot::from_stripe(&subscription, version);
    match deps
        .customers
        .apply_subscription(&customer.customer_id, &snapshot, deps.clock.now())
        .await?
    {
        SnapshotOutcome::Applied => Ok(Outcome::Applied),
        SnapshotOutcome::Stale => Ok(Outcome::Stale),
        SnapshotOutcome::UnknownCustomer => {
            Err(ApplyError::UnknownCustomer(customer.customer_id.clone()))
        }
        SnapshotOutcome::OtherSubscriptionCurrent => Ok(Outcome::Ignored(format!(
            "{subscription_id} is not the current subscription"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::service::fakes::{FakeClock, FakeStripe};
    use crate::subscription::SubscriptionStatus;
    use crate::webhook::sign_header;
    use secrecy::SecretString;
    use serde_json::json;

    const SECRET: &str = "whsec_unit";
    const NOW: i64 = 1_790_000_000;

    struct World {
        store: MemoryStore,
        stripe: FakeStripe,
        clock: FakeClock,
        verifier: SignatureVerifier,
    }

    impl World {
        async fn new() -> World {
            let world = World {
                store: MemoryStore::new(),
                stripe: FakeStripe::default(),
                clock: FakeClock::at(NOW),
                verifier: SignatureVerifier::new(vec![SecretString::from(SECRET)]),
            };
            world
                .store
                .link_stripe_customer(&cid("tenant-1"), &scid("cus_1"), NOW)
                .await
                .unwrap();
            world
        }

        fn deps(&self) -> WebhookDeps<'_> {
            WebhookDeps {
                events: &self.store,
                customers: &self.store,
                stripe: &self.stripe,
                clock: &self.clock,
                verifier: &self.verifier,
            }
        }

        async fn deliver(&self, body: &[u8]) -> WebhookAnswer {
            let header = sign_header(body, SECRET, NOW);
            handle(&self.deps(), body, Some(&header), "invocation-1").await
        }

        async fn status(&self) -> Option<SubscriptionStatus> {
            self.store
                .get_customer(&cid("tenant-1"))
                .await
                .unwrap()
                .unwrap()
                .subscription
                .map(|s| s.status)
        }
    }

    fn cid(s: &str) -> CustomerId {
        CustomerId::parse(s).unwrap()
    }

    fn scid(s: &str) -> StripeCustomerId {
        StripeCustomerId::parse(s).unwrap()
    }

    fn subscription(id: &str, status: &str) -> serde_json::Value {
        json!({"id": id, "object": "subscription", "customer": "cus_1", "status": status,
               "cancel_at_period_end": false, "items": {"data": [
                 {"id": "si_m", "price": {"id": "price_m", "recurring": {"usage_type": "metered"}},
                  "current_period_start": NOW - 10, "current_period_end": NOW + 2_592_000}]}})
    }

    fn event(id: &str, event_type: &str, object: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"id": id, "object": "event", "type": event_type,
            "created": NOW, "api_version": "2026-10-28.endive", "data": {"object": object}}))
        .unwrap()
    }

    #[tokio::test]
    async fn a_bad_signature_is_refused_and_nothing_is_claimed() {
        let w = World::new().await;
        let body = event(
            "evt_1",
            "customer.subscription.updated",
            subscription("sub_1", "active"),
        );
        let header = sign_header(&body, "whsec_wrong", NOW);
        let answer = handle(&w.deps(), &body, Some(&header), "t").await;
        assert_eq!(answer.status(), 400);
        // the event can still be claimed: nothing was stored
        let id = crate::ids::StripeEventId::parse("evt_1").unwrap();
        assert_eq!(
            w.store.claim(&id, "t2", NOW, 60).await.unwrap(),
            ClaimOutcome::Claimed
        );
    }

    #[tokio::test]
    async fn a_signed_but_malformed_body_is_a_400() {
        let w = World::new().await;
        assert_eq!(w.deliver(b"{\"id\": 12").await.status(), 400);
    }

    #[tokio::test]
    async fn other_event_types_get_200_without_work() {
        let w = World::new().await;
        let answer = w
            .deliver(&event("evt_2", "customer.created", json!({"id": "cus_1"})))
            .await;
        assert_eq!(answer, WebhookAnswer::Done(Outcome::Unhandled));
        assert_eq!(*w.stripe.retrievals.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn an_update_stores_what_stripe_says_now_and_a_redelivery_is_a_duplicate() {
        // GIVEN Stripe says the subscription is past_due, though the event carried active
        let w = World::new().await;
        w.stripe.put(subscription("sub_1", "past_due"));
        let body = event(
            "evt_3",
            "customer.subscription.updated",
            subscription("sub_1", "active"),
        );
        // WHEN delivered twice
        assert_eq!(
            w.deliver(&body).await,
            WebhookAnswer::Done(Outcome::Applied)
        );
        assert_eq!(
            w.deliver(&body).await,
            WebhookAnswer::Done(Outcome::Duplicate)
        );
        // THEN Stripe's current state is stored, fetched once
        assert_eq!(w.status().await, Some(SubscriptionStatus::PastDue));
        assert_eq!(*w.stripe.retrievals.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn events_in_reverse_order_end_in_stripes_latest_state() {
        let w = World::new().await;
        w.stripe.put(subscription("sub_1", "canceled"));
        let deleted = event(
            "evt_5",
            "customer.subscription.deleted",
            subscription("sub_1", "canceled"),
        );
        let updated = event(
            "evt_4",
            "customer.subscription.updated",
            subscription("sub_1", "active"),
        );
        w.deliver(&deleted).await;
        w.deliver(&updated).await;
        assert_eq!(w.status().await, Some(SubscriptionStatus::Canceled));
    }

    #[tokio::test]
    async fn an_unknown_stripe_customer_is_retried_later_and_then_applies() {
        let w = World::new().await;
        let mut sub = subscription("sub_9", "active");
        sub["customer"] = json!("cus_unknown");
        w.stripe.put(sub.clone());
        let body = event("evt_6", "customer.subscription.updated", sub);
        // WHEN the customer is not linked yet THEN Stripe must retry
        assert_eq!(w.deliver(&body).await.status(), 500);
        // AND once linked, the retry applies (the claim was released)
        w.store
            .link_stripe_customer(&cid("tenant-9"), &scid("cus_unknown"), NOW)
            .await
            .unwrap();
        assert_eq!(
            w.deliver(&body).await,
            WebhookAnswer::Done(Outcome::Applied)
        );
    }

    #[tokio::test]
    async fn a_stripe_customer_linked_to_two_customers_updates_neither_and_is_retried() {
        // GIVEN a Stripe customer linked to two customers (a hand edit of the table)
        let w = World::new().await;
        for c in ["twin-1", "twin-2"] {
            w.store
                .link_stripe_customer(&cid(c), &scid("cus_twin"), NOW)
                .await
                .unwrap();
        }
        let mut sub = subscription("sub_twin", "active");
        sub["customer"] = json!("cus_twin");
        w.stripe.put(sub.clone());
        // WHEN its subscription's event arrives THEN Stripe is told to retry
        let body = event("evt_twin", "customer.subscription.updated", sub);
        assert_eq!(w.deliver(&body).await.status(), 500);
        // AND neither customer got the subscription
        for c in ["twin-1", "twin-2"] {
            let stored = w.store.get_customer(&cid(c)).await.unwrap().unwrap();
            assert!(stored.subscription.is_none(), "{c}");
        }
    }

    #[tokio::test]
    async fn an_event_being_processed_elsewhere_is_answered_in_progress() {
        let w = World::new().await;
        let id = crate::ids::StripeEventId::parse("evt_7").unwrap();
        w.store
            .claim(&id, "other-invocation", NOW, 60)
            .await
            .unwrap();
        let body = event(
            "evt_7",
            "customer.subscription.updated",
            subscription("sub_1", "active"),
        );
        assert_eq!(w.deliver(&body).await, WebhookAnswer::InProgress);
    }

    #[tokio::test]
    async fn an_old_subscriptions_event_never_touches_the_current_one() {
        let w = World::new().await;
        w.stripe.put(subscription("sub_new", "active"));
        w.stripe.put(subscription("sub_old", "canceled"));
        w.deliver(&event(
            "evt_8",
            "customer.subscription.updated",
            subscription("sub_new", "active"),
        ))
        .await;
        let answer = w
            .deliver(&event(
                "evt_9",
                "customer.subscription.deleted",
                subscription("sub_old", "canceled"),
            ))
            .await;
        assert!(
            matches!(answer, WebhookAnswer::Done(Outcome::Ignored(_))),
            "{answer:?}"
        );
        assert_eq!(w.status().await, Some(SubscriptionStatus::Active));
    }

    #[tokio::test]
    async fn checkout_links_only_a_session_of_the_customers_own_stripe_customer() {
        let w = World::new().await;
        w.stripe.put(subscription("sub_1", "active"));
        let session = |customer: &str| {
            json!({"id": "cs_1", "object": "checkout.session", "customer": customer,
                   "subscription": "sub_1", "client_reference_id": "tenant-1", "mode": "subscription"})
        };
        let foreign = w
            .deliver(&event(
                "evt_10",
                "checkout.session.completed",
                session("cus_other"),
            ))
            .await;
        assert!(matches!(foreign, WebhookAnswer::Done(Outcome::Ignored(_))));
        assert_eq!(w.status().await, None);
        let own = w
            .deliver(&event(
                "evt_11",
                "checkout.session.completed",
                session("cus_1"),
            ))
            .await;
        assert_eq!(own, WebhookAnswer::Done(Outcome::Applied));
        assert_eq!(w.status().await, Some(SubscriptionStatus::Active));
    }

    #[tokio::test]
    async fn an_invoice_event_refreshes_its_subscription() {
        let w = World::new().await;
        w.stripe.put(subscription("sub_1", "past_due"));
        let invoice = json!({"id": "in_1", "object": "invoice", "customer": "cus_1",
            "billing_reason": "subscription_cycle",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}});
        let answer = w
            .deliver(&event("evt_12", "invoice.payment_failed", invoice))
            .await;
        assert_eq!(answer, WebhookAnswer::Done(Outcome::Applied));
        assert_eq!(w.status().await, Some(SubscriptionStatus::PastDue));
    }
}

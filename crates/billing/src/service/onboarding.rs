//! Sign-up, checkout and the customer portal: the use cases behind the post-confirmation trigger
//! and the checkout-session and portal-session routes.
//!
//! - **One Stripe customer per customer.** Every path that may create it (the sign-up trigger, a
//!   lazy create at checkout when sign-up could not reach Stripe) first stores or reads back the
//!   one creation request ([`Onboarding::stripe_customer_request`]) and sends exactly those
//!   parameters under the idempotency key derived from our customer id; the id is then linked with
//!   a write that never replaces a different one.
//! - **One open Checkout Session per customer.** Sessions are numbered by the customer's checkout
//!   generation and created under `checkout-<customer>-<generation>`, so two concurrent requests
//!   (two tabs, a double click) get the same session from Stripe; a completed or expired session
//!   retires its generation and the next request makes a new one.
//! - **No double subscriptions.** Checkout is refused while the customer has a subscription in a
//!   status that still stands (active, trialing, past_due, unpaid, incomplete).

use tracing::warn;

use crate::config::{CheckoutConfig, PortalConfig, PricesConfig};
use crate::ids::{CustomerId, StripeCustomerId};
use crate::ports::{Clock, CustomerStore, LinkOutcome, Onboarding, OpenCheckout, StoreError};
use crate::stripe::{NewCheckoutSession, NewCustomer, NewPortalSession, StripeApi, StripeError};
use crate::subscription::SubscriptionStatus;

/// How long before its expiry a remembered session is no longer handed out.
const EXPIRY_MARGIN_SECS: i64 = 300;

/// How many times checkout re-reads the slot when another request moved it meanwhile.
const SLOT_ATTEMPTS: u32 = 4;

/// The ports and settings these use cases need.
pub struct OnboardingDeps<'a> {
    /// The customers table.
    pub customers: &'a dyn CustomerStore,
    /// Creation requests and checkout slots.
    pub onboarding: &'a dyn Onboarding,
    /// Stripe.
    pub stripe: &'a dyn StripeApi,
    /// The time.
    pub clock: &'a dyn Clock,
}

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    /// The store failed (retryable).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Stripe failed.
    #[error("stripe: {0}")]
    Stripe(#[from] StripeError),
    /// A subscription that still stands exists: manage it in the portal instead (409).
    #[error(
        "customer {customer} already has a subscription ({status}); manage it in the billing portal"
    )]
    AlreadySubscribed {
        /// The customer.
        customer: CustomerId,
        /// Its subscription's status.
        status: SubscriptionStatus,
    },
    /// The customer has no Stripe customer yet, so there is no portal to open (404).
    #[error("customer {0} has no Stripe customer yet; start a subscription first")]
    NoStripeCustomer(CustomerId),
    /// The customer's last Checkout Session was just completed; its subscription is on its way
    /// (the webhook has not arrived yet), so a second one must not be started (409).
    #[error("customer {0} just completed a checkout; its subscription is being set up")]
    CheckoutJustCompleted(CustomerId),
    /// Concurrent requests kept moving the checkout slot.
    #[error("checkout for customer {0} kept changing; retry")]
    Busy(CustomerId),
}

/// Returns the customer's Stripe customer, creating it (once) when it does not exist yet.
/// `proposal` is used only if no creation request was stored before.
pub async fn ensure_stripe_customer(
    deps: &OnboardingDeps<'_>,
    proposal: &NewCustomer,
) -> Result<StripeCustomerId, OnboardingError> {
    let id = &proposal.customer_id;
    if let Some(existing) = deps
        .customers
        .get_customer(id)
        .await?
        .and_then(|c| c.stripe_customer_id)
    {
        return Ok(existing);
    }
    let now = deps.clock.now();
    let request = deps
        .onboarding
        .stripe_customer_request(proposal, now)
        .await?;
    let created = deps
        .stripe
        .create_customer(&request, &request.idempotency_key())
        .await?;
    match deps
        .customers
        .link_stripe_customer(id, &created.id, deps.clock.now())
        .await?
    {
        LinkOutcome::Linked | LinkOutcome::AlreadyLinked => Ok(created.id),
        LinkOutcome::LinkedToOther(existing) => {
            warn!(customer_id = %id, kept = %existing, other = %created.id,
                "a second Stripe customer was created after the idempotency window; keeping the linked one");
            Ok(existing)
        }
    }
}

/// A Checkout Session to send the browser to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLink {
    /// The session's id.
    pub id: String,
    /// Its hosted page.
    pub url: String,
}

/// Starts (or resumes) a subscription checkout for the caller's customer.
pub async fn start_checkout(
    deps: &OnboardingDeps<'_>,
    proposal: &NewCustomer,
    prices: &PricesConfig,
    urls: &CheckoutConfig,
) -> Result<CheckoutLink, OnboardingError> {
    let id = &proposal.customer_id;
    if let Some(subscription) = deps
        .customers
        .get_customer(id)
        .await?
        .and_then(|c| c.subscription)
        && subscription.status.blocks_new_checkout()
    {
        return Err(OnboardingError::AlreadySubscribed {
            customer: id.clone(),
            status: subscription.status,
        });
    }
    let stripe_customer_id = ensure_stripe_customer(deps, proposal).await?;
    let params = NewCheckoutSession {
        customer_id: id.clone(),
        stripe_customer_id,
        base_price_id: prices.base_price_id.clone(),
        metered_price_id: prices.metered_price_id.clone(),
        success_url: urls.success_url.clone(),
        cancel_url: urls.cancel_url.clone(),
    };
    for _ in 0..SLOT_ATTEMPTS {
        let slot = deps.onboarding.checkout_slot(id).await?;
        if let Some(open) = &slot.open {
            match session_state(deps, open).await? {
                SessionState::Open => {
                    return Ok(CheckoutLink {
                        id: open.session_id.to_string(),
                        url: open.url.clone(),
                    });
                }
                // Paid: the subscription exists in Stripe even if its webhook is still on the
                // way, so no second checkout. (Once the webhook lands, the status check above
                // answers; after a cancellation the session is retired below on a later call.)
                SessionState::Complete
                    if !deps
                        .customers
                        .get_customer(id)
                        .await?
                        .and_then(|c| c.subscription)
                        .is_some_and(|s| s.status.is_terminal()) =>
                {
                    return Err(OnboardingError::CheckoutJustCompleted(id.clone()));
                }
                // Expired, about to expire, or completed for a subscription now over.
                _ => {}
            }
            deps.onboarding
                .retire_checkout(id, slot.generation, deps.clock.now())
                .await?;
            continue;
        }
        let key = format!("checkout-{id}-{}", slot.generation);
        let session = deps.stripe.create_checkout_session(&params, &key).await?;
        let (Some(url), Some(expires_at)) = (session.url.clone(), session.expires_at) else {
            // A session created under this generation's key is no longer open (it completed or
            // expired before this request replayed it): move on to the next generation.
            deps.onboarding
                .retire_checkout(id, slot.generation, deps.clock.now())
                .await?;
            continue;
        };
        let open = OpenCheckout {
            session_id: session.id.clone(),
            url: url.clone(),
            expires_at,
        };
        if deps
            .onboarding
            .remember_checkout(id, slot.generation, &open, deps.clock.now())
            .await?
        {
            return Ok(CheckoutLink {
                id: session.id.to_string(),
                url,
            });
        }
        // The generation moved meanwhile: read the slot again.
    }
    Err(OnboardingError::Busy(id.clone()))
}

enum SessionState {
    Open,
    Complete,
    Gone,
}

async fn session_state(
    deps: &OnboardingDeps<'_>,
    open: &OpenCheckout,
) -> Result<SessionState, StripeError> {
    let session = deps
        .stripe
        .retrieve_checkout_session(&open.session_id)
        .await?;
    Ok(match session.status.as_deref() {
        Some("complete") => SessionState::Complete,
        Some("open") if open.expires_at > deps.clock.now() + EXPIRY_MARGIN_SECS => {
            SessionState::Open
        }
        _ => SessionState::Gone,
    })
}

/// A billing portal session for the caller's Stripe customer; a new one per click, as Stripe's
/// URLs are short-lived.
pub async fn open_portal(
    deps: &OnboardingDeps<'_>,
    id: &CustomerId,
    portal: &PortalConfig,
) -> Result<String, OnboardingError> {
    let stripe_customer_id = deps
        .customers
        .get_customer(id)
        .await?
        .and_then(|c| c.stripe_customer_id)
        .ok_or_else(|| OnboardingError::NoStripeCustomer(id.clone()))?;
    let params = NewPortalSession {
        stripe_customer_id,
        return_url: portal.return_url.clone(),
        configuration: portal.configuration_id.clone(),
    };
    // One key per click: a retry of this call re-sends it, a second click makes a new session.
    let key = format!("portal-{id}-{}", deps.clock.now_millis());
    Ok(deps.stripe.create_portal_session(&params, &key).await?.url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::ports::CustomerStore;
    use crate::service::fakes::{FakeClock, FakeStripe};
    use crate::subscription::SubscriptionSnapshot;

    const NOW: i64 = 1_790_000_000;

    struct World {
        store: MemoryStore,
        stripe: FakeStripe,
        clock: FakeClock,
    }

    impl World {
        fn new() -> World {
            World {
                store: MemoryStore::new(),
                stripe: FakeStripe::default(),
                clock: FakeClock::at(NOW),
            }
        }

        fn deps(&self) -> OnboardingDeps<'_> {
            OnboardingDeps {
                customers: &self.store,
                onboarding: &self.store,
                stripe: &self.stripe,
                clock: &self.clock,
            }
        }
    }

    fn proposal(user: &str) -> NewCustomer {
        NewCustomer {
            customer_id: CustomerId::parse("tenant-1").unwrap(),
            email: Some(format!("{user}@example.com")),
            name: Some(user.into()),
            cognito_sub: Some(format!("sub-{user}")),
            test_clock: None,
        }
    }

    fn prices() -> PricesConfig {
        PricesConfig {
            base_price_id: "price_base".into(),
            metered_price_id: "price_metered".into(),
        }
    }

    fn urls() -> CheckoutConfig {
        CheckoutConfig {
            success_url: "https://app.example/billing?session={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "https://app.example/billing?canceled=1".into(),
        }
    }

    async fn subscribe(w: &World, status: SubscriptionStatus) {
        ensure_stripe_customer(&w.deps(), &proposal("ann"))
            .await
            .unwrap();
        let outcome = w
            .store
            .apply_subscription(
                &CustomerId::parse("tenant-1").unwrap(),
                &SubscriptionSnapshot {
                    subscription_id: crate::ids::StripeSubscriptionId::parse("sub_1").unwrap(),
                    status,
                    current_period: None,
                    cancel_at_period_end: false,
                    version: u64::try_from(w.clock.now_millis()).unwrap(),
                },
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(outcome, crate::ports::SnapshotOutcome::Applied);
    }

    #[tokio::test]
    async fn a_retried_sign_up_and_a_second_user_create_one_stripe_customer() {
        // GIVEN a sign-up (Cognito may retry it) and later a second user of the same customer
        let w = World::new();
        let first = ensure_stripe_customer(&w.deps(), &proposal("ann"))
            .await
            .unwrap();
        let retry = ensure_stripe_customer(&w.deps(), &proposal("ann"))
            .await
            .unwrap();
        let second_user = ensure_stripe_customer(&w.deps(), &proposal("bob"))
            .await
            .unwrap();
        // THEN exactly one Stripe customer exists and all three got it
        assert_eq!(w.stripe.created_with_prefix("cus_"), 1);
        assert_eq!(first, retry);
        assert_eq!(first, second_user);
    }

    #[tokio::test]
    async fn a_lazy_create_after_a_lost_link_reuses_the_first_request() {
        // GIVEN sign-up stored its request and reached Stripe, but the link write was lost
        let w = World::new();
        let request = w
            .store
            .stripe_customer_request(&proposal("ann"), NOW)
            .await
            .unwrap();
        w.stripe
            .create_customer(&request, &request.idempotency_key())
            .await
            .unwrap();
        // WHEN another user starts checkout (other claims)
        ensure_stripe_customer(&w.deps(), &proposal("bob"))
            .await
            .unwrap();
        // THEN Stripe saw identical parameters under the same key: no idempotency error, one customer
        assert_eq!(w.stripe.created_with_prefix("cus_"), 1);
    }

    #[tokio::test]
    async fn two_concurrent_checkouts_get_one_session() {
        let w = World::new();
        let (p, u) = (prices(), urls());
        let (ann, ann_again) = (proposal("ann"), proposal("ann"));
        let deps = w.deps();
        let (a, b) = tokio::join!(
            start_checkout(&deps, &ann, &p, &u),
            start_checkout(&deps, &ann_again, &p, &u)
        );
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(w.stripe.created_with_prefix("cs_"), 1);
    }

    #[tokio::test]
    async fn an_expired_session_is_replaced_and_an_open_one_reused() {
        let w = World::new();
        let first = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
            .await
            .unwrap();
        let again = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
            .await
            .unwrap();
        assert_eq!(first, again);
        w.stripe.set_session_status(&first.id, "expired");
        let next = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
            .await
            .unwrap();
        assert_ne!(next.id, first.id);
        assert_eq!(w.stripe.created_with_prefix("cs_"), 2);
    }

    #[tokio::test]
    async fn checkout_is_refused_while_a_subscription_stands() {
        for status in [SubscriptionStatus::Active, SubscriptionStatus::PastDue] {
            let w = World::new();
            subscribe(&w, status).await;
            let err = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
                .await
                .unwrap_err();
            assert!(
                matches!(err, OnboardingError::AlreadySubscribed { .. }),
                "{err}"
            );
            assert_eq!(w.stripe.created_with_prefix("cs_"), 0);
        }
    }

    #[tokio::test]
    async fn a_completed_checkout_whose_webhook_is_late_blocks_a_second_one() {
        let w = World::new();
        let first = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
            .await
            .unwrap();
        w.stripe.set_session_status(&first.id, "complete");
        let err = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
            .await
            .unwrap_err();
        assert!(
            matches!(err, OnboardingError::CheckoutJustCompleted(_)),
            "{err}"
        );
        // AND once that subscription is over, a new checkout may start
        subscribe(&w, SubscriptionStatus::Canceled).await;
        let next = start_checkout(&w.deps(), &proposal("ann"), &prices(), &urls())
            .await
            .unwrap();
        assert_ne!(next.id, first.id);
    }

    #[tokio::test]
    async fn the_portal_needs_a_stripe_customer() {
        let w = World::new();
        let id = CustomerId::parse("tenant-1").unwrap();
        let portal = PortalConfig {
            return_url: "https://app.example/billing".into(),
            configuration_id: None,
        };
        assert!(matches!(
            open_portal(&w.deps(), &id, &portal).await,
            Err(OnboardingError::NoStripeCustomer(_))
        ));
        ensure_stripe_customer(&w.deps(), &proposal("ann"))
            .await
            .unwrap();
        let url = open_portal(&w.deps(), &id, &portal).await.unwrap();
        assert!(url.starts_with("https://portal.fake/"));
    }
}

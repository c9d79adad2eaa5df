//! The onboarding contract: one Stripe customer-creation request per customer, one checkout
//! session per generation, generations moving one step at a time.

use billing::ids::CheckoutSessionId;
use billing::ports::{CheckoutSlot, OpenCheckout};
use billing::stripe::NewCustomer;

use crate::support::*;

fn request(sub: &str) -> NewCustomer {
    NewCustomer {
        customer_id: cid("c1"),
        email: Some(format!("{sub}@example.com")),
        name: Some("Ann".into()),
        cognito_sub: Some(sub.into()),
        test_clock: None,
    }
}

fn session(id: &str) -> OpenCheckout {
    OpenCheckout {
        session_id: CheckoutSessionId::parse(format!("cs_{id}")).unwrap(),
        url: format!("https://checkout.example/{id}"),
        expires_at: NOW + 86_400,
    }
}

pub async fn the_first_customer_request_is_kept_and_later_ones_read_it_back<S: Store>(store: &S) {
    // GIVEN a first request (the sign-up trigger's)
    let first = request("user-a");
    assert_eq!(
        store.stripe_customer_request(&first, NOW).await.unwrap(),
        first
    );
    // WHEN another path proposes other parameters (a second user at checkout)
    let later = store
        .stripe_customer_request(&request("user-b"), NOW + 5)
        .await
        .unwrap();
    // THEN it gets the first request back, so Stripe sees identical parameters
    assert_eq!(later, first);
    // AND the customer item exists
    assert!(store.get_customer(&cid("c1")).await.unwrap().is_some());
}

pub async fn concurrent_customer_requests_agree_on_one<S: Store>(store: &S) {
    let (user_a, user_b) = (request("user-a"), request("user-b"));
    let (a, b) = tokio::join!(
        store.stripe_customer_request(&user_a, NOW),
        store.stripe_customer_request(&user_b, NOW)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == request("user-a") || a == request("user-b"));
}

pub async fn a_checkout_slot_starts_empty_at_generation_zero<S: Store>(store: &S) {
    assert_eq!(
        store.checkout_slot(&cid("nobody")).await.unwrap(),
        CheckoutSlot::default()
    );
}

pub async fn one_session_is_remembered_per_generation<S: Store>(store: &S) {
    let c = cid("c1");
    // GIVEN a session remembered for generation 0
    assert!(
        store
            .remember_checkout(&c, 0, &session("a"), NOW)
            .await
            .unwrap()
    );
    // WHEN the same session is remembered again (a concurrent request got it from Stripe too)
    assert!(
        store
            .remember_checkout(&c, 0, &session("a"), NOW)
            .await
            .unwrap()
    );
    // THEN another session for the same generation is refused
    assert!(
        !store
            .remember_checkout(&c, 0, &session("b"), NOW)
            .await
            .unwrap()
    );
    // AND the slot shows the first one
    let slot = store.checkout_slot(&c).await.unwrap();
    assert_eq!(slot.generation, 0);
    assert_eq!(slot.open, Some(session("a")));
    // AND a generation that is not the current one is refused
    assert!(
        !store
            .remember_checkout(&c, 1, &session("c"), NOW)
            .await
            .unwrap()
    );
}

pub async fn retiring_a_generation_moves_it_once_and_frees_the_slot<S: Store>(store: &S) {
    let c = cid("c1");
    store
        .remember_checkout(&c, 0, &session("a"), NOW)
        .await
        .unwrap();
    // WHEN two requests retire generation 0 (the session expired)
    let (first, second) = tokio::join!(
        store.retire_checkout(&c, 0, NOW),
        store.retire_checkout(&c, 0, NOW)
    );
    // THEN exactly one moves it, to 1, with no session
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|x| **x)
            .count(),
        1
    );
    assert_eq!(
        store.checkout_slot(&c).await.unwrap(),
        CheckoutSlot {
            generation: 1,
            open: None
        }
    );
    // AND generation 1 takes a new session
    assert!(
        store
            .remember_checkout(&c, 1, &session("b"), NOW)
            .await
            .unwrap()
    );
    assert!(!store.retire_checkout(&c, 0, NOW).await.unwrap());
}

pub async fn a_session_cannot_be_remembered_for_a_retired_generation<S: Store>(store: &S) {
    let c = cid("c1");
    assert!(store.retire_checkout(&c, 0, NOW).await.unwrap());
    assert!(
        !store
            .remember_checkout(&c, 0, &session("late"), NOW)
            .await
            .unwrap()
    );
    assert_eq!(store.checkout_slot(&c).await.unwrap().open, None);
}

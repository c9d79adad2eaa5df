//! The webhook-events contract: one claim at a time, completion by the claimer, expiry.

use billing::ports::ClaimOutcome;

use crate::support::*;

const CLAIM: i64 = 60;
const KEEP: i64 = 1_000;

pub async fn a_first_claim_owns_the_event_and_a_second_is_told_it_is_in_progress<S: Store>(
    store: &S,
) {
    // WHEN an event is claimed twice, and another event once
    let first = store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    let second = store.claim(&eid("1"), "b", NOW + 1, CLAIM).await.unwrap();
    let other = store.claim(&eid("2"), "b", NOW + 1, CLAIM).await.unwrap();
    // THEN the first owns it, the second is told to come back, the other event is independent
    assert_eq!(first, ClaimOutcome::Claimed);
    assert_eq!(second, ClaimOutcome::InProgress);
    assert_eq!(other, ClaimOutcome::Claimed);
    // AND the owner is still the first claimer
    assert!(!store.complete(&eid("1"), "b", NOW + 2, KEEP).await.unwrap());
    assert!(store.complete(&eid("1"), "a", NOW + 2, KEEP).await.unwrap());
}

pub async fn a_completed_event_is_already_completed_for_later_claims<S: Store>(store: &S) {
    // GIVEN an event claimed and completed
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    assert!(store.complete(&eid("1"), "a", NOW + 5, KEEP).await.unwrap());
    // WHEN it is claimed again, after the claim would have expired but within the keep time
    let again = store
        .claim(&eid("1"), "b", NOW + CLAIM + 100, CLAIM)
        .await
        .unwrap();
    // THEN it is already completed
    assert_eq!(again, ClaimOutcome::AlreadyCompleted);
}

pub async fn an_expired_claim_can_be_claimed_again<S: Store>(store: &S) {
    // GIVEN a claim whose invocation crashed
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    // WHEN it is claimed just before and at its expiry
    let before = store
        .claim(&eid("1"), "b", NOW + CLAIM - 1, CLAIM)
        .await
        .unwrap();
    let at = store
        .claim(&eid("1"), "c", NOW + CLAIM, CLAIM)
        .await
        .unwrap();
    // THEN it is in progress until then, and claimable from then on, by the new claimer
    assert_eq!(before, ClaimOutcome::InProgress);
    assert_eq!(at, ClaimOutcome::Claimed);
    assert!(
        store
            .complete(&eid("1"), "c", NOW + CLAIM + 1, KEEP)
            .await
            .unwrap()
    );
}

pub async fn an_expired_completed_marker_can_be_claimed_again<S: Store>(store: &S) {
    // GIVEN an event completed at NOW + 5, kept for KEEP seconds
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    store.complete(&eid("1"), "a", NOW + 5, KEEP).await.unwrap();
    // WHEN it is claimed just before and at the end of the keep time
    let before = store
        .claim(&eid("1"), "b", NOW + 5 + KEEP - 1, CLAIM)
        .await
        .unwrap();
    let at = store
        .claim(&eid("1"), "c", NOW + 5 + KEEP, CLAIM)
        .await
        .unwrap();
    // THEN the marker counts until then and is treated as absent from then on
    assert_eq!(before, ClaimOutcome::AlreadyCompleted);
    assert_eq!(at, ClaimOutcome::Claimed);
    let later = store
        .claim(&eid("1"), "d", NOW + 5 + KEEP + 1, CLAIM)
        .await
        .unwrap();
    assert_eq!(later, ClaimOutcome::InProgress);
}

pub async fn complete_with_a_wrong_token_is_refused_and_keeps_the_claim<S: Store>(store: &S) {
    // GIVEN a claim by a
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    // WHEN b tries to complete it
    let by_b = store.complete(&eid("1"), "b", NOW + 1, KEEP).await.unwrap();
    // THEN it is refused and the event is still in progress (not completed)
    assert!(!by_b);
    assert_eq!(
        store.claim(&eid("1"), "c", NOW + 2, CLAIM).await.unwrap(),
        ClaimOutcome::InProgress
    );
    assert!(store.complete(&eid("1"), "a", NOW + 3, KEEP).await.unwrap());
}

pub async fn a_claimer_whose_claim_was_taken_over_can_neither_complete_nor_release<S: Store>(
    store: &S,
) {
    // GIVEN a's claim expired and b claimed the event
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    assert_eq!(
        store
            .claim(&eid("1"), "b", NOW + CLAIM + 1, CLAIM)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );
    // WHEN a, late, completes then releases
    let completed = store
        .complete(&eid("1"), "a", NOW + CLAIM + 2, KEEP)
        .await
        .unwrap();
    let released = store.release(&eid("1"), "a").await.unwrap();
    // THEN both are refused and b's claim stands
    assert!(!completed);
    assert!(!released);
    assert_eq!(
        store
            .claim(&eid("1"), "c", NOW + CLAIM + 3, CLAIM)
            .await
            .unwrap(),
        ClaimOutcome::InProgress
    );
    assert!(
        store
            .complete(&eid("1"), "b", NOW + CLAIM + 4, KEEP)
            .await
            .unwrap()
    );
}

pub async fn release_with_a_wrong_token_is_refused_and_keeps_the_claim<S: Store>(store: &S) {
    // GIVEN a claim by a
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    // WHEN b releases it
    let by_b = store.release(&eid("1"), "b").await.unwrap();
    // THEN it is refused and the claim stands
    assert!(!by_b);
    assert_eq!(
        store.claim(&eid("1"), "c", NOW + 1, CLAIM).await.unwrap(),
        ClaimOutcome::InProgress
    );
    // AND a's release frees the event for Stripe's retry at once
    assert!(store.release(&eid("1"), "a").await.unwrap());
    assert_eq!(
        store.claim(&eid("1"), "d", NOW + 2, CLAIM).await.unwrap(),
        ClaimOutcome::Claimed
    );
}

pub async fn a_completed_event_can_be_neither_released_nor_completed_again<S: Store>(store: &S) {
    // GIVEN a completed event
    store.claim(&eid("1"), "a", NOW, CLAIM).await.unwrap();
    assert!(store.complete(&eid("1"), "a", NOW + 1, KEEP).await.unwrap());
    // WHEN its claimer releases it, then completes it again much later
    let released = store.release(&eid("1"), "a").await.unwrap();
    let completed_again = store
        .complete(&eid("1"), "a", NOW + 2 * KEEP, KEEP)
        .await
        .unwrap();
    // THEN both are refused and the marker keeps its first expiry
    assert!(!released);
    assert!(!completed_again);
    assert_eq!(
        store.claim(&eid("1"), "b", NOW + 2, CLAIM).await.unwrap(),
        ClaimOutcome::AlreadyCompleted
    );
    assert_eq!(
        store
            .claim(&eid("1"), "b", NOW + 1 + KEEP, CLAIM)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );
}

pub async fn complete_or_release_of_an_unknown_event_is_refused_and_creates_nothing<S: Store>(
    store: &S,
) {
    // WHEN an event never claimed is completed and released
    let completed = store.complete(&eid("1"), "a", NOW, KEEP).await.unwrap();
    let released = store.release(&eid("2"), "a").await.unwrap();
    // THEN both are refused, and both events can still be claimed
    assert!(!completed);
    assert!(!released);
    assert_eq!(
        store.claim(&eid("1"), "b", NOW + 1, CLAIM).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim(&eid("2"), "b", NOW + 1, CLAIM).await.unwrap(),
        ClaimOutcome::Claimed
    );
}

pub async fn concurrent_claims_of_one_event_give_exactly_one_claim<S: Store>(store: &S) {
    for round in 0..6 {
        // WHEN four invocations claim the same event at once
        let event = eid(&format!("race{round}"));
        let claim = |token: &'static str| {
            let event = event.clone();
            async move {
                jitter().await;
                store.claim(&event, token, NOW, CLAIM).await.unwrap()
            }
        };
        let (a, b, c, d) = tokio::join!(claim("a"), claim("b"), claim("c"), claim("d"));
        // THEN exactly one owns it, the others are told it is in progress
        let outcomes = [a, b, c, d];
        let claimed = outcomes
            .iter()
            .filter(|o| **o == ClaimOutcome::Claimed)
            .count();
        let in_progress = outcomes
            .iter()
            .filter(|o| **o == ClaimOutcome::InProgress)
            .count();
        assert_eq!(
            (claimed, in_progress),
            (1, 3),
            "round {round}: {outcomes:?}"
        );
    }
}

//! The meter-intent contract: intents never overlap, and each is marked sent by its identifier.

use billing::ports::IntentOutcome;

use crate::support::*;

pub async fn an_intent_from_the_ledgers_units_is_persisted<S: Store>(store: &S) {
    // WHEN the first intent of a period with no ledger yet is begun
    let c = cid("c1");
    let first = intent(&c, &p1(), 0, 5);
    let outcome = store.begin_intent(&c, &p1(), &first).await.unwrap();
    // THEN it is persisted, pending, with the units it covers counted as intended
    assert_eq!(outcome, IntentOutcome::Started);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.customer_id, c);
    assert_eq!(ledger.period, p1());
    assert_eq!(ledger.billed_total, usd("0"));
    assert_eq!((ledger.units_intended, ledger.units_sent), (5, 0));
    assert_eq!(ledger.pending, Some(first));
}

pub async fn a_second_intent_while_one_is_pending_conflicts<S: Store>(store: &S) {
    // GIVEN a pending intent for units [0, 5)
    let c = cid("c1");
    let first = intent(&c, &p1(), 0, 5);
    store.begin_intent(&c, &p1(), &first).await.unwrap();
    // WHEN the next range, and the same range again, are begun before it is marked sent
    let next = store
        .begin_intent(&c, &p1(), &intent(&c, &p1(), 5, 9))
        .await
        .unwrap();
    let same = store.begin_intent(&c, &p1(), &first).await.unwrap();
    // THEN both conflict and the pending intent is unchanged
    assert_eq!(next, IntentOutcome::Conflict);
    assert_eq!(same, IntentOutcome::Conflict);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.units_intended, 5);
    assert_eq!(ledger.pending, Some(first));
    // AND even an empty intent [0, 0), while pending, blocks the next one from 0
    let empty = intent(&c, &p2(), 0, 0);
    assert_eq!(
        store.begin_intent(&c, &p2(), &empty).await.unwrap(),
        IntentOutcome::Started
    );
    assert_eq!(
        store
            .begin_intent(&c, &p2(), &intent(&c, &p2(), 0, 3))
            .await
            .unwrap(),
        IntentOutcome::Conflict
    );
}

pub async fn an_intent_with_a_stale_from_conflicts<S: Store>(store: &S) {
    // GIVEN a fresh period, an intent not starting at zero conflicts
    let c = cid("c1");
    assert_eq!(
        store
            .begin_intent(&c, &p1(), &intent(&c, &p1(), 2, 5))
            .await
            .unwrap(),
        IntentOutcome::Conflict
    );
    // AND GIVEN units [0, 5) intended and sent
    let first = intent(&c, &p1(), 0, 5);
    assert_eq!(
        store.begin_intent(&c, &p1(), &first).await.unwrap(),
        IntentOutcome::Started
    );
    assert!(
        store
            .mark_intent_sent(&c, p1().start(), &first.identifier, NOW)
            .await
            .unwrap()
    );
    // WHEN intents from a stale `from` are begun
    let from_zero = store
        .begin_intent(&c, &p1(), &intent(&c, &p1(), 0, 7))
        .await
        .unwrap();
    let from_three = store
        .begin_intent(&c, &p1(), &intent(&c, &p1(), 3, 7))
        .await
        .unwrap();
    // THEN they conflict and nothing changes
    assert_eq!(from_zero, IntentOutcome::Conflict);
    assert_eq!(from_three, IntentOutcome::Conflict);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!((ledger.units_intended, ledger.units_sent), (5, 5));
    assert_eq!(ledger.pending, None);
}

pub async fn marking_with_a_wrong_identifier_is_refused<S: Store>(store: &S) {
    // GIVEN a pending intent
    let c = cid("c1");
    let first = intent(&c, &p1(), 0, 5);
    store.begin_intent(&c, &p1(), &first).await.unwrap();
    // WHEN another identifier is marked sent, on this ledger and on one that does not exist
    let wrong = store
        .mark_intent_sent(&c, p1().start(), "mev_other", NOW)
        .await
        .unwrap();
    let nowhere = store
        .mark_intent_sent(&c, p2().start(), &first.identifier, NOW)
        .await
        .unwrap();
    // THEN both are refused, the intent stays pending, and no ledger appears
    assert!(!wrong);
    assert!(!nowhere);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.pending, Some(first));
    assert_eq!(ledger.units_sent, 0);
    assert_eq!(store.get_ledger(&c, p2().start()).await.unwrap(), None);
}

pub async fn after_an_intent_is_marked_sent_the_next_one_can_begin<S: Store>(store: &S) {
    // GIVEN a pending intent for [0, 5)
    let c = cid("c1");
    let first = intent(&c, &p1(), 0, 5);
    store.begin_intent(&c, &p1(), &first).await.unwrap();
    // WHEN it is marked sent (twice: a retried mark)
    let marked = store
        .mark_intent_sent(&c, p1().start(), &first.identifier, NOW)
        .await
        .unwrap();
    let again = store
        .mark_intent_sent(&c, p1().start(), &first.identifier, NOW)
        .await
        .unwrap();
    // THEN the first mark counts the units sent, the second finds nothing pending
    assert!(marked);
    assert!(!again);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!((ledger.units_intended, ledger.units_sent), (5, 5));
    assert_eq!(ledger.pending, None);
    // AND the next range can begin
    let next = intent(&c, &p1(), 5, 9);
    assert_eq!(
        store.begin_intent(&c, &p1(), &next).await.unwrap(),
        IntentOutcome::Started
    );
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!((ledger.units_intended, ledger.units_sent), (9, 5));
    assert_eq!(ledger.pending, Some(next));
}

pub async fn an_intent_keeps_the_billed_total_of_its_ledger<S: Store>(store: &S) {
    // GIVEN a ledger with usage
    let c = customer_on(store, "c1", Some(p1())).await;
    put_and_apply(store, &c, &p1(), &["u1"], "0.37").await;
    // WHEN an intent is begun and marked sent, and more usage comes
    let first = intent(&c, &p1(), 0, 37);
    assert_eq!(
        store.begin_intent(&c, &p1(), &first).await.unwrap(),
        IntentOutcome::Started
    );
    put_and_apply(store, &c, &p1(), &["u2"], "0.05").await;
    store
        .mark_intent_sent(&c, p1().start(), &first.identifier, NOW)
        .await
        .unwrap();
    // THEN the total is untouched by the intent and counts the later usage
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("0.42"));
    assert_eq!((ledger.units_intended, ledger.units_sent), (37, 37));
}

pub async fn concurrent_intents_from_the_same_units_start_exactly_one<S: Store>(store: &S) {
    for round in 0..5 {
        // WHEN two reporters begin intents from the same units at once
        let c = cid(&format!("c{round}"));
        let begin = |to: u64| {
            let c = c.clone();
            async move {
                jitter().await;
                store
                    .begin_intent(&c, &p1(), &intent(&c, &p1(), 0, to))
                    .await
                    .unwrap()
            }
        };
        let (a, b) = tokio::join!(begin(5), begin(6));
        // THEN exactly one starts, and the ledger holds that one
        let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
        match (a, b) {
            (IntentOutcome::Started, IntentOutcome::Conflict) => {
                assert_eq!(ledger.units_intended, 5);
            }
            (IntentOutcome::Conflict, IntentOutcome::Started) => {
                assert_eq!(ledger.units_intended, 6);
            }
            outcomes => panic!("round {round}: not exactly one intent: {outcomes:?}"),
        }
    }
}

pub async fn pending_intents_are_listed_until_marked_sent<S: Store>(store: &S) {
    // GIVEN pending intents on two ledgers, one marked sent on a third, and a ledger without any
    let (a, b) = (cid("a"), cid("b"));
    let pending_a = intent(&a, &p2(), 0, 3);
    let pending_b = intent(&b, &p1(), 0, 4);
    let sent = intent(&a, &p1(), 0, 2);
    store.begin_intent(&a, &p2(), &pending_a).await.unwrap();
    store.begin_intent(&b, &p1(), &pending_b).await.unwrap();
    store.begin_intent(&a, &p1(), &sent).await.unwrap();
    store
        .mark_intent_sent(&a, p1().start(), &sent.identifier, NOW)
        .await
        .unwrap();
    put_and_apply(store, &b, &p2(), &["u1"], "1").await;
    // WHEN the sweep lists pending intents
    let listed = store.list_pending_intents().await.unwrap();
    // THEN it gets exactly the two pending ones, by customer then period
    let found: Vec<_> = listed
        .iter()
        .map(|l| (l.customer_id.clone(), l.period, l.pending.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (a.clone(), p2(), Some(pending_a)),
            (b.clone(), p1(), Some(pending_b)),
        ]
    );
}

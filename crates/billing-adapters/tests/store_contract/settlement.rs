//! The settlement contract: an apply that adds usage marks its ledger unsettled in the same write;
//! only a settling write made while `billed_total` is still the total its caller settled clears
//! the mark, so usage applied after that read always stays marked for the sweep.

use std::time::Duration;

use billing::period::BillingPeriod;

use crate::support::*;

/// The (customer, period start) of every ledger marked unsettled at or before `before`.
async fn unsettled<S: Store>(store: &S, before: i64) -> Vec<(String, i64)> {
    store
        .list_unsettled_ledgers(before)
        .await
        .unwrap()
        .iter()
        .map(|l| (l.customer_id.to_string(), l.period.start()))
        .collect()
}

/// Writes record `id` (cost 1) and applies it to `period` with `billed`, at `now`.
async fn apply_at<S: Store>(
    store: &S,
    customer: &billing::ids::CustomerId,
    period: &BillingPeriod,
    id: &str,
    billed: &str,
    now: i64,
) {
    store
        .put_usage_record(&record(id, customer, "1", period.start()), now)
        .await
        .unwrap();
    let outcome = store
        .apply_usage(customer, period, &[application(id, billed)], now)
        .await
        .unwrap();
    assert_eq!(outcome.applied, vec![uid(id)]);
}

pub async fn an_apply_that_adds_usage_marks_the_ledger_unsettled_from_its_first_apply<S: Store>(
    store: &S,
) {
    // GIVEN usage applied to p1 at NOW, then more at NOW + 100
    let c = customer_on(store, "c1", Some(p1())).await;
    apply_at(store, &c, &p1(), "a", "0.25", NOW).await;
    assert!(unsettled(store, NOW - 1).await.is_empty());
    apply_at(store, &c, &p1(), "b", "0.5", NOW + 100).await;
    // AND on p2 an empty apply and the apply of a record billed nothing
    store.apply_usage(&c, &p2(), &[], NOW).await.unwrap();
    apply_at(store, &c, &p2(), "zero", "0", NOW).await;
    // THEN only p1 is unsettled, since its first apply, with its whole total
    assert_eq!(
        unsettled(store, NOW).await,
        vec![("c1".to_string(), p1().start())]
    );
    let listed = store.list_unsettled_ledgers(i64::MAX).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].period, p1());
    assert_eq!(listed[0].billed_total, usd("0.75"));
    assert_eq!(listed[0].pending, None);
}

pub async fn a_settled_ledger_is_listed_again_only_when_usage_is_applied_again<S: Store>(
    store: &S,
) {
    // GIVEN usage applied to p1 and the ledger settled at its total
    let c = customer_on(store, "c1", Some(p1())).await;
    apply_at(store, &c, &p1(), "a", "0.25", NOW).await;
    assert!(
        store
            .settle_ledger(&c, p1().start(), usd("0.25"))
            .await
            .unwrap()
    );
    assert!(unsettled(store, i64::MAX).await.is_empty());
    // WHEN more usage is applied later
    apply_at(store, &c, &p1(), "b", "0.5", NOW + 50).await;
    // THEN the ledger is unsettled again, from that apply
    assert!(unsettled(store, NOW + 49).await.is_empty());
    assert_eq!(unsettled(store, NOW + 50).await.len(), 1);
    // AND settling a ledger that does not exist answers false and creates nothing
    assert!(
        !store
            .settle_ledger(&c, p2().start(), usd("0"))
            .await
            .unwrap()
    );
    assert_eq!(store.get_ledger(&c, p2().start()).await.unwrap(), None);
}

pub async fn settling_with_a_total_that_moved_on_keeps_the_mark<S: Store>(store: &S) {
    // GIVEN a settler read the total $0.25, then usage of $0.50 was applied
    let c = customer_on(store, "c1", Some(p1())).await;
    apply_at(store, &c, &p1(), "a", "0.25", NOW).await;
    let read = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    apply_at(store, &c, &p1(), "b", "0.5", NOW + 1).await;
    // WHEN it settles at the total it read
    let settled = store
        .settle_ledger(&c, p1().start(), read.billed_total)
        .await
        .unwrap();
    // THEN it is refused and the ledger stays unsettled
    assert!(!settled);
    assert_eq!(unsettled(store, NOW).await.len(), 1);
    // AND settling at the current total clears it
    assert!(
        store
            .settle_ledger(&c, p1().start(), usd("0.75"))
            .await
            .unwrap()
    );
    assert!(unsettled(store, i64::MAX).await.is_empty());
}

pub async fn marking_the_covering_intent_sent_settles_the_ledger<S: Store>(store: &S) {
    // GIVEN $0.25 applied and an intent for its 25 units pending
    let c = customer_on(store, "c1", Some(p1())).await;
    apply_at(store, &c, &p1(), "a", "0.25", NOW).await;
    let pending = intent(&c, &p1(), 0, 25);
    store.begin_intent(&c, &p1(), &pending).await.unwrap();
    // WHEN it is marked sent, settling at $0.25
    let marked = store
        .mark_intent_sent_settling(&c, p1().start(), &pending.identifier, usd("0.25"), NOW)
        .await
        .unwrap();
    // THEN it is sent and the ledger settled
    assert!(marked);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!((ledger.units_intended, ledger.units_sent), (25, 25));
    assert_eq!(ledger.pending, None);
    assert!(unsettled(store, i64::MAX).await.is_empty());
    // AND marking it again is refused
    assert!(
        !store
            .mark_intent_sent_settling(&c, p1().start(), &pending.identifier, usd("0.25"), NOW)
            .await
            .unwrap()
    );
}

pub async fn usage_applied_after_the_settling_read_is_sent_but_stays_unsettled<S: Store>(
    store: &S,
) {
    // GIVEN a settler read $0.25, began the intent for its 25 units, and $0.50 more was applied
    let c = customer_on(store, "c1", Some(p1())).await;
    apply_at(store, &c, &p1(), "a", "0.25", NOW).await;
    let read = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    let pending = intent(&c, &p1(), 0, 25);
    store.begin_intent(&c, &p1(), &pending).await.unwrap();
    apply_at(store, &c, &p1(), "b", "0.5", NOW + 1).await;
    // WHEN the intent is marked sent, settling at the total read
    let marked = store
        .mark_intent_sent_settling(
            &c,
            p1().start(),
            &pending.identifier,
            read.billed_total,
            NOW,
        )
        .await
        .unwrap();
    // THEN the intent is marked sent, but the ledger stays unsettled for the usage after it
    assert!(marked);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!((ledger.units_intended, ledger.units_sent), (25, 25));
    assert_eq!(ledger.pending, None);
    assert_eq!(ledger.billed_total, usd("0.75"));
    assert_eq!(
        unsettled(store, NOW).await,
        vec![("c1".to_string(), p1().start())]
    );
}

pub async fn a_wrong_identifier_neither_marks_sent_nor_settles<S: Store>(store: &S) {
    // GIVEN $0.25 applied and its intent pending
    let c = customer_on(store, "c1", Some(p1())).await;
    apply_at(store, &c, &p1(), "a", "0.25", NOW).await;
    let pending = intent(&c, &p1(), 0, 25);
    store.begin_intent(&c, &p1(), &pending).await.unwrap();
    // WHEN another identifier is marked sent, settling at the right total
    let marked = store
        .mark_intent_sent_settling(&c, p1().start(), "mev_another", usd("0.25"), NOW)
        .await
        .unwrap();
    // THEN nothing changes: the intent is pending and the ledger unsettled
    assert!(!marked);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.pending, Some(pending));
    assert_eq!(ledger.units_sent, 0);
    assert_eq!(unsettled(store, NOW).await.len(), 1);
    // AND on a period without a ledger it is refused and creates nothing
    assert!(
        !store
            .mark_intent_sent_settling(&c, p2().start(), "mev_another", usd("0"), NOW)
            .await
            .unwrap()
    );
    assert_eq!(store.get_ledger(&c, p2().start()).await.unwrap(), None);
}

pub async fn an_apply_racing_with_a_settlement_is_never_left_unmarked<S: Store>(store: &S) {
    for round in 0..6 {
        // GIVEN a ledger with $0.25 applied
        let c = customer_on(store, &format!("c{round}"), Some(p1())).await;
        apply_at(store, &c, &p1(), &format!("a{round}"), "0.25", NOW).await;
        // WHEN $0.50 more is applied while a settler reads the total and settles at it (slowly)
        let apply = async {
            jitter().await;
            apply_at(store, &c, &p1(), &format!("b{round}"), "0.5", NOW + 1).await;
        };
        let settle = async {
            jitter().await;
            with_slow_writes(Duration::from_millis(40), async {
                let read = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
                let settled = store
                    .settle_ledger(&c, p1().start(), read.billed_total)
                    .await
                    .unwrap();
                (read.billed_total, settled)
            })
            .await
        };
        let ((), (read, settled)) = tokio::join!(apply, settle);
        // THEN the ledger is unsettled exactly when the settler read a total without the apply
        let marked = store
            .list_unsettled_ledgers(i64::MAX)
            .await
            .unwrap()
            .iter()
            .any(|l| l.customer_id == c);
        let total = store
            .get_ledger(&c, p1().start())
            .await
            .unwrap()
            .unwrap()
            .billed_total;
        assert_eq!(total, usd("0.75"), "round {round}");
        assert_eq!(marked, read != total, "round {round}: read {read}");
        if read == total {
            assert!(settled, "round {round}");
        }
    }
}

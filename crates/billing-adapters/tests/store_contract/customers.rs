//! The `customers` contract: linking, lookup, snapshots and the period reset.

use billing::ids::StripeSubscriptionId;
use billing::ports::{LinkOutcome, SnapshotOutcome, StoreError};
use billing::subscription::{SubscriptionSnapshot, SubscriptionStatus};
use billing::usage::UsageApplication;

use std::time::Duration;

use crate::support::*;

/// How long a slow writer of a race may pause between its read and its write.
const SLOW: Duration = Duration::from_millis(40);

pub async fn linking_a_new_customer_creates_it_with_the_stripe_id<S: Store>(store: &S) {
    // WHEN a customer nobody has seen is linked
    let c = cid("c1");
    let outcome = store
        .link_stripe_customer(&c, &scid("a"), NOW)
        .await
        .unwrap();
    // THEN it exists, linked, with no subscription and no usage yet
    assert_eq!(outcome, LinkOutcome::Linked);
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.customer_id, c);
    assert_eq!(customer.stripe_customer_id, Some(scid("a")));
    assert_eq!(customer.subscription, None);
    assert_eq!(customer.current_period_usage, usd("0"));
    assert_eq!((customer.created_at, customer.updated_at), (NOW, NOW));
    assert_eq!(store.get_customer(&cid("c2")).await.unwrap(), None);
}

pub async fn linking_the_same_stripe_customer_again_changes_nothing<S: Store>(store: &S) {
    // GIVEN a linked customer
    let c = cid("c1");
    store
        .link_stripe_customer(&c, &scid("a"), NOW)
        .await
        .unwrap();
    // WHEN the same Stripe customer is linked again later
    let outcome = store
        .link_stripe_customer(&c, &scid("a"), NOW + 50)
        .await
        .unwrap();
    // THEN it is reported as already linked and the record is untouched
    assert_eq!(outcome, LinkOutcome::AlreadyLinked);
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.stripe_customer_id, Some(scid("a")));
    assert_eq!((customer.created_at, customer.updated_at), (NOW, NOW));
}

pub async fn link_never_overwrites_another_stripe_customer<S: Store>(store: &S) {
    // GIVEN a customer linked to Stripe customer a
    let c = cid("c1");
    store
        .link_stripe_customer(&c, &scid("a"), NOW)
        .await
        .unwrap();
    // WHEN Stripe customer b is linked to it
    let outcome = store
        .link_stripe_customer(&c, &scid("b"), NOW + 1)
        .await
        .unwrap();
    // THEN b is refused, naming a, and a stays
    assert_eq!(outcome, LinkOutcome::LinkedToOther(scid("a")));
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.stripe_customer_id, Some(scid("a")));
    assert_eq!(customer.updated_at, NOW);
    assert_eq!(
        store.find_by_stripe_customer(&scid("b")).await.unwrap(),
        None
    );
}

pub async fn concurrent_links_of_two_stripe_customers_leave_exactly_one<S: Store>(store: &S) {
    for round in 0..6 {
        // GIVEN a new customer
        let c = cid(&format!("race{round}"));
        // WHEN two Stripe customers are linked to it at the same time
        let (a, b) = tokio::join!(
            async {
                jitter().await;
                store.link_stripe_customer(&c, &scid("a"), NOW).await
            },
            async {
                jitter().await;
                store.link_stripe_customer(&c, &scid("b"), NOW).await
            },
        );
        // THEN exactly one wins and the other is told which
        let stored = store
            .get_customer(&c)
            .await
            .unwrap()
            .unwrap()
            .stripe_customer_id
            .unwrap();
        match (a.unwrap(), b.unwrap()) {
            (LinkOutcome::Linked, LinkOutcome::LinkedToOther(other)) => {
                assert_eq!((stored, other), (scid("a"), scid("a")));
            }
            (LinkOutcome::LinkedToOther(other), LinkOutcome::Linked) => {
                assert_eq!((stored, other), (scid("b"), scid("b")));
            }
            outcomes => panic!("round {round}: not exactly one link: {outcomes:?}"),
        }
    }
}

pub async fn a_customer_is_found_by_its_stripe_customer_id<S: Store>(store: &S) {
    // GIVEN two linked customers and one not linked
    store
        .link_stripe_customer(&cid("c1"), &scid("a"), NOW)
        .await
        .unwrap();
    store
        .link_stripe_customer(&cid("c2"), &scid("b"), NOW)
        .await
        .unwrap();
    // WHEN they are looked up by Stripe customer
    let found = store.find_by_stripe_customer(&scid("b")).await.unwrap();
    // THEN the right one comes back, and an unknown Stripe customer finds none
    let found = found.unwrap();
    assert_eq!(found.customer_id, cid("c2"));
    assert_eq!(found.stripe_customer_id, Some(scid("b")));
    assert_eq!(
        store.find_by_stripe_customer(&scid("z")).await.unwrap(),
        None
    );
}

pub async fn a_stripe_customer_linked_to_two_customers_is_an_error_not_a_pick<S: Store>(store: &S) {
    // GIVEN one Stripe customer linked to two customers (a hand edit of the table)
    for c in ["twin1", "twin2"] {
        store
            .link_stripe_customer(&cid(c), &scid("twin"), NOW)
            .await
            .unwrap();
    }
    // WHEN it is looked up (eventually consistent: wait for the index)
    let mut outcome = store.find_by_stripe_customer(&scid("twin")).await;
    for _ in 0..50 {
        if outcome.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        outcome = store.find_by_stripe_customer(&scid("twin")).await;
    }
    // THEN it is an error naming both customers, never one of them
    match outcome {
        Err(StoreError::Corrupt { reason, .. }) => {
            assert!(
                reason.contains("twin1") && reason.contains("twin2"),
                "{reason}"
            );
        }
        other => panic!("expected a corrupt-link error, got {other:?}"),
    }
}

pub async fn a_snapshot_for_an_unknown_customer_is_refused_and_creates_nothing<S: Store>(
    store: &S,
) {
    // WHEN snapshots, with and without a period, arrive for a customer that does not exist
    let c = cid("ghost");
    let with_period = store
        .apply_subscription(&c, &snapshot(3, Some(p1())), NOW)
        .await
        .unwrap();
    let without = store
        .apply_subscription(&c, &snapshot(4, None), NOW)
        .await
        .unwrap();
    // THEN both are refused and no customer appears
    assert_eq!(with_period, SnapshotOutcome::UnknownCustomer);
    assert_eq!(without, SnapshotOutcome::UnknownCustomer);
    assert_eq!(store.get_customer(&c).await.unwrap(), None);
}

pub async fn a_newer_snapshot_applies_and_an_older_or_equal_one_is_stale<S: Store>(store: &S) {
    // GIVEN a customer with snapshot version 5
    let c = customer_on(store, "c1", None).await;
    let v5 = snapshot(5, Some(p1()));
    assert_eq!(
        store.apply_subscription(&c, &v5, NOW + 1).await.unwrap(),
        SnapshotOutcome::Applied
    );
    // WHEN an equal and an older version arrive (with other contents)
    let mut equal = snapshot(5, Some(p1()));
    equal.status = SubscriptionStatus::PastDue;
    let mut older = snapshot(4, Some(p1()));
    older.status = SubscriptionStatus::Canceled;
    let equal_outcome = store.apply_subscription(&c, &equal, NOW + 2).await.unwrap();
    let older_outcome = store.apply_subscription(&c, &older, NOW + 3).await.unwrap();
    // THEN both are stale and version 5 stays
    assert_eq!(equal_outcome, SnapshotOutcome::Stale);
    assert_eq!(older_outcome, SnapshotOutcome::Stale);
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.subscription, Some(v5));
    assert_eq!(customer.updated_at, NOW + 1);
    // AND a newer one applies
    let mut v6 = snapshot(6, Some(p1()));
    v6.cancel_at_period_end = true;
    v6.status = SubscriptionStatus::Trialing;
    assert_eq!(
        store.apply_subscription(&c, &v6, NOW + 4).await.unwrap(),
        SnapshotOutcome::Applied
    );
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.subscription, Some(v6));
    assert_eq!(customer.updated_at, NOW + 4);
    assert_eq!(customer.stripe_customer_id, Some(scid("c1")));
}

pub async fn a_stale_snapshot_with_another_period_changes_nothing<S: Store>(store: &S) {
    // GIVEN a customer on p2 (version 5) with usage in p2
    let c = customer_on(store, "c1", None).await;
    store
        .apply_subscription(&c, &snapshot(5, Some(p2())), NOW)
        .await
        .unwrap();
    put_and_apply(store, &c, &p2(), &["u1"], "0.7").await;
    // WHEN an older snapshot still on p1 arrives late
    let outcome = store
        .apply_subscription(&c, &snapshot(4, Some(p1())), NOW)
        .await
        .unwrap();
    // THEN it is stale: period and usage stay
    assert_eq!(outcome, SnapshotOutcome::Stale);
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.subscription.unwrap().current_period, Some(p2()));
    assert_eq!(customer.current_period_usage, usd("0.7"));
}

pub async fn a_period_change_resets_current_period_usage_to_the_new_periods_ledger_total<
    S: Store,
>(
    store: &S,
) {
    // GIVEN a customer on p1 with usage in p1
    let c = customer_on(store, "c1", Some(p1())).await;
    put_and_apply(store, &c, &p1(), &["u1", "u2"], "0.75").await;
    assert_eq!(
        store
            .get_customer(&c)
            .await
            .unwrap()
            .unwrap()
            .current_period_usage,
        usd("1.5")
    );
    // WHEN the period moves on to p2
    store
        .apply_subscription(&c, &snapshot(2, Some(p2())), NOW)
        .await
        .unwrap();
    // THEN usage restarts from p2's (empty) ledger, p1's ledger keeps its total
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("0"));
    assert_eq!(
        store
            .get_ledger(&c, p1().start())
            .await
            .unwrap()
            .unwrap()
            .billed_total,
        usd("1.5")
    );
    // AND usage on p2 counts, and survives a snapshot that keeps the period
    put_and_apply(store, &c, &p2(), &["u3"], "0.25").await;
    let mut v3 = snapshot(3, Some(p2()));
    v3.cancel_at_period_end = true;
    store.apply_subscription(&c, &v3, NOW).await.unwrap();
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("0.25"));
    assert!(customer.subscription.unwrap().cancel_at_period_end);
}

pub async fn usage_applied_to_a_period_before_its_snapshot_counts_when_the_snapshot_arrives<
    S: Store,
>(
    store: &S,
) {
    // GIVEN a customer on p1, and usage already applied to p2 before p2's snapshot
    let c = customer_on(store, "c1", Some(p1())).await;
    put_and_apply(store, &c, &p1(), &["u1"], "1").await;
    put_and_apply(store, &c, &p2(), &["u2", "u3"], "0.2").await;
    assert_eq!(
        store
            .get_customer(&c)
            .await
            .unwrap()
            .unwrap()
            .current_period_usage,
        usd("1")
    );
    // WHEN p2's snapshot arrives
    store
        .apply_subscription(&c, &snapshot(2, Some(p2())), NOW)
        .await
        .unwrap();
    // THEN current usage is p2's ledger total, not zero
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("0.4"));
    // AND a snapshot coming back to p1 (say, a correction) takes p1's total again
    store
        .apply_subscription(&c, &snapshot(3, Some(p1())), NOW)
        .await
        .unwrap();
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("1"));
}

pub async fn a_snapshot_without_a_period_clears_the_current_period<S: Store>(store: &S) {
    // GIVEN a customer on p1 with usage
    let c = customer_on(store, "c1", Some(p1())).await;
    put_and_apply(store, &c, &p1(), &["u1"], "0.3").await;
    // WHEN a snapshot without a period arrives (an incomplete subscription, say)
    let mut v2 = snapshot(2, None);
    v2.status = SubscriptionStatus::Incomplete;
    store.apply_subscription(&c, &v2, NOW).await.unwrap();
    // THEN there is no current period and no current usage
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.subscription, Some(v2));
    assert_eq!(customer.current_period_usage, usd("0"));
    // AND later usage on p1 no longer counts as current
    put_and_apply(store, &c, &p1(), &["u2"], "0.3").await;
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("0"));
}

pub async fn a_period_change_racing_with_usage_on_the_new_period_never_loses_it<S: Store>(
    store: &S,
) {
    for round in 0..15 {
        // GIVEN a customer on p1 and records for p2
        let c = customer_on(store, &format!("c{round}"), Some(p1())).await;
        let ids: Vec<String> = (0..3).map(|k| format!("r{round}-{k}")).collect();
        for id in &ids {
            store
                .put_usage_record(&record(id, &c, "1", p2().start()), NOW)
                .await
                .unwrap();
        }
        let apply = |id: &String| {
            let applications = vec![UsageApplication {
                usage_id: uid(id),
                billed: usd("0.01"),
                late_reason: None,
            }];
            let c = c.clone();
            async move {
                jitter().await;
                with_slow_writes(SLOW, store.apply_usage(&c, &p2(), &applications, NOW))
                    .await
                    .unwrap()
            }
        };
        // WHEN p2's snapshot and usage on p2 arrive at the same time
        let (snapshot_outcome, ..) = tokio::join!(
            async {
                jitter().await;
                store
                    .apply_subscription(&c, &snapshot(2, Some(p2())), NOW)
                    .await
                    .unwrap()
            },
            apply(&ids[0]),
            apply(&ids[1]),
            apply(&ids[2]),
        );
        // THEN current usage is exactly p2's ledger total, all three records included
        assert_eq!(snapshot_outcome, SnapshotOutcome::Applied);
        let ledger = store.get_ledger(&c, p2().start()).await.unwrap().unwrap();
        let customer = store.get_customer(&c).await.unwrap().unwrap();
        assert_eq!(ledger.billed_total, usd("0.03"), "round {round}");
        assert_eq!(customer.current_period_usage, usd("0.03"), "round {round}");
    }
}

pub async fn usage_on_the_old_period_racing_with_a_period_change_stays_out_of_the_new_one<
    S: Store,
>(
    store: &S,
) {
    for round in 0..15 {
        // GIVEN a customer on p1 and records for p1
        let c = customer_on(store, &format!("c{round}"), Some(p1())).await;
        let ids: Vec<String> = (0..3).map(|k| format!("r{round}-{k}")).collect();
        for id in &ids {
            store
                .put_usage_record(&record(id, &c, "1", p1().start()), NOW)
                .await
                .unwrap();
        }
        let apply = |id: &String| {
            let applications = vec![UsageApplication {
                usage_id: uid(id),
                billed: usd("0.01"),
                late_reason: None,
            }];
            let c = c.clone();
            async move {
                jitter().await;
                with_slow_writes(SLOW, store.apply_usage(&c, &p1(), &applications, NOW))
                    .await
                    .unwrap()
            }
        };
        // WHEN p2's snapshot arrives while usage on p1 is being applied
        tokio::join!(
            async {
                jitter().await;
                store
                    .apply_subscription(&c, &snapshot(2, Some(p2())), NOW)
                    .await
                    .unwrap()
            },
            apply(&ids[0]),
            apply(&ids[1]),
            apply(&ids[2]),
        );
        // THEN p1's ledger has all three, and p2's current usage none of them
        let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
        let customer = store.get_customer(&c).await.unwrap().unwrap();
        assert_eq!(ledger.billed_total, usd("0.03"), "round {round}");
        assert_eq!(customer.current_period_usage, usd("0"), "round {round}");
    }
}

pub async fn racing_snapshots_end_with_the_newest_one_and_its_periods_usage<S: Store>(store: &S) {
    for round in 0..15 {
        // GIVEN a customer on p1 (version 1) with usage in p1 and in p2
        let c = customer_on(store, &format!("c{round}"), Some(p1())).await;
        put_and_apply(store, &c, &p1(), &[&format!("a{round}")], "0.5").await;
        put_and_apply(store, &c, &p2(), &[&format!("b{round}")], "0.2").await;
        // WHEN version 2 (moving to p2) and version 3 (back on p1, a correction) race
        let apply = |version: u64, period, most| {
            let c = c.clone();
            async move {
                jitter().await;
                let snapshot = snapshot(version, Some(period));
                let call = store.apply_subscription(&c, &snapshot, NOW);
                with_slow_writes(most, call).await.unwrap()
            }
        };
        // (version 3 the slower writer: read before version 2 commits, written after)
        tokio::join!(
            apply(2, p2(), Duration::from_millis(15)),
            apply(3, p1(), SLOW)
        );
        // THEN version 3 stands, with p1's usage, whichever arrived first
        let customer = store.get_customer(&c).await.unwrap().unwrap();
        let subscription = customer.subscription.unwrap();
        assert_eq!(
            (subscription.version, subscription.current_period),
            (3, Some(p1())),
            "round {round}"
        );
        assert_eq!(customer.current_period_usage, usd("0.5"), "round {round}");
    }
}

pub async fn a_live_subscription_is_never_replaced_by_another<S: Store>(store: &S) {
    // GIVEN a customer whose current subscription sub_new is active
    let c = cid("c1");
    store
        .link_stripe_customer(&c, &scid("1"), NOW)
        .await
        .unwrap();
    let of = |id: &str, status: SubscriptionStatus, version: u64| SubscriptionSnapshot {
        subscription_id: StripeSubscriptionId::parse(id).unwrap(),
        status,
        ..snapshot(version, Some(p1()))
    };
    let mut current = of("sub_new", SubscriptionStatus::Active, 10);
    assert_eq!(
        store.apply_subscription(&c, &current, NOW).await.unwrap(),
        SnapshotOutcome::Applied
    );
    // WHEN a newer snapshot of an old subscription arrives (a late event re-fetched)
    let old = of("sub_old", SubscriptionStatus::Canceled, 20);
    // THEN it is refused and the current one stays
    assert_eq!(
        store.apply_subscription(&c, &old, NOW).await.unwrap(),
        SnapshotOutcome::OtherSubscriptionCurrent
    );
    let stored = store
        .get_customer(&c)
        .await
        .unwrap()
        .unwrap()
        .subscription
        .unwrap();
    assert_eq!(stored.subscription_id.as_str(), "sub_new");
    // AND once the current one is canceled, a new subscription may take its place
    current.status = SubscriptionStatus::Canceled;
    current.version = 30;
    store.apply_subscription(&c, &current, NOW).await.unwrap();
    let next = of("sub_next", SubscriptionStatus::Active, 40);
    assert_eq!(
        store.apply_subscription(&c, &next, NOW).await.unwrap(),
        SnapshotOutcome::Applied
    );
}

pub async fn a_period_moving_forward_keeps_the_previous_one<S: Store>(store: &S) {
    // GIVEN a customer in period p1
    let c = cid("c1");
    store
        .link_stripe_customer(&c, &scid("1"), NOW)
        .await
        .unwrap();
    store
        .apply_subscription(&c, &snapshot(1, Some(p1())), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_customer(&c)
            .await
            .unwrap()
            .unwrap()
            .previous_period,
        None
    );
    // WHEN the period moves on to p2
    store
        .apply_subscription(&c, &snapshot(2, Some(p2())), NOW)
        .await
        .unwrap();
    // THEN p1 is kept as the previous period
    let stored = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(stored.previous_period, Some(p1()));
    // AND a snapshot of the same period changes nothing about it
    store
        .apply_subscription(&c, &snapshot(3, Some(p2())), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_customer(&c)
            .await
            .unwrap()
            .unwrap()
            .previous_period,
        Some(p1())
    );
}

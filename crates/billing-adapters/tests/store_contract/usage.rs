//! The usage contract: records written once, applied at most once, totals exact.

use billing::ports::ApplyOutcome;
use billing::usage::{UnappliedItem, UsageApplication, UsageState};

use crate::support::*;

fn ids(names: &[&str]) -> Vec<billing::ids::UsageId> {
    names.iter().map(|n| uid(n)).collect()
}

pub async fn a_usage_record_is_written_once_and_never_overwritten<S: Store>(store: &S) {
    // GIVEN a record written by a producer
    let c = cid("c1");
    let original = record("u1", &c, "0.000123", NOW - 10);
    assert!(store.put_usage_record(&original, NOW).await.unwrap());
    // WHEN the producer (or another) writes the same id again with other values
    let again = store
        .put_usage_record(&record("u1", &cid("c2"), "9", NOW), NOW + 1)
        .await
        .unwrap();
    // THEN the second write is refused and the first record stays, pending
    assert!(!again);
    let stored = store.get_usage_record(&uid("u1")).await.unwrap().unwrap();
    assert_eq!(stored.record, original);
    assert_eq!(stored.state, UsageState::Pending);
    assert_eq!(store.get_usage_record(&uid("u2")).await.unwrap(), None);
}

pub async fn applying_a_record_twice_applies_it_once_and_counts_it_once<S: Store>(store: &S) {
    // GIVEN a pending record
    let c = cid("c1");
    store
        .put_usage_record(&record("u1", &c, "0.5", p1().start()), NOW)
        .await
        .unwrap();
    // WHEN it is applied twice (a retried batch)
    let first = store
        .apply_usage(&c, &p1(), &[application("u1", "1")], NOW)
        .await
        .unwrap();
    let second = store
        .apply_usage(&c, &p1(), &[application("u1", "1")], NOW + 1)
        .await
        .unwrap();
    // THEN it is applied once, skipped once, and counted once
    assert_eq!(first.applied, ids(&["u1"]));
    assert!(first.skipped.is_empty());
    assert_eq!(second.skipped, ids(&["u1"]));
    assert!(second.applied.is_empty());
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("1"));
    assert_eq!(ledger.period, p1());
    assert_eq!((ledger.units_intended, ledger.units_sent), (0, 0));
    assert_eq!(ledger.pending, None);
    let stored = store.get_usage_record(&uid("u1")).await.unwrap().unwrap();
    assert_eq!(
        stored.state,
        UsageState::Applied {
            period_start: p1().start(),
            billed: usd("1"),
            late_reason: None
        }
    );
    // AND it is not applied to another period either
    let elsewhere = store
        .apply_usage(&c, &p2(), &[application("u1", "1")], NOW + 2)
        .await
        .unwrap();
    assert_eq!(elsewhere.skipped, ids(&["u1"]));
    let p2_ledger = store.get_ledger(&c, p2().start()).await.unwrap().unwrap();
    assert_eq!(p2_ledger.billed_total, usd("0"));
}

pub async fn a_late_record_keeps_its_late_reason<S: Store>(store: &S) {
    // GIVEN a record that occurred in p1, applied to p2
    let c = cid("c1");
    store
        .put_usage_record(&record("u1", &c, "0.25", p1().end() - 1), NOW)
        .await
        .unwrap();
    let late = UsageApplication {
        usage_id: uid("u1"),
        billed: usd("0.5"),
        late_reason: Some("period p1 closed".into()),
    };
    // WHEN it is applied
    let outcome = store.apply_usage(&c, &p2(), &[late], NOW).await.unwrap();
    // THEN its state says where and why
    assert_eq!(outcome.applied, ids(&["u1"]));
    let stored = store.get_usage_record(&uid("u1")).await.unwrap().unwrap();
    assert_eq!(
        stored.state,
        UsageState::Applied {
            period_start: p2().start(),
            billed: usd("0.5"),
            late_reason: Some("period p1 closed".into()),
        }
    );
}

pub async fn rejected_and_missing_records_are_skipped_by_apply<S: Store>(store: &S) {
    // GIVEN a rejected record, a pending one, and an id never written
    let c = cid("c1");
    for id in ["u1", "u2"] {
        store
            .put_usage_record(&record(id, &c, "1", p1().start()), NOW)
            .await
            .unwrap();
    }
    assert!(
        store
            .reject_usage(&uid("u1"), "cost too high", NOW)
            .await
            .unwrap()
    );
    // WHEN all three are applied
    let outcome = store
        .apply_usage(
            &c,
            &p1(),
            &[
                application("u1", "2"),
                application("u2", "0.5"),
                application("missing", "3"),
            ],
            NOW,
        )
        .await
        .unwrap();
    // THEN only the pending one is applied and counted; the others are left as they were
    assert_eq!(
        outcome,
        ApplyOutcome {
            applied: ids(&["u2"]),
            skipped: ids(&["u1", "missing"]),
        }
    );
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("0.5"));
    let rejected = store.get_usage_record(&uid("u1")).await.unwrap().unwrap();
    assert_eq!(
        rejected.state,
        UsageState::Rejected {
            reason: "cost too high".into()
        }
    );
    assert_eq!(store.get_usage_record(&uid("missing")).await.unwrap(), None);
}

pub async fn an_applied_record_cannot_be_rejected<S: Store>(store: &S) {
    // GIVEN an applied record
    let c = cid("c1");
    put_and_apply(store, &c, &p1(), &["u1"], "1").await;
    // WHEN it is rejected, and so is an id never written
    let applied = store.reject_usage(&uid("u1"), "late", NOW).await.unwrap();
    let missing = store.reject_usage(&uid("nope"), "late", NOW).await.unwrap();
    // THEN both are refused: the record stays applied, and no record appears
    assert!(!applied);
    assert!(!missing);
    assert!(matches!(
        store
            .get_usage_record(&uid("u1"))
            .await
            .unwrap()
            .unwrap()
            .state,
        UsageState::Applied { .. }
    ));
    assert_eq!(store.get_usage_record(&uid("nope")).await.unwrap(), None);
}

pub async fn a_rejected_record_can_be_rejected_again<S: Store>(store: &S) {
    // GIVEN a rejected record
    let c = cid("c1");
    store
        .put_usage_record(&record("u1", &c, "1", NOW), NOW)
        .await
        .unwrap();
    assert!(store.reject_usage(&uid("u1"), "first", NOW).await.unwrap());
    // WHEN it is rejected again
    let again = store.reject_usage(&uid("u1"), "second", NOW).await.unwrap();
    // THEN that is accepted and the latest reason kept
    assert!(again);
    assert_eq!(
        store
            .get_usage_record(&uid("u1"))
            .await
            .unwrap()
            .unwrap()
            .state,
        UsageState::Rejected {
            reason: "second".into()
        }
    );
}

pub async fn a_repeated_id_in_one_call_is_applied_once<S: Store>(store: &S) {
    // GIVEN a pending record
    let c = cid("c1");
    store
        .put_usage_record(&record("u1", &c, "1", NOW), NOW)
        .await
        .unwrap();
    // WHEN one call lists it twice
    let outcome = store
        .apply_usage(
            &c,
            &p1(),
            &[application("u1", "0.3"), application("u1", "0.3")],
            NOW,
        )
        .await
        .unwrap();
    // THEN the first is applied, the second skipped, and it is counted once
    assert_eq!(outcome.applied, ids(&["u1"]));
    assert_eq!(outcome.skipped, ids(&["u1"]));
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("0.3"));
}

pub async fn concurrent_applies_of_the_same_records_apply_each_exactly_once<S: Store>(store: &S) {
    for round in 0..4 {
        // GIVEN five pending records of a customer on p1
        let c = customer_on(store, &format!("c{round}"), Some(p1())).await;
        let names: Vec<String> = (0..5).map(|k| format!("r{round}-{k}")).collect();
        let mut batch = Vec::new();
        for name in &names {
            store
                .put_usage_record(&record(name, &c, "1", p1().start()), NOW)
                .await
                .unwrap();
            batch.push(application(name, "0.11"));
        }
        // WHEN two reporters apply the same batch at once
        let apply = || async {
            jitter().await;
            store.apply_usage(&c, &p1(), &batch, NOW).await.unwrap()
        };
        let (a, b) = tokio::join!(apply(), apply());
        // THEN every record is applied by exactly one of them, and counted once
        let mut applied: Vec<_> = a.applied.iter().chain(&b.applied).cloned().collect();
        applied.sort();
        let mut expected: Vec<_> = names.iter().map(|n| uid(n)).collect();
        expected.sort();
        assert_eq!(applied, expected, "round {round}");
        assert_eq!(a.skipped.len() + b.skipped.len(), names.len());
        let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
        assert_eq!(ledger.billed_total, usd("0.55"), "round {round}");
        let customer = store.get_customer(&c).await.unwrap().unwrap();
        assert_eq!(customer.current_period_usage, usd("0.55"), "round {round}");
    }
}

pub async fn more_than_a_hundred_records_in_one_call_are_chunked_and_all_applied<S: Store>(
    store: &S,
) {
    // GIVEN 230 pending records of a millionth of a dollar, and one of a dime
    let c = customer_on(store, "c1", Some(p1())).await;
    let mut batch = Vec::new();
    for k in 0..230 {
        let name = format!("tiny{k:03}");
        store
            .put_usage_record(&record(&name, &c, "0.0000005", p1().start()), NOW)
            .await
            .unwrap();
        batch.push(application(&name, "0.000001"));
    }
    store
        .put_usage_record(&record("dime", &c, "0.05", p1().start()), NOW)
        .await
        .unwrap();
    batch.insert(117, application("dime", "0.1"));
    // WHEN they are applied in one call, with an unknown id among them
    batch.push(application("unknown", "5"));
    let outcome = store.apply_usage(&c, &p1(), &batch, NOW).await.unwrap();
    // THEN all 231 are applied, in order, and the totals are exact
    assert_eq!(outcome.applied.len(), 231);
    assert_eq!(outcome.applied[117], uid("dime"));
    assert_eq!(outcome.skipped, ids(&["unknown"]));
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("0.10023"));
    assert_eq!(ledger.billed_total.to_string(), "0.10023");
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("0.10023"));
    // AND applying them again changes nothing
    let again = store.apply_usage(&c, &p1(), &batch, NOW).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.skipped.len(), 232);
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("0.10023"));
}

pub async fn current_period_usage_follows_only_the_current_period<S: Store>(store: &S) {
    // GIVEN a customer on p2, and a customer with no subscription
    let c = customer_on(store, "c1", Some(p2())).await;
    let bare = customer_on(store, "c2", None).await;
    // WHEN usage is applied to p1 (a late batch), then to p2, and for the bare customer
    put_and_apply(store, &c, &p1(), &["old"], "0.5").await;
    let after_old = store.get_customer(&c).await.unwrap().unwrap();
    put_and_apply(store, &c, &p2(), &["new"], "0.25").await;
    put_and_apply(store, &bare, &p2(), &["bare"], "0.75").await;
    // THEN only p2's usage counts as current; every ledger has its own
    assert_eq!(after_old.current_period_usage, usd("0"));
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(customer.current_period_usage, usd("0.25"));
    assert_eq!(
        store
            .get_customer(&bare)
            .await
            .unwrap()
            .unwrap()
            .current_period_usage,
        usd("0")
    );
    let p1_total = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(p1_total.billed_total, usd("0.5"));
    // AND usage for a customer that does not exist only goes to its ledger
    let ghost = cid("ghost");
    put_and_apply(store, &ghost, &p1(), &["ghostly"], "0.1").await;
    assert_eq!(store.get_customer(&ghost).await.unwrap(), None);
    assert_eq!(
        store
            .get_ledger(&ghost, p1().start())
            .await
            .unwrap()
            .unwrap()
            .billed_total,
        usd("0.1")
    );
}

pub async fn amounts_are_exact_and_normalised<S: Store>(store: &S) {
    // GIVEN costs written with trailing zeros and amounts that floats get wrong
    let c = customer_on(store, "c1", Some(p1())).await;
    let r = record("u1", &c, "1.500123000", p1().start());
    store.put_usage_record(&r, NOW).await.unwrap();
    for (id, cost) in [("u2", "0.1"), ("u3", "0.2")] {
        store
            .put_usage_record(&record(id, &c, cost, p1().start()), NOW)
            .await
            .unwrap();
    }
    // WHEN they are applied and read back
    store
        .apply_usage(
            &c,
            &p1(),
            &[
                application("u1", "3.000246000"),
                application("u2", "0.1"),
                application("u3", "0.2"),
            ],
            NOW,
        )
        .await
        .unwrap();
    // THEN every amount is exact and printed without trailing zeros
    let stored = store.get_usage_record(&uid("u1")).await.unwrap().unwrap();
    assert_eq!(stored.record.openai_cost_usd.to_string(), "1.500123");
    assert_eq!(stored.record.openai_cost_usd.as_decimal().scale(), 6);
    match stored.state {
        UsageState::Applied { billed, .. } => {
            assert_eq!(billed.as_decimal().to_string(), "3.000246")
        }
        other => panic!("not applied: {other:?}"),
    }
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total.as_decimal().to_string(), "3.300246");
    let customer = store.get_customer(&c).await.unwrap().unwrap();
    assert_eq!(
        customer.current_period_usage.as_decimal().to_string(),
        "3.300246"
    );
}

pub async fn an_empty_apply_opens_the_ledger_at_zero<S: Store>(store: &S) {
    // WHEN nothing is applied to a period
    let c = customer_on(store, "c1", Some(p1())).await;
    let outcome = store.apply_usage(&c, &p1(), &[], NOW).await.unwrap();
    // THEN nothing is reported and the period's ledger exists, empty
    assert_eq!(outcome, ApplyOutcome::default());
    let ledger = store.get_ledger(&c, p1().start()).await.unwrap().unwrap();
    assert_eq!(ledger.billed_total, usd("0"));
    assert_eq!(ledger.period, p1());
    assert_eq!(store.get_ledger(&c, p2().start()).await.unwrap(), None);
}

pub async fn unapplied_records_are_listed_by_write_time_until_applied_or_rejected<S: Store>(
    store: &S,
) {
    // GIVEN records written at 100, 200 and 300, and two more at 100 then applied or rejected
    let c = cid("c1");
    for (id, written) in [
        ("b", 200),
        ("a", 100),
        ("c", 300),
        ("applied", 100),
        ("rejected", 100),
    ] {
        // occurred_at differs from the write time: the write time is what counts
        store
            .put_usage_record(&record(id, &c, "1", 5_000), written)
            .await
            .unwrap();
    }
    store
        .apply_usage(&c, &p1(), &[application("applied", "2")], 150)
        .await
        .unwrap();
    store
        .reject_usage(&uid("rejected"), "bad", 150)
        .await
        .unwrap();
    // WHEN the sweep lists what was written at or before a time
    let names = |items: Vec<UnappliedItem>| -> Vec<String> {
        items
            .into_iter()
            .map(|item| match item {
                UnappliedItem::Record(r) => r.usage_id.to_string(),
                UnappliedItem::Unreadable { reason, .. } => panic!("unreadable: {reason}"),
            })
            .collect()
    };
    // THEN it gets exactly the pending ones written by then, by id
    assert_eq!(
        names(store.list_unapplied_usage(99).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        names(store.list_unapplied_usage(200).await.unwrap()),
        ["a", "b"]
    );
    let all = store.list_unapplied_usage(10_000).await.unwrap();
    assert_eq!(all[0], UnappliedItem::Record(record("a", &c, "1", 5_000)));
    assert_eq!(names(all), ["a", "b", "c"]);
}

pub async fn a_record_of_another_customer_is_never_applied_to_this_one<S: Store>(store: &S) {
    // GIVEN a pending record of customer c2
    store
        .put_usage_record(&record("u1", &cid("c2"), "0.5", p1().start()), NOW)
        .await
        .unwrap();
    // WHEN a caller applies it to c1's ledger
    let outcome = store
        .apply_usage(&cid("c1"), &p1(), &[application("u1", "1")], NOW)
        .await
        .unwrap();
    // THEN it is skipped, c1 is billed nothing, and the record stays pending for c2
    assert_eq!(outcome.skipped, ids(&["u1"]));
    assert!(outcome.applied.is_empty());
    let ledger = store.get_ledger(&cid("c1"), p1().start()).await.unwrap();
    assert!(ledger.is_none_or(|l| l.billed_total == usd("0")));
    let stored = store.get_usage_record(&uid("u1")).await.unwrap().unwrap();
    assert_eq!(stored.state, UsageState::Pending);
}

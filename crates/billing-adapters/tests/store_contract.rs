//! The store contract: one suite of tests, generic over the store ports, run against both
//! [`billing::memory::MemoryStore`] and [`billing_adapters::dynamodb::DynamoStore`] so that the
//! two cannot drift.
//!
//! The DynamoDB instantiation talks to moto's server at `BILLING_TEST_DYNAMODB_ENDPOINT` (as
//! `./scripts/test` sets it up), with fresh, uniquely prefixed tables per test. Without the
//! variable each DynamoDB test prints why it is skipped and passes, unless
//! `BILLING_REQUIRE_DYNAMODB=1`, in which case it fails. `scripts/check-conditions` neutralises
//! each condition of the DynamoDB adapter in turn and checks that this suite notices.
//!
//! # Layout
//! - `support`: the store under test, ids and builders, the moto connection.
//! - `customers`: link, GSI lookup, subscription snapshots and the period reset.
//! - `webhook_events`: claim, complete, release, expiry.
//! - `usage`: usage records, applying them to ledgers, rejection, decimal exactness.
//! - `intents`: meter intents on the ledger.
//! - `settlement`: the ledgers' unsettled mark (set by applies, cleared by settling writes).

// The contract functions are plain async fns called by the generated #[tokio::test]s, which
// clippy's allow-unwrap-in-tests does not see as tests.
#![allow(clippy::unwrap_used)]

#[path = "store_contract/customers.rs"]
mod customers;
#[path = "store_contract/intents.rs"]
mod intents;
#[path = "store_contract/onboarding.rs"]
mod onboarding;
#[path = "store_contract/settlement.rs"]
mod settlement;
#[path = "store_contract/support.rs"]
mod support;
#[path = "store_contract/usage.rs"]
mod usage;
#[path = "store_contract/webhook_events.rs"]
mod webhook_events;

/// Instantiates every listed contract test for both stores: `memory::<module>::<test>` and
/// `dynamodb::<module>::<test>`. A contract test not listed here is dead code, which the
/// workspace's `-D warnings` refuses, so none is forgotten.
macro_rules! contract_suite {
    ($($module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        mod memory {
            $(mod $module {
                $(
                    #[tokio::test]
                    async fn $test() {
                        let store = billing::memory::MemoryStore::new();
                        crate::$module::$test(&store).await;
                    }
                )*
            })*
        }

        mod dynamodb {
            $(mod $module {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $test() {
                        let Some(store) = crate::support::dynamo_store(stringify!($test)).await
                        else {
                            return;
                        };
                        crate::$module::$test(&store).await;
                        crate::support::drop_tables(&store).await;
                    }
                )*
            })*
        }
    };
}

contract_suite! {
    customers: [
        linking_a_new_customer_creates_it_with_the_stripe_id,
        linking_the_same_stripe_customer_again_changes_nothing,
        link_never_overwrites_another_stripe_customer,
        concurrent_links_of_two_stripe_customers_leave_exactly_one,
        a_customer_is_found_by_its_stripe_customer_id,
        a_stripe_customer_linked_to_two_customers_is_an_error_not_a_pick,
        a_snapshot_for_an_unknown_customer_is_refused_and_creates_nothing,
        a_newer_snapshot_applies_and_an_older_or_equal_one_is_stale,
        a_stale_snapshot_with_another_period_changes_nothing,
        a_period_change_resets_current_period_usage_to_the_new_periods_ledger_total,
        usage_applied_to_a_period_before_its_snapshot_counts_when_the_snapshot_arrives,
        a_snapshot_without_a_period_clears_the_current_period,
        a_period_change_racing_with_usage_on_the_new_period_never_loses_it,
        usage_on_the_old_period_racing_with_a_period_change_stays_out_of_the_new_one,
        racing_snapshots_end_with_the_newest_one_and_its_periods_usage,
        a_live_subscription_is_never_replaced_by_another,
        a_period_moving_forward_keeps_the_previous_one,
    ],
    webhook_events: [
        a_first_claim_owns_the_event_and_a_second_is_told_it_is_in_progress,
        a_completed_event_is_already_completed_for_later_claims,
        an_expired_claim_can_be_claimed_again,
        an_expired_completed_marker_can_be_claimed_again,
        complete_with_a_wrong_token_is_refused_and_keeps_the_claim,
        a_claimer_whose_claim_was_taken_over_can_neither_complete_nor_release,
        release_with_a_wrong_token_is_refused_and_keeps_the_claim,
        a_completed_event_can_be_neither_released_nor_completed_again,
        complete_or_release_of_an_unknown_event_is_refused_and_creates_nothing,
        concurrent_claims_of_one_event_give_exactly_one_claim,
    ],
    usage: [
        a_usage_record_is_written_once_and_never_overwritten,
        applying_a_record_twice_applies_it_once_and_counts_it_once,
        a_late_record_keeps_its_late_reason,
        rejected_and_missing_records_are_skipped_by_apply,
        an_applied_record_cannot_be_rejected,
        a_rejected_record_can_be_rejected_again,
        a_repeated_id_in_one_call_is_applied_once,
        concurrent_applies_of_the_same_records_apply_each_exactly_once,
        more_than_a_hundred_records_in_one_call_are_chunked_and_all_applied,
        current_period_usage_follows_only_the_current_period,
        amounts_are_exact_and_normalised,
        an_empty_apply_opens_the_ledger_at_zero,
        unapplied_records_are_listed_by_write_time_until_applied_or_rejected,
        a_record_of_another_customer_is_never_applied_to_this_one,
    ],
    onboarding: [
        the_first_customer_request_is_kept_and_later_ones_read_it_back,
        concurrent_customer_requests_agree_on_one,
        a_checkout_slot_starts_empty_at_generation_zero,
        one_session_is_remembered_per_generation,
        retiring_a_generation_moves_it_once_and_frees_the_slot,
        a_session_cannot_be_remembered_for_a_retired_generation,
    ],
    intents: [
        an_intent_from_the_ledgers_units_is_persisted,
        a_second_intent_while_one_is_pending_conflicts,
        an_intent_with_a_stale_from_conflicts,
        marking_with_a_wrong_identifier_is_refused,
        after_an_intent_is_marked_sent_the_next_one_can_begin,
        an_intent_keeps_the_billed_total_of_its_ledger,
        concurrent_intents_from_the_same_units_start_exactly_one,
        pending_intents_are_listed_until_marked_sent,
    ],
    settlement: [
        an_apply_that_adds_usage_marks_the_ledger_unsettled_from_its_first_apply,
        a_settled_ledger_is_listed_again_only_when_usage_is_applied_again,
        settling_with_a_total_that_moved_on_keeps_the_mark,
        marking_the_covering_intent_sent_settles_the_ledger,
        usage_applied_after_the_settling_read_is_sent_but_stays_unsettled,
        a_wrong_identifier_neither_marks_sent_nor_settles,
        an_apply_racing_with_a_settlement_is_never_left_unmarked,
    ],
}

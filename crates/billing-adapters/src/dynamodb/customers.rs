//! [`CustomerStore`] on the `customers` table.
//!
//! Invariants and the writes that keep them:
//! - A customer's Stripe customer id is written once: the link's condition
//!   `attribute_not_exists(stripe_customer_id)` refuses to replace any id, so two concurrent links
//!   of different ids leave exactly one.
//! - A snapshot applies only over an older one: the condition `subscription_version < :v` (or no
//!   version yet) makes an older or replayed webhook a no-op, whatever the arrival order.
//! - A live subscription is never replaced by another: the condition also requires the stored
//!   subscription to be this one, absent, or over (`canceled`/`incomplete_expired`), so a late
//!   event about an old subscription cannot overwrite the current one.
//! - `current_period_usage` equals the current period's ledger total: on a period change it is set
//!   to the new period's `billed_total` in the same transaction as a `ConditionCheck` that this
//!   total is still the one read, so usage applied to the new period meanwhile is never wiped (the
//!   transaction fails and is retried with the new total). Usage applied afterwards is added by
//!   [`UsageLedger::apply_usage`](billing::ports::UsageLedger::apply_usage), whose transaction
//!   re-checks the customer's period too (see `usage_ledger`).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use billing::ids::{CustomerId, StripeCustomerId, StripeSubscriptionId};
use billing::money::Usd;
use billing::period::BillingPeriod;
use billing::ports::{CustomerRecord, CustomerStore, LinkOutcome, SnapshotOutcome, StoreError};
use billing::subscription::{SubscriptionSnapshot, SubscriptionStatus};

use super::DynamoStore;
use super::attributes::{Item, ItemView, boolean, n, s, usd};
use super::errors;
use super::retry::{MAX_ATTEMPTS, back_off};
use super::tables::STRIPE_CUSTOMER_INDEX;
use super::transact::ActionFate;
use super::usage_ledger::ledger_key;

pub(super) const KEY: [&str; 1] = ["customer_id"];

pub(super) fn customer_key(id: &CustomerId) -> Item {
    Item::from([("customer_id".to_string(), s(id.as_str()))])
}

/// Reads a `customers` item back into a [`CustomerRecord`].
///
/// The subscription is present once `stripe_subscription_id` is; a missing version reads as 0
/// (items written before versions existed), a missing usage as zero.
fn customer_from_item(table: &str, item: &Item) -> Result<CustomerRecord, StoreError> {
    let v = ItemView::new(table, &KEY, item);
    let subscription = match v.opt_parsed("stripe_subscription_id", StripeSubscriptionId::parse)? {
        None => None,
        Some(subscription_id) => Some(SubscriptionSnapshot {
            subscription_id,
            status: v.parsed("subscription_status", |t| {
                SubscriptionStatus::parse(t).ok_or("not a Stripe subscription status")
            })?,
            current_period: stored_period(&v)?,
            cancel_at_period_end: v.bool_or_false("cancel_at_period_end")?,
            version: v.u64_or_zero("subscription_version")?,
        }),
    };
    let created_at = v.opt_timestamp("created_at")?.unwrap_or(0);
    Ok(CustomerRecord {
        customer_id: v.parsed("customer_id", CustomerId::parse)?,
        stripe_customer_id: v.opt_parsed("stripe_customer_id", StripeCustomerId::parse)?,
        subscription,
        current_period_usage: v.usd_or_zero("current_period_usage")?,
        previous_period: period_at(&v, "previous_period_start", "previous_period_end")?,
        created_at,
        updated_at: v.opt_timestamp("updated_at")?.unwrap_or(created_at),
    })
}

fn stored_period(v: &ItemView<'_>) -> Result<Option<BillingPeriod>, StoreError> {
    period_at(v, "current_period_start", "current_period_end")
}

fn period_at(
    v: &ItemView<'_>,
    start_name: &str,
    end_name: &str,
) -> Result<Option<BillingPeriod>, StoreError> {
    match (v.opt_i64(start_name)?, v.opt_i64(end_name)?) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) => BillingPeriod::new(start, end)
            .map(Some)
            .map_err(|e| v.corrupt(e.to_string())),
        _ => Err(v.corrupt(format!("only one of {start_name} and {end_name} is set"))),
    }
}

/// Why a snapshot's customer update was refused, read from the item as it is.
fn refusal(
    table: &str,
    item: Option<&Item>,
    version: u64,
    subscription: &billing::ids::StripeSubscriptionId,
) -> Result<Refusal, StoreError> {
    let Some(item) = item else {
        return Ok(Refusal::Final(SnapshotOutcome::UnknownCustomer));
    };
    let view = ItemView::new(table, &KEY, item);
    let stored = view.opt_u64("subscription_version")?;
    let stored_subscription = view.opt_parsed("stripe_subscription_id", |id| {
        billing::ids::StripeSubscriptionId::parse(id)
    })?;
    let stored_status = view.opt_parsed("subscription_status", |text| {
        billing::subscription::SubscriptionStatus::parse(text).ok_or("unknown status")
    })?;
    match stored {
        Some(stored) if stored >= version => Ok(Refusal::Final(SnapshotOutcome::Stale)),
        _ if stored_subscription.is_some_and(|id| id != *subscription)
            && stored_status.is_some_and(|status| !status.is_terminal()) =>
        {
            Ok(Refusal::Final(SnapshotOutcome::OtherSubscriptionCurrent))
        }
        // Newer snapshot, so the stored period moved since it was read: read again.
        _ => Ok(Refusal::Retry),
    }
}

enum Refusal {
    Final(SnapshotOutcome),
    Retry,
}

impl DynamoStore {
    /// The customer update of a snapshot, conditional on: the customer exists, its stored version
    /// is older, and its stored period start is still `stored_start` (what the decision to keep or
    /// reset `current_period_usage` was based on).
    fn snapshot_update(
        &self,
        id: &CustomerId,
        snapshot: &SubscriptionSnapshot,
        stored_start: Option<i64>,
        reset_usage: Option<Usd>,
        previous: Option<BillingPeriod>,
        now: i64,
    ) -> Result<Update, StoreError> {
        let mut set = vec![
            "stripe_subscription_id = :sub",
            "subscription_status = :status",
            "cancel_at_period_end = :cancel",
            "subscription_version = :v",
            "updated_at = :now",
        ];
        let mut remove = vec![];
        let mut update = Update::builder()
            .table_name(&self.tables.customers)
            .set_key(Some(customer_key(id)))
            .expression_attribute_values(":sub", s(snapshot.subscription_id.as_str()))
            .expression_attribute_values(":status", s(snapshot.status.as_str()))
            .expression_attribute_values(":cancel", boolean(snapshot.cancel_at_period_end))
            .expression_attribute_values(":v", n(snapshot.version))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":canceled", s("canceled"))
            .expression_attribute_values(":expired", s("incomplete_expired"));
        match snapshot.current_period {
            Some(period) => {
                set.extend(["current_period_start = :ps", "current_period_end = :pe"]);
                update = update
                    .expression_attribute_values(":ps", n(period.start()))
                    .expression_attribute_values(":pe", n(period.end()));
            }
            None => remove.extend(["current_period_start", "current_period_end"]),
        }
        if let Some(total) = reset_usage {
            set.push("current_period_usage = :usage");
            update = update.expression_attribute_values(":usage", usd(total));
        }
        if let Some(previous) = previous {
            set.extend(["previous_period_start = :pps", "previous_period_end = :ppe"]);
            update = update
                .expression_attribute_values(":pps", n(previous.start()))
                .expression_attribute_values(":ppe", n(previous.end()));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let period_guard = match stored_start {
            Some(start) => {
                update = update.expression_attribute_values(":stored_ps", n(start));
                "current_period_start = :stored_ps"
            }
            None => "attribute_not_exists(current_period_start)",
        };
        update
            .update_expression(expression)
            // Ordering guard and period guard: see the module invariants.
            .condition_expression(format!(
                "attribute_exists(customer_id) AND \
                 (attribute_not_exists(subscription_version) OR subscription_version < :v) AND \
                 (attribute_not_exists(stripe_subscription_id) OR stripe_subscription_id = :sub \
                  OR subscription_status IN (:canceled, :expired)) AND \
                 {period_guard}"
            ))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(errors::build)
    }

    /// The new period's ledger total as it is now, and a check that it is still that total when
    /// the customer update commits (an absent ledger counts as zero).
    async fn ledger_total_guard(
        &self,
        id: &CustomerId,
        period: &BillingPeriod,
    ) -> Result<(Usd, ConditionCheck), StoreError> {
        let table = &self.tables.billing_ledger;
        let key = ledger_key(id, period.start());
        let total = match self.get_item(table, key.clone()).await? {
            Some(item) => ItemView::new(table, &super::usage_ledger::KEY, &item)
                .usd_or_zero("billed_total")?,
            None => Usd::ZERO,
        };
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key))
            // The total read is still the total: usage applied to this period in between makes
            // the transaction fail, and the retry reads the new total.
            .condition_expression("attribute_not_exists(period_start) OR billed_total = :b")
            .expression_attribute_values(":b", usd(total))
            .build()
            .map_err(errors::build)?;
        Ok((total, check))
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        let table = &self.tables.customers;
        self.get_item(table, customer_key(id))
            .await?
            .map(|item| customer_from_item(table, &item))
            .transpose()
    }

    async fn find_by_stripe_customer(
        &self,
        stripe_customer_id: &StripeCustomerId,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let table = &self.tables.customers;
        let out = self
            .client
            .query()
            .table_name(table)
            .index_name(STRIPE_CUSTOMER_INDEX)
            .key_condition_expression("stripe_customer_id = :s")
            .expression_attribute_values(":s", s(stripe_customer_id.as_str()))
            .send()
            .await
            .map_err(|e| errors::sdk(table, e))?;
        let linked = out
            .items()
            .iter()
            .map(|item| customer_from_item(table, item))
            .collect::<Result<Vec<_>, _>>()?;
        billing::ports::the_one_linked(table, stripe_customer_id, linked)
    }

    async fn link_stripe_customer(
        &self,
        id: &CustomerId,
        stripe_customer_id: &StripeCustomerId,
        now: i64,
    ) -> Result<LinkOutcome, StoreError> {
        let table = &self.tables.customers;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(customer_key(id)))
            .update_expression(
                "SET stripe_customer_id = :s, updated_at = :now, \
                 created_at = if_not_exists(created_at, :now)",
            )
            // Written once: never replaces an id, not even the same one (so `updated_at` stays).
            .condition_expression("attribute_not_exists(stripe_customer_id)")
            .expression_attribute_values(":s", s(stripe_customer_id.as_str()))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::None)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(LinkOutcome::Linked),
            Err(err) => err,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(errors::sdk(table, err));
        };
        // The stored id, from the refusal itself or (when the store did not return it) a read.
        let item = match failed.item() {
            Some(item) => Some(item.clone()),
            None => self.get_item(table, customer_key(id)).await?,
        };
        let stored = item
            .as_ref()
            .map(|item| {
                ItemView::new(table, &KEY, item)
                    .opt_parsed("stripe_customer_id", StripeCustomerId::parse)
            })
            .transpose()?
            .flatten();
        match stored {
            Some(existing) if existing == *stripe_customer_id => Ok(LinkOutcome::AlreadyLinked),
            Some(existing) => Ok(LinkOutcome::LinkedToOther(existing)),
            // Customers are never deleted, and an id never removed: this cannot happen.
            None => Err(StoreError::Conflict(format!(
                "{table} customer_id={id}: link refused but no Stripe customer is stored"
            ))),
        }
    }

    async fn apply_subscription(
        &self,
        id: &CustomerId,
        snapshot: &SubscriptionSnapshot,
        now: i64,
    ) -> Result<SnapshotOutcome, StoreError> {
        let table = &self.tables.customers;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                back_off(attempt).await;
            }
            // Read only to learn the stored period; the write's condition re-checks all of it.
            let stored_period = match self.get_item(table, customer_key(id)).await? {
                Some(item) => stored_period(&ItemView::new(table, &KEY, &item))?,
                None => None,
            };
            let stored_start = stored_period.map(|p| p.start());
            let new_start = snapshot.current_period.map(|p| p.start());
            let mut actions = Vec::with_capacity(2);
            let reset_usage = if stored_start == new_start {
                None
            } else if let Some(period) = &snapshot.current_period {
                let (total, check) = self.ledger_total_guard(id, period).await?;
                actions.push(TransactWriteItem::builder().condition_check(check).build());
                Some(total)
            } else {
                Some(Usd::ZERO)
            };
            // A period moving forward keeps the old one for late usage in its grace window.
            let previous = stored_period.filter(|old| {
                snapshot
                    .current_period
                    .is_some_and(|new| new.start() > old.start())
            });
            let update =
                self.snapshot_update(id, snapshot, stored_start, reset_usage, previous, now)?;
            actions.insert(0, TransactWriteItem::builder().update(update).build());
            let what = format!("{table} customer_id={id}");
            let Some(fates) = self.transact(&what, actions).await? else {
                return Ok(SnapshotOutcome::Applied);
            };
            if let ActionFate::ConditionFailed(item) = &fates[0] {
                let item = match item {
                    Some(item) => Some(item.clone()),
                    None => self.get_item(table, customer_key(id)).await?,
                };
                if let Refusal::Final(outcome) = refusal(
                    table,
                    item.as_ref(),
                    snapshot.version,
                    &snapshot.subscription_id,
                )? {
                    return Ok(outcome);
                }
            }
            // The ledger total or the stored period moved, or a transaction conflicted: again.
        }
        Err(StoreError::Conflict(format!(
            "{table} customer_id={id}: snapshot version {} kept losing races",
            snapshot.version
        )))
    }
}

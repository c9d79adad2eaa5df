//! Counting wrappers around the real ports, for the usage reporter's calls-per-record figures.
//!
//! - [`CountingStripe`] (from `billing_test_support`) counts every [`billing::stripe::StripeApi`]
//!   call the reporter makes, by method, and the time spent waiting for the answers (retries
//!   inside the client are not counted; the benchmark checks that none happened by comparing
//!   with the stand-in's own meter-event log).
//! - [`CountingStore`] forwards to a store (the in-memory one) and counts, for each port call,
//!   the DynamoDB writes the DynamoDB adapter (`billing_adapters::dynamodb`) makes for that call
//!   on its success path; on moto, [`AccessLogWrites`] reads the same count from
//!   `billing_test_support::access_log` (every request the SDK sends), and the benchmark prints
//!   both so the mapping is checked.
//!
//! A store write is one item written: a `PutItem`, `UpdateItem` or `DeleteItem`, or one put,
//! update or delete inside a `TransactWriteItems` or `BatchWriteItem`; a transaction's
//! `ConditionCheck` writes nothing and is not one (as `AccessLog::writes` counts).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use billing::ids::{CustomerId, StripeCustomerId, UsageId};
use billing::money::Usd;
use billing::period::BillingPeriod;
use billing::ports::{
    ApplyOutcome, CustomerRecord, CustomerStore, IntentOutcome, LinkOutcome, SnapshotOutcome,
    StoreError, UsageLedger,
};
use billing::subscription::SubscriptionSnapshot;
use billing::usage::{
    MeterIntent, PeriodLedger, StoredUsage, UnappliedItem, UsageApplication, UsageRecord,
};
use billing_test_support::access_log::AccessLog;
pub use billing_test_support::counting_stripe::CountingStripe;

/// Records per apply transaction in the DynamoDB adapter (98 record updates + the ledger + the
/// customer update or check = 100 actions, DynamoDB's limit).
pub const DYNAMO_RECORDS_PER_TRANSACTION: usize = 98;

/// Store writes counted by some means.
pub trait StoreWrites: Send + Sync {
    /// Write requests sent (a transaction is one).
    fn write_requests(&self) -> u64;
    /// Items written (the unit).
    fn writes(&self) -> u64;
    /// Back to zero (after set-up).
    fn reset(&self);
}

/// Write counts kept by [`CountingStore`].
#[derive(Debug, Default)]
pub struct WriteCounts {
    requests: AtomicU64,
    items: AtomicU64,
}

impl WriteCounts {
    /// Write requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Store writes (items) so far: the unit.
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }

    /// Adds one request of `items` items.
    pub fn add(&self, items: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items, Ordering::Relaxed);
    }
}

impl StoreWrites for WriteCounts {
    fn write_requests(&self) -> u64 {
        self.requests()
    }
    fn writes(&self) -> u64 {
        self.items()
    }
    fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.items.store(0, Ordering::Relaxed);
    }
}

/// The writes `billing_test_support::access_log` recorded on the wire (every attempt).
pub struct AccessLogWrites(pub AccessLog);

/// The operations that write.
const WRITE_OPERATIONS: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

impl StoreWrites for AccessLogWrites {
    fn write_requests(&self) -> u64 {
        WRITE_OPERATIONS
            .iter()
            .map(|op| self.0.operation_count(op) as u64)
            .sum()
    }
    fn writes(&self) -> u64 {
        self.0.writes() as u64
    }
    fn reset(&self) {
        self.0.clear();
    }
}

/// A store that forwards to `S` and counts the DynamoDB writes the DynamoDB adapter makes for the
/// same calls on their success path:
///
/// | call | DynamoDB writes |
/// | --- | --- |
/// | `apply_usage` of n distinct ids | one `TransactWriteItems` per 98 ids (one when n = 0), each writing its records + the ledger + the customer when the period is its current one (else a `ConditionCheck`, no write) |
/// | `reject_usage`, `begin_intent`, `mark_intent_sent`, `mark_intent_sent_settling`, `settle_ledger`, `put_usage_record`, `link_stripe_customer` | one `UpdateItem`/`PutItem` |
/// | `apply_subscription` | one `TransactWriteItems` writing the customer (plus a ledger `ConditionCheck` when the period changes) |
///
/// A refused condition makes the adapter retry without the refused record: not counted here
/// (the benchmark's workload has none; the moto run counts every request exactly).
pub struct CountingStore<S> {
    inner: S,
    writes: WriteCounts,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            writes: WriteCounts::default(),
        }
    }

    /// The counts.
    pub fn writes(&self) -> &WriteCounts {
        &self.writes
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: CustomerStore> CustomerStore for CountingStore<S> {
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        self.inner.get_customer(id).await
    }
    async fn find_by_stripe_customer(
        &self,
        stripe_customer_id: &StripeCustomerId,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        self.inner.find_by_stripe_customer(stripe_customer_id).await
    }
    async fn link_stripe_customer(
        &self,
        id: &CustomerId,
        stripe_customer_id: &StripeCustomerId,
        now: i64,
    ) -> Result<LinkOutcome, StoreError> {
        self.writes.add(1);
        self.inner
            .link_stripe_customer(id, stripe_customer_id, now)
            .await
    }
    async fn apply_subscription(
        &self,
        id: &CustomerId,
        snapshot: &SubscriptionSnapshot,
        now: i64,
    ) -> Result<SnapshotOutcome, StoreError> {
        self.writes.add(1);
        self.inner.apply_subscription(id, snapshot, now).await
    }
}

#[async_trait]
impl<S: UsageLedger + CustomerStore> UsageLedger for CountingStore<S> {
    async fn put_usage_record(&self, record: &UsageRecord, now: i64) -> Result<bool, StoreError> {
        self.writes.add(1);
        self.inner.put_usage_record(record, now).await
    }
    async fn get_usage_record(&self, id: &UsageId) -> Result<Option<StoredUsage>, StoreError> {
        self.inner.get_usage_record(id).await
    }
    async fn apply_usage(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        records: &[UsageApplication],
        now: i64,
    ) -> Result<ApplyOutcome, StoreError> {
        let distinct: HashSet<&UsageId> = records.iter().map(|r| &r.usage_id).collect();
        // The adapter reads the customer's period first: the customer is written only when this
        // is its current period.
        let current = self
            .inner
            .get_customer(customer)
            .await?
            .and_then(|c| c.subscription.and_then(|s| s.current_period))
            .is_some_and(|p| p.start() == period.start());
        let per_transaction = 1 + u64::from(current);
        let mut left = distinct.len();
        if left == 0 {
            self.writes.add(per_transaction);
        }
        while left > 0 {
            let chunk = left.min(DYNAMO_RECORDS_PER_TRANSACTION);
            self.writes.add(chunk as u64 + per_transaction);
            left -= chunk;
        }
        self.inner.apply_usage(customer, period, records, now).await
    }
    async fn reject_usage(&self, id: &UsageId, reason: &str, now: i64) -> Result<bool, StoreError> {
        self.writes.add(1);
        self.inner.reject_usage(id, reason, now).await
    }
    async fn get_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
    ) -> Result<Option<PeriodLedger>, StoreError> {
        self.inner.get_ledger(customer, period_start).await
    }
    async fn begin_intent(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        intent: &MeterIntent,
    ) -> Result<IntentOutcome, StoreError> {
        self.writes.add(1);
        self.inner.begin_intent(customer, period, intent).await
    }
    async fn mark_intent_sent(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.writes.add(1);
        self.inner
            .mark_intent_sent(customer, period_start, identifier, now)
            .await
    }
    async fn mark_intent_sent_settling(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        settled_total: Usd,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.writes.add(1);
        self.inner
            .mark_intent_sent_settling(customer, period_start, identifier, settled_total, now)
            .await
    }
    async fn settle_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
        settled_total: Usd,
    ) -> Result<bool, StoreError> {
        self.writes.add(1);
        self.inner
            .settle_ledger(customer, period_start, settled_total)
            .await
    }
    async fn list_unsettled_ledgers(
        &self,
        unsettled_before: i64,
    ) -> Result<Vec<PeriodLedger>, StoreError> {
        self.inner.list_unsettled_ledgers(unsettled_before).await
    }
    async fn list_pending_intents(&self) -> Result<Vec<PeriodLedger>, StoreError> {
        self.inner.list_pending_intents().await
    }
    async fn list_unapplied_usage(
        &self,
        written_before: i64,
    ) -> Result<Vec<UnappliedItem>, StoreError> {
        self.inner.list_unapplied_usage(written_before).await
    }
}

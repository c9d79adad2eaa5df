//! Ports: the narrow traits the use cases need. Each has a DynamoDB adapter (`billing-adapters`)
//! and an in-memory one ([`crate::memory`]); one contract test suite runs against both.

use async_trait::async_trait;

use crate::ids::{CustomerId, StripeCustomerId, StripeEventId, UsageId};
use crate::money::Usd;
use crate::period::BillingPeriod;
use crate::subscription::SubscriptionSnapshot;
use crate::usage::{
    MeterIntent, PeriodLedger, StoredUsage, UnappliedItem, UsageApplication, UsageRecord,
};

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused for load; a retry may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A concurrent write to the same items won; retry the operation.
    #[error("conflicting concurrent write on {0}; retry")]
    Conflict(String),
    /// A sum of amounts left the range of exact decimals; nothing was written, and a retry
    /// cannot help.
    #[error("amount overflow: nothing was written")]
    AmountOverflow,
    /// An item could not be read back into its type.
    #[error("corrupt item {key} in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: String,
        /// The item's key.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

/// The one customer of `linked` (those found linked to `stripe_customer_id` in `table`): none,
/// one, or [`StoreError::Corrupt`] naming them all when there are several.
pub fn the_one_linked(
    table: &str,
    stripe_customer_id: &StripeCustomerId,
    mut linked: Vec<CustomerRecord>,
) -> Result<Option<CustomerRecord>, StoreError> {
    if linked.len() > 1 {
        let mut ids: Vec<String> = linked.iter().map(|c| c.customer_id.to_string()).collect();
        ids.sort();
        return Err(StoreError::Corrupt {
            table: table.to_string(),
            key: format!("stripe_customer_id = {stripe_customer_id}"),
            reason: format!(
                "one Stripe customer linked to {} customers ({}); fix the links by hand",
                ids.len(),
                ids.join(", ")
            ),
        });
    }
    Ok(linked.pop())
}

/// The current time, injectable for tests and the Stripe stand-in's test clocks.
pub trait Clock: Send + Sync {
    /// Unix seconds now.
    fn now(&self) -> i64;

    /// Unix milliseconds now; clocks without sub-second resolution give whole seconds.
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        self.now_millis() / 1000
    }

    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A customer as the `customers` table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// Our customer id (table key).
    pub customer_id: CustomerId,
    /// The linked Stripe customer (GSI `gsi_stripe_customer_id`).
    pub stripe_customer_id: Option<StripeCustomerId>,
    /// The mirrored subscription, once a webhook told us of one.
    pub subscription: Option<SubscriptionSnapshot>,
    /// Billed usage of the current period (kept equal to that period's ledger total).
    pub current_period_usage: Usd,
    /// The period before the current one, kept when the period moves forward: late usage of it
    /// is still billed there while its invoice waits out Stripe's finalization grace.
    pub previous_period: Option<BillingPeriod>,
    /// First written (unix seconds).
    pub created_at: i64,
    /// Last written (unix seconds).
    pub updated_at: i64,
}

/// What came of linking a Stripe customer to our customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Stored now.
    Linked,
    /// This very Stripe customer was already stored.
    AlreadyLinked,
    /// A different Stripe customer is stored and was left as it is.
    LinkedToOther(StripeCustomerId),
}

/// What came of applying a subscription snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Stored.
    Applied,
    /// The stored state is as new or newer (by version); nothing changed.
    Stale,
    /// There is no such customer.
    UnknownCustomer,
    /// The customer's current subscription is another one that is still live (not canceled or
    /// expired): a snapshot of a different subscription never replaces it.
    OtherSubscriptionCurrent,
}

/// The `customers` table.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Reads a customer by our id.
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError>;

    /// Finds the customer linked to a Stripe customer, through the GSI (eventually consistent).
    /// A Stripe customer linked to several customers (only a hand edit of the table can do that:
    /// each customer's Stripe customer is created for it alone) is [`StoreError::Corrupt`],
    /// never one of them picked at random: a webhook would bill or update the wrong customer.
    async fn find_by_stripe_customer(
        &self,
        stripe_customer_id: &StripeCustomerId,
    ) -> Result<Option<CustomerRecord>, StoreError>;

    /// Stores the Stripe customer id, creating the customer when absent; never overwrites a
    /// different id already stored.
    async fn link_stripe_customer(
        &self,
        id: &CustomerId,
        stripe_customer_id: &StripeCustomerId,
        now: i64,
    ) -> Result<LinkOutcome, StoreError>;

    /// Stores a subscription snapshot if its version is greater than the stored one and the stored
    /// subscription is this one, or absent, or over (canceled or expired). When the period moves
    /// forward, the old one becomes `previous_period`. When the
    /// period changes, `current_period_usage` becomes the new period's ledger total, atomically, so
    /// usage already applied to the new period is never wiped.
    async fn apply_subscription(
        &self,
        id: &CustomerId,
        snapshot: &SubscriptionSnapshot,
        now: i64,
    ) -> Result<SnapshotOutcome, StoreError>;
}

/// How long a webhook claim lasts before another invocation may take the event over: a little
/// more than the webhook function's timeout.
pub const WEBHOOK_CLAIM_SECS: i64 = 60;

/// How long a completed webhook event is remembered: Stripe retries for up to three days.
pub const WEBHOOK_KEEP_SECS: i64 = 4 * 24 * 3600;

/// What came of claiming a webhook event for processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This invocation owns the event now; complete or release it.
    Claimed,
    /// The event was processed before; answer 200 without re-applying.
    AlreadyCompleted,
    /// Another invocation is processing it; answer so that Stripe retries.
    InProgress,
}

/// The webhook-events table: deduplication of Stripe events by id.
///
/// Expired items count as absent: a claim expires after `in_progress_secs` (a crashed invocation
/// must not block the event), a completed marker after `keep_secs` (past Stripe's retry window).
#[async_trait]
pub trait WebhookEvents: Send + Sync {
    /// Claims `event_id` for the invocation identified by `token`.
    async fn claim(
        &self,
        event_id: &StripeEventId,
        token: &str,
        now: i64,
        in_progress_secs: i64,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Marks a claimed event completed; `false` if the claim was no longer this token's.
    async fn complete(
        &self,
        event_id: &StripeEventId,
        token: &str,
        now: i64,
        keep_secs: i64,
    ) -> Result<bool, StoreError>;

    /// Drops a claim after a failure so that Stripe's retry can process the event; `false` if
    /// the claim was no longer this token's.
    async fn release(&self, event_id: &StripeEventId, token: &str) -> Result<bool, StoreError>;
}

/// What came of applying usage records to a period ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Applied now, each exactly once.
    pub applied: Vec<UsageId>,
    /// Not applied: already applied, rejected, or not in the table.
    pub skipped: Vec<UsageId>,
}

/// What came of persisting a meter intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentOutcome {
    /// Persisted; send it.
    Started,
    /// The ledger moved on (another intent is pending or `from` is stale): read it again.
    Conflict,
}

/// The `usage_records` table and the per-period ledger.
#[async_trait]
pub trait UsageLedger: Send + Sync {
    /// Writes a new usage record as a producer does; `false` if its id exists (never overwrites).
    async fn put_usage_record(&self, record: &UsageRecord, now: i64) -> Result<bool, StoreError>;

    /// Reads a usage record and its state.
    async fn get_usage_record(&self, id: &UsageId) -> Result<Option<StoredUsage>, StoreError>;

    /// Applies records to one customer's period ledger: each record of this customer is marked
    /// applied and its `billed` added to the ledger's total (and to `current_period_usage` when `period` is the
    /// customer's current one) in one atomic write, at most once per record.
    ///
    /// The same write marks the ledger **unsettled** when it adds a non-zero amount (keeping the
    /// time of the oldest unsettled apply, `now`, when already marked): usage applied but maybe not
    /// yet covered by intents. Only [`UsageLedger::settle_ledger`] and
    /// [`UsageLedger::mark_intent_sent_settling`] clear the mark, and only while `billed_total` is
    /// still the total their caller settled, so an apply racing with a settlement keeps its mark and
    /// [`UsageLedger::list_unsettled_ledgers`] finds every ledger whose usage may be owed to Stripe.
    async fn apply_usage(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        records: &[UsageApplication],
        now: i64,
    ) -> Result<ApplyOutcome, StoreError>;

    /// Marks a record rejected for good; `false` if it was applied (or absent).
    async fn reject_usage(&self, id: &UsageId, reason: &str, now: i64) -> Result<bool, StoreError>;

    /// Reads one period ledger.
    async fn get_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
    ) -> Result<Option<PeriodLedger>, StoreError>;

    /// Persists `intent` on the ledger: only if no intent is pending and `intent.from` equals the
    /// ledger's `units_intended`, which then becomes `intent.to`.
    async fn begin_intent(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        intent: &MeterIntent,
    ) -> Result<IntentOutcome, StoreError>;

    /// Marks the pending intent with this identifier sent; `false` if it is not pending.
    async fn mark_intent_sent(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Marks the pending intent with this identifier sent, as [`UsageLedger::mark_intent_sent`]
    /// does, and in the same write settles the ledger (clears its unsettled mark) if its
    /// `billed_total` is still `settled_total`: the caller passes the total whose owed units the
    /// intent's `to` covers. If the total moved on (usage applied since the caller read it), the
    /// intent is still marked sent and the ledger stays unsettled. `false` if the intent is not
    /// pending (nothing changes then).
    async fn mark_intent_sent_settling(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        settled_total: Usd,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Clears the ledger's unsettled mark if its `billed_total` is still `settled_total` (the
    /// caller checked that intents cover every unit that total owes, with none pending); `false`
    /// if the total moved on or there is no such ledger (nothing changes then).
    async fn settle_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
        settled_total: Usd,
    ) -> Result<bool, StoreError>;

    /// Every ledger marked unsettled (see [`UsageLedger::apply_usage`]) at or before
    /// `unsettled_before`, by customer and period (for the sweep).
    async fn list_unsettled_ledgers(
        &self,
        unsettled_before: i64,
    ) -> Result<Vec<PeriodLedger>, StoreError>;

    /// Every ledger with a pending intent (for the sweep).
    async fn list_pending_intents(&self) -> Result<Vec<PeriodLedger>, StoreError>;

    /// Items neither applied nor rejected, written at or before `written_before` (for the sweep);
    /// an item that cannot be read as a record comes back as [`UnappliedItem::Unreadable`] instead
    /// of failing the whole listing.
    async fn list_unapplied_usage(
        &self,
        written_before: i64,
    ) -> Result<Vec<UnappliedItem>, StoreError>;
}

/// A Checkout Session kept for a customer, so that a second request (two tabs, a double click)
/// gets the same session instead of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCheckout {
    /// The session.
    pub session_id: crate::ids::CheckoutSessionId,
    /// Its hosted page.
    pub url: String,
    /// When Stripe expires it (unix seconds).
    pub expires_at: i64,
}

/// A customer's checkout slot. `generation` numbers the Checkout Sessions made for the customer:
/// the session of generation `g` is created under the idempotency key derived from `g`, so
/// concurrent requests of one generation get one session from Stripe; a completed or expired
/// session is retired by moving to `g + 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutSlot {
    /// The current generation (0 before any checkout).
    pub generation: u64,
    /// The session remembered for this generation, if any.
    pub open: Option<OpenCheckout>,
}

/// Sign-up and checkout state kept on the `customers` item.
#[async_trait]
pub trait Onboarding: Send + Sync {
    /// Stores `proposed` as the customer's Stripe customer-creation request unless one is stored,
    /// and returns the stored one: every path (sign-up trigger, lazy creation at checkout) then
    /// creates the Stripe customer with identical parameters under the same idempotency key.
    async fn stripe_customer_request(
        &self,
        proposed: &crate::stripe::NewCustomer,
        now: i64,
    ) -> Result<crate::stripe::NewCustomer, StoreError>;

    /// The customer's checkout slot (generation 0 and no session for an unknown customer).
    async fn checkout_slot(&self, id: &CustomerId) -> Result<CheckoutSlot, StoreError>;

    /// Remembers `session` for `generation`; `false` if the generation moved on or another session
    /// is already remembered for it.
    async fn remember_checkout(
        &self,
        id: &CustomerId,
        generation: u64,
        session: &OpenCheckout,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Retires `generation` (its session completed or expired): the slot moves to
    /// `generation + 1` with no session; `false` if the generation had already moved on.
    async fn retire_checkout(
        &self,
        id: &CustomerId,
        generation: u64,
        now: i64,
    ) -> Result<bool, StoreError>;
}

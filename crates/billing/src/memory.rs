//! The in-memory store: every port on plain maps behind one mutex. Used by unit tests and the
//! local stack's embedded mode (a restart starts empty). It keeps the same rules as the DynamoDB
//! adapter, and the shared contract suite in `billing-adapters` runs against both.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::ids::{CustomerId, StripeCustomerId, StripeEventId, UsageId};
use crate::period::BillingPeriod;
use crate::ports::{
    ApplyOutcome, CheckoutSlot, ClaimOutcome, CustomerRecord, CustomerStore, IntentOutcome,
    LinkOutcome, Onboarding, OpenCheckout, SnapshotOutcome, StoreError, UsageLedger, WebhookEvents,
};
use crate::stripe::NewCustomer;
use crate::subscription::SubscriptionSnapshot;
use crate::usage::{
    MeterIntent, PeriodLedger, StoredUsage, UnappliedItem, UsageApplication, UsageRecord,
    UsageState,
};

#[derive(Debug, Clone)]
struct EventMarker {
    token: String,
    completed: bool,
    claim_expires_at: i64,
    expires_at: i64,
}

#[derive(Debug, Clone)]
struct UsageRow {
    stored: StoredUsage,
    written_at: i64,
}

#[derive(Debug, Default)]
struct Tables {
    customers: HashMap<CustomerId, CustomerRecord>,
    events: HashMap<StripeEventId, EventMarker>,
    usage: HashMap<UsageId, UsageRow>,
    ledgers: BTreeMap<(CustomerId, i64), PeriodLedger>,
    /// The ledgers' unsettled marks (`unsettled_since` on DynamoDB), by ledger key.
    unsettled: BTreeMap<(CustomerId, i64), i64>,
    customer_requests: HashMap<CustomerId, NewCustomer>,
    checkout_slots: HashMap<CustomerId, CheckoutSlot>,
}

/// All ports in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn new_customer(id: &CustomerId, now: i64) -> CustomerRecord {
    CustomerRecord {
        customer_id: id.clone(),
        stripe_customer_id: None,
        subscription: None,
        current_period_usage: crate::money::Usd::ZERO,
        previous_period: None,
        created_at: now,
        updated_at: now,
    }
}

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        Ok(self.lock().customers.get(id).cloned())
    }

    async fn find_by_stripe_customer(
        &self,
        stripe_customer_id: &StripeCustomerId,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let linked: Vec<CustomerRecord> = self
            .lock()
            .customers
            .values()
            .filter(|c| c.stripe_customer_id.as_ref() == Some(stripe_customer_id))
            .cloned()
            .collect();
        crate::ports::the_one_linked("customers", stripe_customer_id, linked)
    }

    async fn link_stripe_customer(
        &self,
        id: &CustomerId,
        stripe_customer_id: &StripeCustomerId,
        now: i64,
    ) -> Result<LinkOutcome, StoreError> {
        let mut tables = self.lock();
        let customer = tables
            .customers
            .entry(id.clone())
            .or_insert_with(|| new_customer(id, now));
        match &customer.stripe_customer_id {
            Some(existing) if existing == stripe_customer_id => Ok(LinkOutcome::AlreadyLinked),
            Some(existing) => Ok(LinkOutcome::LinkedToOther(existing.clone())),
            None => {
                customer.stripe_customer_id = Some(stripe_customer_id.clone());
                customer.updated_at = now;
                Ok(LinkOutcome::Linked)
            }
        }
    }

    async fn apply_subscription(
        &self,
        id: &CustomerId,
        snapshot: &SubscriptionSnapshot,
        now: i64,
    ) -> Result<SnapshotOutcome, StoreError> {
        let mut tables = self.lock();
        let new_period_total = snapshot.current_period.map(|p| {
            tables
                .ledgers
                .get(&(id.clone(), p.start()))
                .map(|l| l.billed_total)
                .unwrap_or_default()
        });
        let Some(customer) = tables.customers.get_mut(id) else {
            return Ok(SnapshotOutcome::UnknownCustomer);
        };
        if let Some(stored) = &customer.subscription {
            if stored.version >= snapshot.version {
                return Ok(SnapshotOutcome::Stale);
            }
            if stored.subscription_id != snapshot.subscription_id && !stored.status.is_terminal() {
                return Ok(SnapshotOutcome::OtherSubscriptionCurrent);
            }
        }
        let stored_period = customer
            .subscription
            .as_ref()
            .and_then(|s| s.current_period);
        let stored_start = stored_period.map(|p| p.start());
        let new_start = snapshot.current_period.map(|p| p.start());
        if stored_start != new_start {
            customer.current_period_usage = new_period_total.unwrap_or_default();
            if let (Some(old), Some(new)) = (stored_period, snapshot.current_period)
                && new.start() > old.start()
            {
                customer.previous_period = Some(old);
            }
        }
        customer.subscription = Some(snapshot.clone());
        customer.updated_at = now;
        Ok(SnapshotOutcome::Applied)
    }
}

#[async_trait]
impl Onboarding for MemoryStore {
    async fn stripe_customer_request(
        &self,
        proposed: &NewCustomer,
        now: i64,
    ) -> Result<NewCustomer, StoreError> {
        let mut tables = self.lock();
        tables
            .customers
            .entry(proposed.customer_id.clone())
            .or_insert_with(|| new_customer(&proposed.customer_id, now));
        Ok(tables
            .customer_requests
            .entry(proposed.customer_id.clone())
            .or_insert_with(|| proposed.clone())
            .clone())
    }

    async fn checkout_slot(&self, id: &CustomerId) -> Result<CheckoutSlot, StoreError> {
        Ok(self
            .lock()
            .checkout_slots
            .get(id)
            .cloned()
            .unwrap_or_default())
    }

    async fn remember_checkout(
        &self,
        id: &CustomerId,
        generation: u64,
        session: &OpenCheckout,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let slot = tables.checkout_slots.entry(id.clone()).or_default();
        let free = match &slot.open {
            None => true,
            Some(open) => open.session_id == session.session_id,
        };
        if slot.generation != generation || !free {
            return Ok(false);
        }
        slot.open = Some(session.clone());
        Ok(true)
    }

    async fn retire_checkout(
        &self,
        id: &CustomerId,
        generation: u64,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let slot = tables.checkout_slots.entry(id.clone()).or_default();
        if slot.generation != generation {
            return Ok(false);
        }
        *slot = CheckoutSlot {
            generation: generation + 1,
            open: None,
        };
        Ok(true)
    }
}

#[async_trait]
impl WebhookEvents for MemoryStore {
    async fn claim(
        &self,
        event_id: &StripeEventId,
        token: &str,
        now: i64,
        in_progress_secs: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut tables = self.lock();
        if let Some(marker) = tables.events.get(event_id) {
            let live = marker.expires_at > now;
            if live && marker.completed {
                return Ok(ClaimOutcome::AlreadyCompleted);
            }
            if live && marker.claim_expires_at > now {
                return Ok(ClaimOutcome::InProgress);
            }
        }
        tables.events.insert(
            event_id.clone(),
            EventMarker {
                token: token.to_string(),
                completed: false,
                claim_expires_at: now + in_progress_secs,
                expires_at: now + in_progress_secs,
            },
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn complete(
        &self,
        event_id: &StripeEventId,
        token: &str,
        now: i64,
        keep_secs: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match tables.events.get_mut(event_id) {
            Some(marker) if marker.token == token && !marker.completed => {
                marker.completed = true;
                marker.expires_at = now + keep_secs;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, event_id: &StripeEventId, token: &str) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match tables.events.get(event_id) {
            Some(marker) if marker.token == token && !marker.completed => {
                tables.events.remove(event_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl UsageLedger for MemoryStore {
    async fn put_usage_record(&self, record: &UsageRecord, now: i64) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        if tables.usage.contains_key(&record.usage_id) {
            return Ok(false);
        }
        tables.usage.insert(
            record.usage_id.clone(),
            UsageRow {
                stored: StoredUsage {
                    record: record.clone(),
                    state: UsageState::Pending,
                },
                written_at: now,
            },
        );
        Ok(true)
    }

    async fn get_usage_record(&self, id: &UsageId) -> Result<Option<StoredUsage>, StoreError> {
        Ok(self.lock().usage.get(id).map(|row| row.stored.clone()))
    }

    async fn apply_usage(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        records: &[UsageApplication],
        now: i64,
    ) -> Result<ApplyOutcome, StoreError> {
        let mut tables = self.lock();
        // Decide and add up first, mutate only when every sum fits: all-or-nothing, like the
        // DynamoDB transaction, so invariant 1 (ledger total = sum of applied records) holds.
        let mut outcome = ApplyOutcome::default();
        let mut added = crate::money::Usd::ZERO;
        for application in records {
            let pending = tables.usage.get(&application.usage_id).is_some_and(|row| {
                row.stored.state == UsageState::Pending
                    && row.stored.record.customer_id == *customer
            });
            if pending && !outcome.applied.contains(&application.usage_id) {
                added = added
                    .checked_add(application.billed)
                    .map_err(|_| StoreError::AmountOverflow)?;
                outcome.applied.push(application.usage_id.clone());
            } else {
                outcome.skipped.push(application.usage_id.clone());
            }
        }
        let key = (customer.clone(), period.start());
        let ledger_total = tables
            .ledgers
            .get(&key)
            .map(|l| l.billed_total)
            .unwrap_or_default()
            .checked_add(added)
            .map_err(|_| StoreError::AmountOverflow)?;
        let is_current = |c: &CustomerRecord| {
            c.subscription
                .as_ref()
                .and_then(|s| s.current_period)
                .map(|p| p.start())
                == Some(period.start())
        };
        let customer_usage = match tables.customers.get(customer) {
            Some(c) if is_current(c) => Some(
                c.current_period_usage
                    .checked_add(added)
                    .map_err(|_| StoreError::AmountOverflow)?,
            ),
            _ => None,
        };
        for application in records {
            if !outcome.applied.contains(&application.usage_id) {
                continue;
            }
            if let Some(row) = tables.usage.get_mut(&application.usage_id)
                && row.stored.state == UsageState::Pending
            {
                row.stored.state = UsageState::Applied {
                    period_start: period.start(),
                    billed: application.billed,
                    late_reason: application.late_reason.clone(),
                };
            }
        }
        tables
            .ledgers
            .entry(key.clone())
            .or_insert_with(|| PeriodLedger::new(customer.clone(), *period))
            .billed_total = ledger_total;
        // Usage that moved the total is maybe not covered by intents yet: marked in the same step.
        if added != crate::money::Usd::ZERO {
            tables.unsettled.entry(key).or_insert(now);
        }
        if let (Some(total), Some(c)) = (customer_usage, tables.customers.get_mut(customer)) {
            c.current_period_usage = total;
        }
        Ok(outcome)
    }

    async fn reject_usage(
        &self,
        id: &UsageId,
        reason: &str,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match tables.usage.get_mut(id) {
            Some(row) if !matches!(row.stored.state, UsageState::Applied { .. }) => {
                row.stored.state = UsageState::Rejected {
                    reason: reason.to_string(),
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
    ) -> Result<Option<PeriodLedger>, StoreError> {
        Ok(self
            .lock()
            .ledgers
            .get(&(customer.clone(), period_start))
            .cloned())
    }

    async fn begin_intent(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        intent: &MeterIntent,
    ) -> Result<IntentOutcome, StoreError> {
        let mut tables = self.lock();
        let ledger = tables
            .ledgers
            .entry((customer.clone(), period.start()))
            .or_insert_with(|| PeriodLedger::new(customer.clone(), *period));
        if ledger.pending.is_some() || ledger.units_intended != intent.from {
            return Ok(IntentOutcome::Conflict);
        }
        ledger.units_intended = intent.to;
        ledger.pending = Some(intent.clone());
        Ok(IntentOutcome::Started)
    }

    async fn mark_intent_sent(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let Some(ledger) = tables.ledgers.get_mut(&(customer.clone(), period_start)) else {
            return Ok(false);
        };
        match &ledger.pending {
            Some(pending) if pending.identifier == identifier => {
                ledger.units_sent = pending.to;
                ledger.pending = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_intent_sent_settling(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        settled_total: crate::money::Usd,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let key = (customer.clone(), period_start);
        let Some(ledger) = tables.ledgers.get_mut(&key) else {
            return Ok(false);
        };
        match &ledger.pending {
            Some(pending) if pending.identifier == identifier => {
                ledger.units_sent = pending.to;
                ledger.pending = None;
                if ledger.billed_total == settled_total {
                    tables.unsettled.remove(&key);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn settle_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
        settled_total: crate::money::Usd,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let key = (customer.clone(), period_start);
        match tables.ledgers.get(&key) {
            Some(ledger) if ledger.billed_total == settled_total => {
                tables.unsettled.remove(&key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_unsettled_ledgers(
        &self,
        unsettled_before: i64,
    ) -> Result<Vec<PeriodLedger>, StoreError> {
        let tables = self.lock();
        Ok(tables
            .unsettled
            .iter()
            .filter(|(_, since)| **since <= unsettled_before)
            .filter_map(|(key, _)| tables.ledgers.get(key).cloned())
            .collect())
    }

    async fn list_pending_intents(&self) -> Result<Vec<PeriodLedger>, StoreError> {
        Ok(self
            .lock()
            .ledgers
            .values()
            .filter(|l| l.pending.is_some())
            .cloned()
            .collect())
    }

    async fn list_unapplied_usage(
        &self,
        written_before: i64,
    ) -> Result<Vec<UnappliedItem>, StoreError> {
        let mut found: Vec<UsageRecord> = self
            .lock()
            .usage
            .values()
            .filter(|row| {
                row.stored.state == UsageState::Pending && row.written_at <= written_before
            })
            .map(|row| row.stored.record.clone())
            .collect();
        found.sort_by(|a, b| a.usage_id.cmp(&b.usage_id));
        Ok(found.into_iter().map(UnappliedItem::Record).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Usd;

    fn record(id: &str, customer: &str) -> UsageRecord {
        UsageRecord {
            usage_id: UsageId::parse(id).unwrap(),
            customer_id: CustomerId::parse(customer).unwrap(),
            openai_cost_usd: Usd::parse("1").unwrap(),
            occurred_at: 1_000,
        }
    }

    fn application(id: &str, billed: Usd) -> UsageApplication {
        UsageApplication {
            usage_id: UsageId::parse(id).unwrap(),
            billed,
            late_reason: None,
        }
    }

    #[tokio::test]
    async fn an_overflowing_batch_applies_nothing() {
        // GIVEN two pending records whose billed amounts cannot be added exactly
        let store = MemoryStore::new();
        let c = CustomerId::parse("c1").unwrap();
        let period = BillingPeriod::new(0, 10_000).unwrap();
        store
            .put_usage_record(&record("u1", "c1"), 1)
            .await
            .unwrap();
        store
            .put_usage_record(&record("u2", "c1"), 1)
            .await
            .unwrap();
        let huge = Usd::new(rust_decimal::Decimal::MAX).unwrap();
        // WHEN they are applied together
        let result = store
            .apply_usage(
                &c,
                &period,
                &[application("u1", huge), application("u2", huge)],
                2,
            )
            .await;
        // THEN it fails and leaves no record applied and no ledger total behind
        assert!(matches!(result, Err(StoreError::AmountOverflow)));
        let stored = store
            .get_usage_record(&UsageId::parse("u1").unwrap())
            .await
            .unwrap();
        assert_eq!(stored.unwrap().state, UsageState::Pending);
        assert_eq!(store.get_ledger(&c, 0).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_record_of_another_customer_is_never_applied_to_this_one() {
        let store = MemoryStore::new();
        store
            .put_usage_record(&record("u1", "c2"), 1)
            .await
            .unwrap();
        let outcome = store
            .apply_usage(
                &CustomerId::parse("c1").unwrap(),
                &BillingPeriod::new(0, 10_000).unwrap(),
                &[application("u1", Usd::parse("2").unwrap())],
                2,
            )
            .await
            .unwrap();
        assert!(outcome.applied.is_empty());
        assert_eq!(outcome.skipped.len(), 1);
    }
}

//! [`UsageLedger`] on the `usage_records` and `billing_ledger` tables.
//!
//! Invariants (those of [`billing::usage`]) and the writes that keep them:
//! - A record is applied at most once: in the apply transaction each record's update is
//!   conditional on the record existing and being neither applied nor rejected, and the ledger's
//!   `ADD billed_total :sum` commits in the same transaction with the sum of exactly the records
//!   whose condition held. A record whose condition fails is dropped (reported skipped) and the
//!   transaction retried without it, so `billed_total` is always the sum over applied records.
//! - `current_period_usage` follows only the current period, whatever snapshot lands meanwhile:
//!   the transaction always carries the customer's side of the decision read before it. If this
//!   period was the customer's current one, the customer's `ADD` is conditional on it still being
//!   so; if it was not, a `ConditionCheck` requires that it still is not. When the condition fails
//!   (a snapshot moved the period since the read), the decision flips and the transaction is
//!   retried. A snapshot that lands before the commit resets `current_period_usage` from the
//!   ledger total it read under its own guard (see `customers`), so each record is counted in
//!   `current_period_usage` exactly when it is counted in the current period's ledger.
//! - A record is rejected only while not applied (`attribute_not_exists(applied_at)`).
//! - Producers never overwrite a record (`attribute_not_exists(usage_id)`).
//! - Intents never overlap: an intent is persisted only if none is pending and `units_intended`
//!   is still the intent's `from`; marking it sent requires its identifier.
//! - A ledger whose applied usage may owe units not covered by intents carries `unsettled_since`
//!   (sparse; the time of the oldest unsettled apply). The apply transaction's ledger update sets
//!   it (`if_not_exists`) whenever it adds a non-zero amount, in the same write as the `ADD`. It is
//!   removed only by a write conditioned on `billed_total = :b`, `b` being the total the settler
//!   read and whose owed units the intents cover (the settling mark-sent, or `settle_ledger`): an
//!   apply committed after that read changed `billed_total`, so the removal is refused and the
//!   apply's mark is never lost. The sweep lists marked ledgers with a Scan filtered on the
//!   attribute; a sparse GSI on `unsettled_since` is the path at scale.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem, Update};
use billing::ids::{CustomerId, UsageId};
use billing::money::Usd;
use billing::period::BillingPeriod;
use billing::ports::{ApplyOutcome, IntentOutcome, StoreError, UsageLedger};
use billing::usage::{
    MeterIntent, PeriodLedger, StoredUsage, UnappliedItem, UsageApplication, UsageRecord,
    UsageState,
};

use super::DynamoStore;
use super::attributes::{Item, ItemView, n, s, usd};
use super::errors;
use super::retry::{MAX_ATTEMPTS, back_off};
use super::transact::ActionFate;

/// The key attributes of `billing_ledger`.
pub(super) const KEY: [&str; 2] = ["customer_id", "period_start"];
const USAGE_KEY: [&str; 1] = ["usage_id"];

/// Records per apply transaction: 98 record updates + the ledger + the customer (update or
/// check) = 100 actions,
/// DynamoDB's limit per transaction.
const RECORDS_PER_TRANSACTION: usize = 98;

/// The key of one period ledger.
pub(super) fn ledger_key(customer: &CustomerId, period_start: i64) -> Item {
    Item::from([
        ("customer_id".to_string(), s(customer.as_str())),
        ("period_start".to_string(), n(period_start)),
    ])
}

fn usage_key(id: &UsageId) -> Item {
    Item::from([("usage_id".to_string(), s(id.as_str()))])
}

/// A `usage_records` item: the record, its state, and when it was written (`created_at`, or
/// `occurred_at` for producers that do not write it).
fn usage_from_item(table: &str, item: &Item) -> Result<(StoredUsage, i64), StoreError> {
    let v = ItemView::new(table, &USAGE_KEY, item);
    let record = UsageRecord {
        usage_id: v.parsed("usage_id", UsageId::parse)?,
        customer_id: v.parsed("customer_id", CustomerId::parse)?,
        openai_cost_usd: v.usd("openai_cost_usd")?,
        occurred_at: v.timestamp("occurred_at")?,
    };
    let state = if v.has("applied_at") {
        UsageState::Applied {
            period_start: v.i64("applied_period_start")?,
            billed: v.usd("billed_usd")?,
            late_reason: v.opt_str("late_reason")?.map(str::to_string),
        }
    } else if let Some(reason) = v.opt_str("rejected_reason")? {
        UsageState::Rejected {
            reason: reason.to_string(),
        }
    } else {
        UsageState::Pending
    };
    let written_at = v.opt_timestamp("created_at")?.unwrap_or(record.occurred_at);
    Ok((StoredUsage { record, state }, written_at))
}

fn ledger_from_item(table: &str, item: &Item) -> Result<PeriodLedger, StoreError> {
    let v = ItemView::new(table, &KEY, item);
    let period = BillingPeriod::new(v.i64("period_start")?, v.i64("period_end")?)
        .map_err(|e| v.corrupt(e.to_string()))?;
    let pending = if v.has("intent_identifier") {
        Some(MeterIntent {
            from: v.u64("intent_from")?,
            to: v.u64("intent_to")?,
            timestamp: v.i64("intent_timestamp")?,
            identifier: v.str("intent_identifier")?.to_string(),
            created_at: v.i64("intent_created_at")?,
        })
    } else {
        None
    };
    Ok(PeriodLedger {
        customer_id: v.parsed("customer_id", CustomerId::parse)?,
        period,
        billed_total: v.usd_or_zero("billed_total")?,
        units_intended: v.u64_or_zero("units_intended")?,
        units_sent: v.u64_or_zero("units_sent")?,
        pending,
    })
}

fn sum(records: &[UsageApplication], live: &[usize]) -> Result<Usd, StoreError> {
    live.iter().try_fold(Usd::ZERO, |total, &i| {
        total
            .checked_add(records[i].billed)
            .map_err(|_| StoreError::AmountOverflow)
    })
}

/// Where one chunk of an apply call stands.
struct Chunk<'a> {
    customer: &'a CustomerId,
    period: &'a BillingPeriod,
    records: &'a [UsageApplication],
    now: i64,
}

impl DynamoStore {
    /// Whether `period` is the customer's stored current period (absent customer: no).
    async fn is_current_period(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.customers;
        let key = Item::from([("customer_id".to_string(), s(customer.as_str()))]);
        Ok(match self.get_item(table, key).await? {
            Some(item) => {
                ItemView::new(table, &["customer_id"], &item).opt_i64("current_period_start")?
                    == Some(period.start())
            }
            None => false,
        })
    }

    fn record_update(
        &self,
        chunk: &Chunk<'_>,
        record: &UsageApplication,
    ) -> Result<Update, StoreError> {
        let mut expression =
            "SET applied_at = :now, applied_period_start = :ps, billed_usd = :b".to_string();
        let mut update = Update::builder()
            .table_name(&self.tables.usage_records)
            .set_key(Some(usage_key(&record.usage_id)))
            .expression_attribute_values(":now", n(chunk.now))
            .expression_attribute_values(":ps", n(chunk.period.start()))
            .expression_attribute_values(":b", usd(record.billed))
            .expression_attribute_values(":c", s(chunk.customer.as_str()));
        if let Some(reason) = &record.late_reason {
            expression.push_str(", late_reason = :late");
            update = update.expression_attribute_values(":late", s(reason));
        }
        update
            .update_expression(expression)
            // Applied at most once, never after a rejection, never to a record that is not there,
            // and only to its own customer's ledger.
            .condition_expression(
                "attribute_exists(usage_id) AND attribute_not_exists(applied_at) \
                 AND attribute_not_exists(rejected_reason) AND customer_id = :c",
            )
            .build()
            .map_err(errors::build)
    }

    fn ledger_add(&self, chunk: &Chunk<'_>, total: Usd) -> Result<Update, StoreError> {
        let mut expression =
            "ADD billed_total :sum SET period_end = if_not_exists(period_end, :pe), \
             units_intended = if_not_exists(units_intended, :zero), \
             units_sent = if_not_exists(units_sent, :zero)"
                .to_string();
        let mut update = Update::builder()
            .table_name(&self.tables.billing_ledger)
            .set_key(Some(ledger_key(chunk.customer, chunk.period.start())))
            .expression_attribute_values(":sum", usd(total))
            .expression_attribute_values(":pe", n(chunk.period.end()))
            .expression_attribute_values(":zero", n(0));
        // Usage that moves the total may owe units: marked unsettled in the same write.
        if total != Usd::ZERO {
            expression.push_str(", unsettled_since = if_not_exists(unsettled_since, :now)");
            update = update.expression_attribute_values(":now", n(chunk.now));
        }
        update
            .update_expression(expression)
            .build()
            .map_err(errors::build)
    }

    fn customer_add(&self, chunk: &Chunk<'_>, total: Usd) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.tables.customers)
            .set_key(Some(Item::from([(
                "customer_id".to_string(),
                s(chunk.customer.as_str()),
            )])))
            .update_expression("ADD current_period_usage :sum")
            // Only while this is still the customer's current period.
            .condition_expression("current_period_start = :ps")
            .expression_attribute_values(":sum", usd(total))
            .expression_attribute_values(":ps", n(chunk.period.start()))
            .build()
            .map_err(errors::build)
    }

    fn customer_not_current(&self, chunk: &Chunk<'_>) -> Result<ConditionCheck, StoreError> {
        ConditionCheck::builder()
            .table_name(&self.tables.customers)
            .set_key(Some(Item::from([(
                "customer_id".to_string(),
                s(chunk.customer.as_str()),
            )])))
            // Still not the customer's current period (or no such customer): `=` is false on a
            // missing attribute, so the NOT holds for customers without a period.
            .condition_expression("NOT (current_period_start = :ps)")
            .expression_attribute_values(":ps", n(chunk.period.start()))
            .build()
            .map_err(errors::build)
    }

    /// Applies the records at `indices` in one transaction, dropping those whose condition fails
    /// and retrying; sets `applied[i]` for each. `current` says whether to add to the customer's
    /// `current_period_usage`; it flips when the customer's condition says the period changed.
    async fn apply_chunk(
        &self,
        chunk: &Chunk<'_>,
        indices: &[usize],
        current: &mut bool,
        applied: &mut [Option<bool>],
    ) -> Result<(), StoreError> {
        let what = format!(
            "{} customer_id={},period_start={}",
            self.tables.billing_ledger,
            chunk.customer,
            chunk.period.start()
        );
        let mut live = indices.to_vec();
        for attempt in 0..MAX_ATTEMPTS {
            let total = sum(chunk.records, &live)?;
            let mut actions = Vec::with_capacity(live.len() + 2);
            for &i in &live {
                let update = self.record_update(chunk, &chunk.records[i])?;
                actions.push(TransactWriteItem::builder().update(update).build());
            }
            let ledger_at = actions.len();
            let update = self.ledger_add(chunk, total)?;
            actions.push(TransactWriteItem::builder().update(update).build());
            // Nothing to add, nothing to decide: the customer is left out.
            let with_customer = total != Usd::ZERO;
            if with_customer && *current {
                let update = self.customer_add(chunk, total)?;
                actions.push(TransactWriteItem::builder().update(update).build());
            } else if with_customer {
                let check = self.customer_not_current(chunk)?;
                actions.push(TransactWriteItem::builder().condition_check(check).build());
            }
            let Some(fates) = self.transact(&what, actions).await? else {
                for &i in &live {
                    applied[i] = Some(true);
                }
                return Ok(());
            };
            let mut conflict = fates[ledger_at] != ActionFate::Fine;
            let mut still = Vec::with_capacity(live.len());
            for (&i, fate) in live.iter().zip(&fates) {
                match fate {
                    ActionFate::ConditionFailed(_) => applied[i] = Some(false),
                    ActionFate::Conflict => {
                        conflict = true;
                        still.push(i);
                    }
                    ActionFate::Fine => still.push(i),
                }
            }
            if with_customer {
                match &fates[ledger_at + 1] {
                    ActionFate::ConditionFailed(_) => *current = !*current,
                    ActionFate::Conflict => conflict = true,
                    ActionFate::Fine => {}
                }
            }
            live = still;
            if conflict {
                back_off(attempt).await;
            }
        }
        Err(StoreError::Conflict(what))
    }

    async fn update_or_refused<T>(
        &self,
        table: &str,
        request: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        done: T,
        refused: T,
    ) -> Result<T, StoreError> {
        match request.send().await {
            Ok(_) => Ok(done),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(refused)
            }
            Err(err) => Err(errors::sdk(table, err)),
        }
    }
}

#[async_trait]
impl UsageLedger for DynamoStore {
    async fn put_usage_record(&self, record: &UsageRecord, now: i64) -> Result<bool, StoreError> {
        let table = &self.tables.usage_records;
        let result = self
            .client
            .put_item()
            .table_name(table)
            .item("usage_id", s(record.usage_id.as_str()))
            .item("customer_id", s(record.customer_id.as_str()))
            .item("openai_cost_usd", usd(record.openai_cost_usd))
            .item("occurred_at", n(record.occurred_at))
            .item("created_at", n(now))
            // A producer's retry never overwrites the record (nor its applied state).
            .condition_expression("attribute_not_exists(usage_id)")
            .send()
            .await;
        errors::conditional(table, result)
    }

    async fn get_usage_record(&self, id: &UsageId) -> Result<Option<StoredUsage>, StoreError> {
        let table = &self.tables.usage_records;
        self.get_item(table, usage_key(id))
            .await?
            .map(|item| usage_from_item(table, &item).map(|(stored, _)| stored))
            .transpose()
    }

    async fn apply_usage(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        records: &[UsageApplication],
        now: i64,
    ) -> Result<ApplyOutcome, StoreError> {
        let chunk = Chunk {
            customer,
            period,
            records,
            now,
        };
        // Read only to choose whether to include the customer update; its condition re-checks.
        let mut current = self.is_current_period(customer, period).await?;
        // A transaction may not touch an item twice: a repeated id is skipped, as applied already.
        let mut applied: Vec<Option<bool>> = vec![None; records.len()];
        let mut seen = HashSet::new();
        let mut first: Vec<usize> = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            if seen.insert(&record.usage_id) {
                first.push(i);
            } else {
                applied[i] = Some(false);
            }
        }
        if first.is_empty() {
            // Nothing to apply: the ledger is still created, as the in-memory store does.
            self.apply_chunk(&chunk, &[], &mut current, &mut applied)
                .await?;
        }
        for indices in first.chunks(RECORDS_PER_TRANSACTION) {
            self.apply_chunk(&chunk, indices, &mut current, &mut applied)
                .await?;
        }
        let mut outcome = ApplyOutcome::default();
        for (record, state) in records.iter().zip(applied) {
            if state == Some(true) {
                outcome.applied.push(record.usage_id.clone());
            } else {
                outcome.skipped.push(record.usage_id.clone());
            }
        }
        Ok(outcome)
    }

    async fn reject_usage(&self, id: &UsageId, reason: &str, now: i64) -> Result<bool, StoreError> {
        let table = &self.tables.usage_records;
        let request = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(usage_key(id)))
            .update_expression("SET rejected_reason = :r, rejected_at = :now")
            // Never a record already billed, nor one that is not there.
            .condition_expression("attribute_exists(usage_id) AND attribute_not_exists(applied_at)")
            .expression_attribute_values(":r", s(reason))
            .expression_attribute_values(":now", n(now));
        self.update_or_refused(table, request, true, false).await
    }

    async fn get_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
    ) -> Result<Option<PeriodLedger>, StoreError> {
        let table = &self.tables.billing_ledger;
        self.get_item(table, ledger_key(customer, period_start))
            .await?
            .map(|item| ledger_from_item(table, &item))
            .transpose()
    }

    async fn begin_intent(
        &self,
        customer: &CustomerId,
        period: &BillingPeriod,
        intent: &MeterIntent,
    ) -> Result<IntentOutcome, StoreError> {
        let table = &self.tables.billing_ledger;
        let request = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(customer, period.start())))
            .update_expression(
                "SET period_end = if_not_exists(period_end, :pe), \
                 billed_total = if_not_exists(billed_total, :zero), \
                 units_sent = if_not_exists(units_sent, :zero), \
                 units_intended = :to, intent_from = :from, intent_to = :to, \
                 intent_timestamp = :ts, intent_identifier = :id, intent_created_at = :created",
            )
            // No intent pending, and `from` is where the intents so far end (absent counts as 0).
            .condition_expression(if intent.from == 0 {
                "attribute_not_exists(intent_identifier) \
                 AND (attribute_not_exists(units_intended) OR units_intended = :from)"
            } else {
                "attribute_not_exists(intent_identifier) AND units_intended = :from"
            })
            .expression_attribute_values(":pe", n(period.end()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":from", n(intent.from))
            .expression_attribute_values(":to", n(intent.to))
            .expression_attribute_values(":ts", n(intent.timestamp))
            .expression_attribute_values(":id", s(&intent.identifier))
            .expression_attribute_values(":created", n(intent.created_at));
        self.update_or_refused(
            table,
            request,
            IntentOutcome::Started,
            IntentOutcome::Conflict,
        )
        .await
    }

    async fn mark_intent_sent(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.billing_ledger;
        let request = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(customer, period_start)))
            .update_expression(
                "SET units_sent = intent_to REMOVE intent_from, intent_to, intent_timestamp, \
                 intent_identifier, intent_created_at",
            )
            // Only the pending intent with this identifier.
            .condition_expression("intent_identifier = :id")
            .expression_attribute_values(":id", s(identifier));
        self.update_or_refused(table, request, true, false).await
    }

    async fn mark_intent_sent_settling(
        &self,
        customer: &CustomerId,
        period_start: i64,
        identifier: &str,
        settled_total: Usd,
        now: i64,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.billing_ledger;
        let request = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(customer, period_start)))
            .update_expression(
                "SET units_sent = intent_to REMOVE intent_from, intent_to, intent_timestamp, \
                 intent_identifier, intent_created_at, unsettled_since",
            )
            // Only the pending intent with this identifier, and settled only while no usage was
            // applied since the caller read `billed_total` (else that usage's mark would be lost).
            .condition_expression("intent_identifier = :id AND billed_total = :b")
            .expression_attribute_values(":id", s(identifier))
            .expression_attribute_values(":b", usd(settled_total));
        if self.update_or_refused(table, request, true, false).await? {
            return Ok(true);
        }
        // Refused: the intent is not pending, or usage moved the total (rare: a race). Marked
        // sent without settling; the ledger stays unsettled for whoever applied, or the sweep.
        self.mark_intent_sent(customer, period_start, identifier, now)
            .await
    }

    async fn settle_ledger(
        &self,
        customer: &CustomerId,
        period_start: i64,
        settled_total: Usd,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.billing_ledger;
        let request = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(customer, period_start)))
            .update_expression("REMOVE unsettled_since")
            // Only while no usage was applied since the caller read the total (nor creating an
            // item for a ledger that is not there: the comparison is false on a missing item).
            .condition_expression("billed_total = :b")
            .expression_attribute_values(":b", usd(settled_total));
        self.update_or_refused(table, request, true, false).await
    }

    async fn list_unsettled_ledgers(
        &self,
        unsettled_before: i64,
    ) -> Result<Vec<PeriodLedger>, StoreError> {
        let table = &self.tables.billing_ledger;
        let mut ledgers = Vec::new();
        for item in self
            .scan_all(table, "attribute_exists(unsettled_since)")
            .await?
        {
            let since = ItemView::new(table, &KEY, &item).opt_i64("unsettled_since")?;
            if since.is_some_and(|since| since <= unsettled_before) {
                ledgers.push(ledger_from_item(table, &item)?);
            }
        }
        ledgers.sort_by(|a, b| {
            (&a.customer_id, a.period.start()).cmp(&(&b.customer_id, b.period.start()))
        });
        Ok(ledgers)
    }

    async fn list_pending_intents(&self) -> Result<Vec<PeriodLedger>, StoreError> {
        let table = &self.tables.billing_ledger;
        let mut ledgers = self
            .scan_all(table, "attribute_exists(intent_identifier)")
            .await?
            .iter()
            .map(|item| ledger_from_item(table, item))
            .collect::<Result<Vec<_>, _>>()?;
        ledgers.sort_by(|a, b| {
            (&a.customer_id, a.period.start()).cmp(&(&b.customer_id, b.period.start()))
        });
        Ok(ledgers)
    }

    async fn list_unapplied_usage(
        &self,
        written_before: i64,
    ) -> Result<Vec<UnappliedItem>, StoreError> {
        let table = &self.tables.usage_records;
        let mut found = Vec::new();
        let items = self
            .scan_all(
                table,
                "attribute_not_exists(applied_at) AND attribute_not_exists(rejected_reason)",
            )
            .await?;
        for item in &items {
            match usage_from_item(table, item) {
                Ok((stored, written_at)) => {
                    if stored.state == UsageState::Pending && written_at <= written_before {
                        found.push(UnappliedItem::Record(stored.record));
                    }
                }
                // One unreadable item must not stop the sweep: it is handed over for rejection.
                Err(e) => found.push(UnappliedItem::Unreadable {
                    usage_id: item
                        .get("usage_id")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|id| UsageId::parse(id.clone()).ok()),
                    reason: e.to_string(),
                }),
            }
        }
        found.sort_by(|a, b| unapplied_key(a).cmp(&unapplied_key(b)));
        Ok(found)
    }
}

fn unapplied_key(item: &UnappliedItem) -> Option<&UsageId> {
    match item {
        UnappliedItem::Record(record) => Some(&record.usage_id),
        UnappliedItem::Unreadable { usage_id, .. } => usage_id.as_ref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_producers_record_with_text_amount_and_rfc3339_time_is_read() {
        // A producer that writes the cost as decimal text, the time as RFC 3339, and no created_at.
        let producer = item(&[
            ("usage_id", s("u1")),
            ("customer_id", s("c1")),
            ("openai_cost_usd", s("0.001500")),
            ("occurred_at", s("2023-11-14T22:13:20Z")),
        ]);
        let (stored, written_at) = usage_from_item("usage_records", &producer).unwrap();
        assert_eq!(stored.record.openai_cost_usd.to_string(), "0.0015");
        assert_eq!(stored.record.occurred_at, 1_700_000_000);
        assert_eq!(stored.state, UsageState::Pending);
        assert_eq!(
            written_at, 1_700_000_000,
            "occurred_at stands in for created_at"
        );
    }

    #[test]
    fn a_record_with_a_negative_or_missing_cost_is_corrupt() {
        for cost in [Some(AttributeValue::N("-1".into())), None] {
            let mut bad = item(&[
                ("usage_id", s("u1")),
                ("customer_id", s("c1")),
                ("occurred_at", n(5)),
            ]);
            if let Some(cost) = cost {
                bad.insert("openai_cost_usd".into(), cost);
            }
            let err = usage_from_item("usage_records", &bad).unwrap_err();
            assert!(
                matches!(&err, StoreError::Corrupt { table, key, .. }
                    if table == "usage_records" && key == "usage_id=u1"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn a_ledger_with_a_half_written_intent_is_corrupt() {
        let ledger = item(&[
            ("customer_id", s("c1")),
            ("period_start", n(100)),
            ("period_end", n(200)),
            (
                "billed_total",
                AttributeValue::N("1.500123000000000000000000000".into()),
            ),
            ("intent_identifier", s("mev_x")),
        ]);
        assert!(matches!(
            ledger_from_item("billing_ledger", &ledger),
            Err(StoreError::Corrupt { .. })
        ));
        let mut whole = ledger.clone();
        whole.remove("intent_identifier");
        let read = ledger_from_item("billing_ledger", &whole).unwrap();
        assert_eq!(read.billed_total.to_string(), "1.500123");
        assert_eq!(
            (read.units_intended, read.units_sent, read.pending),
            (0, 0, None)
        );
    }
}

//! The usage reporter's use case: apply each usage record once to its customer's period ledger,
//! then send the units owed to Stripe once, through persisted intents.
//!
//! A batch (a DynamoDB Stream batch, or what the sweep found) goes through three steps:
//! 1. **Check**: a record that cannot be billed for good (unknown customer, bad or absurd cost) is
//!    rejected with its reason and never retried.
//! 2. **Apply**: each record is assigned a billing period (below) and applied with
//!    [`UsageLedger::apply_usage`], which marks it and adds its billed amount atomically, once.
//! 3. **Settle**: every customer of the batch (not only those with newly applied records, so a
//!    crash between apply and intent never strands units) has each touched period settled: a
//!    pending intent is re-sent (byte-identical: same identifier, value and timestamp) and marked
//!    sent; then, while units are owed, a new intent is persisted, sent and marked sent.
//!
//! **Unsettled ledgers.** The apply write also marks the period ledger unsettled; settling clears
//! the mark once intents cover every unit owed (folded into the last mark-sent write, or one
//! write of its own when nothing was owed). A crash between apply and settle thus leaves the
//! mark, and the sweep settles every ledger still marked after its minimum age, even if the
//! stream never retries the batch (retries exhausted, records sent to the failure destination).
//! Invariant: *a ledger whose applied usage may owe units not covered by intents is marked.* It
//! holds because every apply that changes `billed_total` sets the mark in the same atomic write,
//! and the mark is only cleared by a write conditioned on `billed_total` still being the total
//! `b` the settler read, after which `units_intended >= units_owed(b)`: an apply that lands
//! after the settler's read changed `billed_total`, so the clear is refused and its mark stays.
//!
//! Periods: a record belongs to the metered item's `[start, end)` that contains its
//! `occurred_at`. A record after the stored period's end means the renewal webhook has not
//! arrived: the subscription is re-fetched from Stripe and stored first. A record before the
//! current period is **late**: it is billed in the previous period while that period's invoice is
//! still a draft (Stripe's one-hour finalization grace, minus a safety margin so the send lands in
//! time), else in the current period with the reason recorded on the record. A customer with no
//! billable subscription at `occurred_at` is not billed: the record fails while it is recent (a
//! checkout's webhook may still be on its way, and the stream or the sweep retries it), then is
//! rejected as "no billable subscription" (recorded, shown, never sent).
//!
//! **Concurrency.** At most one meter-event call per customer is in flight, as Stripe requires (a
//! second concurrent call for the same customer and meter is refused): a customer's records are
//! applied and its periods settled one after the other, by one future. Different customers of a
//! batch are independent (their ledgers, intents and meter events never meet), so up to
//! [`ReporterSettings::concurrent_customers`] of them are reported at once; against Stripe's
//! tens of milliseconds per call, a batch of 100 customers then takes a few round trips instead
//! of 100.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};
use tracing::{info, warn};

use crate::ids::{CustomerId, StripeCustomerId, UsageId};
use crate::money::{MoneyError, Pricing, Usd};
use crate::period::BillingPeriod;
use crate::ports::{Clock, CustomerRecord, CustomerStore, IntentOutcome, StoreError, UsageLedger};
use crate::stripe::{MeterEventOutcome, NewMeterEvent, StripeApi, StripeError};
use crate::subscription::SubscriptionSnapshot;
use crate::usage::{MeterIntent, PeriodLedger, UnappliedItem, UsageApplication, UsageRecord};

/// Where a crash can be injected, for the reliability tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// After records were applied, before any intent.
    AfterApply,
    /// After an intent was persisted, before it was sent.
    AfterIntent,
    /// After Stripe accepted the event, before it was marked sent.
    AfterSend,
    /// After the intent was marked sent.
    AfterMarkSent,
}

/// A crash injected at a [`FailPoint`] (tests only; production passes no hook).
pub trait FailPoints: Send + Sync {
    /// Whether to stop at `point` now.
    fn crash_at(&self, point: FailPoint) -> bool;
}

/// What the reporter needs.
pub struct ReporterDeps<'a> {
    /// The customers table (periods, Stripe customer ids).
    pub customers: &'a dyn CustomerStore,
    /// Usage records and ledgers.
    pub ledger: &'a dyn UsageLedger,
    /// Stripe: meter events, subscriptions, summaries.
    pub stripe: &'a dyn StripeApi,
    /// The time.
    pub clock: &'a dyn Clock,
    /// Crash injection for tests; `None` in production.
    pub fail_points: Option<&'a dyn FailPoints>,
}

/// Settings, read once at cold start.
#[derive(Debug, Clone)]
pub struct ReporterSettings {
    /// Prices, markup and the allowance mode.
    pub pricing: Pricing,
    /// The meter's event name.
    pub meter_event_name: String,
    /// Stripe's finalization grace for a closed period's invoice (default 3,600 s).
    pub finalization_grace_secs: i64,
    /// Late usage goes to the closed period only this long into the grace (default 1,800 s),
    /// so its meter event reaches Stripe before the invoice is finalized.
    pub late_usage_window_secs: i64,
    /// A record of a customer without a billable subscription is retried for this long before
    /// it is rejected as unbilled (default 900 s): a checkout's webhook may still be on its way.
    pub unsure_retry_secs: i64,
    /// Customers of one batch reported at once, each still one Stripe call at a time (default
    /// [`DEFAULT_CONCURRENT_CUSTOMERS`]; 1 reports them one after the other).
    pub concurrent_customers: usize,
}

/// Customers reported at once by default: 16 meter-event calls in flight stay far below
/// Stripe's rate limits (hundreds of requests per second) while hiding most of its latency.
pub const DEFAULT_CONCURRENT_CUSTOMERS: usize = 16;

impl ReporterSettings {
    /// Settings with Stripe's defaults for `pricing` and `meter_event_name`.
    pub fn new(pricing: Pricing, meter_event_name: impl Into<String>) -> Self {
        ReporterSettings {
            pricing,
            meter_event_name: meter_event_name.into(),
            finalization_grace_secs: 3_600,
            late_usage_window_secs: 1_800,
            unsure_retry_secs: 900,
            concurrent_customers: DEFAULT_CONCURRENT_CUSTOMERS,
        }
    }
}

/// One record as it reached the reporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A well-formed record.
    Record(UsageRecord),
    /// An item that could not be read; rejected when it has an id.
    Malformed {
        /// Its id, if it had a readable one.
        usage_id: Option<UsageId>,
        /// What was wrong.
        reason: String,
    },
}

impl Incoming {
    fn usage_id(&self) -> Option<&UsageId> {
        match self {
            Incoming::Record(r) => Some(&r.usage_id),
            Incoming::Malformed { usage_id, .. } => usage_id.as_ref(),
        }
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Records that truly failed and must be retried (the stream's `batchItemFailures`).
    pub failed: Vec<UsageId>,
    /// Records applied now.
    pub applied: usize,
    /// Records already applied earlier (redelivery).
    pub already_applied: usize,
    /// Records rejected for good, with reasons logged.
    pub rejected: usize,
    /// Meter events Stripe accepted now (or had already).
    pub meter_events: usize,
}

impl BatchReport {
    /// Adds what another part of the batch did.
    fn absorb(&mut self, other: BatchReport) {
        self.failed.extend(other.failed);
        self.applied += other.applied;
        self.already_applied += other.already_applied;
        self.rejected += other.rejected;
        self.meter_events += other.meter_events;
    }
}

/// Why reporting for one customer stopped; its records are retried.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Stripe failed.
    #[error("stripe: {0}")]
    Stripe(#[source] Box<StripeError>),
    /// A crash was injected (tests).
    #[error("crash injected at {0:?}")]
    Crashed(FailPoint),
    /// The period of a record is not known yet (renewal or checkout webhook on its way).
    #[error("no billing period known yet for a record at {0}")]
    PeriodUnknown(i64),
}

impl From<StripeError> for ReportError {
    fn from(e: StripeError) -> Self {
        ReportError::Stripe(Box::new(e))
    }
}

/// Reports one batch.
pub async fn report(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    batch: Vec<Incoming>,
) -> BatchReport {
    let mut out = BatchReport::default();
    let now = deps.clock.now();
    let mut by_customer: BTreeMap<CustomerId, Vec<(UsageRecord, Usd)>> = BTreeMap::new();
    for incoming in batch {
        let record = match incoming {
            Incoming::Record(record) => record,
            malformed @ Incoming::Malformed { .. } => {
                if let (Some(id), Incoming::Malformed { reason, .. }) =
                    (malformed.usage_id().cloned(), &malformed)
                {
                    reject(deps, &mut out, &id, reason, now).await;
                }
                continue;
            }
        };
        let billed = match settings.pricing.billed_for(record.openai_cost_usd) {
            Ok(billed) => billed,
            Err(e) => {
                reject(deps, &mut out, &record.usage_id, &cost_reason(&e), now).await;
                continue;
            }
        };
        by_customer
            .entry(record.customer_id.clone())
            .or_default()
            .push((record, billed));
    }
    // Customers at once, each one future (so one Stripe call at a time per customer); `buffered`
    // keeps the batch's customer order in the merged report.
    let customers: Vec<BatchReport> = stream::iter(by_customer)
        .map(|(customer_id, records)| report_one(deps, settings, customer_id, records))
        .buffered(settings.concurrent_customers.max(1))
        .collect()
        .await;
    for part in customers {
        out.absorb(part);
    }
    out
}

/// Reports one customer's records of a batch; on failure its records (but those rejected for
/// good on the way) are listed to be retried.
async fn report_one(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    customer_id: CustomerId,
    records: Vec<(UsageRecord, Usd)>,
) -> BatchReport {
    let mut out = BatchReport::default();
    let ids: Vec<UsageId> = records.iter().map(|(r, _)| r.usage_id.clone()).collect();
    let mut rejected = BTreeSet::new();
    if let Err(e) = report_customer(
        deps,
        settings,
        &customer_id,
        records,
        &mut out,
        &mut rejected,
    )
    .await
    {
        warn!(customer_id = %customer_id, error = %e, "usage reporting failed; records will be retried");
        out.failed
            .extend(ids.into_iter().filter(|id| !rejected.contains(id)));
    }
    out
}

fn cost_reason(e: &MoneyError) -> String {
    format!("bad cost: {e}")
}

async fn reject(
    deps: &ReporterDeps<'_>,
    out: &mut BatchReport,
    id: &UsageId,
    reason: &str,
    now: i64,
) {
    match deps.ledger.reject_usage(id, reason, now).await {
        Ok(_) => {
            info!(usage_id = %id, reason, "usage record rejected");
            out.rejected += 1;
        }
        Err(e) => {
            warn!(usage_id = %id, error = %e, "could not mark a usage record rejected");
            out.failed.push(id.clone());
        }
    }
}

async fn report_customer(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    customer_id: &CustomerId,
    records: Vec<(UsageRecord, Usd)>,
    out: &mut BatchReport,
    rejected: &mut BTreeSet<UsageId>,
) -> Result<(), ReportError> {
    let now = deps.clock.now();
    let Some(mut customer) = deps.customers.get_customer(customer_id).await? else {
        for (record, _) in &records {
            reject(deps, out, &record.usage_id, "unknown customer", now).await;
        }
        return Ok(());
    };
    // Assign each record its period; re-fetch the subscription once if the stored period is stale.
    let mut groups: BTreeMap<BillingPeriod, Vec<UsageApplication>> = BTreeMap::new();
    let mut deferred = Vec::new();
    let mut refreshed = false;
    for (record, billed) in &records {
        let mut placement = place(&customer, record.occurred_at, now, settings);
        if placement == Placement::AfterStoredPeriod && !refreshed {
            refreshed = true;
            customer = refresh_subscription(deps, &customer).await?;
            placement = place(&customer, record.occurred_at, now, settings);
        }
        match placement {
            Placement::Bill {
                period,
                late_reason,
            } => {
                groups.entry(period).or_default().push(UsageApplication {
                    usage_id: record.usage_id.clone(),
                    billed: *billed,
                    late_reason,
                });
            }
            Placement::Unbilled if now - record.occurred_at < settings.unsure_retry_secs => {
                deferred.push(record.occurred_at);
            }
            Placement::Unbilled => {
                rejected.insert(record.usage_id.clone());
                reject(
                    deps,
                    out,
                    &record.usage_id,
                    "no billable subscription when it occurred",
                    now,
                )
                .await;
            }
            Placement::AfterStoredPeriod => deferred.push(record.occurred_at),
        }
    }
    // Periods this run applied usage to: their ledgers are marked unsettled now.
    let mut applied_to = BTreeSet::new();
    for (period, applications) in &groups {
        let outcome = deps
            .ledger
            .apply_usage(customer_id, period, applications, now)
            .await?;
        out.applied += outcome.applied.len();
        out.already_applied += outcome.skipped.len();
        if !outcome.applied.is_empty() {
            applied_to.insert(*period);
        }
    }
    crash(deps, FailPoint::AfterApply)?;
    // Settle every period this batch touched, plus the current one.
    let mut periods: BTreeSet<BillingPeriod> = groups.keys().copied().collect();
    if let Some(current) = customer
        .subscription
        .as_ref()
        .and_then(|s| s.current_period)
    {
        periods.insert(current);
    }
    if let Some(stripe_customer_id) = &customer.stripe_customer_id {
        for period in periods {
            // A period this run applied to is marked unsettled even when nothing is owed, so it
            // is worth a settling write of its own. Any other (a redelivery, the current period
            // added above) is settled only in passing, by a mark-sent write: a mark left there by
            // a crashed run with nothing owed is cleared by the sweep.
            let marked = applied_to.contains(&period);
            out.meter_events += settle(
                deps,
                settings,
                customer_id,
                stripe_customer_id,
                &period,
                marked,
            )
            .await?;
        }
    }
    match deferred.first() {
        Some(at) => Err(ReportError::PeriodUnknown(*at)),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    Bill {
        period: BillingPeriod,
        late_reason: Option<String>,
    },
    AfterStoredPeriod,
    Unbilled,
}

/// The period a record occurring at `at` is billed in, from the customer's stored state.
fn place(customer: &CustomerRecord, at: i64, now: i64, settings: &ReporterSettings) -> Placement {
    let Some(snapshot) = customer.subscription.as_ref() else {
        return Placement::Unbilled;
    };
    let Some(current) = snapshot.current_period else {
        return Placement::Unbilled;
    };
    if current.contains(at) {
        return if snapshot.status.is_billable() {
            Placement::Bill {
                period: current,
                late_reason: None,
            }
        } else {
            Placement::Unbilled
        };
    }
    if at >= current.end() {
        return Placement::AfterStoredPeriod;
    }
    // Late: before the current period.
    let closed_invoice_open = now
        < current.start()
            + settings
                .late_usage_window_secs
                .min(settings.finalization_grace_secs);
    match customer.previous_period {
        Some(previous) if previous.contains(at) && closed_invoice_open => Placement::Bill {
            period: previous,
            late_reason: None,
        },
        _ if snapshot.status.is_billable() => Placement::Bill {
            period: current,
            late_reason: Some(format!(
                "occurred at {at}, before the current period; the closed period's invoice was already final"
            )),
        },
        _ => Placement::Unbilled,
    }
}

async fn refresh_subscription(
    deps: &ReporterDeps<'_>,
    customer: &CustomerRecord,
) -> Result<CustomerRecord, ReportError> {
    let Some(snapshot) = &customer.subscription else {
        return Ok(customer.clone());
    };
    let version = u64::try_from(deps.clock.now_millis()).unwrap_or(0);
    let subscription = deps
        .stripe
        .retrieve_subscription(&snapshot.subscription_id)
        .await?;
    deps.customers
        .apply_subscription(
            &customer.customer_id,
            &SubscriptionSnapshot::from_stripe(&subscription, version),
            deps.clock.now(),
        )
        .await?;
    Ok(deps
        .customers
        .get_customer(&customer.customer_id)
        .await?
        .unwrap_or_else(|| customer.clone()))
}

fn crash(deps: &ReporterDeps<'_>, point: FailPoint) -> Result<(), ReportError> {
    match deps.fail_points {
        Some(hooks) if hooks.crash_at(point) => Err(ReportError::Crashed(point)),
        _ => Ok(()),
    }
}

/// Sends what one period owes and settles its ledger (clears its unsettled mark, see the module
/// doc); returns how many meter events Stripe took. `marked`: the ledger may be marked unsettled
/// although nothing is owed (usage applied without reaching a new unit), so a settling write of
/// its own is worth it; otherwise only the last mark-sent write settles, in passing.
async fn settle(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    customer_id: &CustomerId,
    stripe_customer_id: &StripeCustomerId,
    period: &BillingPeriod,
    marked: bool,
) -> Result<usize, ReportError> {
    let mut sent = 0;
    // Each turn either sends the pending intent or starts one; a conflict re-reads the ledger.
    // The bound only guards against a store that keeps conflicting.
    for _ in 0..16 {
        let stored = deps.ledger.get_ledger(customer_id, period.start()).await?;
        let exists = stored.is_some();
        let ledger = stored.unwrap_or_else(|| PeriodLedger::new(customer_id.clone(), *period));
        let owed = settings.pricing.units_owed(ledger.billed_total);
        // `covers`: once this intent is marked sent, intents cover every unit `billed_total` owes.
        let (intent, covers) = match &ledger.pending {
            Some(pending) => (pending.clone(), pending.to >= owed),
            None => {
                let Some(next) = ledger.next_intent(&settings.pricing, deps.clock.now()) else {
                    // Nothing owed beyond the intents: settled, unless usage landed since the
                    // read (the write is conditioned on `billed_total`; the mark then stays for
                    // whoever applied it, or for the sweep).
                    if marked && exists {
                        deps.ledger
                            .settle_ledger(customer_id, period.start(), ledger.billed_total)
                            .await?;
                    }
                    return Ok(sent);
                };
                match deps.ledger.begin_intent(customer_id, period, &next).await? {
                    IntentOutcome::Started => {}
                    IntentOutcome::Conflict => continue,
                }
                crash(deps, FailPoint::AfterIntent)?;
                let covers = next.to >= owed;
                (next, covers)
            }
        };
        send(deps, settings, stripe_customer_id, &intent).await?;
        crash(deps, FailPoint::AfterSend)?;
        if covers {
            // The settlement rides on the mark-sent write: no write of its own.
            deps.ledger
                .mark_intent_sent_settling(
                    customer_id,
                    period.start(),
                    &intent.identifier,
                    ledger.billed_total,
                    deps.clock.now(),
                )
                .await?;
        } else {
            deps.ledger
                .mark_intent_sent(
                    customer_id,
                    period.start(),
                    &intent.identifier,
                    deps.clock.now(),
                )
                .await?;
        }
        crash(deps, FailPoint::AfterMarkSent)?;
        sent += 1;
        if covers {
            return Ok(sent);
        }
    }
    Err(ReportError::Store(StoreError::Conflict(format!(
        "ledger of {customer_id} for period {} kept changing",
        period.start()
    ))))
}

async fn send(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    stripe_customer_id: &StripeCustomerId,
    intent: &MeterIntent,
) -> Result<(), ReportError> {
    let event = NewMeterEvent {
        event_name: settings.meter_event_name.clone(),
        stripe_customer_id: stripe_customer_id.clone(),
        value: intent.value(),
        identifier: intent.identifier.clone(),
        timestamp: intent.timestamp,
    };
    match deps.stripe.create_meter_event(&event).await? {
        MeterEventOutcome::Accepted(_) | MeterEventOutcome::AlreadyDelivered => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::money::AllowanceMode;
    use crate::service::fakes::{FakeClock, FakeStripe};
    use crate::subscription::SubscriptionStatus;
    use rust_decimal::Decimal;
    use std::sync::Mutex;

    const START: i64 = 1_790_000_000;
    const END: i64 = START + 30 * 86_400;

    struct World {
        store: MemoryStore,
        stripe: FakeStripe,
        clock: FakeClock,
        settings: ReporterSettings,
    }

    struct CrashOnce(Mutex<Option<FailPoint>>);

    impl FailPoints for CrashOnce {
        fn crash_at(&self, point: FailPoint) -> bool {
            let mut armed = self.0.lock().unwrap();
            if *armed == Some(point) {
                *armed = None;
                return true;
            }
            false
        }
    }

    fn cid() -> CustomerId {
        CustomerId::parse("tenant-1").unwrap()
    }

    impl World {
        async fn new(mode: AllowanceMode, now: i64) -> World {
            let pricing = Pricing::new(
                Usd::parse("29").unwrap(),
                Usd::parse("10").unwrap(),
                Decimal::from(2),
                Usd::parse("0.01").unwrap(),
                mode,
            )
            .unwrap();
            let w = World {
                store: MemoryStore::new(),
                stripe: FakeStripe::default(),
                clock: FakeClock::at(now),
                settings: ReporterSettings::new(pricing, "leadmagnet_ai_usage"),
            };
            w.store
                .link_stripe_customer(&cid(), &StripeCustomerId::parse("cus_1").unwrap(), START)
                .await
                .unwrap();
            w.set_period(START, END, 1).await;
            w
        }

        async fn set_period(&self, start: i64, end: i64, version: u64) {
            self.set_period_of(&cid(), start, end, version).await;
        }

        async fn set_period_of(&self, customer: &CustomerId, start: i64, end: i64, version: u64) {
            self.store
                .apply_subscription(
                    customer,
                    &SubscriptionSnapshot {
                        subscription_id: crate::ids::StripeSubscriptionId::parse("sub_1").unwrap(),
                        status: SubscriptionStatus::Active,
                        current_period: Some(BillingPeriod::new(start, end).unwrap()),
                        cancel_at_period_end: false,
                        version,
                    },
                    start,
                )
                .await
                .unwrap();
        }

        /// Another subscribed customer, `tenant-{n}` with Stripe customer `cus_{n}`.
        async fn add_customer(&self, n: usize) -> CustomerId {
            let customer = CustomerId::parse(format!("tenant-{n}")).unwrap();
            let stripe = StripeCustomerId::parse(format!("cus_{n}")).unwrap();
            self.store
                .link_stripe_customer(&customer, &stripe, START)
                .await
                .unwrap();
            self.set_period_of(&customer, START, END, 1).await;
            customer
        }

        async fn write(&self, id: &str, cost: &str, at: i64) -> Incoming {
            self.write_for(&cid(), id, cost, at).await
        }

        async fn write_for(
            &self,
            customer: &CustomerId,
            id: &str,
            cost: &str,
            at: i64,
        ) -> Incoming {
            let record = UsageRecord {
                usage_id: UsageId::parse(id).unwrap(),
                customer_id: customer.clone(),
                openai_cost_usd: Usd::parse(cost).unwrap(),
                occurred_at: at,
            };
            self.store.put_usage_record(&record, at).await.unwrap();
            Incoming::Record(record)
        }

        async fn run(&self, batch: Vec<Incoming>, crash: Option<FailPoint>) -> BatchReport {
            let hook = CrashOnce(Mutex::new(crash));
            let deps = ReporterDeps {
                customers: &self.store,
                ledger: &self.store,
                stripe: &self.stripe,
                clock: &self.clock,
                fail_points: Some(&hook),
            };
            report(&deps, &self.settings, batch).await
        }

        async fn sweep(&self, min_age_secs: i64) -> SweepReport {
            let deps = ReporterDeps {
                customers: &self.store,
                ledger: &self.store,
                stripe: &self.stripe,
                clock: &self.clock,
                fail_points: None,
            };
            sweep(&deps, &self.settings, Some("mtr_1"), min_age_secs)
                .await
                .unwrap()
        }

        async fn unsettled(&self) -> usize {
            self.store
                .list_unsettled_ledgers(i64::MAX)
                .await
                .unwrap()
                .len()
        }
    }

    #[tokio::test]
    async fn a_crash_after_apply_with_no_retry_is_settled_by_the_sweep_alone() {
        for mode in [AllowanceMode::App, AllowanceMode::Stripe] {
            // GIVEN $5.00 billed and settled, then a batch adding $6.00 crashes after applying it
            let mut w = World::new(mode, START + 100).await;
            let first = vec![w.write("a", "2.5", START + 1).await];
            assert!(w.run(first, None).await.failed.is_empty());
            let sent_before = w.stripe.units_sent();
            let batch = vec![
                w.write("b", "1.5", START + 2).await,
                w.write("c", "1.5", START + 3).await,
            ];
            assert_eq!(
                w.run(batch, Some(FailPoint::AfterApply)).await.failed.len(),
                2
            );
            assert_eq!(w.stripe.units_sent(), sent_before, "{mode:?}");
            // WHEN the stream never retries and the sweep runs before, then after its minimum age
            let early = w.sweep(300).await;
            assert_eq!((early.settled, w.stripe.units_sent()), (0, sent_before));
            w.clock = FakeClock::at(START + 401);
            let swept = w.sweep(300).await;
            // THEN every owed unit is sent, once: $11.00 billed
            let units = if mode == AllowanceMode::App {
                100
            } else {
                1_100
            };
            assert_eq!((swept.settled, swept.left), (1, 0), "{mode:?}");
            assert_eq!(w.stripe.units_sent(), units, "{mode:?}");
            let ledger = w.store.get_ledger(&cid(), START).await.unwrap().unwrap();
            assert_eq!((ledger.units_intended, ledger.units_sent), (units, units));
            // AND the ledger is settled: the next sweep finds nothing
            assert_eq!(w.unsettled().await, 0, "{mode:?}");
            let again = w.sweep(300).await;
            assert_eq!((again.settled, w.stripe.units_sent()), (0, units));
        }
    }

    #[tokio::test]
    async fn settling_clears_the_mark_whether_or_not_units_were_owed() {
        // GIVEN usage below the allowance (nothing owed) in mode app
        let w = World::new(AllowanceMode::App, START + 100).await;
        assert!(
            w.run(vec![w.write("a", "0.004", START + 1).await], None)
                .await
                .failed
                .is_empty()
        );
        // THEN no unit went out and the ledger is settled anyway
        assert_eq!((w.stripe.units_sent(), w.unsettled().await), (0, 0));
        // AND usage owing units is settled by the mark-sent write
        assert!(
            w.run(vec![w.write("b", "6", START + 2).await], None)
                .await
                .failed
                .is_empty()
        );
        assert_eq!((w.stripe.units_sent(), w.unsettled().await), (200, 0));
    }

    #[tokio::test]
    async fn a_crashed_apply_owing_nothing_is_settled_by_the_sweep_without_sending() {
        // GIVEN usage under the allowance whose first run crashes after applying, then a retry
        let mut w = World::new(AllowanceMode::App, START + 100).await;
        let batch = vec![w.write("a", "1", START + 1).await];
        assert_eq!(
            w.run(batch.clone(), Some(FailPoint::AfterApply))
                .await
                .failed
                .len(),
            1
        );
        assert!(w.run(batch, None).await.failed.is_empty());
        // THEN the redelivery (which applied nothing) leaves the crashed run's mark to the sweep
        assert_eq!(w.unsettled().await, 1);
        // WHEN the sweep runs past the minimum age
        w.clock = FakeClock::at(START + 500);
        let swept = w.sweep(300).await;
        // THEN it settles the ledger and sends nothing
        assert_eq!((swept.settled, swept.settled_meter_events), (1, 0));
        assert_eq!((w.stripe.units_sent(), w.unsettled().await), (0, 0));
    }

    #[tokio::test]
    async fn usage_beyond_a_pending_intent_is_sent_by_the_sweep_alone() {
        // GIVEN a crash after an intent, then more usage applied by a run that crashes too
        let mut w = World::new(AllowanceMode::Stripe, START + 100).await;
        let first = vec![w.write("a", "0.05", START + 1).await];
        assert_eq!(
            w.run(first, Some(FailPoint::AfterIntent))
                .await
                .failed
                .len(),
            1
        );
        let second = vec![w.write("b", "0.05", START + 2).await];
        assert_eq!(
            w.run(second, Some(FailPoint::AfterApply))
                .await
                .failed
                .len(),
            1
        );
        // WHEN only the sweep runs, after the minimum age
        w.clock = FakeClock::at(START + 500);
        let swept = w.sweep(300).await;
        // THEN the pending intent is re-sent and the rest is sent by settling the ledger
        assert_eq!((swept.resent, swept.settled), (1, 1));
        assert_eq!(w.stripe.units_sent(), 20);
        assert_eq!(w.unsettled().await, 0);
    }

    #[tokio::test]
    async fn fifty_records_of_eight_dollars_send_exactly_600_units_and_replays_change_nothing() {
        for (mode, units) in [(AllowanceMode::App, 600), (AllowanceMode::Stripe, 1600)] {
            // GIVEN $8.00 of OpenAI cost in 50 records, in 5 batches
            let w = World::new(mode, START + 100).await;
            let mut batches = Vec::new();
            for b in 0..5 {
                let mut batch = Vec::new();
                for r in 0..10 {
                    batch.push(w.write(&format!("u{b}-{r}"), "0.16", START + 10).await);
                }
                batches.push(batch);
            }
            // WHEN each batch is reported, then every batch again (redelivery)
            for batch in batches.iter().chain(batches.iter()) {
                let report = w.run(batch.clone(), None).await;
                assert!(report.failed.is_empty(), "{report:?}");
            }
            // THEN Stripe has exactly the units of $16.00 billed, and the ledger agrees
            assert_eq!(w.stripe.units_sent(), units);
            let ledger = w.store.get_ledger(&cid(), START).await.unwrap().unwrap();
            assert_eq!(ledger.billed_total, Usd::parse("16").unwrap());
            assert_eq!((ledger.units_intended, ledger.units_sent), (units, units));
        }
    }

    #[tokio::test]
    async fn a_crash_at_any_point_then_a_retry_loses_and_doubles_nothing() {
        for point in [
            FailPoint::AfterApply,
            FailPoint::AfterIntent,
            FailPoint::AfterSend,
            FailPoint::AfterMarkSent,
        ] {
            let w = World::new(AllowanceMode::Stripe, START + 100).await;
            let batch = vec![
                w.write("a", "0.015", START + 1).await,
                w.write("b", "0.02", START + 2).await,
            ];
            // WHEN the first run crashes at `point`, and the batch is retried
            let crashed = w.run(batch.clone(), Some(point)).await;
            assert_eq!(crashed.failed.len(), 2, "{point:?}");
            let retried = w.run(batch, None).await;
            assert!(retried.failed.is_empty(), "{point:?}: {retried:?}");
            // THEN $0.07 billed = 7 units, sent exactly once
            assert_eq!(w.stripe.units_sent(), 7, "{point:?}");
            assert_eq!(w.stripe.meter_events.lock().unwrap().len(), 1, "{point:?}");
        }
    }

    #[tokio::test]
    async fn a_stripe_failure_is_retried_with_the_identical_event() {
        let w = World::new(AllowanceMode::Stripe, START + 100).await;
        let batch = vec![w.write("a", "0.05", START + 1).await];
        *w.stripe.failing_meter_events.lock().unwrap() = 1;
        assert_eq!(w.run(batch.clone(), None).await.failed.len(), 1);
        assert!(w.run(batch, None).await.failed.is_empty());
        assert_eq!(w.stripe.units_sent(), 10);
        assert_eq!(*w.stripe.meter_event_calls.lock().unwrap(), 2);
    }

    /// A batch of `customers` customers with two records each ($0.50 and $0.25: 150 units in
    /// allowance mode `stripe`), reported with `concurrent` customers at once.
    async fn many_customers(customers: usize, concurrent: usize) -> (World, BatchReport) {
        let mut w = World::new(AllowanceMode::Stripe, START + 100).await;
        w.settings.concurrent_customers = concurrent;
        let mut batch = Vec::new();
        for n in 0..customers {
            let customer = w.add_customer(n).await;
            batch.push(
                w.write_for(&customer, &format!("a{n}"), "0.5", START + 1)
                    .await,
            );
            batch.push(
                w.write_for(&customer, &format!("b{n}"), "0.25", START + 2)
                    .await,
            );
        }
        let report = w.run(batch, None).await;
        (w, report)
    }

    #[tokio::test]
    async fn customers_of_a_batch_are_reported_at_once_but_each_one_call_at_a_time() {
        // GIVEN 40 customers owing units in one batch, 16 at once
        let (w, report) = many_customers(40, 16).await;
        // THEN every unit is sent once, one meter event per customer
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!((report.applied, report.meter_events), (80, 40));
        assert_eq!(w.stripe.units_sent(), 40 * 150);
        assert_eq!(*w.stripe.meter_event_calls.lock().unwrap(), 40);
        // AND the calls overlapped, up to the bound, never two for one customer
        assert_eq!(*w.stripe.peak_meter_calls.lock().unwrap(), 16);
        assert_eq!(*w.stripe.peak_meter_calls_per_customer.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn one_customer_at_a_time_when_so_configured() {
        let (w, report) = many_customers(5, 1).await;
        assert_eq!((report.applied, report.meter_events), (10, 5));
        assert_eq!(w.stripe.units_sent(), 5 * 150);
        assert_eq!(*w.stripe.peak_meter_calls.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn a_failing_customer_fails_only_its_own_records_in_a_concurrent_batch() {
        // GIVEN the first meter event call of the batch fails with a 500
        let mut w = World::new(AllowanceMode::Stripe, START + 100).await;
        w.settings.concurrent_customers = 4;
        *w.stripe.failing_meter_events.lock().unwrap() = 1;
        let mut batch = Vec::new();
        for n in 0..4 {
            let customer = w.add_customer(n).await;
            batch.push(
                w.write_for(&customer, &format!("r{n}"), "0.5", START + 1)
                    .await,
            );
        }
        let report = w.run(batch.clone(), None).await;
        // THEN exactly one customer's record is to be retried, the others are billed
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert_eq!(report.meter_events, 3);
        assert_eq!(w.stripe.units_sent(), 3 * 100);
        // AND the redelivered batch bills the missing customer once, and nobody twice
        let again = w.run(batch, None).await;
        assert!(again.failed.is_empty(), "{again:?}");
        assert_eq!(w.stripe.units_sent(), 4 * 100);
    }

    #[tokio::test]
    async fn bad_records_are_rejected_and_the_rest_goes_on() {
        let w = World::new(AllowanceMode::Stripe, START + 100).await;
        let good = w.write("good", "0.5", START + 1).await;
        let absurd = w.write("absurd", "5000", START + 1).await;
        let stranger = UsageRecord {
            usage_id: UsageId::parse("stranger").unwrap(),
            customer_id: CustomerId::parse("nobody").unwrap(),
            openai_cost_usd: Usd::parse("1").unwrap(),
            occurred_at: START + 1,
        };
        w.store.put_usage_record(&stranger, START).await.unwrap();
        let malformed = Incoming::Malformed {
            usage_id: Some(UsageId::parse("bad").unwrap()),
            reason: "openai_cost_usd is not a number".into(),
        };
        let report = w
            .run(
                vec![good, absurd, Incoming::Record(stranger), malformed],
                None,
            )
            .await;
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!((report.applied, report.rejected), (1, 3));
        assert_eq!(w.stripe.units_sent(), 100);
        let absurd = w
            .store
            .get_usage_record(&UsageId::parse("absurd").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            absurd.state,
            crate::usage::UsageState::Rejected { .. }
        ));
    }

    #[tokio::test]
    async fn late_usage_lands_in_the_closed_period_only_within_the_grace_window() {
        // GIVEN the period moved on from [START, END) to [END, END + 30d)
        let w = World::new(AllowanceMode::Stripe, END + 600).await;
        w.set_period(END, END + 30 * 86_400, 2).await;
        // WHEN a record of the closed period arrives 10 minutes after its end
        let early = w.write("early", "0.05", END - 5).await;
        assert!(w.run(vec![early], None).await.failed.is_empty());
        // THEN it is billed in the closed period, stamped inside it
        let closed = w.store.get_ledger(&cid(), START).await.unwrap().unwrap();
        assert_eq!(closed.billed_total, Usd::parse("0.1").unwrap());
        let event = w.stripe.meter_events.lock().unwrap()[0].clone();
        assert!(event.timestamp < END, "{event:?}");
        // AND one arriving after the grace window goes to the current period, with a reason
        let late_world = World::new(AllowanceMode::Stripe, END + 3_000).await;
        late_world.set_period(END, END + 30 * 86_400, 2).await;
        let late = late_world.write("late", "0.05", END - 5).await;
        assert!(late_world.run(vec![late], None).await.failed.is_empty());
        let current = late_world
            .store
            .get_ledger(&cid(), END)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.billed_total, Usd::parse("0.1").unwrap());
        let stored = late_world
            .store
            .get_usage_record(&UsageId::parse("late").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            stored.state,
            crate::usage::UsageState::Applied {
                late_reason: Some(_),
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_customer_without_a_subscription_is_retried_while_recent_then_not_billed() {
        let w = World::new(AllowanceMode::Stripe, START + 100).await;
        let orphan_id = CustomerId::parse("no-sub").unwrap();
        w.store
            .link_stripe_customer(
                &orphan_id,
                &StripeCustomerId::parse("cus_2").unwrap(),
                START,
            )
            .await
            .unwrap();
        let record = UsageRecord {
            usage_id: UsageId::parse("o1").unwrap(),
            customer_id: orphan_id.clone(),
            openai_cost_usd: Usd::parse("1").unwrap(),
            occurred_at: START + 50,
        };
        w.store.put_usage_record(&record, START + 50).await.unwrap();
        let recent = w.run(vec![Incoming::Record(record.clone())], None).await;
        assert_eq!(recent.failed.len(), 1);
        let old = World::new(AllowanceMode::Stripe, START + 10_000).await;
        old.store
            .link_stripe_customer(
                &orphan_id,
                &StripeCustomerId::parse("cus_2").unwrap(),
                START,
            )
            .await
            .unwrap();
        old.store
            .put_usage_record(&record, START + 50)
            .await
            .unwrap();
        let report = old.run(vec![Incoming::Record(record)], None).await;
        assert_eq!((report.failed.len(), report.rejected), (0, 1));
        assert_eq!(old.stripe.units_sent(), 0);
    }

    #[tokio::test]
    async fn a_record_rejected_for_good_is_not_retried_with_its_customers_failed_ones() {
        // GIVEN a customer without a subscription with a record from hours ago and a recent one
        let w = World::new(AllowanceMode::Stripe, START + 10_000).await;
        let orphan_id = CustomerId::parse("no-sub").unwrap();
        w.store
            .link_stripe_customer(
                &orphan_id,
                &StripeCustomerId::parse("cus_2").unwrap(),
                START,
            )
            .await
            .unwrap();
        let mut batch = Vec::new();
        for (id, at) in [("old", START + 50), ("recent", START + 9_990)] {
            let record = UsageRecord {
                usage_id: UsageId::parse(id).unwrap(),
                customer_id: orphan_id.clone(),
                openai_cost_usd: Usd::parse("1").unwrap(),
                occurred_at: at,
            };
            w.store.put_usage_record(&record, at).await.unwrap();
            batch.push(Incoming::Record(record));
        }
        // WHEN the batch is reported
        let report = w.run(batch, None).await;
        // THEN the old one is rejected for good and only the recent one is to be retried
        assert_eq!(report.rejected, 1);
        assert_eq!(report.failed, vec![UsageId::parse("recent").unwrap()]);
    }
}

/// After this long, Stripe may have forgotten an intent's identifier (it keeps them at least 24
/// hours), so a re-send is checked against the meter's summaries first.
pub const IDENTIFIER_TRUST_SECS: i64 = 23 * 3_600;

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// The report of the records found unapplied.
    pub records: BatchReport,
    /// Pending intents re-sent (identically) and marked sent.
    pub resent: usize,
    /// Old pending intents found already counted by Stripe's summaries, marked without sending.
    pub confirmed: usize,
    /// Pending intents (and unsettled ledgers) left for a later sweep (an error, or no meter id
    /// to check an old intent).
    pub left: usize,
    /// Ledgers found unsettled (usage applied but maybe not covered by intents, e.g. after a crash
    /// between apply and intent with no stream retry) and settled now.
    pub settled: usize,
    /// Meter events Stripe took while settling those ledgers.
    pub settled_meter_events: usize,
}

/// The scheduled sweep: applies records the stream missed (written at least `min_age_secs`
/// ago and still unapplied), then finishes every pending intent. An intent pending longer than
/// [`IDENTIFIER_TRUST_SECS`] is first looked up in the meter's event summaries for its period,
/// so a sweep can never bill it twice. Last, it settles every ledger still marked unsettled
/// `min_age_secs` after its first unsettled apply (see the module doc): units owed after a crash
/// between apply and intent are sent even if the stream never delivers the batch again.
pub async fn sweep(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    meter_id: Option<&str>,
    min_age_secs: i64,
) -> Result<SweepReport, ReportError> {
    let now = deps.clock.now();
    let unapplied = deps.ledger.list_unapplied_usage(now - min_age_secs).await?;
    let mut out = SweepReport {
        records: report(
            deps,
            settings,
            unapplied
                .into_iter()
                .map(|item| match item {
                    UnappliedItem::Record(record) => Incoming::Record(record),
                    UnappliedItem::Unreadable { usage_id, reason } => {
                        Incoming::Malformed { usage_id, reason }
                    }
                })
                .collect(),
        )
        .await,
        ..SweepReport::default()
    };
    for ledger in deps.ledger.list_pending_intents().await? {
        let Some(intent) = ledger.pending.clone() else {
            continue;
        };
        match finish_intent(deps, settings, meter_id, &ledger, &intent).await {
            Ok(Finished::Resent) => out.resent += 1,
            Ok(Finished::Confirmed) => out.confirmed += 1,
            Ok(Finished::Left) => out.left += 1,
            Err(e) => {
                warn!(customer_id = %ledger.customer_id, identifier = %intent.identifier, error = %e,
                    "pending intent left for the next sweep");
                out.left += 1;
            }
        }
    }
    for ledger in deps
        .ledger
        .list_unsettled_ledgers(now - min_age_secs)
        .await?
    {
        // An intent still pending past the identifier window was left above (it needs the
        // summaries check, which `settle` does not make): not re-sent blindly here.
        if ledger
            .pending
            .as_ref()
            .is_some_and(|intent| now - intent.created_at > IDENTIFIER_TRUST_SECS)
        {
            continue;
        }
        match settle_unsettled(deps, settings, &ledger).await {
            Ok(Some(events)) => {
                out.settled += 1;
                out.settled_meter_events += events;
            }
            Ok(None) => out.left += 1,
            Err(e) => {
                warn!(customer_id = %ledger.customer_id, period_start = ledger.period.start(),
                    error = %e, "unsettled ledger left for the next sweep");
                out.left += 1;
            }
        }
    }
    Ok(out)
}

/// Settles one ledger found unsettled; `None` when its customer has no Stripe customer.
async fn settle_unsettled(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    ledger: &PeriodLedger,
) -> Result<Option<usize>, ReportError> {
    let Some(stripe_customer_id) = deps
        .customers
        .get_customer(&ledger.customer_id)
        .await?
        .and_then(|c| c.stripe_customer_id)
    else {
        return Ok(None);
    };
    let events = settle(
        deps,
        settings,
        &ledger.customer_id,
        &stripe_customer_id,
        &ledger.period,
        true,
    )
    .await?;
    Ok(Some(events))
}

enum Finished {
    Resent,
    Confirmed,
    Left,
}

async fn finish_intent(
    deps: &ReporterDeps<'_>,
    settings: &ReporterSettings,
    meter_id: Option<&str>,
    ledger: &PeriodLedger,
    intent: &MeterIntent,
) -> Result<Finished, ReportError> {
    let Some(stripe_customer_id) = deps
        .customers
        .get_customer(&ledger.customer_id)
        .await?
        .and_then(|c| c.stripe_customer_id)
    else {
        return Ok(Finished::Left);
    };
    let now = deps.clock.now();
    if now - intent.created_at > IDENTIFIER_TRUST_SECS {
        let Some(meter_id) = meter_id else {
            warn!(identifier = %intent.identifier, "an old pending intent needs STRIPE_METER_ID to be checked");
            return Ok(Finished::Left);
        };
        let summaries = deps
            .stripe
            .list_meter_event_summaries(
                meter_id,
                &stripe_customer_id,
                ledger.period.meter_window().0,
                ledger.period.meter_window().1,
            )
            .await?;
        let counted: u64 = summaries.iter().filter_map(|s| s.whole_units()).sum();
        if counted >= intent.to {
            deps.ledger
                .mark_intent_sent(
                    &ledger.customer_id,
                    ledger.period.start(),
                    &intent.identifier,
                    now,
                )
                .await?;
            return Ok(Finished::Confirmed);
        }
    }
    send(deps, settings, &stripe_customer_id, intent).await?;
    deps.ledger
        .mark_intent_sent(
            &ledger.customer_id,
            ledger.period.start(),
            &intent.identifier,
            now,
        )
        .await?;
    Ok(Finished::Resent)
}

#[cfg(test)]
mod sweep_tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::service::fakes::{FakeClock, FakeStripe};
    use crate::subscription::SubscriptionStatus;

    const START: i64 = 1_790_000_000;

    async fn world(now: i64) -> (MemoryStore, FakeStripe, FakeClock, ReporterSettings) {
        let store = MemoryStore::new();
        let c = CustomerId::parse("t1").unwrap();
        store
            .link_stripe_customer(&c, &StripeCustomerId::parse("cus_1").unwrap(), START)
            .await
            .unwrap();
        store
            .apply_subscription(
                &c,
                &SubscriptionSnapshot {
                    subscription_id: crate::ids::StripeSubscriptionId::parse("sub_1").unwrap(),
                    status: SubscriptionStatus::Active,
                    current_period: Some(BillingPeriod::new(START, START + 2_592_000).unwrap()),
                    cancel_at_period_end: false,
                    version: 1,
                },
                START,
            )
            .await
            .unwrap();
        let pricing = Pricing::new(
            Usd::parse("29").unwrap(),
            Usd::parse("10").unwrap(),
            rust_decimal::Decimal::from(2),
            Usd::parse("0.01").unwrap(),
            crate::money::AllowanceMode::Stripe,
        )
        .unwrap();
        (
            store,
            FakeStripe::default(),
            FakeClock::at(now),
            ReporterSettings::new(pricing, "leadmagnet_ai_usage"),
        )
    }

    fn deps<'a>(
        store: &'a MemoryStore,
        stripe: &'a FakeStripe,
        clock: &'a FakeClock,
    ) -> ReporterDeps<'a> {
        ReporterDeps {
            customers: store,
            ledger: store,
            stripe,
            clock,
            fail_points: None,
        }
    }

    #[tokio::test]
    async fn a_record_the_stream_never_delivered_is_billed_by_the_sweep() {
        let (store, stripe, clock, settings) = world(START + 3_600).await;
        let record = UsageRecord {
            usage_id: UsageId::parse("lost").unwrap(),
            customer_id: CustomerId::parse("t1").unwrap(),
            openai_cost_usd: Usd::parse("0.25").unwrap(),
            occurred_at: START + 10,
        };
        store.put_usage_record(&record, START + 10).await.unwrap();
        let out = sweep(&deps(&store, &stripe, &clock), &settings, None, 300)
            .await
            .unwrap();
        assert_eq!(out.records.applied, 1);
        assert_eq!(stripe.units_sent(), 50);
        // a second sweep finds nothing to do
        let again = sweep(&deps(&store, &stripe, &clock), &settings, None, 300)
            .await
            .unwrap();
        assert_eq!((again.records.applied, again.resent), (0, 0));
        assert_eq!(stripe.units_sent(), 50);
    }

    async fn pending_intent(store: &MemoryStore, created_at: i64) -> MeterIntent {
        let c = CustomerId::parse("t1").unwrap();
        let period = BillingPeriod::new(START, START + 2_592_000).unwrap();
        let intent = MeterIntent {
            from: 0,
            to: 7,
            timestamp: period.meter_stamp(START + 5),
            identifier: MeterIntent::identifier_for(&c, START, 0, 7),
            created_at,
        };
        store.begin_intent(&c, &period, &intent).await.unwrap();
        intent
    }

    #[tokio::test]
    async fn a_fresh_pending_intent_is_resent_identically() {
        let (store, stripe, clock, settings) = world(START + 3_600).await;
        let intent = pending_intent(&store, START + 3_000).await;
        let out = sweep(
            &deps(&store, &stripe, &clock),
            &settings,
            Some("mtr_1"),
            300,
        )
        .await
        .unwrap();
        assert_eq!(out.resent, 1);
        let sent = stripe.meter_events.lock().unwrap()[0].clone();
        assert_eq!(
            (sent.identifier, sent.value, sent.timestamp),
            (intent.identifier, 7, intent.timestamp)
        );
        assert!(store.list_pending_intents().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_old_pending_intent_already_counted_by_stripe_is_not_sent_again() {
        // GIVEN an intent pending for a day whose event Stripe did receive
        let (store, stripe, clock, settings) = world(START + 90_000).await;
        let intent = pending_intent(&store, START + 1_000).await;
        stripe.meter_events.lock().unwrap().push(NewMeterEvent {
            event_name: "leadmagnet_ai_usage".into(),
            stripe_customer_id: StripeCustomerId::parse("cus_1").unwrap(),
            value: 7,
            identifier: "forgotten-by-stripe".into(),
            timestamp: intent.timestamp,
        });
        // WHEN the sweep runs
        let out = sweep(
            &deps(&store, &stripe, &clock),
            &settings,
            Some("mtr_1"),
            300,
        )
        .await
        .unwrap();
        // THEN it is confirmed from the summaries, not re-sent
        assert_eq!((out.confirmed, out.resent), (1, 0));
        assert_eq!(stripe.units_sent(), 7);
        // AND without a meter id an old intent is left alone rather than risk a double bill
        let (store2, stripe2, clock2, settings2) = world(START + 90_000).await;
        pending_intent(&store2, START + 1_000).await;
        let out = sweep(&deps(&store2, &stripe2, &clock2), &settings2, None, 300)
            .await
            .unwrap();
        assert_eq!((out.left, stripe2.units_sent()), (1, 0));
    }
}

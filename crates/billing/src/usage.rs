//! Usage records and the per-period ledger rules: apply each record once, then send each unit once.
//!
//! Invariants (kept by the store's conditional and transactional writes, checked here in pure code):
//! 1. A usage record is applied to at most one period ledger, at most once; a ledger's `billed_total`
//!    always equals the sum of `billed` over the records applied to it.
//! 2. Units are derived from the cumulative `billed_total` ([`Pricing::units_owed`]), so fractions
//!    of a cent carry over between records and batches.
//! 3. Units leave only through a persisted [`MeterIntent`] covering `[from, to)`, where `from` is the
//!    ledger's `units_intended`; intents never overlap, so no unit is sent twice, and a new intent
//!    is only made once the previous one is marked sent, so none is skipped.
//! 4. An intent's identifier (also the `Idempotency-Key`) depends only on (customer, period, from,
//!    to), and its timestamp is persisted with it: a retry re-sends the byte-identical request.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{CustomerId, UsageId};
use crate::money::{Pricing, Usd};
use crate::period::BillingPeriod;

/// One AI usage as producers write it to `usage_records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Unique per usage, chosen by the producer (retries of the producer reuse it).
    pub usage_id: UsageId,
    /// Whose usage it is.
    pub customer_id: CustomerId,
    /// What OpenAI charged for it, in USD (exact decimal).
    pub openai_cost_usd: Usd,
    /// When it happened (unix seconds); decides the billing period.
    pub occurred_at: i64,
}

/// Where a stored usage record stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageState {
    /// Not applied to any ledger yet.
    Pending,
    /// Applied once to the ledger of the period starting at `period_start`.
    Applied {
        /// The period it was billed in.
        period_start: i64,
        /// What it added to that period (markup × cost).
        billed: Usd,
        /// Why it was billed in a later period than it occurred in, if it was.
        late_reason: Option<String>,
    },
    /// Refused for good; never retried.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// A usage record with its state, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUsage {
    /// The record as written.
    pub record: UsageRecord,
    /// Where it stands.
    pub state: UsageState,
}

/// An unapplied item found by the sweep: a record, or an item that cannot be read as one (the
/// sweep rejects it with the reason, so one bad item never stops the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnappliedItem {
    /// A readable record.
    Record(UsageRecord),
    /// An item that is not a valid usage record.
    Unreadable {
        /// Its id, when readable.
        usage_id: Option<UsageId>,
        /// What is wrong with it.
        reason: String,
    },
}

/// One record to add to a period ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageApplication {
    /// The record.
    pub usage_id: UsageId,
    /// What it bills (markup × cost).
    pub billed: Usd,
    /// Why it lands in a later period than it occurred in, if it does.
    pub late_reason: Option<String>,
}

/// A range of units about to be sent to Stripe as one meter event, persisted before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterIntent {
    /// First unit covered (the ledger's `units_intended` when the intent was made).
    pub from: u64,
    /// One past the last unit covered.
    pub to: u64,
    /// The meter event's timestamp, inside the period (unix seconds).
    pub timestamp: i64,
    /// The meter event's identifier and `Idempotency-Key`.
    pub identifier: String,
    /// When the intent was made (unix seconds), to know when Stripe's identifier window ran out.
    pub created_at: i64,
}

impl MeterIntent {
    /// The units sent: `to − from`.
    pub fn value(&self) -> u64 {
        self.to - self.from
    }

    /// The identifier for units `[from, to)` of a customer's period: `mev_` and 40 hex digits of
    /// SHA-256 over those four values, so it fits Stripe's 100 characters and never collides.
    pub fn identifier_for(customer: &CustomerId, period_start: i64, from: u64, to: u64) -> String {
        let digest = Sha256::digest(format!("{customer}#{period_start}#{from}#{to}").as_bytes());
        format!("mev_{}", &hex::encode(digest)[..40])
    }
}

/// The usage ledger of one customer for one billing period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodLedger {
    /// Whose ledger.
    pub customer_id: CustomerId,
    /// Which period.
    pub period: BillingPeriod,
    /// Sum of `billed` over the records applied to this period.
    pub billed_total: Usd,
    /// Units covered by intents made so far (sent or pending).
    pub units_intended: u64,
    /// Units whose intents were marked sent.
    pub units_sent: u64,
    /// The intent made but not yet marked sent, if any.
    pub pending: Option<MeterIntent>,
}

impl PeriodLedger {
    /// An empty ledger.
    pub fn new(customer_id: CustomerId, period: BillingPeriod) -> Self {
        PeriodLedger {
            customer_id,
            period,
            billed_total: Usd::ZERO,
            units_intended: 0,
            units_sent: 0,
            pending: None,
        }
    }

    /// The next intent to persist and send, if units are owed beyond those already intended and
    /// no intent is pending (a pending one must be sent and marked first). Its timestamp is `now`
    /// moved inside the period's whole minutes ([`BillingPeriod::meter_stamp`]), so late usage of
    /// a closed period is stamped in that period and summaries can count it exactly.
    pub fn next_intent(&self, pricing: &Pricing, now: i64) -> Option<MeterIntent> {
        if self.pending.is_some() {
            return None;
        }
        let owed = pricing.units_owed(self.billed_total);
        if owed <= self.units_intended {
            return None;
        }
        let (from, to) = (self.units_intended, owed);
        Some(MeterIntent {
            from,
            to,
            timestamp: self.period.meter_stamp(now),
            identifier: MeterIntent::identifier_for(
                &self.customer_id,
                self.period.start(),
                from,
                to,
            ),
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::AllowanceMode;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn ledger() -> PeriodLedger {
        PeriodLedger::new(
            CustomerId::parse("c1").unwrap(),
            BillingPeriod::new(1_000, 2_000).unwrap(),
        )
    }

    fn pricing(mode: AllowanceMode) -> Pricing {
        Pricing::new(
            Usd::parse("29").unwrap(),
            Usd::parse("10").unwrap(),
            Decimal::from(2),
            Usd::parse("0.01").unwrap(),
            mode,
        )
        .unwrap()
    }

    /// Formula from the issue, written independently of `Pricing::units_owed`.
    fn oracle(total_billed: Decimal, mode: AllowanceMode) -> u64 {
        let unit = Decimal::new(1, 2);
        let reportable = match mode {
            AllowanceMode::Stripe => total_billed,
            AllowanceMode::App => (total_billed - Decimal::from(10)).max(Decimal::ZERO),
        };
        u64::try_from((reportable / unit).floor()).unwrap()
    }

    /// Costs from $0.000001 to $5 in micro-dollars, split into random batches.
    fn costs_and_batches() -> impl Strategy<Value = (Vec<u64>, Vec<usize>)> {
        prop::collection::vec(1u64..=5_000_000, 1..200).prop_flat_map(|costs| {
            let n = costs.len();
            (Just(costs), prop::collection::vec(1usize..=n, 1..20))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Whatever the costs and however they are batched, the units sent over a period equal
        /// exactly floor(...) of the cumulative billed amount, in both modes.
        #[test]
        fn units_sent_equal_the_formula_for_any_costs_and_batches(
            (micro_costs, cuts) in costs_and_batches(),
            stripe_mode in any::<bool>(),
        ) {
            let mode = if stripe_mode { AllowanceMode::Stripe } else { AllowanceMode::App };
            let pricing = pricing(mode);
            let mut ledger = ledger();
            let mut sent = 0u64;
            let mut cut_points: Vec<usize> = cuts.clone();
            cut_points.push(micro_costs.len());
            cut_points.sort_unstable();
            let mut start = 0;
            for end in cut_points {
                // apply one batch (exact billed amounts), then settle once, as the reporter does
                for micros in &micro_costs[start..end] {
                    let cost = Usd::new(Decimal::new(i64::try_from(*micros).unwrap(), 6)).unwrap();
                    let billed = pricing.billed_for(cost).unwrap();
                    ledger.billed_total = ledger.billed_total.checked_add(billed).unwrap();
                }
                start = start.max(end);
                if let Some(intent) = ledger.next_intent(&pricing, 1_500) {
                    prop_assert_eq!(intent.from, ledger.units_intended);
                    sent += intent.value();
                    ledger.units_intended = intent.to;
                }
            }
            let total_cost: u64 = micro_costs.iter().sum();
            let total_billed = Decimal::new(i64::try_from(total_cost).unwrap(), 6) * Decimal::from(2);
            prop_assert_eq!(ledger.billed_total.as_decimal(), total_billed.normalize());
            prop_assert_eq!(sent, oracle(total_billed, mode));
        }
    }

    #[test]
    fn a_pending_intent_blocks_the_next_one() {
        let p = pricing(AllowanceMode::Stripe);
        let mut l = ledger();
        l.billed_total = Usd::parse("0.05").unwrap();
        let first = l.next_intent(&p, 1_500).unwrap();
        assert_eq!((first.from, first.to, first.value()), (0, 5, 5));
        l.pending = Some(first);
        l.units_intended = 5;
        l.billed_total = Usd::parse("0.09").unwrap();
        assert_eq!(l.next_intent(&p, 1_500), None);
    }

    #[test]
    fn intents_are_stamped_inside_their_period() {
        let p = pricing(AllowanceMode::Stripe);
        let mut l = ledger();
        l.billed_total = Usd::parse("1").unwrap();
        assert_eq!(l.next_intent(&p, 5_000).unwrap().timestamp, 1_979);
        assert_eq!(l.next_intent(&p, 1_234).unwrap().timestamp, 1_234);
    }

    #[test]
    fn identifiers_are_deterministic_short_and_distinct() {
        let c = CustomerId::parse("c1").unwrap();
        let a = MeterIntent::identifier_for(&c, 1_000, 0, 5);
        assert_eq!(a, MeterIntent::identifier_for(&c, 1_000, 0, 5));
        assert_eq!(a.len(), 44);
        assert_ne!(a, MeterIntent::identifier_for(&c, 1_000, 0, 6));
        assert_ne!(a, MeterIntent::identifier_for(&c, 2_000, 0, 5));
        assert_ne!(
            a,
            MeterIntent::identifier_for(&CustomerId::parse("c2").unwrap(), 1_000, 0, 5)
        );
    }
}

//! Writing usage records, for Rust producers: the one call the app makes after an AI request.
//!
//! The record is validated (a cost that could never be billed is refused here, before it is
//! stored) and written once: a producer's retry with the same `usage_id` changes nothing. The
//! usage reporter picks it up from the table's stream.

use crate::money::{MoneyError, Pricing};
use crate::ports::{StoreError, UsageLedger};
use crate::usage::UsageRecord;

/// Why a usage record was not written.
#[derive(Debug, thiserror::Error)]
pub enum RecordUsageError {
    /// The cost is not billable (absurdly large).
    #[error("usage {usage_id} not recorded: {source}")]
    BadCost {
        /// The record.
        usage_id: String,
        /// Why.
        #[source]
        source: MoneyError,
    },
    /// The store failed; retrying with the same `usage_id` is safe.
    #[error("usage not recorded: {0}")]
    Store(#[from] StoreError),
}

/// Records one usage; `Ok(false)` when a record with this `usage_id` already exists (a retry).
pub async fn record_usage(
    ledger: &dyn UsageLedger,
    pricing: &Pricing,
    record: &UsageRecord,
    now: i64,
) -> Result<bool, RecordUsageError> {
    pricing
        .check_cost(record.openai_cost_usd)
        .map_err(|source| RecordUsageError::BadCost {
            usage_id: record.usage_id.to_string(),
            source,
        })?;
    Ok(ledger.put_usage_record(record, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, UsageId};
    use crate::memory::MemoryStore;
    use crate::money::Usd;

    fn record(cost: &str) -> UsageRecord {
        UsageRecord {
            usage_id: UsageId::parse("u1").unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            openai_cost_usd: Usd::parse(cost).unwrap(),
            occurred_at: 100,
        }
    }

    #[tokio::test]
    async fn a_record_is_written_once_and_an_absurd_cost_is_refused() {
        let store = MemoryStore::new();
        let pricing = Pricing::default();
        assert!(
            record_usage(&store, &pricing, &record("0.000123"), 100)
                .await
                .unwrap()
        );
        assert!(
            !record_usage(&store, &pricing, &record("0.5"), 101)
                .await
                .unwrap()
        );
        let stored = store
            .get_usage_record(&UsageId::parse("u1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.record.openai_cost_usd,
            Usd::parse("0.000123").unwrap()
        );
        let other = UsageRecord {
            usage_id: UsageId::parse("u2").unwrap(),
            ..record("5000")
        };
        assert!(matches!(
            record_usage(&store, &pricing, &other, 100).await,
            Err(RecordUsageError::BadCost { .. })
        ));
    }
}

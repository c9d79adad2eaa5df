//! Subscription status as Stripe reports it, what it allows, and the snapshot the store keeps.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ids::StripeSubscriptionId;
use crate::period::BillingPeriod;

/// A Stripe subscription status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Paid up.
    Active,
    /// In a trial.
    Trialing,
    /// The latest invoice failed; Stripe is retrying.
    PastDue,
    /// Retries ran out; the subscription stays but invoices are not paid.
    Unpaid,
    /// Ended.
    Canceled,
    /// Created, first payment not yet made.
    Incomplete,
    /// The first payment never came within 23 hours.
    IncompleteExpired,
    /// Paused (no invoices).
    Paused,
}

impl SubscriptionStatus {
    /// Every status, for tests and documentation.
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Active,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Paused,
    ];

    /// Stripe's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Paused => "paused",
        }
    }

    /// Parses Stripe's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A subscription in this status still stands: a second checkout must not create another.
    pub fn blocks_new_checkout(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Active
                | SubscriptionStatus::Trialing
                | SubscriptionStatus::PastDue
                | SubscriptionStatus::Unpaid
                | SubscriptionStatus::Incomplete
        )
    }

    /// Usage in this status is billed through the subscription's metered item.
    pub fn is_billable(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Active
                | SubscriptionStatus::Trialing
                | SubscriptionStatus::PastDue
                | SubscriptionStatus::Unpaid
        )
    }

    /// The subscription is over and will never come back.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The subscription state mirrored on a customer record.
///
/// `version` is the ordering guard: the store applies a snapshot only when its version is greater
/// than the stored one, so an older state can never overwrite a newer one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSnapshot {
    /// The subscription.
    pub subscription_id: StripeSubscriptionId,
    /// Its status.
    pub status: SubscriptionStatus,
    /// The metered item's current period, when known.
    pub current_period: Option<BillingPeriod>,
    /// Whether it ends at the period end.
    pub cancel_at_period_end: bool,
    /// Ordering guard; greater is newer.
    pub version: u64,
}

impl SubscriptionSnapshot {
    /// The snapshot of a subscription as Stripe returned it, stamped with `version`.
    pub fn from_stripe(subscription: &crate::stripe::Subscription, version: u64) -> Self {
        SubscriptionSnapshot {
            subscription_id: subscription.id.clone(),
            status: subscription.status,
            current_period: subscription.current_period(),
            cancel_at_period_end: subscription.cancel_at_period_end,
            version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_stripes_spelling() {
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(SubscriptionStatus::parse("bogus"), None);
    }

    #[test]
    fn only_standing_subscriptions_block_checkout() {
        use SubscriptionStatus::*;
        let blocking: Vec<_> = SubscriptionStatus::ALL
            .into_iter()
            .filter(|s| s.blocks_new_checkout())
            .collect();
        assert_eq!(
            blocking,
            vec![Active, Trialing, PastDue, Unpaid, Incomplete]
        );
    }
}

//! The Stripe objects the product reads, narrowed to the fields it uses.
//!
//! Newest shapes first (API `2026-10-28.endive`), older ones tolerated: the billing period is read
//! from the subscription items and falls back to the subscription's own `current_period_*` (removed
//! in basil). Unknown fields are ignored; an expanded object stands where an id is expected and is
//! reduced to its id. (What webhooks read of an event's object is in `webhook::event`.)

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

use crate::ids::{CheckoutSessionId, StripeCustomerId, StripeSubscriptionId};
use crate::period::BillingPeriod;
use crate::subscription::SubscriptionStatus;

/// Reads a field that is either an id string or an expanded object carrying `id`.
fn id_or_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Expandable {
        Id(String),
        Object { id: String },
    }
    match Option::<Expandable>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Expandable::Id(id)) | Some(Expandable::Object { id }) => {
            T::try_from(id).map(Some).map_err(serde::de::Error::custom)
        }
    }
}

/// A Stripe customer (`cus_...`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    /// Stripe's id.
    pub id: StripeCustomerId,
    /// The email Stripe has on file.
    #[serde(default)]
    pub email: Option<String>,
    /// Key/value metadata; ours carries `customer_id` and `cognito_sub`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The test clock the customer lives on, in test mode.
    #[serde(default, deserialize_with = "id_or_object")]
    pub test_clock: Option<String>,
    /// Set on a deleted customer.
    #[serde(default)]
    pub deleted: bool,
}

/// A Checkout Session (`cs_...`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSession {
    /// Stripe's id.
    pub id: CheckoutSessionId,
    /// The hosted page; absent once the session is complete or expired.
    #[serde(default)]
    pub url: Option<String>,
    /// The customer the session was created for.
    #[serde(default, deserialize_with = "id_or_object")]
    pub customer: Option<StripeCustomerId>,
    /// The subscription created by a completed `mode=subscription` session.
    #[serde(default, deserialize_with = "id_or_object")]
    pub subscription: Option<StripeSubscriptionId>,
    /// Our customer id, as we passed it.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// `subscription`, `payment` or `setup`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// When an open session stops being usable (unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Key/value metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A billing portal session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PortalSession {
    /// Stripe's id (`bps_...`).
    pub id: String,
    /// The short-lived URL of the portal.
    pub url: String,
}

/// The recurring part of a price, as far as billing needs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct Recurring {
    /// `licensed` or `metered`.
    #[serde(default)]
    pub usage_type: Option<String>,
    /// `month`, `year`, ...
    #[serde(default)]
    pub interval: Option<String>,
    /// The meter that a metered price bills (basil and later).
    #[serde(default)]
    pub meter: Option<String>,
}

/// A price, narrowed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Price {
    /// Stripe's id (`price_...`).
    pub id: String,
    /// Present for recurring prices.
    #[serde(default)]
    pub recurring: Option<Recurring>,
}

/// One item of a subscription; since basil it carries the billing period.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscriptionItem {
    /// Stripe's id (`si_...`).
    pub id: String,
    /// The item's price.
    #[serde(default)]
    pub price: Option<Price>,
    /// Start of the item's current period (unix seconds).
    #[serde(default)]
    pub current_period_start: Option<i64>,
    /// End of the item's current period (unix seconds, exclusive).
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

impl SubscriptionItem {
    /// Whether the item bills by usage.
    pub fn is_metered(&self) -> bool {
        self.price
            .as_ref()
            .and_then(|p| p.recurring.as_ref())
            .and_then(|r| r.usage_type.as_deref())
            == Some("metered")
    }

    /// The item's current period, when Stripe sent a valid one.
    pub fn period(&self) -> Option<BillingPeriod> {
        BillingPeriod::new(self.current_period_start?, self.current_period_end?).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
struct ItemList {
    #[serde(default)]
    data: Vec<SubscriptionItem>,
}

/// A subscription, narrowed to what the customer record mirrors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subscription {
    /// Stripe's id.
    pub id: StripeSubscriptionId,
    /// The Stripe customer it bills.
    #[serde(deserialize_with = "id_or_object")]
    pub customer: Option<StripeCustomerId>,
    /// Its status.
    pub status: SubscriptionStatus,
    /// Whether it ends when the current period does.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// When it was canceled, if it was.
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When it ended, if it has.
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// When it was created.
    #[serde(default)]
    pub created: i64,
    /// Key/value metadata; ours carries `customer_id`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    items: ItemList,
    // Removed in API 2025-03-31.basil; read only as a fallback.
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

impl Subscription {
    /// The subscription's items.
    pub fn items(&self) -> &[SubscriptionItem] {
        &self.items.data
    }

    /// The item billed by usage, if any.
    pub fn metered_item(&self) -> Option<&SubscriptionItem> {
        self.items.data.iter().find(|i| i.is_metered())
    }

    /// The current billing period: the metered item's, else any item's, else (before basil) the
    /// subscription's own.
    pub fn current_period(&self) -> Option<BillingPeriod> {
        self.metered_item()
            .and_then(SubscriptionItem::period)
            .or_else(|| self.items.data.iter().find_map(SubscriptionItem::period))
            .or_else(|| {
                BillingPeriod::new(self.current_period_start?, self.current_period_end?).ok()
            })
    }
}

/// A meter event as Stripe acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MeterEvent {
    /// The meter's event name.
    pub event_name: String,
    /// The identifier (ours, or Stripe's if none was sent).
    pub identifier: String,
    /// The event's time (unix seconds).
    pub timestamp: i64,
    /// The payload as sent.
    #[serde(default)]
    pub payload: BTreeMap<String, String>,
}

/// Aggregated usage of one customer on one meter over a time range.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MeterEventSummary {
    /// Stripe's id (`mtrusg_...`).
    #[serde(default)]
    pub id: String,
    /// The meter's id.
    #[serde(default)]
    pub meter: String,
    /// Start of the range (inclusive).
    pub start_time: i64,
    /// End of the range (exclusive).
    pub end_time: i64,
    /// The aggregate (a sum of whole units for our meter). Kept exact as JSON number text.
    pub aggregated_value: serde_json::Number,
}

impl MeterEventSummary {
    /// The aggregate as whole units; `None` when it is fractional or negative.
    pub fn whole_units(&self) -> Option<u64> {
        self.aggregated_value.as_u64().or_else(|| {
            let text = self.aggregated_value.to_string();
            let trimmed = text.strip_suffix(".0").unwrap_or(&text);
            trimmed.parse().ok()
        })
    }
}

/// A page of a Stripe list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct List<T> {
    /// The objects on this page.
    pub data: Vec<T>,
    /// Whether more pages follow.
    #[serde(default)]
    pub has_more: bool,
}

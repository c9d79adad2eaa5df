//! What a signed-in user is shown of their subscription, computed from the stored customer alone
//! (no Stripe call): status, what it allows, the plan, the period and this period's usage.
//!
//! Access to paid features: `active` and `trialing` allow them; `past_due` allows them for a grace
//! of [`DEFAULT_PAST_DUE_GRACE_DAYS`] days (`PAST_DUE_GRACE_DAYS`) after the current period's start,
//! the time Stripe's retries take; every other status (and no subscription) does not.
//! `payment_needs_attention` is set for `past_due`, `unpaid` and `incomplete`: the customer should
//! update their card in the portal.
//!
//! Amounts are exact decimals printed in USD with at least two decimals (`"16.00"`,
//! `"0.000246"`); dates are RFC 3339 in UTC.

use serde::Serialize;

use crate::config::{ConfigError, Env, pricing_from_env};
use crate::money::{Pricing, Usd};
use crate::period::to_rfc3339;
use crate::ports::CustomerRecord;
use crate::subscription::SubscriptionStatus;

/// Days of access a `past_due` subscription keeps after its current period starts.
pub const DEFAULT_PAST_DUE_GRACE_DAYS: i64 = 7;

/// The plan's name as shown to users (the product `billing-admin setup` creates).
pub const PLAN_NAME: &str = "Lead Magnet AI Pro";

/// What the view needs besides the customer: prices and the past-due grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSettings {
    /// The prices (base fee, allowance, markup, unit, mode).
    pub pricing: Pricing,
    /// `PAST_DUE_GRACE_DAYS` (default 7).
    pub past_due_grace_days: i64,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            pricing: Pricing::default(),
            past_due_grace_days: DEFAULT_PAST_DUE_GRACE_DAYS,
        }
    }
}

impl ViewSettings {
    /// Reads the pricing variables and `PAST_DUE_GRACE_DAYS` (a whole number of days, 0 or more).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let past_due_grace_days = match env.var("PAST_DUE_GRACE_DAYS") {
            None => DEFAULT_PAST_DUE_GRACE_DAYS,
            Some(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|days| (0..=366).contains(days))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "PAST_DUE_GRACE_DAYS",
                    reason: "must be a whole number of days from 0 to 366".into(),
                })?,
        };
        Ok(ViewSettings {
            pricing: pricing_from_env(env)?,
            past_due_grace_days,
        })
    }
}

/// The answer of `GET /admin/billing/subscription`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    /// Whether there is a subscription at all (false: every field below is the "none" answer).
    pub has_subscription: bool,
    /// Stripe's status (`active`, `past_due`, …), or `none`.
    pub status: String,
    /// Whether the paid features may be used now.
    pub can_use_paid_features: bool,
    /// Whether the customer must act on a payment (status `past_due`, `unpaid` or `incomplete`).
    pub payment_needs_attention: bool,
    /// When a `past_due` subscription's grace ends (RFC 3339), if it is past due.
    pub past_due_grace_ends_at: Option<String>,
    /// The plan.
    pub plan: PlanView,
    /// Start of the current billing period (RFC 3339).
    pub current_period_start: Option<String>,
    /// End of the current billing period (RFC 3339).
    pub current_period_end: Option<String>,
    /// When the next invoice is due: the period end while the subscription is billable.
    pub next_billing_date: Option<String>,
    /// Whether the subscription ends at the period end (its usage is still invoiced then).
    pub cancel_at_period_end: bool,
    /// This period's usage, when there is a subscription.
    pub usage: Option<UsageView>,
}

/// The plan's name and prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanView {
    /// The plan's name.
    pub name: String,
    /// The monthly base price in USD (`"29.00"`).
    pub base_price_usd: String,
    /// The currency, always `usd`.
    pub currency: String,
    /// The billing interval, always `month`.
    pub interval: String,
    /// Usage included each period in USD (`"10.00"`).
    pub included_usage_usd: String,
    /// The multiplier on the AI cost (`"2"`).
    pub usage_markup: String,
}

/// This period's usage in billed dollars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageView {
    /// Billed usage so far this period (`current_period_usage`).
    pub billed_usd: String,
    /// The allowance included in the base price.
    pub allowance_usd: String,
    /// Allowance not yet used.
    pub remaining_allowance_usd: String,
    /// Billed usage above the allowance.
    pub overage_usd: String,
    /// Percent of the allowance used, rounded down (may exceed 100).
    pub percent_of_allowance_used: u64,
    /// The next invoice as it stands: base price plus the usage charged so far, or the usage
    /// charge alone when the subscription cancels at the period end (its final invoice does not
    /// renew the plan).
    pub estimated_next_invoice_usd: String,
}

/// Whether `status` allows the paid features at `now`, given the current period's start.
pub fn can_use_paid_features(
    status: SubscriptionStatus,
    period_start: Option<i64>,
    now: i64,
    grace_days: i64,
) -> bool {
    match status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing => true,
        SubscriptionStatus::PastDue => {
            period_start.is_some_and(|start| now < grace_end(start, grace_days))
        }
        _ => false,
    }
}

fn grace_end(period_start: i64, grace_days: i64) -> i64 {
    period_start.saturating_add(grace_days.saturating_mul(86_400))
}

/// Whether `status` asks the customer to fix a payment.
pub fn payment_needs_attention(status: SubscriptionStatus) -> bool {
    matches!(
        status,
        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid | SubscriptionStatus::Incomplete
    )
}

/// The view of `customer` (absent: never linked or never seen) at `now`.
pub fn compute(
    customer: Option<&CustomerRecord>,
    settings: &ViewSettings,
    now: i64,
) -> SubscriptionView {
    let pricing = &settings.pricing;
    let plan = PlanView {
        name: PLAN_NAME.into(),
        base_price_usd: pricing.base_monthly().display_cents(),
        currency: "usd".into(),
        interval: "month".into(),
        included_usage_usd: pricing.allowance().display_cents(),
        usage_markup: pricing.markup().normalize().to_string(),
    };
    let Some((customer, subscription)) =
        customer.and_then(|c| c.subscription.as_ref().map(|s| (c, s)))
    else {
        return SubscriptionView {
            has_subscription: false,
            status: "none".into(),
            can_use_paid_features: false,
            payment_needs_attention: false,
            past_due_grace_ends_at: None,
            plan,
            current_period_start: None,
            current_period_end: None,
            next_billing_date: None,
            cancel_at_period_end: false,
            usage: None,
        };
    };
    let status = subscription.status;
    let period = subscription.current_period;
    let start = period.map(|p| p.start());
    let billed = customer.current_period_usage;
    SubscriptionView {
        has_subscription: true,
        status: status.as_str().into(),
        can_use_paid_features: can_use_paid_features(
            status,
            start,
            now,
            settings.past_due_grace_days,
        ),
        payment_needs_attention: payment_needs_attention(status),
        past_due_grace_ends_at: match (status, start) {
            (SubscriptionStatus::PastDue, Some(start)) => {
                Some(to_rfc3339(grace_end(start, settings.past_due_grace_days)))
            }
            _ => None,
        },
        plan,
        current_period_start: start.map(to_rfc3339),
        current_period_end: period.map(|p| to_rfc3339(p.end())),
        next_billing_date: period
            .filter(|_| status.is_billable())
            .map(|p| to_rfc3339(p.end())),
        cancel_at_period_end: subscription.cancel_at_period_end,
        usage: Some(usage_view(
            pricing,
            billed,
            !subscription.cancel_at_period_end,
        )),
    }
}

/// `renews`: whether the next invoice bills another period of the plan (not when the
/// subscription cancels at the period end: its final invoice carries only the usage).
fn usage_view(pricing: &Pricing, billed: Usd, renews: bool) -> UsageView {
    let estimate = if renews {
        pricing.estimated_invoice(billed)
    } else {
        pricing.usage_charge(billed)
    };
    UsageView {
        billed_usd: billed.display_cents(),
        allowance_usd: pricing.allowance().display_cents(),
        remaining_allowance_usd: pricing.remaining_allowance(billed).display_cents(),
        overage_usd: pricing.overage(billed).display_cents(),
        percent_of_allowance_used: pricing.percent_of_allowance(billed),
        estimated_next_invoice_usd: estimate.display_cents(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, StripeCustomerId, StripeSubscriptionId};
    use crate::money::AllowanceMode;
    use crate::period::BillingPeriod;
    use crate::subscription::SubscriptionSnapshot;
    use std::collections::HashMap;

    const START: i64 = 1_790_000_000;
    const END: i64 = START + 30 * 86_400;
    const DAY: i64 = 86_400;

    fn usd(text: &str) -> Usd {
        Usd::parse(text).unwrap()
    }

    fn customer(status: SubscriptionStatus, billed: &str) -> CustomerRecord {
        CustomerRecord {
            previous_period: None,
            customer_id: CustomerId::parse("tenant-1").unwrap(),
            stripe_customer_id: Some(StripeCustomerId::parse("cus_1").unwrap()),
            subscription: Some(SubscriptionSnapshot {
                subscription_id: StripeSubscriptionId::parse("sub_1").unwrap(),
                status,
                current_period: Some(BillingPeriod::new(START, END).unwrap()),
                cancel_at_period_end: false,
                version: 1,
            }),
            current_period_usage: usd(billed),
            created_at: START,
            updated_at: START,
        }
    }

    #[test]
    fn a_caller_without_a_customer_or_subscription_gets_a_well_formed_none() {
        // GIVEN no record, and a record linked to Stripe but without a subscription
        let mut linked = customer(SubscriptionStatus::Active, "0");
        linked.subscription = None;
        for record in [None, Some(&linked)] {
            // WHEN viewed
            let view = compute(record, &ViewSettings::default(), START);
            // THEN "none", nothing allowed, the plan still described
            assert!(!view.has_subscription);
            assert_eq!(view.status, "none");
            assert!(!view.can_use_paid_features && !view.payment_needs_attention);
            assert_eq!(view.plan.base_price_usd, "29.00");
            assert_eq!(view.plan.included_usage_usd, "10.00");
            assert_eq!(view.usage, None);
            assert_eq!(view.next_billing_date, None);
        }
    }

    #[test]
    fn an_active_subscription_over_its_allowance_shows_overage_and_the_35_dollar_invoice() {
        // GIVEN $8 of OpenAI cost billed at 2x: $16 of usage this period
        let record = customer(SubscriptionStatus::Active, "16");
        // WHEN viewed mid-period
        let view = compute(Some(&record), &ViewSettings::default(), START + DAY);
        // THEN $6 overage, nothing left, 160 %, and $29 + $6 = $35 estimated
        assert!(view.has_subscription && view.can_use_paid_features);
        assert_eq!(view.status, "active");
        assert_eq!(
            view.usage,
            Some(UsageView {
                billed_usd: "16.00".into(),
                allowance_usd: "10.00".into(),
                remaining_allowance_usd: "0.00".into(),
                overage_usd: "6.00".into(),
                percent_of_allowance_used: 160,
                estimated_next_invoice_usd: "35.00".into(),
            })
        );
        assert_eq!(
            view.current_period_start.as_deref(),
            Some("2026-09-21T14:13:20Z")
        );
        assert_eq!(
            view.current_period_end.as_deref(),
            Some("2026-10-21T14:13:20Z")
        );
        assert_eq!(view.next_billing_date, view.current_period_end);
    }

    #[test]
    fn usage_within_the_allowance_keeps_exact_fractions_and_the_base_invoice() {
        // GIVEN $4.500246 billed (fractions of a cent are kept, never rounded away)
        let record = customer(SubscriptionStatus::Trialing, "4.500246");
        // WHEN viewed, in either allowance mode
        for mode in [AllowanceMode::App, AllowanceMode::Stripe] {
            let d = Pricing::default();
            let settings = ViewSettings {
                pricing: Pricing::new(d.base_monthly(), d.allowance(), d.markup(), d.unit(), mode)
                    .unwrap(),
                past_due_grace_days: 7,
            };
            let usage = compute(Some(&record), &settings, START).usage.unwrap();
            // THEN the same figures
            assert_eq!(usage.billed_usd, "4.500246");
            assert_eq!(usage.remaining_allowance_usd, "5.499754");
            assert_eq!(usage.overage_usd, "0.00");
            assert_eq!(usage.percent_of_allowance_used, 45);
            assert_eq!(usage.estimated_next_invoice_usd, "29.00");
        }
    }

    #[test]
    fn a_subscription_cancelling_at_period_end_estimates_a_final_invoice_of_usage_only() {
        // GIVEN $12.20 of usage ($2.20 over) on a subscription set to cancel at the period end
        let mut record = customer(SubscriptionStatus::Active, "12.20");
        if let Some(s) = record.subscription.as_mut() {
            s.cancel_at_period_end = true;
        }
        // WHEN viewed
        let view = compute(Some(&record), &ViewSettings::default(), START + DAY);
        // THEN the final invoice is the $2.20 overage alone: the $29 plan does not renew
        assert!(view.cancel_at_period_end);
        let usage = view.usage.unwrap();
        assert_eq!(usage.overage_usd, "2.20");
        assert_eq!(usage.estimated_next_invoice_usd, "2.20");
    }

    #[test]
    fn past_due_allows_paid_features_only_within_the_grace_after_the_period_start() {
        // GIVEN a past_due subscription and a 7-day grace
        let record = customer(SubscriptionStatus::PastDue, "0");
        let settings = ViewSettings::default();
        // WHEN viewed just before and at the grace's end
        let inside = compute(Some(&record), &settings, START + 7 * DAY - 1);
        let after = compute(Some(&record), &settings, START + 7 * DAY);
        // THEN allowed then refused, with the payment flagged both times
        assert!(inside.can_use_paid_features && inside.payment_needs_attention);
        assert!(!after.can_use_paid_features && after.payment_needs_attention);
        assert_eq!(
            after.past_due_grace_ends_at.as_deref(),
            Some("2026-09-28T14:13:20Z")
        );
        // AND a zero grace refuses at once
        let none = ViewSettings {
            past_due_grace_days: 0,
            ..ViewSettings::default()
        };
        assert!(!compute(Some(&record), &none, START).can_use_paid_features);
    }

    #[test]
    fn each_status_allows_and_flags_what_it_should() {
        use SubscriptionStatus::*;
        for (status, allowed, attention, billable) in [
            (Active, true, false, true),
            (Trialing, true, false, true),
            (PastDue, true, true, true),
            (Unpaid, false, true, true),
            (Incomplete, false, true, false),
            (IncompleteExpired, false, false, false),
            (Canceled, false, false, false),
            (Paused, false, false, false),
        ] {
            // GIVEN a subscription in `status`, viewed on its first day
            let view = compute(
                Some(&customer(status, "0")),
                &ViewSettings::default(),
                START,
            );
            // THEN
            assert_eq!(view.can_use_paid_features, allowed, "{status}");
            assert_eq!(view.payment_needs_attention, attention, "{status}");
            assert_eq!(view.next_billing_date.is_some(), billable, "{status}");
        }
    }

    #[test]
    fn the_grace_is_read_from_the_environment_and_checked() {
        let env =
            |value: &str| HashMap::from([("PAST_DUE_GRACE_DAYS".to_string(), value.to_string())]);
        assert_eq!(
            ViewSettings::from_env(&HashMap::new()).unwrap(),
            ViewSettings::default()
        );
        assert_eq!(
            ViewSettings::from_env(&env("3"))
                .unwrap()
                .past_due_grace_days,
            3
        );
        for bad in ["-1", "seven", "1.5", "400"] {
            assert!(
                matches!(
                    ViewSettings::from_env(&env(bad)),
                    Err(ConfigError::Invalid {
                        var: "PAST_DUE_GRACE_DAYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}

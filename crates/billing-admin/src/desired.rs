//! What a Stripe account must hold for the billing functions: the meter, the two prices, the portal
//! configuration and the webhook endpoint, derived from configuration alone.
//!
//! Objects are found again on a second run by stable keys (a meter by its event name, prices by
//! `lookup_key`, the portal configuration and webhook endpoint by our metadata tag and URL), so
//! `setup` never duplicates anything.

use billing::money::{AllowanceMode, Pricing};
use billing::stripe::params::FormFields;

/// Metadata key/value that tags the objects `setup` creates.
pub const MANAGED_BY: (&str, &str) = ("managed_by", "leadmagnet-billing-admin");

/// The events the webhook endpoint is subscribed to: exactly those the webhook function acts on.
pub use billing::webhook::HANDLED_TYPES as WEBHOOK_EVENTS;

/// Everything `setup` creates and `doctor` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredAccount {
    /// The meter's event name (`STRIPE_METER_EVENT_NAME`).
    pub meter_event_name: String,
    /// Where Stripe sends webhooks (`https://…/v1/stripe/webhook`), if one should be registered.
    pub webhook_url: Option<String>,
    /// The pinned API version for the webhook endpoint.
    pub api_version: String,
    /// Prices and allowance mode.
    pub pricing: Pricing,
    /// The portal's default return URL.
    pub portal_return_url: Option<String>,
}

fn field(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

/// `lookup_key` of the $29/month base price.
pub const BASE_PRICE_LOOKUP_KEY: &str = "leadmagnet_base_monthly";

/// Cents or fractional cents as Stripe's `unit_amount_decimal` text.
fn cents_decimal(pricing: &Pricing) -> String {
    (pricing.unit().as_decimal() * rust_decimal::Decimal::ONE_HUNDRED)
        .normalize()
        .to_string()
}

impl DesiredAccount {
    /// `lookup_key` of the usage price for the configured allowance mode (one per mode, so
    /// switching modes never edits a price that live subscriptions use).
    pub fn usage_price_lookup_key(&self) -> String {
        match self.pricing.mode() {
            AllowanceMode::App => "leadmagnet_usage_flat".into(),
            AllowanceMode::Stripe => format!(
                "leadmagnet_usage_graduated_{}",
                self.pricing.allowance_units()
            ),
        }
    }

    /// `POST /v1/billing/meters`: sums raw events, customer from `stripe_customer_id`, value from
    /// `value`.
    pub fn meter_form(&self) -> FormFields {
        vec![
            field("display_name", "Lead Magnet AI usage"),
            field("event_name", &self.meter_event_name),
            field("default_aggregation[formula]", "sum"),
            field("customer_mapping[type]", "by_id"),
            field("customer_mapping[event_payload_key]", "stripe_customer_id"),
            field("value_settings[event_payload_key]", "value"),
        ]
    }

    /// `POST /v1/prices` for the licensed base price, creating its product inline (one call, so a
    /// crash can never leave a product without its price).
    pub fn base_price_form(&self) -> Result<FormFields, billing::money::MoneyError> {
        Ok(vec![
            field("currency", "usd"),
            field(
                "unit_amount",
                self.pricing.base_monthly().to_cents()?.to_string(),
            ),
            field("recurring[interval]", "month"),
            field("recurring[usage_type]", "licensed"),
            field("lookup_key", BASE_PRICE_LOOKUP_KEY),
            field("product_data[name]", "Lead Magnet AI Pro"),
            field(&format!("metadata[{}]", MANAGED_BY.0), MANAGED_BY.1),
        ])
    }

    /// `POST /v1/prices` for the metered usage price on `meter_id`: flat per unit (`app`) or
    /// graduated with the allowance as a free first tier (`stripe`).
    pub fn usage_price_form(&self, meter_id: &str) -> FormFields {
        let mut form = vec![
            field("currency", "usd"),
            field("recurring[interval]", "month"),
            field("recurring[usage_type]", "metered"),
            field("recurring[meter]", meter_id),
            field("lookup_key", self.usage_price_lookup_key()),
            field("product_data[name]", "Lead Magnet AI Usage"),
            field(&format!("metadata[{}]", MANAGED_BY.0), MANAGED_BY.1),
        ];
        match self.pricing.mode() {
            AllowanceMode::App => {
                form.push(field("billing_scheme", "per_unit"));
                form.push(field("unit_amount_decimal", cents_decimal(&self.pricing)));
            }
            AllowanceMode::Stripe => {
                form.push(field("billing_scheme", "tiered"));
                form.push(field("tiers_mode", "graduated"));
                form.push(field(
                    "tiers[0][up_to]",
                    self.pricing.allowance_units().to_string(),
                ));
                form.push(field("tiers[0][unit_amount]", "0"));
                form.push(field("tiers[1][up_to]", "inf"));
                form.push(field(
                    "tiers[1][unit_amount_decimal]",
                    cents_decimal(&self.pricing),
                ));
            }
        }
        form
    }

    /// `POST /v1/billing_portal/configurations`: cancel at period end (so the cancelled period's
    /// usage is still invoiced), update payment method, invoice history.
    pub fn portal_configuration_form(&self) -> FormFields {
        let mut form = vec![
            field("business_profile[headline]", "Lead Magnet AI billing"),
            field("features[subscription_cancel][enabled]", "true"),
            field("features[subscription_cancel][mode]", "at_period_end"),
            field("features[payment_method_update][enabled]", "true"),
            field("features[invoice_history][enabled]", "true"),
            field(&format!("metadata[{}]", MANAGED_BY.0), MANAGED_BY.1),
        ];
        if let Some(url) = &self.portal_return_url {
            form.push(field("default_return_url", url));
        }
        form
    }

    /// `POST /v1/webhook_endpoints` for `url`: the five events, pinned to our API version.
    pub fn webhook_endpoint_form(&self, url: &str) -> FormFields {
        let mut form = vec![field("url", url), field("api_version", &self.api_version)];
        for (i, event) in WEBHOOK_EVENTS.iter().enumerate() {
            form.push(field(&format!("enabled_events[{i}]"), *event));
        }
        form.push(field("description", "Lead Magnet AI billing webhook"));
        form.push(field(&format!("metadata[{}]", MANAGED_BY.0), MANAGED_BY.1));
        form
    }
}

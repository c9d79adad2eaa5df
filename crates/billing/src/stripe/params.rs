//! Requests the product makes to Stripe, as ordered form fields in Stripe's bracket notation.
//!
//! The field order is fixed, so that the same request always encodes to the same bytes: a retry
//! re-sends a byte-identical body under the same `Idempotency-Key`.

use crate::ids::{CustomerId, StripeCustomerId};

/// Ordered `(name, value)` form fields, e.g. `("line_items[1][price]", "price_...")`.
pub type FormFields = Vec<(String, String)>;

fn field(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

/// `POST /v1/customers`, made identically by the sign-up trigger and by a lazy create at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// Our customer id, stored as `metadata[customer_id]`.
    pub customer_id: CustomerId,
    /// The user's email.
    pub email: Option<String>,
    /// The user's name.
    pub name: Option<String>,
    /// The Cognito user, stored as `metadata[cognito_sub]`.
    pub cognito_sub: Option<String>,
    /// A Stripe test clock to create the customer on (local and tests only).
    pub test_clock: Option<String>,
}

impl NewCustomer {
    /// The idempotency key: derived from our customer id, so every path creates at most one.
    pub fn idempotency_key(&self) -> String {
        format!("customer-create-{}", self.customer_id)
    }

    /// The form fields.
    pub fn to_form(&self) -> FormFields {
        let mut form = Vec::new();
        if let Some(email) = &self.email {
            form.push(field("email", email));
        }
        if let Some(name) = &self.name {
            form.push(field("name", name));
        }
        form.push(field("metadata[customer_id]", self.customer_id.as_str()));
        if let Some(sub) = &self.cognito_sub {
            form.push(field("metadata[cognito_sub]", sub));
        }
        if let Some(clock) = &self.test_clock {
            form.push(field("test_clock", clock));
        }
        form
    }
}

/// `POST /v1/checkout/sessions` in `mode=subscription`: the base price and the metered price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckoutSession {
    /// Our customer, as `client_reference_id` and in both metadata maps.
    pub customer_id: CustomerId,
    /// The customer's Stripe customer.
    pub stripe_customer_id: StripeCustomerId,
    /// The licensed base price (`quantity=1`).
    pub base_price_id: String,
    /// The metered price (no quantity, as Stripe requires).
    pub metered_price_id: String,
    /// Where Stripe sends the browser after payment (from configuration only).
    pub success_url: String,
    /// Where Stripe sends the browser on cancel (from configuration only).
    pub cancel_url: String,
}

impl NewCheckoutSession {
    /// The form fields.
    pub fn to_form(&self) -> FormFields {
        vec![
            field("mode", "subscription"),
            field("customer", self.stripe_customer_id.as_str()),
            field("client_reference_id", self.customer_id.as_str()),
            field("success_url", &self.success_url),
            field("cancel_url", &self.cancel_url),
            field("line_items[0][price]", &self.base_price_id),
            field("line_items[0][quantity]", "1"),
            field("line_items[1][price]", &self.metered_price_id),
            field("metadata[customer_id]", self.customer_id.as_str()),
            field(
                "subscription_data[metadata][customer_id]",
                self.customer_id.as_str(),
            ),
        ]
    }
}

/// `POST /v1/billing_portal/sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPortalSession {
    /// The customer's Stripe customer.
    pub stripe_customer_id: StripeCustomerId,
    /// Where the portal's back link goes.
    pub return_url: String,
    /// A portal configuration other than the account default.
    pub configuration: Option<String>,
}

impl NewPortalSession {
    /// The form fields.
    pub fn to_form(&self) -> FormFields {
        let mut form = vec![
            field("customer", self.stripe_customer_id.as_str()),
            field("return_url", &self.return_url),
        ];
        if let Some(configuration) = &self.configuration {
            form.push(field("configuration", configuration));
        }
        form
    }
}

/// `POST /v1/billing/meter_events`: whole units for one customer, under a deterministic identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeterEvent {
    /// The meter's event name.
    pub event_name: String,
    /// The customer billed (payload key `stripe_customer_id`).
    pub stripe_customer_id: StripeCustomerId,
    /// Whole units (payload key `value`).
    pub value: u64,
    /// Unique per unit range; also sent as the `Idempotency-Key`.
    pub identifier: String,
    /// When the usage happened (unix seconds), inside the period it bills.
    pub timestamp: i64,
}

impl NewMeterEvent {
    /// The form fields.
    pub fn to_form(&self) -> FormFields {
        vec![
            field("event_name", &self.event_name),
            field(
                "payload[stripe_customer_id]",
                self.stripe_customer_id.as_str(),
            ),
            field("payload[value]", self.value.to_string()),
            field("identifier", &self.identifier),
            field("timestamp", self.timestamp.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(form: &FormFields) -> Vec<&str> {
        form.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn checkout_sends_the_metered_price_without_quantity() {
        let form = NewCheckoutSession {
            customer_id: CustomerId::parse("c1").unwrap(),
            stripe_customer_id: StripeCustomerId::parse("cus_1").unwrap(),
            base_price_id: "price_base".into(),
            metered_price_id: "price_metered".into(),
            success_url: "https://app/ok".into(),
            cancel_url: "https://app/cancel".into(),
        }
        .to_form();
        assert!(names(&form).contains(&"line_items[0][quantity]"));
        assert!(!names(&form).contains(&"line_items[1][quantity]"));
        assert!(form.contains(&field("subscription_data[metadata][customer_id]", "c1")));
    }

    #[test]
    fn customer_creation_key_depends_only_on_our_customer_id() {
        let a = NewCustomer {
            customer_id: CustomerId::parse("c1").unwrap(),
            email: Some("a@x".into()),
            name: None,
            cognito_sub: Some("sub-a".into()),
            test_clock: None,
        };
        let b = NewCustomer {
            cognito_sub: Some("sub-b".into()),
            ..a.clone()
        };
        assert_eq!(a.idempotency_key(), b.idempotency_key());
        assert_eq!(a.idempotency_key(), "customer-create-c1");
    }
}

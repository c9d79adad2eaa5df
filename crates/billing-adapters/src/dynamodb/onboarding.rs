//! [`Onboarding`] on the `customers` table: the Stripe customer-creation request and the checkout
//! slot live on the customer's item.
//!
//! Invariants and the writes that keep them:
//! - The creation request is written once (`attribute_not_exists(stripe_request_at)`), so every
//!   path that creates the Stripe customer reads back the same parameters and sends them under
//!   the same idempotency key: Stripe never sees two different creations for one customer.
//! - A checkout slot's generation only moves forward, one step at a time
//!   (`checkout_generation = :g`), and at most one session is remembered per generation
//!   (`attribute_not_exists(checkout_session_id) OR checkout_session_id = :sid`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use billing::ids::{CheckoutSessionId, CustomerId};
use billing::ports::{CheckoutSlot, Onboarding, OpenCheckout, StoreError};
use billing::stripe::NewCustomer;

use super::DynamoStore;
use super::attributes::{Item, ItemView, n, s};
use super::customers::{KEY, customer_key};
use super::errors;

/// The generation condition: the stored generation is `:g` (absent counts as 0).
fn generation_condition(generation: u64) -> &'static str {
    if generation == 0 {
        "(attribute_not_exists(checkout_generation) OR checkout_generation = :g)"
    } else {
        "checkout_generation = :g"
    }
}

fn request_from_item(table: &str, id: &CustomerId, item: &Item) -> Result<NewCustomer, StoreError> {
    let v = ItemView::new(table, &KEY, item);
    let text = |name: &str| -> Result<Option<String>, StoreError> {
        Ok(v.opt_str(name)?.map(str::to_string))
    };
    Ok(NewCustomer {
        customer_id: id.clone(),
        email: text("stripe_request_email")?,
        name: text("stripe_request_name")?,
        cognito_sub: text("stripe_request_cognito_sub")?,
        test_clock: text("stripe_request_test_clock")?,
    })
}

#[async_trait]
impl Onboarding for DynamoStore {
    async fn stripe_customer_request(
        &self,
        proposed: &NewCustomer,
        now: i64,
    ) -> Result<NewCustomer, StoreError> {
        let table = &self.tables.customers;
        let mut set = vec![
            "stripe_request_at = :now",
            "created_at = if_not_exists(created_at, :now)",
            "updated_at = :now",
        ];
        let mut update = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(customer_key(&proposed.customer_id)))
            .expression_attribute_values(":now", n(now));
        for (assignment, placeholder, value) in [
            ("stripe_request_email = :email", ":email", &proposed.email),
            ("stripe_request_name = :name", ":name", &proposed.name),
            (
                "stripe_request_cognito_sub = :sub",
                ":sub",
                &proposed.cognito_sub,
            ),
            (
                "stripe_request_test_clock = :clock",
                ":clock",
                &proposed.test_clock,
            ),
        ] {
            if let Some(value) = value {
                set.push(assignment);
                update = update.expression_attribute_values(placeholder, s(value.as_str()));
            }
        }
        let result = update
            .update_expression(format!("SET {}", set.join(", ")))
            // Written once: later proposals read back the first one.
            .condition_expression("attribute_not_exists(stripe_request_at)")
            .return_values(ReturnValue::None)
            .send()
            .await;
        if errors::conditional(table, result)? {
            return Ok(proposed.clone());
        }
        let item = self
            .get_item(table, customer_key(&proposed.customer_id))
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "{table} customer_id={}: request refused but no item",
                    proposed.customer_id
                ))
            })?;
        request_from_item(table, &proposed.customer_id, &item)
    }

    async fn checkout_slot(&self, id: &CustomerId) -> Result<CheckoutSlot, StoreError> {
        let table = &self.tables.customers;
        let Some(item) = self.get_item(table, customer_key(id)).await? else {
            return Ok(CheckoutSlot::default());
        };
        let v = ItemView::new(table, &KEY, &item);
        let open = match v.opt_parsed("checkout_session_id", CheckoutSessionId::parse)? {
            None => None,
            Some(session_id) => Some(OpenCheckout {
                session_id,
                url: v.str("checkout_session_url")?.to_string(),
                expires_at: v.i64("checkout_session_expires_at")?,
            }),
        };
        Ok(CheckoutSlot {
            generation: v.u64_or_zero("checkout_generation")?,
            open,
        })
    }

    async fn remember_checkout(
        &self,
        id: &CustomerId,
        generation: u64,
        session: &OpenCheckout,
        now: i64,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.customers;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(customer_key(id)))
            .update_expression(
                "SET checkout_generation = :g, checkout_session_id = :sid, \
                 checkout_session_url = :url, checkout_session_expires_at = :exp, \
                 created_at = if_not_exists(created_at, :now), updated_at = :now",
            )
            // This generation, and no other session remembered for it.
            .condition_expression(format!(
                "{} AND (attribute_not_exists(checkout_session_id) OR checkout_session_id = :sid)",
                generation_condition(generation)
            ))
            .expression_attribute_values(":g", n(generation))
            .expression_attribute_values(":sid", s(session.session_id.as_str()))
            .expression_attribute_values(":url", s(session.url.as_str()))
            .expression_attribute_values(":exp", n(session.expires_at))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        errors::conditional(table, result)
    }

    async fn retire_checkout(
        &self,
        id: &CustomerId,
        generation: u64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.customers;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(customer_key(id)))
            .update_expression(
                "SET checkout_generation = :next, created_at = if_not_exists(created_at, :now), \
                 updated_at = :now \
                 REMOVE checkout_session_id, checkout_session_url, checkout_session_expires_at",
            )
            // One step from this generation only: two retirers of one generation move it once.
            .condition_expression(generation_condition(generation))
            .expression_attribute_values(":g", n(generation))
            .expression_attribute_values(":next", n(generation + 1))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        errors::conditional(table, result)
    }
}

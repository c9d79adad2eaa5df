//! The typed [`StripeApi`] methods, built on the generic calls of [`StripeHttpClient`].

use billing::ids::{CheckoutSessionId, StripeCustomerId, StripeSubscriptionId};
use billing::stripe::objects::List;
use billing::stripe::{
    CheckoutSession, Customer, MeterEventSummary, NewCheckoutSession, NewCustomer, NewMeterEvent,
    NewPortalSession, PortalSession, StripeApi, StripeError, Subscription,
};
use billing::stripe::{MeterEvent, MeterEventOutcome};

use super::StripeHttpClient;
use super::form::path_segment;

/// The page size asked for when listing (Stripe's maximum).
const PAGE_LIMIT: &str = "100";

#[async_trait::async_trait]
impl StripeApi for StripeHttpClient {
    async fn create_customer(
        &self,
        params: &NewCustomer,
        idempotency_key: &str,
    ) -> Result<Customer, StripeError> {
        self.post_form_as("/v1/customers", &params.to_form(), idempotency_key)
            .await
    }

    async fn retrieve_customer(&self, id: &StripeCustomerId) -> Result<Customer, StripeError> {
        let path = format!("/v1/customers/{}", path_segment(id.as_str()));
        self.get_as(&path, &[]).await
    }

    async fn create_checkout_session(
        &self,
        params: &NewCheckoutSession,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        self.post_form_as("/v1/checkout/sessions", &params.to_form(), idempotency_key)
            .await
    }

    async fn retrieve_checkout_session(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<CheckoutSession, StripeError> {
        let path = format!("/v1/checkout/sessions/{}", path_segment(id.as_str()));
        self.get_as(&path, &[]).await
    }

    async fn create_portal_session(
        &self,
        params: &NewPortalSession,
        idempotency_key: &str,
    ) -> Result<PortalSession, StripeError> {
        self.post_form_as(
            "/v1/billing_portal/sessions",
            &params.to_form(),
            idempotency_key,
        )
        .await
    }

    async fn retrieve_subscription(
        &self,
        id: &StripeSubscriptionId,
    ) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", path_segment(id.as_str()));
        self.get_as(&path, &[]).await
    }

    async fn create_meter_event(
        &self,
        event: &NewMeterEvent,
    ) -> Result<MeterEventOutcome, StripeError> {
        let sent = self
            .post_form_as::<MeterEvent>(
                "/v1/billing/meter_events",
                &event.to_form(),
                &event.identifier,
            )
            .await;
        match sent {
            Ok(accepted) => Ok(MeterEventOutcome::Accepted(accepted)),
            Err(e) if e.is_duplicate_meter_event() => {
                tracing::debug!(
                    identifier = %event.identifier,
                    "Stripe already had this meter event"
                );
                Ok(MeterEventOutcome::AlreadyDelivered)
            }
            Err(e) => Err(e),
        }
    }

    async fn list_meter_event_summaries(
        &self,
        meter_id: &str,
        customer: &StripeCustomerId,
        start: i64,
        end: i64,
    ) -> Result<Vec<MeterEventSummary>, StripeError> {
        let path = format!(
            "/v1/billing/meters/{}/event_summaries",
            path_segment(meter_id)
        );
        let mut summaries = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut query = vec![
                ("customer".to_string(), customer.as_str().to_string()),
                ("start_time".to_string(), start.to_string()),
                ("end_time".to_string(), end.to_string()),
                ("limit".to_string(), PAGE_LIMIT.to_string()),
            ];
            if let Some(cursor) = &starting_after {
                query.push(("starting_after".to_string(), cursor.clone()));
            }
            let page: List<MeterEventSummary> = self.get_as(&path, &query).await?;
            let next = page.data.last().map(|s| s.id.clone());
            let has_more = page.has_more;
            summaries.extend(page.data);
            if !has_more {
                return Ok(summaries);
            }
            // A page that says "more" must move the cursor, or the loop would never end.
            match next {
                Some(id) if !id.is_empty() && starting_after.as_deref() != Some(id.as_str()) => {
                    starting_after = Some(id);
                }
                _ => return Err(stuck_pagination()),
            }
        }
    }
}

fn stuck_pagination() -> StripeError {
    StripeError::Decode {
        source: <serde_json::Error as serde::de::Error>::custom(
            "meter event summaries: has_more without a new id to continue after",
        ),
        request_id: None,
    }
}

//! [`WebhookEvents`] on the webhook-events table: one item per Stripe event id.
//!
//! Item: `event_id`, `status` (`in_progress` | `completed`), `claim_token`, `claim_expires_at`,
//! `expires_at` (the TTL attribute). DynamoDB deletes expired items late (typically within two
//! days), so every condition treats an item whose `expires_at` has passed as absent.
//!
//! Invariants and the writes that keep them:
//! - At most one live claim per event: the claim is a `PutItem` conditional on the item being
//!   absent or expired; of two concurrent claims one fails its condition. A claim's `expires_at`
//!   is its `claim_expires_at` (a completed marker's is the end of the keep time), so an abandoned
//!   claim expires like any other item; `claim_expires_at` stays for readers. (A separate
//!   `#status = :in_progress AND claim_expires_at <= :now` disjunct would be redundant with the
//!   items written here, and `scripts/check-conditions --clauses` showed no test could need it.)
//! - Only the claimer completes or releases: both are conditional on `claim_token = :t` and the
//!   item still being in progress, so a claimer whose claim expired and was taken over cannot
//!   touch the new claim.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use billing::ids::StripeEventId;
use billing::ports::{ClaimOutcome, StoreError, WebhookEvents};

use super::DynamoStore;
use super::attributes::{Item, ItemView, n, s};
use super::errors;
use super::retry::MAX_ATTEMPTS;

const KEY: [&str; 1] = ["event_id"];
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

fn event_key(id: &StripeEventId) -> Item {
    Item::from([("event_id".to_string(), s(id.as_str()))])
}

#[async_trait]
impl WebhookEvents for DynamoStore {
    async fn claim(
        &self,
        event_id: &StripeEventId,
        token: &str,
        now: i64,
        in_progress_secs: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let table = &self.tables.webhook_events;
        let until = now + in_progress_secs;
        for _ in 0..MAX_ATTEMPTS {
            let result = self
                .client
                .put_item()
                .table_name(table)
                .item("event_id", s(event_id.as_str()))
                .item("status", s(IN_PROGRESS))
                .item("claim_token", s(token))
                .item("claim_expires_at", n(until))
                .item("expires_at", n(until))
                // Absent or expired (an abandoned claim included): see the module invariants.
                .condition_expression("attribute_not_exists(event_id) OR expires_at <= :now")
                .expression_attribute_values(":now", n(now))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(ClaimOutcome::Claimed),
                Err(err) => err,
            };
            let Some(PutItemError::ConditionalCheckFailedException(failed)) =
                err.as_service_error()
            else {
                return Err(errors::sdk(table, err));
            };
            let item = match failed.item() {
                Some(item) => Some(item.clone()),
                None => self.get_item(table, event_key(event_id)).await?,
            };
            // Released (deleted) between the refusal and the read: claim again.
            let Some(item) = item else { continue };
            let status = ItemView::new(table, &KEY, &item).str("status")?;
            return Ok(if status == COMPLETED {
                ClaimOutcome::AlreadyCompleted
            } else {
                ClaimOutcome::InProgress
            });
        }
        Err(StoreError::Conflict(format!(
            "{table} event_id={event_id}: claim kept racing with releases"
        )))
    }

    async fn complete(
        &self,
        event_id: &StripeEventId,
        token: &str,
        now: i64,
        keep_secs: i64,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.webhook_events;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(event_key(event_id)))
            .update_expression("SET #status = :completed, expires_at = :expires")
            // Only the current claimer completes, once.
            .condition_expression("claim_token = :t AND #status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":expires", n(now + keep_secs))
            .expression_attribute_values(":t", s(token))
            .send()
            .await;
        errors::conditional(table, result)
    }

    async fn release(&self, event_id: &StripeEventId, token: &str) -> Result<bool, StoreError> {
        let table = &self.tables.webhook_events;
        let result = self
            .client
            .delete_item()
            .table_name(table)
            .set_key(Some(event_key(event_id)))
            // Only the current claimer releases, and never a completed marker.
            .condition_expression("claim_token = :t AND #status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":t", s(token))
            .send()
            .await;
        errors::conditional(table, result)
    }
}

//! `TransactWriteItems` with its cancellation reasons read back per action, so that callers can
//! drop exactly the actions whose condition failed and retry the rest.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use billing::ports::StoreError;

use super::DynamoStore;
use super::attributes::Item;
use super::errors;

/// What a cancelled transaction says about one of its actions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ActionFate {
    /// Its condition held (the transaction failed for another action).
    Fine,
    /// Its condition failed; the item as it was, when the action asked for `ALL_OLD`.
    ConditionFailed(Option<Item>),
    /// A concurrent transaction held the item; retrying later may succeed.
    Conflict,
}

impl DynamoStore {
    /// Runs one transaction. `Ok(None)`: committed. `Ok(Some(fates))`: cancelled, nothing written,
    /// one fate per action in order. Any other failure is an error (`what` names the items).
    pub(crate) async fn transact(
        &self,
        what: &str,
        actions: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<ActionFate>>, StoreError> {
        let count = actions.len();
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => return Ok(None),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(errors::sdk(what, err));
        };
        let reasons = cancelled.cancellation_reasons();
        if reasons.len() != count {
            // Without one reason per action we cannot tell which condition failed.
            return Err(errors::unavailable(err));
        }
        let mut fates = Vec::with_capacity(count);
        for reason in reasons {
            let fate = match reason.code() {
                None | Some("None") => ActionFate::Fine,
                Some("ConditionalCheckFailed") => ActionFate::ConditionFailed(reason.item.clone()),
                code if errors::is_conflict_code(code) => ActionFate::Conflict,
                Some(_) => return Err(errors::unavailable(err)),
            };
            fates.push(fate);
        }
        Ok(Some(fates))
    }
}

//! SDK errors to [`StoreError`]: a lost transaction race becomes [`StoreError::Conflict`] (retry the
//! operation), anything else [`StoreError::Unavailable`] with the SDK error kept as the source
//! (never stringified, so its code, request id and HTTP status stay reachable).

use std::error::Error;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use billing::ports::StoreError;

/// A boxed error that can cross tasks.
pub(crate) type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Why [`create_tables`](super::create_tables) failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateTablesError {
    /// A request about one table failed.
    #[error("{step} for table {table} failed")]
    Request {
        /// The table.
        table: String,
        /// What was being done (`CreateTable`, `UpdateTimeToLive`, ...).
        step: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
}

impl CreateTablesError {
    pub(crate) fn request(
        table: &str,
        step: &'static str,
        source: impl Error + Send + Sync + 'static,
    ) -> Self {
        CreateTablesError::Request {
            table: table.to_string(),
            step,
            source: Box::new(source),
        }
    }
}

/// The store could not serve the request; `source` says why.
pub(crate) fn unavailable(source: impl Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(source))
}

/// A request could not even be built (a required field missing): a bug, reported with its source.
pub(crate) fn build(source: BuildError) -> StoreError {
    unavailable(source)
}

/// Maps an SDK error of the operation on `what` (table and key, for the message).
pub(crate) fn sdk<E, R>(what: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    if is_conflict_code(err.code()) {
        StoreError::Conflict(what.to_string())
    } else {
        unavailable(err)
    }
}

/// Whether an error code (or a transaction cancellation reason) says a concurrent transaction
/// held the item: retrying later succeeds.
pub(crate) fn is_conflict_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("TransactionConflictException" | "TransactionConflict")
    )
}

/// The outcome of a conditional write: `Ok(true)` when it was made, `Ok(false)` when only its
/// condition failed, any other failure mapped by [`sdk`].
pub(crate) fn conditional<T, E, R>(
    what: &str,
    result: Result<T, SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(err) => Err(sdk(what, err)),
    }
}

//! Bounded retries for writes that lost a race (a transaction conflict, a changed ledger total):
//! a few attempts with exponential backoff and jitter, then [`StoreError::Conflict`] for the
//! caller (the reporter retries the whole batch later; nothing was half-written).
//!
//! [`StoreError::Conflict`]: billing::ports::StoreError::Conflict

use std::time::Duration;

/// Attempts of one operation before giving up with a conflict.
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// Waits before attempt `attempt + 1`: 5 ms doubling up to 320 ms, with full jitter on half of it.
pub(crate) async fn back_off(attempt: u32) {
    let base_ms: u64 = 5 << attempt.min(6);
    let wait = base_ms / 2 + fastrand::u64(0..=base_ms / 2);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

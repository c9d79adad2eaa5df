//! Integration tests: the stand-in runs in-process on a free port and is driven over real HTTP.

// Test helpers panic on purpose when the stand-in answers something unexpected.
#![allow(clippy::unwrap_used)]

mod auth_and_errors;
mod customers;
mod events_and_webhooks;
mod idempotency;
mod meter_events;
mod meters;
mod products_and_prices;
mod spec_params;
mod subscriptions;
mod support;

//! Integration tests: the stand-in runs in-process on a free port and is driven over real HTTP.

// Test helpers panic on purpose when the stand-in answers something unexpected.
#![allow(clippy::unwrap_used)]

mod auth_and_errors;
mod billing_cycle;
mod checkout;
mod customers;
mod events_and_webhooks;
mod faults;
mod idempotency;
mod meter_events;
mod meters;
mod portal;
mod products_and_prices;
mod spec_params;
mod subscriptions;
mod support;

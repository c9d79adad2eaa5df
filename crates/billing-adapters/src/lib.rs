//! Adapters for the billing core's ports: the DynamoDB store, Secrets Manager, and Stripe over
//! HTTP. The core stays free of SDK and HTTP types; the functions build these once at cold start.
//!
//! # Layout
//! - [`dynamodb`]: the store ports on DynamoDB (tables, conditions, transactions, decimal reading).
//! - [`secrets_manager`]: reads the Stripe API key and webhook secrets once per cold start.
//! - [`stripe_http`]: the [`billing::stripe::StripeApi`] port over reqwest: form encoding, pinned
//!   `Stripe-Version`, idempotency keys, timeouts, retries with backoff and jitter.

pub mod dynamodb;
pub mod secrets_manager;
pub mod stripe_http;

//! The core of Lead Magnet AI's metered Stripe billing.
//!
//! It knows nothing of Lambda, the AWS SDK or HTTP clients: those live in `billing-adapters` and the
//! function packages, which implement or call the ports defined here.
//!
//! # Layout
//! - [`money`]: exact USD amounts, the pricing and the units formula (no floats, ever).
//! - [`usage`]: usage records and the period-ledger rules (apply once, intent, send once).
//! - [`period`]: half-open billing periods and timestamps.
//! - [`subscription`]: Stripe's statuses, what they allow, the mirrored snapshot.
//! - [`webhook`]: Stripe's signature scheme and the typed events the product handles.
//! - [`stripe`]: the Stripe objects and requests the product uses, and the [`stripe::StripeApi`] port.
//! - [`ports`]: the store ports ([`ports::CustomerStore`], [`ports::WebhookEvents`],
//!   [`ports::UsageLedger`]) and the [`ports::Clock`].
//! - [`memory`]: the in-memory adapter of every store port.
//! - [`service`]: the use cases (today: handling a webhook), over the ports.
//! - [`config`]: typed configuration read once from the environment; [`secrets`]: the Stripe keys,
//!   never printable.
//! - [`ids`]: identifier newtypes.

pub mod config;
pub mod ids;
pub mod memory;
pub mod money;
pub mod period;
pub mod ports;
pub mod secrets;
pub mod service;
pub mod stripe;
pub mod subscription;
pub mod usage;
pub mod webhook;

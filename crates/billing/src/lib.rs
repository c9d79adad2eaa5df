//! The core of Lead Magnet AI's metered Stripe billing.
//!
//! It knows nothing of Lambda, the AWS SDK or HTTP clients: those live in `billing-adapters` and the
//! function packages, which implement or call the ports defined here.
//!
//! # Layout
//! - [`money`]: exact USD amounts, the pricing and the units formula (no floats, ever).
//! - [`ids`]: identifier newtypes.
//! - [`webhook`]: Stripe's signature scheme and the typed events the product handles.

pub mod ids;
pub mod money;
pub mod webhook;

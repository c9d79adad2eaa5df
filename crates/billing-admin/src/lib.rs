//! `billing-admin`: sets up a Stripe account for the billing functions (`setup`) and checks one
//! (`doctor`), replacing the old system's manual dashboard checklist. Works against any Stripe
//! account given an API key, and against the local stand-in through `STRIPE_API_BASE`.
//!
//! # Layout
//! - [`desired`]: what the account must hold, derived from configuration.
//! - [`checks`]: `doctor`'s checks, pure functions over Stripe's JSON.
//! - [`setup`]: finds each object again or creates/corrects it; idempotent.
//! - [`doctor`]: runs every check.
//! - [`admin_api`]: the generic JSON calls both use.
//! - [`cli`]: arguments, configuration and printing for the binary.

pub mod admin_api;
pub mod checks;
pub mod cli;
pub mod desired;
pub mod doctor;
pub mod setup;

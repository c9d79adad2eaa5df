//! `local-stack`: the whole billing flow on one machine, with no AWS account, no Stripe account
//! and no Docker. One process runs:
//!
//! - the Stripe stand-in (`stripe-sim`, in-process), set up by `billing-admin setup` (meter,
//!   prices, portal configuration, and the webhook endpoint pointing back at the local API);
//! - a local API that serves the HTTP API's routes by calling the **same handler functions** the
//!   Lambda binaries run, with events built as API Gateway HTTP API (payload 2.0) builds them and
//!   the JWT authorizer's checks in front;
//! - the triggers: Cognito's PostConfirmation on sign-up, the `usage_records` stream (batched,
//!   redelivered on failure) and the sweep's schedule;
//! - development routes under `/dev/` and the web pages at `/`.
//!
//! `local-stack demo` runs the whole journey against a fresh stack and checks every figure.
//!
//! # Layout
//! - [`stack`]: start and stop; [`cli`]: arguments; [`server`]: routes and the authorizer;
//!   [`apigw`]: payload 2.0 events and answers; [`jwt`]: tokens; [`functions`]: the handlers'
//!   `Deps`; [`stream`]: the stream and the schedule; [`clocks`]: the customers' test clocks;
//!   [`dev`]: `/dev/` routes; [`cost`]: exact costs from JSON; [`web`]: static pages;
//!   [`store`]: memory or DynamoDB; [`demo`]: the journey and its report.

pub mod apigw;
pub mod cli;
pub mod clocks;
pub mod cost;
pub mod demo;
pub mod dev;
pub mod functions;
pub mod jwt;
pub mod server;
pub mod stack;
pub mod store;
pub mod stream;
pub mod web;

pub use stack::{DevInfo, Stack, StackError, StackOptions};
pub use store::Storage;

//! Glue shared by the Lambda functions, kept out of the core: the core never sees a Lambda or
//! API Gateway type, and each function's `main.rs` stays a few lines long.
//!
//! # Layout
//! - [`apigw`]: API Gateway HTTP API (payload 2.0) requests and responses: header lookup, the raw
//!   body (base64 honoured), JSON responses, JWT claims from the authorizer.
//! - [`onboarding`]: the checkout and portal routes' caller (JWT claims only) and error answers.
//! - [`manifest`]: what each function needs from its deployment (`MANIFEST` in each function),
//!   checked against the code by the functions' tests and against `infra/` by `infra-check`.
//! - [`cold_start`]: what a `main` builds once per cold start: the AWS config, the DynamoDB store,
//!   the Stripe client with its key, the webhook signature verifier.

pub mod apigw;
pub mod cold_start;
pub mod manifest;
pub mod onboarding;

//! Benchmarks of the billing functions and the harnesses behind `scripts/bench/all`
//! (development only: no production crate depends on this one).
//!
//! # Layout
//! - [`payload`]: the ~3 KB signed `customer.subscription.updated` webhook every webhook figure
//!   uses (criterion here, stripe-node in `scripts/bench/node/`).
//! - [`stats`] holds the medians.
//! - [`counting`]: a counting Stripe client, a store wrapper that counts the DynamoDB writes the
//!   DynamoDB adapter makes for each port call, and the same count read from
//!   `billing_test_support::access_log` on moto.
//! - [`usage`]: the usage-reporter workload (records, customers, stream batches) and its run.
//! - [`runtime_api`]: a minimal Lambda Runtime API; [`cold_start`]: one process started cold
//!   through it, timed, with its peak memory.
//! - [`report`]: `docs/PERFORMANCE.md` from the collected results.
//! - [`api_latency`]: the four HTTP routes on the local stack under `wrk` (bin `api-latency`),
//!   and their section.
//! - Binaries (`src/bin/`): `webhook-fixture`, `usage-throughput`, `cold-start`, `bench-report`.

pub mod api_latency;
pub mod cold_start;
pub mod counting;
pub mod payload;
pub mod report;
pub mod runtime_api;
pub mod stats;
pub mod usage;

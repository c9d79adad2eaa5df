//! The store ports ([`CustomerStore`](billing::ports::CustomerStore),
//! [`WebhookEvents`](billing::ports::WebhookEvents), [`UsageLedger`](billing::ports::UsageLedger))
//! on DynamoDB, with the old system's tables and keys.
//!
//! Every write that must happen at most once is a conditional write or a transaction; reads never
//! decide on their own. A read before a write only gathers what the write needs (the stored period,
//! a ledger total) and the write's condition re-checks it, so a concurrent writer turns into a
//! failed condition and a retry, never into a lost or doubled update. The contract suite
//! (`tests/store_contract.rs`) runs the same tests against this adapter (on moto) and against
//! [`billing::memory::MemoryStore`], and `scripts/check-conditions` proves that each condition
//! is needed by at least one of them.
//!
//! # Layout
//! - [`tables`]: [`create_tables`], the four tables with their keys, GSI, stream and TTL.
//! - `attributes`: attribute values to and from domain types; decimals read from the number text.
//! - `customers`: [`CustomerStore`](billing::ports::CustomerStore) (link, snapshots, GSI lookup).
//! - `onboarding`: [`Onboarding`](billing::ports::Onboarding) (creation request, checkout slot).
//! - `webhook_events`: [`WebhookEvents`](billing::ports::WebhookEvents) (claim, complete, release).
//! - `usage_ledger`: [`UsageLedger`](billing::ports::UsageLedger) (records, ledger, intents).
//! - `errors`: SDK errors to [`StoreError`](billing::ports::StoreError), keeping the source.
//! - `retry`: the bounded backoff used when a transaction loses a race.

mod attributes;
mod customers;
mod errors;
mod onboarding;
mod retry;
pub mod tables;
mod transact;
mod usage_ledger;
mod webhook_events;

use aws_sdk_dynamodb::Client;
use billing::config::TablesConfig;

pub use errors::CreateTablesError;
pub use tables::create_tables;

/// All three store ports on DynamoDB: one SDK client (built once at cold start) and the table names.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TablesConfig,
}

impl DynamoStore {
    /// A store over `client` using the tables named in `tables` (they must exist: see
    /// [`create_tables`] for local stacks and tests; `infra/` creates them in AWS).
    pub fn new(client: Client, tables: TablesConfig) -> Self {
        DynamoStore { client, tables }
    }

    /// The table names this store uses.
    pub fn tables(&self) -> &TablesConfig {
        &self.tables
    }

    /// The SDK client, for callers that need the same connection pool (stream readers, tools).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl DynamoStore {
    /// Reads one item with a strongly consistent read (decisions read their own writes).
    async fn get_item(
        &self,
        table: &str,
        key: attributes::Item,
    ) -> Result<Option<attributes::Item>, billing::ports::StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| errors::sdk(table, e))?;
        Ok(out.item)
    }

    /// Scans a whole table (every page) with a filter, strongly consistent: for the sweeps only.
    async fn scan_all(
        &self,
        table: &str,
        filter: &str,
    ) -> Result<Vec<attributes::Item>, billing::ports::StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .filter_expression(filter)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| errors::sdk(table, e))?;
            start = page.last_evaluated_key;
            items.extend(page.items.unwrap_or_default());
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

//! The four tables, created idempotently for tests and the local stack (`infra/` declares the same
//! ones for AWS):
//!
//! | table (config) | key | extras |
//! |---|---|---|
//! | `customers` | `customer_id` S | GSI `gsi_stripe_customer_id` on `stripe_customer_id` S, projection ALL |
//! | `usage_records` | `usage_id` S | stream `NEW_IMAGE` (the reporter's trigger) |
//! | `stripe_webhook_events` | `event_id` S | TTL on `expires_at` |
//! | `billing_ledger` | `customer_id` S + `period_start` N | |
//!
//! All on-demand.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use billing::config::TablesConfig;

use super::errors::CreateTablesError;

/// The GSI that finds a customer by its Stripe customer id.
pub const STRIPE_CUSTOMER_INDEX: &str = "gsi_stripe_customer_id";

/// The webhook-events TTL attribute (unix seconds).
pub const WEBHOOK_TTL_ATTRIBUTE: &str = "expires_at";

/// How long to wait for a new table to become active (moto: at once; AWS: seconds).
const ACTIVE_WAIT: Duration = Duration::from_secs(120);

/// Creates the four tables unless they exist (ResourceInUse is ignored), waits until they are
/// active, and enables TTL on the webhook-events table when it is not on yet.
pub async fn create_tables(
    client: &Client,
    tables: &TablesConfig,
) -> Result<(), CreateTablesError> {
    create(
        client,
        &tables.customers,
        client
            .create_table()
            .attribute_definitions(attribute("customer_id", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("stripe_customer_id", ScalarAttributeType::S)?)
            .key_schema(key("customer_id", KeyType::Hash)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(STRIPE_CUSTOMER_INDEX)
                    .key_schema(key("stripe_customer_id", KeyType::Hash)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| {
                        CreateTablesError::request(&tables.customers, "building GSI", e)
                    })?,
            ),
    )
    .await?;
    create(
        client,
        &tables.usage_records,
        client
            .create_table()
            .attribute_definitions(attribute("usage_id", ScalarAttributeType::S)?)
            .key_schema(key("usage_id", KeyType::Hash)?)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .map_err(|e| {
                        CreateTablesError::request(&tables.usage_records, "building stream", e)
                    })?,
            ),
    )
    .await?;
    create(
        client,
        &tables.webhook_events,
        client
            .create_table()
            .attribute_definitions(attribute("event_id", ScalarAttributeType::S)?)
            .key_schema(key("event_id", KeyType::Hash)?),
    )
    .await?;
    enable_ttl(client, &tables.webhook_events).await?;
    create(
        client,
        &tables.billing_ledger,
        client
            .create_table()
            .attribute_definitions(attribute("customer_id", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("period_start", ScalarAttributeType::N)?)
            .key_schema(key("customer_id", KeyType::Hash)?)
            .key_schema(key("period_start", KeyType::Range)?),
    )
    .await
}

fn attribute(
    name: &str,
    kind: ScalarAttributeType,
) -> Result<AttributeDefinition, CreateTablesError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(|e| CreateTablesError::request(name, "building attribute definition", e))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, CreateTablesError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| CreateTablesError::request(name, "building key schema", e))
}

async fn create(
    client: &Client,
    table: &str,
    request: CreateTableFluentBuilder,
) -> Result<(), CreateTablesError> {
    let result = request
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) => {}
        Err(e) => return Err(CreateTablesError::request(table, "CreateTable", e)),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(ACTIVE_WAIT)
        .await
        .map_err(|e| CreateTablesError::request(table, "waiting for ACTIVE", e))?;
    Ok(())
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), CreateTablesError> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| CreateTablesError::request(table, "DescribeTimeToLive", e))?;
    let status = described
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(WEBHOOK_TTL_ATTRIBUTE)
        .build()
        .map_err(|e| CreateTablesError::request(table, "building TTL specification", e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| CreateTablesError::request(table, "UpdateTimeToLive", e))?;
    Ok(())
}

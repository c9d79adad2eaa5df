//! Where the local stack keeps its tables: the in-memory store (the default; a restart starts
//! empty) or DynamoDB at an endpoint (moto, DynamoDB Local or AWS), with the tables created when
//! missing. Either way the functions get the same ports they get in Lambda.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use billing::config::TablesConfig;
use billing::memory::MemoryStore;
use billing::ports::{CustomerStore, Onboarding, UsageLedger, WebhookEvents};
use billing::usage::UsageRecord;
use billing_adapters::dynamodb::{CreateTablesError, DynamoStore, create_tables};
use serde_json::{Map, Value, json};

/// Which store to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// The embedded in-memory store.
    Memory,
    /// DynamoDB at this endpoint URL.
    DynamoDb {
        /// E.g. `http://127.0.0.1:5703`.
        endpoint: String,
    },
}

impl Storage {
    /// How the banner names it.
    pub fn describe(&self) -> String {
        match self {
            Storage::Memory => "in memory (a restart starts empty)".into(),
            Storage::DynamoDb { endpoint } => format!("DynamoDB at {endpoint}"),
        }
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// The tables could not be created.
    #[error("DynamoDB tables: {0}")]
    Tables(#[from] CreateTablesError),
}

/// The store's ports, shared by every function of the stack.
#[derive(Clone)]
pub struct Stores {
    /// `customers`.
    pub customers: Arc<dyn CustomerStore>,
    /// Creation requests and checkout slots (`customers`).
    pub onboarding: Arc<dyn Onboarding>,
    /// `stripe_webhook_events`.
    pub events: Arc<dyn WebhookEvents>,
    /// `usage_records` and `billing_ledger`.
    pub ledger: Arc<dyn UsageLedger>,
    /// The DynamoDB store, when that is the storage (stream images are read back from it).
    pub dynamo: Option<DynamoStore>,
}

impl Stores {
    /// A fresh in-memory store.
    pub fn memory() -> Self {
        let store = Arc::new(MemoryStore::new());
        Stores {
            customers: store.clone(),
            onboarding: store.clone(),
            events: store.clone(),
            ledger: store,
            dynamo: None,
        }
    }

    /// DynamoDB at `endpoint`, tables named by `tables`, created when missing. Credentials and
    /// region come from the environment, else `test`/`us-east-1` (what moto accepts).
    pub async fn dynamodb(endpoint: &str, tables: TablesConfig) -> Result<Self, StoreOpenError> {
        use aws_config::{BehaviorVersion, Region};
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "local-stack",
            ));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(Region::new("us-east-1"));
        }
        let sdk = loader.load().await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        create_tables(&client, &tables).await?;
        let store = Arc::new(DynamoStore::new(client, tables));
        Ok(Stores {
            customers: store.clone(),
            onboarding: store.clone(),
            events: store.clone(),
            ledger: store.clone(),
            dynamo: Some((*store).clone()),
        })
    }

    /// The `usage_records` item of `record` as a stream's `NewImage` (DynamoDB JSON): read back
    /// from DynamoDB, or for the memory store the item the DynamoDB adapter writes.
    pub async fn usage_image(&self, record: &UsageRecord, created_at: i64) -> Value {
        if let Some(dynamo) = &self.dynamo {
            let item = dynamo
                .client()
                .get_item()
                .table_name(&dynamo.tables().usage_records)
                .key("usage_id", AttributeValue::S(record.usage_id.to_string()))
                .consistent_read(true)
                .send()
                .await
                .ok()
                .and_then(|out| out.item);
            if let Some(item) = item {
                return dynamodb_json(&item);
            }
        }
        json!({
            "usage_id": {"S": record.usage_id.as_str()},
            "customer_id": {"S": record.customer_id.as_str()},
            "openai_cost_usd": {"N": record.openai_cost_usd.as_decimal().normalize().to_string()},
            "occurred_at": {"N": record.occurred_at.to_string()},
            "created_at": {"N": created_at.to_string()},
        })
    }
}

/// An item as DynamoDB JSON (`{"name": {"S": "..."}}`), as streams carry it.
pub fn dynamodb_json(item: &HashMap<String, AttributeValue>) -> Value {
    let mut map = Map::new();
    for (name, value) in item {
        map.insert(name.clone(), attribute_json(value));
    }
    Value::Object(map)
}

fn attribute_json(value: &AttributeValue) -> Value {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(list) => json!({"SS": list}),
        AttributeValue::Ns(list) => json!({"NS": list}),
        AttributeValue::B(blob) => json!({"B": b64(blob.as_ref())}),
        AttributeValue::Bs(list) => {
            json!({"BS": list.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::L(list) => {
            json!({"L": list.iter().map(attribute_json).collect::<Vec<_>>()})
        }
        AttributeValue::M(map) => json!({"M": dynamodb_json(map)}),
        _ => json!({"NULL": true}),
    }
}

//! What a DynamoDB client actually sends: an SDK interceptor that records, for every request
//! attempt, the operation (from the `x-amz-target` header) and each table and index it touches
//! with the kind of access, read from the JSON body as it leaves for the wire.
//!
//! Used to check a function's IAM policy against what its code does (`functions/*/tests/
//! table_access.rs`) and to count requests and writes in benchmarks.
//!
//! - A plain operation (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `Query`, `Scan`, ...) is
//!   one [`ItemAccess`] on its `TableName` (and `IndexName`).
//! - `TransactWriteItems` is one [`ItemAccess`] per action (`Put`, `Update`, `Delete`,
//!   `ConditionCheck`) on that action's table; IAM checks each with `PutItem`, `UpdateItem`,
//!   `DeleteItem`, `ConditionCheckItem`, which is what [`ItemAccess::action`] says.
//!   `TransactGetItems` likewise (`GetItem` per `Get`).
//! - `BatchWriteItem`/`BatchGetItem`: one [`ItemAccess`] per put, delete or key, with the batch
//!   operation as the IAM action (IAM checks `dynamodb:BatchWriteItem`, not `PutItem`).
//!
//! Each attempt is recorded (the interceptor runs before every transmission), so an SDK retry
//! shows as a second request, as it costs one.

use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use billing_adapters::dynamodb::DynamoStore;
use serde_json::Value;

use crate::{Requests, moto_store};

/// The kind of access one item of a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Reads one item (`GetItem`, a `TransactGetItems` get, a `BatchGetItem` key).
    Get,
    /// Writes a whole item.
    Put,
    /// Updates an item.
    Update,
    /// Deletes an item.
    Delete,
    /// A transaction's condition on an item it does not write.
    ConditionCheck,
    /// A query (of a table or an index).
    Query,
    /// A scan.
    Scan,
    /// Anything else (table management, describe calls...).
    Other,
}

impl Kind {
    /// True for the kinds that write an item.
    pub fn is_write(self) -> bool {
        matches!(self, Kind::Put | Kind::Update | Kind::Delete)
    }
}

/// One table (or index) touched by a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemAccess {
    /// The IAM action that authorises it, without the `dynamodb:` prefix (`UpdateItem`,
    /// `ConditionCheckItem`, `Query`, `BatchWriteItem`...).
    pub action: String,
    /// What it does to the item.
    pub kind: Kind,
    /// The table's name as sent.
    pub table: String,
    /// The index, for a query or scan of one.
    pub index: Option<String>,
}

/// One request attempt as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The operation, e.g. `TransactWriteItems` (`x-amz-target` without its service prefix).
    pub operation: String,
    /// The tables and items it touches, in body order.
    pub items: Vec<ItemAccess>,
}

/// The shared log: clones see the same requests. Attach it to a client with
/// [`AccessLog::attach`] or build a logged moto store with [`moto_store_logged`].
#[derive(Debug, Clone, Default)]
pub struct AccessLog {
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl AccessLog {
    /// An empty log.
    pub fn new() -> Self {
        AccessLog::default()
    }

    /// A copy of `client` that records every request into this log.
    pub fn attach(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        let config = client
            .config()
            .to_builder()
            .interceptor(Recorder { log: self.clone() })
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A copy of `store` (same tables) whose client records into this log.
    pub fn attach_store(&self, store: &DynamoStore) -> DynamoStore {
        DynamoStore::new(self.attach(store.client()), store.tables().clone())
    }

    /// Every request recorded so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// Forgets what was recorded (e.g. after a test's set-up).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many requests were sent.
    pub fn request_count(&self) -> usize {
        self.lock().len()
    }

    /// How many requests of `operation` (e.g. `"Query"`) were sent.
    pub fn operation_count(&self, operation: &str) -> usize {
        self.lock()
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    /// Every item access, flattened over the requests.
    pub fn accesses(&self) -> Vec<ItemAccess> {
        self.lock()
            .iter()
            .flat_map(|r| r.items.iter().cloned())
            .collect()
    }

    /// How many items were written: `PutItem`, `UpdateItem`, `DeleteItem`, and each put, update
    /// or delete inside `TransactWriteItems` and `BatchWriteItem` (condition checks are not).
    pub fn writes(&self) -> usize {
        self.lock()
            .iter()
            .flat_map(|r| &r.items)
            .filter(|a| a.kind.is_write())
            .count()
    }

    /// How many items were read (`GetItem`s, transaction and batch gets; queries and scans count
    /// once each).
    pub fn reads(&self) -> usize {
        self.lock()
            .iter()
            .flat_map(|r| &r.items)
            .filter(|a| matches!(a.kind, Kind::Get | Kind::Query | Kind::Scan))
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        // A panicking test thread must not hide what was recorded from the others.
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, request: RecordedRequest) {
        self.lock().push(request);
    }
}

/// A DynamoDB store on moto as [`moto_store`] makes it (fresh tables, `None` when no endpoint is
/// configured), whose requests are recorded in the returned log. Table creation is not recorded.
pub async fn moto_store_logged(
    tag: &str,
    test: &str,
    requests: Requests,
) -> Option<(DynamoStore, AccessLog)> {
    let store = moto_store(tag, test, requests).await?;
    let log = AccessLog::new();
    Some((log.attach_store(&store), log))
}

#[derive(Debug)]
struct Recorder {
    log: AccessLog,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "billing_test_support::access_log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        self.log.push(parse_request(target, body));
        Ok(())
    }
}

/// Reads one request from its `x-amz-target` header and JSON body (public for tests and for
/// callers that see requests elsewhere, e.g. a proxy).
pub fn parse_request(target: &str, body: &[u8]) -> RecordedRequest {
    let operation = target.rsplit('.').next().unwrap_or(target).to_string();
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let items = match operation.as_str() {
        "TransactWriteItems" => transact_items(&json, "TransactItems"),
        "TransactGetItems" => transact_items(&json, "TransactItems"),
        "BatchWriteItem" => batch_items(&json, &operation, |entry| {
            if entry.get("PutRequest").is_some() {
                vec![Kind::Put]
            } else if entry.get("DeleteRequest").is_some() {
                vec![Kind::Delete]
            } else {
                vec![Kind::Other]
            }
        }),
        "BatchGetItem" => batch_items(&json, &operation, |_| vec![Kind::Get]),
        _ => vec![ItemAccess {
            action: operation.clone(),
            kind: plain_kind(&operation),
            table: text(&json, "TableName"),
            index: json
                .get("IndexName")
                .and_then(Value::as_str)
                .map(str::to_string),
        }],
    };
    RecordedRequest { operation, items }
}

fn plain_kind(operation: &str) -> Kind {
    match operation {
        "GetItem" => Kind::Get,
        "PutItem" => Kind::Put,
        "UpdateItem" => Kind::Update,
        "DeleteItem" => Kind::Delete,
        "Query" => Kind::Query,
        "Scan" => Kind::Scan,
        _ => Kind::Other,
    }
}

fn text(json: &Value, key: &str) -> String {
    json.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn transact_items(json: &Value, key: &str) -> Vec<ItemAccess> {
    let entries = json.get(key).and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|entry| entry.iter())
        .map(|(name, action)| {
            let (kind, iam) = match name.as_str() {
                "Put" => (Kind::Put, "PutItem"),
                "Update" => (Kind::Update, "UpdateItem"),
                "Delete" => (Kind::Delete, "DeleteItem"),
                "ConditionCheck" => (Kind::ConditionCheck, "ConditionCheckItem"),
                "Get" => (Kind::Get, "GetItem"),
                _ => (Kind::Other, name.as_str()),
            };
            ItemAccess {
                action: iam.to_string(),
                kind,
                table: text(action, "TableName"),
                index: None,
            }
        })
        .collect()
}

fn batch_items(
    json: &Value,
    operation: &str,
    kinds: impl Fn(&Value) -> Vec<Kind>,
) -> Vec<ItemAccess> {
    let mut items = Vec::new();
    let tables = json.get("RequestItems").and_then(Value::as_object);
    for (table, value) in tables.into_iter().flatten() {
        // BatchWriteItem: a list of put/delete requests; BatchGetItem: {"Keys": [...]}.
        let entries: Vec<&Value> = match value {
            Value::Array(list) => list.iter().collect(),
            other => other
                .get("Keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().collect())
                .unwrap_or_default(),
        };
        for entry in entries {
            for kind in kinds(entry) {
                items.push(ItemAccess {
                    action: operation.to_string(),
                    kind,
                    table: table.clone(),
                    index: None,
                });
            }
        }
    }
    items
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_transaction_is_one_access_per_action_with_its_iam_action() {
        // GIVEN a TransactWriteItems body with an update, a condition check, a put and a delete
        let body = br#"{"TransactItems":[
            {"Update":{"TableName":"ledger","Key":{}}},
            {"ConditionCheck":{"TableName":"customers","Key":{}}},
            {"Put":{"TableName":"usage","Item":{}}},
            {"Delete":{"TableName":"events","Key":{}}}]}"#;
        // WHEN parsed
        let request = parse_request("DynamoDB_20120810.TransactWriteItems", body);
        // THEN one access per action, in order, and three writes
        assert_eq!(request.operation, "TransactWriteItems");
        let got: Vec<(&str, Kind, &str)> = request
            .items
            .iter()
            .map(|a| (a.action.as_str(), a.kind, a.table.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("UpdateItem", Kind::Update, "ledger"),
                ("ConditionCheckItem", Kind::ConditionCheck, "customers"),
                ("PutItem", Kind::Put, "usage"),
                ("DeleteItem", Kind::Delete, "events"),
            ]
        );
        let log = AccessLog::new();
        log.push(request);
        assert_eq!(log.writes(), 3);
        assert_eq!(log.request_count(), 1);
    }

    #[test]
    fn a_query_names_its_index_and_batches_count_each_item() {
        let query = parse_request(
            "DynamoDB_20120810.Query",
            br#"{"TableName":"customers","IndexName":"gsi_stripe_customer_id"}"#,
        );
        assert_eq!(
            query.items,
            vec![ItemAccess {
                action: "Query".into(),
                kind: Kind::Query,
                table: "customers".into(),
                index: Some("gsi_stripe_customer_id".into()),
            }]
        );
        let batch = parse_request(
            "DynamoDB_20120810.BatchWriteItem",
            br#"{"RequestItems":{"usage":[{"PutRequest":{"Item":{}}},{"PutRequest":{"Item":{}}},
                {"DeleteRequest":{"Key":{}}}]}}"#,
        );
        let log = AccessLog::new();
        log.push(batch);
        log.push(query);
        assert_eq!(log.writes(), 3);
        assert_eq!(log.reads(), 1);
        assert_eq!(log.operation_count("BatchWriteItem"), 1);
        assert!(log.accesses().iter().all(|a| a.action != "PutItem"));
    }

    #[tokio::test]
    async fn a_logged_moto_store_records_what_the_store_sends() {
        use billing::ids::CustomerId;
        use billing::ports::CustomerStore;
        // GIVEN a logged store on moto (skipped without an endpoint)
        let Some((store, log)) =
            moto_store_logged("al", "records_what_the_store_sends", Requests::Direct).await
        else {
            return;
        };
        // WHEN the store reads a customer and looks one up by Stripe customer id
        let id = CustomerId::parse("tenant-log").unwrap();
        assert!(store.get_customer(&id).await.unwrap().is_none());
        let stripe = billing::ids::StripeCustomerId::parse("cus_log").unwrap();
        assert!(
            store
                .find_by_stripe_customer(&stripe)
                .await
                .unwrap()
                .is_none()
        );
        // THEN the log has a consistent GetItem on the customers table and a Query of its index
        let customers = store.tables().customers.clone();
        let requests = log.requests();
        assert_eq!(requests.len(), 2, "{requests:?}");
        assert_eq!(requests[0].operation, "GetItem");
        assert_eq!(requests[0].items[0].table, customers);
        assert_eq!(requests[1].operation, "Query");
        assert_eq!(
            requests[1].items[0].index.as_deref(),
            Some("gsi_stripe_customer_id")
        );
        assert_eq!(log.writes(), 0);
        assert_eq!(log.reads(), 2);
    }
}

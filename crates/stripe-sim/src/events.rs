//! `evt_` Events: one per state change, stored for `GET /v1/events` and handed to the delivery
//! worker for every enabled webhook endpoint that subscribes to their type.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::delivery::Delivery;
use crate::ids::{self, Kind};
use crate::state::{Record, State};

/// The API version the stand-in renders objects and events in.
pub const API_VERSION: &str = "2026-10-28.endive";

/// The request that caused an event (`event.request`); empty for changes the clock makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The `req_` id of the API request.
    pub request_id: Option<String>,
    /// Its `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct Event {
    /// `evt_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Event type, e.g. `customer.subscription.updated`.
    pub kind: String,
    /// The object as it was after the change.
    pub object: Value,
    /// For updates, the changed attributes' previous values.
    pub previous_attributes: Option<Value>,
    /// What caused it.
    pub origin: Origin,
    /// Endpoints the event is to be delivered to.
    pub endpoints: Vec<String>,
    /// Endpoints that acknowledged it with a 2xx.
    pub delivered_to: HashSet<String>,
}

impl Record for Event {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Event {
    /// Webhooks not yet delivered successfully (Stripe's `pending_webhooks`).
    pub fn pending_webhooks(&self) -> usize {
        self.endpoints.len() - self.delivered_to.len()
    }

    /// Whether every webhook was delivered (the `delivery_success` filter).
    pub fn delivery_succeeded(&self) -> bool {
        self.pending_webhooks() == 0
    }

    /// The event in Stripe's shape.
    pub fn render(&self) -> Value {
        let mut data = json!({ "object": self.object });
        if let Some(previous) = &self.previous_attributes {
            data["previous_attributes"] = previous.clone();
        }
        json!({
            "id": self.id,
            "object": "event",
            "api_version": API_VERSION,
            "created": self.created,
            "data": data,
            "livemode": false,
            "pending_webhooks": self.pending_webhooks(),
            "request": {
                "id": self.origin.request_id,
                "idempotency_key": self.origin.idempotency_key,
            },
            "type": self.kind,
        })
    }
}

impl State {
    /// Records an event at the account clock's time and queues its delivery to every enabled
    /// endpoint that wants it.
    pub fn emit(&mut self, origin: &Origin, kind: &str, object: Value, previous: Option<Value>) {
        let now = self.now();
        self.emit_at(now, origin, kind, object, previous);
    }

    /// Records an event created at `at` (a test clock's time for objects living on one) and queues
    /// its delivery.
    pub fn emit_at(
        &mut self,
        at: i64,
        origin: &Origin,
        kind: &str,
        object: Value,
        previous: Option<Value>,
    ) {
        let targets: Vec<(String, String, String)> = self
            .webhook_endpoints
            .newest_first()
            .filter(|(_, endpoint)| endpoint.wants(kind))
            .map(|(_, e)| (e.id.clone(), e.url.clone(), e.secret.clone()))
            .collect();
        let event = Event {
            id: ids::new_id(Kind::Event),
            created: at,
            kind: kind.to_string(),
            object,
            previous_attributes: previous,
            origin: origin.clone(),
            endpoints: targets.iter().map(|(id, _, _)| id.clone()).collect(),
            delivered_to: HashSet::new(),
        };
        if let Some(outbox) = &self.outbox {
            let payload: Arc<[u8]> = serde_json::to_vec(&event.render())
                .unwrap_or_default()
                .into();
            for (endpoint_id, url, secret) in targets {
                // A closed outbox means the server is shutting down; nothing to deliver to.
                let _ = outbox.send(Delivery {
                    event_id: event.id.clone(),
                    event_type: event.kind.clone(),
                    endpoint_id,
                    url,
                    secret,
                    payload: Arc::clone(&payload),
                });
            }
        }
        self.events.insert(event);
    }

    /// Notes a successful delivery of an event to an endpoint.
    pub fn mark_delivered(&mut self, event_id: &str, endpoint_id: &str) {
        if let Some(event) = self.events.get_mut(event_id) {
            event.delivered_to.insert(endpoint_id.to_string());
        }
    }
}

/// Previous values of the top-level keys that differ between two renders of an object
/// (Stripe's `data.previous_attributes`), or `None` when nothing changed.
pub fn previous_attributes(before: &Value, after: &Value) -> Option<Value> {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return None;
    };
    let mut changed = serde_json::Map::new();
    for (key, old) in before {
        let new = after.get(key).unwrap_or(&Value::Null);
        if old == new {
            continue;
        }
        let value = match (key.as_str(), old, new) {
            // For metadata Stripe lists only the keys that changed (null for keys that are new).
            ("metadata", Value::Object(old_map), Value::Object(new_map)) => {
                let mut keys = serde_json::Map::new();
                for (k, v) in old_map {
                    if new_map.get(k) != Some(v) {
                        keys.insert(k.clone(), v.clone());
                    }
                }
                for k in new_map.keys() {
                    if !old_map.contains_key(k) {
                        keys.insert(k.clone(), Value::Null);
                    }
                }
                Value::Object(keys)
            }
            _ => old.clone(),
        };
        changed.insert(key.clone(), value);
    }
    (!changed.is_empty()).then_some(Value::Object(changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_list_only_changed_keys_and_metadata_entries() {
        // GIVEN an object before and after an update
        let before = json!({"id": "cus_1", "email": "a@x", "metadata": {"a": "1", "b": "2"}});
        let after =
            json!({"id": "cus_1", "email": "b@x", "metadata": {"a": "1", "b": "3", "c": "4"}});
        // WHEN the previous attributes are computed
        let previous = previous_attributes(&before, &after);
        // THEN only the changes appear, with old values (null for new metadata keys)
        assert_eq!(
            previous,
            Some(json!({"email": "a@x", "metadata": {"b": "2", "c": null}}))
        );
        assert_eq!(previous_attributes(&before, &before), None);
    }
}

//! `expand[]`: replace an id field with the object it names (`customer` -> the customer), walk into
//! lists with `data.`, and include fields Stripe only returns on request (a price's `tiers`).

use serde_json::Value;

use crate::errors::{ApiError, ApiResult};
use crate::resources;
use crate::state::State;

/// Fields that hold an expandable id (or null) on the objects the stand-in serves.
const EXPANDABLE: [&str; 15] = [
    "configuration",
    "customer",
    "default_payment_method",
    "default_price",
    "default_source",
    "invoice",
    "latest_invoice",
    "meter",
    "on_behalf_of",
    "pending_setup_intent",
    "price",
    "product",
    "schedule",
    "subscription",
    "test_clock",
];

/// Stripe's limit on expansion depth.
const MAX_DEPTH: usize = 4;

/// Applies every `expand[]` path to a rendered object.
pub fn apply(state: &State, value: &mut Value, paths: &[String]) -> ApiResult<()> {
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.len() > MAX_DEPTH {
            return Err(ApiError::InvalidParameter {
                param: "expand".into(),
                message: format!(
                    "You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}"
                ),
                code: None,
            });
        }
        expand_path(state, value, &parts, path)?;
    }
    Ok(())
}

fn expand_path(state: &State, value: &mut Value, parts: &[&str], full: &str) -> ApiResult<()> {
    let Some((head, rest)) = parts.split_first() else {
        return Ok(());
    };
    if let Value::Array(items) = value {
        for item in items {
            expand_path(state, item, parts, full)?;
        }
        return Ok(());
    }
    let cannot = || ApiError::InvalidParameter {
        param: "expand".into(),
        message: format!("This property cannot be expanded ({full})."),
        code: None,
    };
    let object_kind = value
        .get("object")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if object_kind == "price" && *head == "tiers" && rest.is_empty() {
        let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
        let tiers = resources::prices::rendered_tiers(state, id);
        value["tiers"] = tiers;
        return Ok(());
    }
    let Some(field) = value.get_mut(*head) else {
        return Err(cannot());
    };
    if let Value::String(id) = field {
        match resources::render_by_id(state, id) {
            Some(expanded) => *field = expanded,
            // An id of a kind the stand-in does not store (e.g. a test clock) stays an id.
            None if EXPANDABLE.contains(head) => return Ok(()),
            None => return Err(cannot()),
        }
    }
    match field {
        Value::Null if EXPANDABLE.contains(head) => Ok(()),
        Value::Object(_) | Value::Array(_) => expand_path(state, field, rest, full),
        _ => Err(cannot()),
    }
}

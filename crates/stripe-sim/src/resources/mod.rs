//! The API resources, one module each: the stored object, its Stripe rendering, its endpoints'
//! parameter tables and handlers.

pub mod checkout;
pub mod customers;
pub mod events;
pub mod invoices;
pub mod meter_events;
pub mod meters;
pub mod payment_methods;
pub mod portal;
pub mod prices;
pub mod products;
pub mod subscriptions;
pub mod test_clocks;
pub mod webhook_endpoints;

use std::collections::BTreeMap;

use axum::Json;
use serde_json::Value;

use crate::errors::ApiResult;
use crate::expand;
use crate::params::MetadataUpdate;
use crate::state::State;

/// A string-to-string metadata map, rendered with sorted keys.
pub type Metadata = BTreeMap<String, String>;

/// Applies a metadata change.
pub fn apply_metadata(metadata: &mut Metadata, update: MetadataUpdate) {
    match update {
        MetadataUpdate::Clear => metadata.clear(),
        MetadataUpdate::Merge(changes) => {
            for (key, value) in changes {
                match value {
                    Some(value) => {
                        metadata.insert(key, value);
                    }
                    None => {
                        metadata.remove(&key);
                    }
                }
            }
        }
    }
}

/// The current rendering of any stored object, found by its id prefix (for `expand[]`).
pub fn render_by_id(state: &State, id: &str) -> Option<Value> {
    let prefix = id.split('_').next().unwrap_or_default();
    match prefix {
        "cus" => state.customers.get(id).map(customers::Customer::render),
        "prod" => state.products.get(id).map(products::Product::render),
        "price" => state.prices.get(id).map(prices::Price::render),
        "mtr" => state.meters.get(id).map(meters::Meter::render),
        "sub" => state.subscriptions.get(id).map(|s| s.render(state)),
        "evt" => state.events.get(id).map(crate::events::Event::render),
        "in" => state.invoices.get(id).map(|i| i.render(state)),
        "pm" => state
            .payment_methods
            .get(id)
            .map(payment_methods::PaymentMethod::render),
        "clock" => state
            .test_clocks
            .get(id)
            .map(test_clocks::TestClock::render),
        "cs" => state.checkout_sessions.get(id).map(|s| s.render(state)),
        "bpc" => state
            .portal_configurations
            .get(id)
            .map(portal::PortalConfiguration::render),
        _ => None,
    }
}

/// Answers with `object` after applying the request's `expand[]`.
pub fn respond(state: &State, mut object: Value, expand: &[String]) -> ApiResult<Json<Value>> {
    expand::apply(state, &mut object, expand)?;
    Ok(Json(object))
}

//! Events: `GET /v1/events` (by `type` with `*` wildcards, `types[]`, `delivery_success`) and
//! `GET /v1/events/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::respond;
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http::Form;
use crate::list::{self, Page};
use crate::params::Endpoint;
use crate::state::App;

/// `GET /v1/events`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/events",
    params: &[
        "type",
        "types[]",
        "delivery_success",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// `GET /v1/events/{id}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/events/{id}",
    params: &["expand[]"],
};

/// Whether an event type matches a `type` filter, where `*` stands for any run of characters
/// (`customer.*`, `*.updated`).
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == kind,
        Some((head, tail)) => {
            kind.len() >= head.len() + tail.len() && kind.starts_with(head) && {
                let rest = &kind[head.len()..];
                (0..=rest.len())
                    .filter(|i| rest.is_char_boundary(*i))
                    .any(|i| type_matches(tail, &rest[i..]))
            }
        }
    }
}

/// Lists events, newest first.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let kind = p.string("type", 5000)?.filter(|s| !s.is_empty());
    let types = p.strings("types");
    if kind.is_some() && !types.is_empty() {
        return Err(ApiError::Refused {
            message: "You may only specify one of these parameters: type, types.".into(),
            param: Some("types".into()),
            code: Some("parameters_exclusive"),
        });
    }
    if types.len() > 20 {
        return Err(ApiError::InvalidParameter {
            param: "types".into(),
            message: "You can specify up to 20 types.".into(),
            code: None,
        });
    }
    let delivery_success = p.bool("delivery_success")?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.events, "event", |e| {
        kind.as_ref().is_none_or(|k| type_matches(k, &e.kind))
            && (types.is_empty() || types.contains(&e.kind))
            && delivery_success.is_none_or(|ok| e.delivery_succeeded() == ok)
    })?;
    let data = rows.into_iter().map(Event::render).collect();
    respond(
        &state,
        list::envelope("/v1/events", data, has_more),
        &p.expand(),
    )
}

/// Retrieves an event.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let event = state.events.get(&id).ok_or(ApiError::NoSuchObject {
        kind: "event",
        id: id.clone(),
    })?;
    respond(&state, event.render(), &p.expand())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_take_wildcards() {
        assert!(type_matches("customer.created", "customer.created"));
        assert!(type_matches("customer.*", "customer.subscription.updated"));
        assert!(type_matches("*.updated", "customer.updated"));
        assert!(!type_matches("customer.*", "price.created"));
        assert!(!type_matches("customer.created", "customer.updated"));
    }
}

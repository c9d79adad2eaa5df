//! Webhook endpoints: create (the only response carrying the `whsec_` secret), retrieve, update
//! (`enabled_events`, `disabled`, `url`, `description`, `metadata`), list, delete.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Metadata, apply_metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::event_types;
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::Endpoint;
use crate::params::Params;
use crate::state::{App, Record};

/// A stored webhook endpoint.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    /// `we_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Where events are POSTed.
    pub url: String,
    /// Event types it receives (`*` for all).
    pub enabled_events: Vec<String>,
    /// Version events are rendered in for it, if pinned.
    pub api_version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Key-value pairs.
    pub metadata: Metadata,
    /// `whsec_...` signing secret.
    pub secret: String,
    /// Whether deliveries are switched off.
    pub disabled: bool,
}

impl Record for WebhookEndpoint {
    fn id(&self) -> &str {
        &self.id
    }
}

impl WebhookEndpoint {
    /// Whether an event of this type is delivered here.
    pub fn wants(&self, kind: &str) -> bool {
        !self.disabled && self.enabled_events.iter().any(|e| e == "*" || e == kind)
    }

    /// The endpoint in Stripe's shape, without its secret.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": self.api_version,
            "application": null,
            "created": self.created,
            "description": self.description,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "metadata": self.metadata,
            "status": if self.disabled { "disabled" } else { "enabled" },
            "url": self.url,
        })
    }
}

/// `POST /v1/webhook_endpoints`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/webhook_endpoints",
    params: &[
        "url",
        "enabled_events[]",
        "api_version",
        "description",
        "metadata[*]",
        "expand[]",
    ],
};

/// `GET /v1/webhook_endpoints/{webhook_endpoint}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/webhook_endpoints/{webhook_endpoint}",
    params: &["expand[]"],
};

/// `POST /v1/webhook_endpoints/{webhook_endpoint}`
pub const UPDATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/webhook_endpoints/{webhook_endpoint}",
    params: &[
        "url",
        "enabled_events[]",
        "disabled",
        "description",
        "metadata[*]",
        "expand[]",
    ],
};

/// `DELETE /v1/webhook_endpoints/{webhook_endpoint}`
pub const DELETE: Endpoint = Endpoint {
    method: "DELETE",
    path: "/v1/webhook_endpoints/{webhook_endpoint}",
    params: &[],
};

/// `GET /v1/webhook_endpoints`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/webhook_endpoints",
    params: &["limit", "starting_after", "ending_before", "expand[]"],
};

fn missing(id: &str) -> ApiError {
    ApiError::NoSuchObject {
        kind: "webhook_endpoint",
        id: id.to_string(),
    }
}

fn url(p: &Params) -> ApiResult<Option<String>> {
    let Some(url) = p.string("url", 5000)? else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(Some(url)),
        _ => Err(ApiError::InvalidParameter {
            param: "url".into(),
            message: format!("Invalid URL: {url}. URLs must begin with http:// or https://."),
            code: Some("url_invalid"),
        }),
    }
}

fn enabled_events(p: &Params) -> ApiResult<Option<Vec<String>>> {
    if !p.has("enabled_events") {
        return Ok(None);
    }
    let events = p.strings("enabled_events");
    if events.is_empty() {
        return Err(p.empty_error("enabled_events"));
    }
    for (i, event) in events.iter().enumerate() {
        if event != "*" && !event_types::is_known(event) {
            return Err(ApiError::InvalidParameter {
                param: format!("enabled_events[{i}]"),
                message: format!(
                    "Invalid enabled_events[{i}]: must be `*` or a known event type (got `{event}`)."
                ),
                code: None,
            });
        }
    }
    Ok(Some(events))
}

/// Creates an endpoint and returns it with its signing secret.
pub async fn create(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let url = url(&p)?.ok_or_else(|| ApiError::MissingParameter("url".into()))?;
    let enabled_events =
        enabled_events(&p)?.ok_or_else(|| ApiError::MissingParameter("enabled_events".into()))?;
    let api_version = p.string("api_version", 100)?.filter(|v| !v.is_empty());
    let description = p.nullable_string("description", 5000)?.flatten();
    let metadata = p.metadata()?;
    let mut state = app.lock();
    let mut endpoint = WebhookEndpoint {
        id: ids::new_id(Kind::WebhookEndpoint),
        created: state.now(),
        url,
        enabled_events,
        api_version,
        description,
        metadata: Metadata::new(),
        secret: ids::new_id(Kind::WebhookSecret),
        disabled: false,
    };
    if let Some(update) = metadata {
        apply_metadata(&mut endpoint.metadata, update);
    }
    let mut rendered = endpoint.render();
    rendered["secret"] = json!(endpoint.secret);
    state.webhook_endpoints.insert(endpoint);
    respond(&state, rendered, &p.expand())
}

/// Retrieves an endpoint (without its secret).
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let endpoint = state
        .webhook_endpoints
        .get(&id)
        .ok_or_else(|| missing(&id))?;
    respond(&state, endpoint.render(), &p.expand())
}

/// Updates an endpoint.
pub async fn update(
    State(app): State<App>,
    _ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE.decode(&form)?;
    let url = url(&p)?;
    let enabled_events = enabled_events(&p)?;
    let disabled = p.bool("disabled")?;
    let description = p.nullable_string("description", 5000)?;
    let metadata = p.metadata()?;
    let mut state = app.lock();
    let endpoint = state
        .webhook_endpoints
        .get_mut(&id)
        .ok_or_else(|| missing(&id))?;
    if let Some(url) = url {
        endpoint.url = url;
    }
    if let Some(events) = enabled_events {
        endpoint.enabled_events = events;
    }
    if let Some(disabled) = disabled {
        endpoint.disabled = disabled;
    }
    if let Some(description) = description {
        endpoint.description = description;
    }
    if let Some(update) = metadata {
        apply_metadata(&mut endpoint.metadata, update);
    }
    let rendered = endpoint.render();
    respond(&state, rendered, &p.expand())
}

/// Deletes an endpoint; pending deliveries to it stop.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    DELETE.decode(&form)?;
    let mut state = app.lock();
    state
        .webhook_endpoints
        .remove(&id)
        .ok_or_else(|| missing(&id))?;
    Ok(Json(
        json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
    ))
}

/// Lists endpoints, newest first.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.webhook_endpoints, "webhook_endpoint", |_| true)?;
    let data = rows.into_iter().map(WebhookEndpoint::render).collect();
    respond(
        &state,
        list::envelope("/v1/webhook_endpoints", data, has_more),
        &p.expand(),
    )
}

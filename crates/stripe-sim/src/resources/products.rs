//! Products: `POST /v1/products`, `GET /v1/products/{id}`, `POST /v1/products/{id}`,
//! `GET /v1/products` (by `active`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Metadata, apply_metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::events::{Origin, previous_attributes};
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::{Endpoint, MetadataUpdate};
use crate::state::{App, Record, State as Account};

/// A stored product.
#[derive(Debug, Clone)]
pub struct Product {
    /// `prod_...` or a caller-chosen id.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds of the last change.
    pub updated: i64,
    /// Display name.
    pub name: String,
    /// Whether it can be bought.
    pub active: bool,
    /// Free text.
    pub description: Option<String>,
    /// Key-value pairs.
    pub metadata: Metadata,
}

impl Record for Product {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Product {
    /// The product in Stripe's shape.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "product",
            "active": self.active,
            "created": self.created,
            "default_price": null,
            "description": self.description,
            "images": [],
            "livemode": false,
            "marketing_features": [],
            "metadata": self.metadata,
            "name": self.name,
            "package_dimensions": null,
            "shippable": null,
            "statement_descriptor": null,
            "tax_code": null,
            "type": "service",
            "unit_label": null,
            "updated": self.updated,
            "url": null,
        })
    }
}

/// `POST /v1/products`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/products",
    params: &[
        "name",
        "id",
        "active",
        "description",
        "metadata[*]",
        "expand[]",
    ],
};

/// `GET /v1/products/{id}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/products/{id}",
    params: &["expand[]"],
};

/// `POST /v1/products/{id}`
pub const UPDATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/products/{id}",
    params: &["name", "active", "description", "metadata[*]", "expand[]"],
};

/// `GET /v1/products`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/products",
    params: &[
        "active",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// What a new product is made of, shared with a price's `product_data`.
#[derive(Debug, Clone, Default)]
pub struct NewProduct {
    /// A caller-chosen id, if any.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Defaults to true.
    pub active: Option<bool>,
    /// Free text.
    pub description: Option<String>,
    /// Key-value pairs.
    pub metadata: Option<MetadataUpdate>,
}

/// Stores a new product, emits `product.created` and returns its rendering.
pub fn insert(state: &mut Account, origin: &Origin, new: NewProduct) -> ApiResult<Value> {
    if let Some(id) = &new.id {
        if state.products.get(id).is_some() {
            return Err(ApiError::Refused {
                message: format!("Product already exists with id {id}."),
                param: Some("id".into()),
                code: Some("resource_already_exists"),
            });
        }
    }
    let now = state.now();
    let mut product = Product {
        id: new.id.unwrap_or_else(|| ids::new_id(Kind::Product)),
        created: now,
        updated: now,
        name: new.name,
        active: new.active.unwrap_or(true),
        description: new.description,
        metadata: Metadata::new(),
    };
    if let Some(update) = new.metadata {
        apply_metadata(&mut product.metadata, update);
    }
    let rendered = product.render();
    state.products.insert(product);
    state.emit(origin, "product.created", rendered.clone(), None);
    Ok(rendered)
}

/// Creates a product.
pub async fn create(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let new = NewProduct {
        id: p.string("id", 5000)?.filter(|s| !s.is_empty()),
        name: p.required_string("name", 5000)?,
        active: p.bool("active")?,
        description: p.nullable_string("description", 40000)?.flatten(),
        metadata: p.metadata()?,
    };
    let mut state = app.lock();
    let rendered = insert(&mut state, &ctx.origin(), new)?;
    respond(&state, rendered, &p.expand())
}

/// Retrieves a product.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let product = state.products.get(&id).ok_or(ApiError::NoSuchObject {
        kind: "product",
        id: id.clone(),
    })?;
    respond(&state, product.render(), &p.expand())
}

/// Updates a product's name, `active`, description and metadata.
pub async fn update(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE.decode(&form)?;
    let name = p.string("name", 5000)?;
    if name.as_deref() == Some("") {
        return Err(p.empty_error("name"));
    }
    let active = p.bool("active")?;
    let description = p.nullable_string("description", 40000)?;
    let metadata = p.metadata()?;
    let mut state = app.lock();
    let now = state.now();
    let product = state.products.get_mut(&id).ok_or(ApiError::NoSuchObject {
        kind: "product",
        id: id.clone(),
    })?;
    let before = product.render();
    if let Some(name) = name {
        product.name = name;
    }
    if let Some(active) = active {
        product.active = active;
    }
    if let Some(description) = description {
        product.description = description;
    }
    if let Some(update) = metadata {
        apply_metadata(&mut product.metadata, update);
    }
    if previous_attributes(&before, &product.render()).is_some() {
        product.updated = now;
    }
    let after = product.render();
    if let Some(previous) = previous_attributes(&before, &after) {
        state.emit(
            &ctx.origin(),
            "product.updated",
            after.clone(),
            Some(previous),
        );
    }
    respond(&state, after, &p.expand())
}

/// Lists products, newest first, optionally by `active`.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let active = p.bool("active")?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.products, "product", |product| {
        active.is_none_or(|a| product.active == a)
    })?;
    let data = rows.into_iter().map(Product::render).collect();
    respond(
        &state,
        list::envelope("/v1/products", data, has_more),
        &p.expand(),
    )
}

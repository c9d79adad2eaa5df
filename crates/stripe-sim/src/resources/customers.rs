//! Customers: `POST /v1/customers`, `GET /v1/customers/{customer}`, `POST /v1/customers/{customer}`,
//! `GET /v1/customers` (by `email`, `test_clock`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Metadata, apply_metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::events::previous_attributes;
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::{Endpoint, Params};
use crate::state::{App, Record};

/// A stored customer.
#[derive(Debug, Clone)]
pub struct Customer {
    /// `cus_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Email address.
    pub email: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Key-value pairs.
    pub metadata: Metadata,
    /// The test clock the customer lives on: its "now" is the clock's frozen time.
    pub test_clock: Option<String>,
    /// Prefix of the customer's invoice numbers.
    pub invoice_prefix: String,
    /// Sequence number of the next finalized invoice.
    pub next_invoice_sequence: u64,
    /// `invoice_settings.default_payment_method`: the card subscriptions are charged to.
    pub default_payment_method: Option<String>,
}

impl Record for Customer {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Customer {
    /// The customer in Stripe's shape.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": self.created,
            "currency": null,
            "customer_account": null,
            "default_source": null,
            "delinquent": false,
            "description": self.description,
            "discount": null,
            "email": self.email,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": self.default_payment_method,
                "footer": null,
                "rendering_options": null,
            },
            "livemode": false,
            "metadata": self.metadata,
            "name": self.name,
            "next_invoice_sequence": self.next_invoice_sequence,
            "phone": self.phone,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": self.test_clock,
        })
    }
}

/// `POST /v1/customers`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/customers",
    params: &[
        "email",
        "name",
        "description",
        "phone",
        "metadata[*]",
        "test_clock",
        "expand[]",
    ],
};

/// `GET /v1/customers/{customer}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/customers/{customer}",
    params: &["expand[]"],
};

/// `POST /v1/customers/{customer}`
pub const UPDATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/customers/{customer}",
    params: &[
        "email",
        "name",
        "description",
        "phone",
        "metadata[*]",
        "expand[]",
    ],
};

/// `GET /v1/customers`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/customers",
    params: &[
        "email",
        "test_clock",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// A nullable field change: absent, unset (`Some(None)`) or set.
type FieldChange = (&'static str, Option<Option<String>>);

/// The nullable contact fields both create and update take, with Stripe's length limits.
fn contact_fields(p: &Params) -> ApiResult<[FieldChange; 4]> {
    Ok([
        ("email", p.nullable_string("email", 512)?),
        ("name", p.nullable_string("name", 256)?),
        ("description", p.nullable_string("description", 5000)?),
        ("phone", p.nullable_string("phone", 20)?),
    ])
}

fn set_contact(customer: &mut Customer, fields: [FieldChange; 4]) {
    for (name, value) in fields {
        let Some(value) = value else { continue };
        match name {
            "email" => customer.email = value,
            "name" => customer.name = value,
            "description" => customer.description = value,
            _ => customer.phone = value,
        }
    }
}

/// Creates a customer.
pub async fn create(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let fields = contact_fields(&p)?;
    let metadata = p.metadata()?;
    let test_clock = p.nullable_string("test_clock", 5000)?.flatten();
    let mut state = app.lock();
    if let Some(clock) = test_clock
        .as_ref()
        .filter(|c| state.test_clocks.get(c).is_none())
    {
        return Err(ApiError::NoSuchReference {
            kind: "test_clock",
            id: clock.clone(),
            param: "test_clock".into(),
        });
    }
    let now = state.clock_now(test_clock.as_deref());
    let mut customer = Customer {
        id: ids::new_id(Kind::Customer),
        created: now,
        email: None,
        name: None,
        description: None,
        phone: None,
        metadata: Metadata::new(),
        test_clock,
        invoice_prefix: ids::invoice_prefix(),
        next_invoice_sequence: 1,
        default_payment_method: None,
    };
    set_contact(&mut customer, fields);
    if let Some(update) = metadata {
        apply_metadata(&mut customer.metadata, update);
    }
    let rendered = customer.render();
    state.customers.insert(customer);
    state.emit_at(
        now,
        &ctx.origin(),
        "customer.created",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}

/// Retrieves a customer.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let customer = state.customers.get(&id).ok_or(ApiError::NoSuchObject {
        kind: "customer",
        id: id.clone(),
    })?;
    respond(&state, customer.render(), &p.expand())
}

/// Updates a customer's contact fields and metadata.
pub async fn update(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE.decode(&form)?;
    let fields = contact_fields(&p)?;
    let metadata = p.metadata()?;
    let mut state = app.lock();
    let customer = state.customers.get_mut(&id).ok_or(ApiError::NoSuchObject {
        kind: "customer",
        id: id.clone(),
    })?;
    let before = customer.render();
    set_contact(customer, fields);
    if let Some(update) = metadata {
        apply_metadata(&mut customer.metadata, update);
    }
    let after = customer.render();
    let now = state.now_for(&id);
    if let Some(previous) = previous_attributes(&before, &after) {
        state.emit_at(
            now,
            &ctx.origin(),
            "customer.updated",
            after.clone(),
            Some(previous),
        );
    }
    respond(&state, after, &p.expand())
}

/// Lists customers, newest first, optionally by exact `email` or `test_clock`.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let email = p.string("email", 512)?;
    let test_clock = p.string("test_clock", 5000)?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.customers, "customer", |c| {
        email.as_ref().is_none_or(|e| c.email.as_ref() == Some(e))
            && test_clock
                .as_ref()
                .is_none_or(|t| c.test_clock.as_ref() == Some(t))
    })?;
    let data = rows.into_iter().map(Customer::render).collect();
    respond(
        &state,
        list::envelope("/v1/customers", data, has_more),
        &p.expand(),
    )
}

//! Checkout Sessions in `mode=subscription`: `POST /v1/checkout/sessions`, retrieve, list (by
//! `customer`, `status`, `subscription`), expire. The session's `url` is a page the stand-in
//! serves itself ([`crate::pages::checkout`]); paying there runs [`complete`].
//!
//! Sessions expire by themselves 24 hours after creation on the customer's clock
//! (`checkout.session.expired`, see [`crate::billing_cycle`]).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::payment_methods::{Card, PaymentMethod};
use super::subscriptions::{Item, MAX_ITEMS, Subscription};
use super::{Metadata, apply_metadata, respond};
use crate::billing_cycle;
use crate::errors::{ApiError, ApiResult};
use crate::events::{Origin, previous_attributes};
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::money;
use crate::params::Endpoint;
use crate::period::Recurrence;
use crate::state::{App, Record, State as Account};

/// How long a session stays open (Stripe's default).
pub const LIFETIME_SECS: i64 = 24 * 60 * 60;

/// One line item: a recurring price, with a quantity unless it is metered.
#[derive(Debug, Clone)]
pub struct CheckoutLineItem {
    /// The price's id.
    pub price: String,
    /// Units for licensed prices; `None` for metered ones.
    pub quantity: Option<u64>,
}

/// A stored Checkout Session.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    /// `cs_test_...`
    pub id: String,
    /// Unix seconds (customer's clock).
    pub created: i64,
    /// When it expires if not completed.
    pub expires_at: i64,
    /// The paying customer.
    pub customer: String,
    /// What is bought.
    pub line_items: Vec<CheckoutLineItem>,
    /// Where the page sends the customer after paying.
    pub success_url: Option<String>,
    /// Where the page's cancel link goes.
    pub cancel_url: Option<String>,
    /// The integrator's reference.
    pub client_reference_id: Option<String>,
    /// Key-value pairs on the session.
    pub metadata: Metadata,
    /// `subscription_data[metadata]`, copied to the subscription.
    pub subscription_metadata: Metadata,
    /// `open`, `complete` or `expired`.
    pub status: &'static str,
    /// `unpaid` or `paid`.
    pub payment_status: &'static str,
    /// The subscription created on completion.
    pub subscription: Option<String>,
    /// The first invoice, created on completion.
    pub invoice: Option<String>,
    /// Lower-case currency of the prices.
    pub currency: String,
}

impl Record for CheckoutSession {
    fn id(&self) -> &str {
        &self.id
    }
}

impl CheckoutSession {
    /// The hosted page's address (also the `url` while the session is open).
    pub fn page_url(&self, state: &Account) -> String {
        format!("{}/c/pay/{}", state.base_url, self.id)
    }

    /// Sum of the licensed items for one period, in cents (metered items bill in arrears).
    pub fn amount_total(&self, state: &Account) -> i64 {
        self.line_items
            .iter()
            .filter_map(|li| {
                let price = state.prices.get(&li.price)?;
                let quantity = li.quantity?;
                money::amount(price, quantity).ok()
            })
            .sum()
    }

    /// The session in Stripe's shape.
    pub fn render(&self, state: &Account) -> Value {
        let customer = state.customers.get(&self.customer);
        let total = self.amount_total(state);
        let customer_details = (self.status == "complete").then(|| {
            json!({
                "address": null,
                "business_name": null,
                "email": customer.and_then(|c| c.email.clone()),
                "individual_name": null,
                "name": customer.and_then(|c| c.name.clone()),
                "phone": null,
                "tax_exempt": "none",
                "tax_ids": [],
            })
        });
        let mut rendered = json!({
            "id": self.id,
            "object": "checkout.session",
            "adaptive_pricing": null,
            "after_expiration": null,
            "allow_promotion_codes": null,
            "allowed_payment_method_types": null,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
            "billing_address_collection": null,
            "branding_settings": null,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "client_secret": null,
            "collected_information": null,
            "consent": null,
            "consent_collection": null,
            "created": self.created,
            "currency": self.currency,
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "customer": self.customer,
            "customer_account": null,
            "customer_creation": null,
            "customer_details": customer_details,
            "customer_email": null,
            "discounts": [],
            "excluded_payment_method_types": null,
            "expires_at": self.expires_at,
            "invoice": self.invoice,
            "invoice_creation": null,
            "integration_identifier": null,
            "livemode": false,
            "locale": null,
            "managed_payments": null,
            "metadata": self.metadata,
            "mode": "subscription",
            "name_collection": null,
            "optional_items": null,
        });
        let rest = json!({
            "origin_context": null,
            "payment_intent": null,
            "payment_link": null,
            "payment_method_collection": "always",
            "payment_method_configuration_details": null,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"],
            "payment_status": self.payment_status,
            "permissions": null,
            "phone_number_collection": {"enabled": false},
            "presentment_details": null,
            "recovered_from": null,
            "redirect_on_completion": null,
            "return_url": null,
            "saved_payment_method_options": {"allow_redisplay_filters": ["always"], "payment_method_remove": "disabled", "payment_method_save": null},
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "status": self.status,
            "submit_type": null,
            "subscription": self.subscription,
            "success_url": self.success_url,
            "tax_id_collection": null,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": (self.status == "open").then(|| self.page_url(state)),
            "wallet_options": null,
        });
        if let (Value::Object(all), Value::Object(rest)) = (&mut rendered, rest) {
            all.extend(rest);
        }
        rendered
    }
}

/// `POST /v1/checkout/sessions`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/checkout/sessions",
    params: &[
        "cancel_url",
        "client_reference_id",
        "customer",
        "expand[]",
        "line_items[][price]",
        "line_items[][quantity]",
        "metadata[*]",
        "mode",
        "subscription_data[metadata][*]",
        "success_url",
    ],
};

/// `GET /v1/checkout/sessions/{session}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/checkout/sessions/{session}",
    params: &["expand[]"],
};

/// `GET /v1/checkout/sessions`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/checkout/sessions",
    params: &[
        "customer",
        "status",
        "subscription",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// `POST /v1/checkout/sessions/{session}/expire`
pub const EXPIRE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/checkout/sessions/{session}/expire",
    params: &["expand[]"],
};

fn refused(message: impl Into<String>, param: Option<String>) -> ApiError {
    ApiError::Refused {
        message: message.into(),
        param,
        code: None,
    }
}

fn missing(id: &str) -> ApiError {
    ApiError::NoSuchObject {
        kind: "checkout.session",
        id: id.to_string(),
    }
}

/// Stripe emits no event for a new session.
pub async fn create(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    match p.string("mode", 100)?.as_deref() {
        None => return Err(ApiError::MissingParameter("mode".into())),
        Some("subscription") => {}
        Some("payment" | "setup") => {
            return Err(refused(
                "stripe-sim supports Checkout only in `mode=subscription`.",
                Some("mode".into()),
            ));
        }
        Some(other) => {
            return Err(ApiError::InvalidParameter {
                param: "mode".into(),
                message: format!(
                    "Invalid mode: must be one of payment, setup, or subscription (got {other})"
                ),
                code: None,
            });
        }
    }
    let customer_id = p.required_string("customer", 5000)?;
    let success_url = p.url("success_url")?.flatten();
    let cancel_url = p.url("cancel_url")?.flatten();
    let client_reference_id = p.nullable_string("client_reference_id", 200)?.flatten();
    let mut metadata = Metadata::new();
    if let Some(update) = p.metadata()? {
        apply_metadata(&mut metadata, update);
    }
    let mut subscription_metadata = Metadata::new();
    if let Some(data) = p.object("subscription_data") {
        if let Some(update) = data.metadata()? {
            apply_metadata(&mut subscription_metadata, update);
        }
    }
    let items = p.objects("line_items");
    if items.is_empty() {
        return Err(refused(
            "`line_items` is required in `subscription` mode.",
            Some("line_items".into()),
        ));
    }
    if items.len() > MAX_ITEMS {
        return Err(refused(
            format!("You can only have up to {MAX_ITEMS} recurring line items."),
            Some("line_items".into()),
        ));
    }
    let mut requested = Vec::with_capacity(items.len());
    for item in &items {
        let price = item.required_string("price", 5000)?;
        let quantity = item.int("quantity")?;
        if quantity.is_some_and(|q| q < 0) {
            return Err(ApiError::InvalidParameter {
                param: item.name("quantity"),
                message: "Invalid non-negative integer".into(),
                code: None,
            });
        }
        requested.push((item.clone(), price, quantity));
    }

    let mut state = app.lock();
    if state.customers.get(&customer_id).is_none() {
        return Err(ApiError::NoSuchReference {
            kind: "customer",
            id: customer_id,
            param: "customer".into(),
        });
    }
    let now = state.now_for(&customer_id);
    let mut shared: Option<(String, Recurrence)> = None;
    let mut line_items = Vec::with_capacity(requested.len());
    for (item, price_id, quantity) in requested {
        let index = item.name("").trim_end_matches("[]").to_string();
        let price = state
            .prices
            .get(&price_id)
            .ok_or_else(|| ApiError::NoSuchReference {
                kind: "price",
                id: price_id.clone(),
                param: item.name("price"),
            })?;
        if !price.active {
            return Err(refused(
                format!("The price `{price_id}` is not active."),
                Some(item.name("price")),
            ));
        }
        let Some(recurring) = &price.recurring else {
            return Err(refused(
                "stripe-sim's Checkout takes only recurring prices in `subscription` mode.",
                Some(item.name("price")),
            ));
        };
        if price.is_metered() && quantity.is_some() {
            return Err(refused(
                format!(
                    "Quantity should not be specified where usage_type is `metered`. Remove quantity from `{index}`."
                ),
                Some(item.name("quantity")),
            ));
        }
        if !price.is_metered() && quantity.is_none() {
            return Err(refused(
                format!("Quantity is required. Add `quantity` to `{index}`."),
                Some(item.name("quantity")),
            ));
        }
        match &shared {
            None => shared = Some((price.currency.clone(), recurring.recurrence)),
            Some((currency, recurrence)) => {
                if *currency != price.currency || *recurrence != recurring.recurrence {
                    return Err(refused(
                        "Checkout does not support multiple prices with different currencies or billing intervals.",
                        Some(item.name("price")),
                    ));
                }
            }
        }
        line_items.push(CheckoutLineItem {
            price: price_id,
            quantity: quantity.map(i64::unsigned_abs),
        });
    }
    let Some((currency, _)) = shared else {
        return Err(ApiError::MissingParameter("line_items".into()));
    };
    let session = CheckoutSession {
        id: ids::new_id(Kind::CheckoutSession),
        created: now,
        expires_at: now + LIFETIME_SECS,
        customer: customer_id,
        line_items,
        success_url,
        cancel_url,
        client_reference_id,
        metadata,
        subscription_metadata,
        status: "open",
        payment_status: "unpaid",
        subscription: None,
        invoice: None,
        currency,
    };
    let rendered = session.render(&state);
    state.checkout_sessions.insert(session);
    respond(&state, rendered, &p.expand())
}

/// Retrieves a session.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let session = state
        .checkout_sessions
        .get(&id)
        .ok_or_else(|| missing(&id))?;
    respond(&state, session.render(&state), &p.expand())
}

/// Lists sessions, newest first.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let customer = p.string("customer", 5000)?;
    let subscription = p.string("subscription", 5000)?;
    let status = p.one_of("status", &["complete", "expired", "open"])?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.checkout_sessions, "checkout.session", |s| {
        customer.as_ref().is_none_or(|c| &s.customer == c)
            && subscription
                .as_ref()
                .is_none_or(|id| s.subscription.as_ref() == Some(id))
            && status.is_none_or(|st| s.status == st)
    })?;
    let data = rows.into_iter().map(|s| s.render(&state)).collect();
    respond(
        &state,
        list::envelope("/v1/checkout/sessions", data, has_more),
        &p.expand(),
    )
}

/// Expires an open session (`checkout.session.expired`).
pub async fn expire(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = EXPIRE.decode(&form)?;
    let mut state = app.lock();
    let session = state
        .checkout_sessions
        .get_mut(&id)
        .ok_or_else(|| missing(&id))?;
    if session.status != "open" {
        return Err(refused(
            format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                session.status
            ),
            None,
        ));
    }
    session.status = "expired";
    let customer = session.customer.clone();
    let now = state.now_for(&customer);
    let rendered = state
        .checkout_sessions
        .get(&id)
        .map(|s| s.render(&state))
        .unwrap_or_default();
    state.emit_at(
        now,
        &ctx.origin(),
        "checkout.session.expired",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}

/// Why a session cannot be paid on its page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompleteError {
    /// No such session.
    #[error("This Checkout Session does not exist.")]
    NotFound,
    /// Completed or expired already.
    #[error("This Checkout Session is no longer active ({0}).")]
    NotOpen(&'static str),
    /// Its prices are gone (they are checked when the session is created).
    #[error("This Checkout Session has no recurring price to subscribe to.")]
    NoRecurringPrice,
}

/// Pays an open session with a confirmed card: attaches the card as the customer's default,
/// creates the subscription and its first, paid invoice (`subscription_create`, licensed prices
/// only; metered usage is billed in arrears), completes the session, and returns the address to
/// redirect to (`success_url` with `{CHECKOUT_SESSION_ID}` filled in), if any.
pub fn complete(
    state: &mut Account,
    session_id: &str,
    card: Card,
) -> Result<Option<String>, CompleteError> {
    let session = state
        .checkout_sessions
        .get(session_id)
        .ok_or(CompleteError::NotFound)?
        .clone();
    if session.status != "open" {
        return Err(CompleteError::NotOpen(session.status));
    }
    let origin = Origin::default();
    let now = state.now_for(&session.customer);
    let test_clock = state
        .customers
        .get(&session.customer)
        .and_then(|c| c.test_clock.clone());
    let mut recurrence = None;
    let mut items = Vec::with_capacity(session.line_items.len());
    for li in &session.line_items {
        let Some(recurring) = state
            .prices
            .get(&li.price)
            .and_then(|p| p.recurring.as_ref())
        else {
            continue;
        };
        recurrence = Some(recurring.recurrence);
        items.push(Item::new(
            li.price.clone(),
            li.quantity,
            Metadata::new(),
            recurring.recurrence,
            now,
        ));
    }
    let Some(recurrence) = recurrence else {
        return Err(CompleteError::NoRecurringPrice);
    };
    attach_card(state, &session.customer, card, now, &origin);
    let first_period = items.first().map_or((now, now), |i| {
        (i.current_period_start, i.current_period_end)
    });
    let mut subscription = Subscription::new(
        session.customer.clone(),
        session.currency.clone(),
        recurrence,
        items,
        now,
        test_clock,
    );
    subscription.metadata = session.subscription_metadata.clone();
    let subscription_id = subscription.id.clone();
    state.subscriptions.insert(subscription);
    let invoice = billing_cycle::draft_invoice(
        state,
        &subscription_id,
        "subscription_create",
        now,
        (now, now),
        Some(first_period),
    );
    if let Some(subscription) = state.subscriptions.get_mut(&subscription_id) {
        subscription.latest_invoice = invoice.clone();
    }
    let rendered = state
        .subscriptions
        .get(&subscription_id)
        .map(|s| s.render(state))
        .unwrap_or_default();
    state.emit_at(
        now,
        &origin,
        "customer.subscription.created",
        rendered,
        None,
    );
    if let Some(invoice) = &invoice {
        billing_cycle::emit_invoice(state, invoice, now, &origin, "invoice.created");
        billing_cycle::finalize_with(state, invoice, now, &origin, true);
    }
    if let Some(session) = state.checkout_sessions.get_mut(session_id) {
        session.status = "complete";
        session.payment_status = "paid";
        session.subscription = Some(subscription_id);
        session.invoice = invoice;
    }
    let rendered = state
        .checkout_sessions
        .get(session_id)
        .map(|s| s.render(state))
        .unwrap_or_default();
    state.emit_at(now, &origin, "checkout.session.completed", rendered, None);
    Ok(session
        .success_url
        .map(|url| url.replace("{CHECKOUT_SESSION_ID}", session_id)))
}

/// Stores a confirmed card and makes it the customer's default payment method
/// (`customer.updated`). Returns the `pm_` id.
pub fn attach_card(
    state: &mut Account,
    customer: &str,
    card: Card,
    now: i64,
    origin: &Origin,
) -> String {
    let id = ids::new_id(Kind::PaymentMethod);
    state.payment_methods.insert(PaymentMethod {
        id: id.clone(),
        created: now,
        customer: customer.to_string(),
        card,
    });
    let Some(record) = state.customers.get_mut(customer) else {
        return id;
    };
    let before = record.render();
    record.default_payment_method = Some(id.clone());
    let after = record.render();
    let previous = previous_attributes(&before, &after);
    state.emit_at(now, origin, "customer.updated", after, previous);
    id
}

//! Subscriptions: create, retrieve, update (`cancel_at_period_end`, `metadata`, `description`),
//! cancel (`DELETE`), list (by `customer`, `status`, `price`).
//!
//! As at API 2026-10-28.endive, the current period lives on the items
//! (`items.data[].current_period_start/end`), computed from the billing cycle anchor with
//! [`crate::period`]. Subscriptions are `active` on creation (payment comes in part 2). When the
//! clock passes a period end, [`catch_up`] rolls the period (`customer.subscription.updated`) or,
//! with `cancel_at_period_end`, ends the subscription (`customer.subscription.deleted`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Metadata, apply_metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::events::{Origin, previous_attributes};
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::Endpoint;
use crate::period::{self, Recurrence};
use crate::state::{App, Record, State as Account};

/// Stripe's limit on items per subscription.
pub const MAX_ITEMS: usize = 20;

/// A subscription item: one price on the subscription.
#[derive(Debug, Clone)]
pub struct Item {
    /// `si_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The price's id.
    pub price: String,
    /// Quantity for licensed prices; `None` for metered ones.
    pub quantity: Option<u64>,
    /// Key-value pairs.
    pub metadata: Metadata,
    /// Start of the current period.
    pub current_period_start: i64,
    /// End of the current period.
    pub current_period_end: i64,
}

/// A stored subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// `sub_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The customer's id.
    pub customer: String,
    /// Currency shared by all prices.
    pub currency: String,
    /// `active`, `past_due`, `unpaid` or `canceled`.
    pub status: &'static str,
    /// Key-value pairs.
    pub metadata: Metadata,
    /// Free text.
    pub description: Option<String>,
    /// The items, in the order given.
    pub items: Vec<Item>,
    /// Anchor of the billing cycle (unix seconds).
    pub billing_cycle_anchor: i64,
    /// The recurrence all items share.
    pub recurrence: Recurrence,
    /// Whether it ends at the end of the current period.
    pub cancel_at_period_end: bool,
    /// When it will end, if scheduled.
    pub cancel_at: Option<i64>,
    /// When cancellation was requested.
    pub canceled_at: Option<i64>,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// `cancellation_details.reason`.
    pub cancellation_reason: Option<&'static str>,
    /// `cancellation_details.comment`.
    pub cancellation_comment: Option<String>,
    /// `cancellation_details.feedback`.
    pub cancellation_feedback: Option<&'static str>,
    /// The customer's test clock, if any.
    pub test_clock: Option<String>,
    /// The most recent invoice's id.
    pub latest_invoice: Option<String>,
}

impl Record for Subscription {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Item {
    /// A new item whose first period, anchored at `now`, starts now.
    pub fn new(
        price: String,
        quantity: Option<u64>,
        metadata: Metadata,
        recurrence: Recurrence,
        now: i64,
    ) -> Item {
        let (start, end) = period::containing(now, recurrence, now);
        Item {
            id: ids::new_id(Kind::SubscriptionItem),
            created: now,
            price,
            quantity,
            metadata,
            current_period_start: start,
            current_period_end: end,
        }
    }
}

impl Subscription {
    /// A new `active` subscription anchored at `now`.
    pub fn new(
        customer: String,
        currency: String,
        recurrence: Recurrence,
        items: Vec<Item>,
        now: i64,
        test_clock: Option<String>,
    ) -> Subscription {
        Subscription {
            id: ids::new_id(Kind::Subscription),
            created: now,
            customer,
            currency,
            status: "active",
            metadata: Metadata::new(),
            description: None,
            items,
            billing_cycle_anchor: now,
            recurrence,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            cancellation_reason: None,
            cancellation_comment: None,
            cancellation_feedback: None,
            test_clock,
            latest_invoice: None,
        }
    }

    /// The subscription in Stripe's shape at endive, prices embedded in its items.
    pub fn render(&self, state: &Account) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                let price = state.prices.get(&item.price);
                let mut rendered = json!({
                    "id": item.id,
                    "object": "subscription_item",
                    "billing_thresholds": null,
                    "created": item.created,
                    "current_period_end": item.current_period_end,
                    "current_period_start": item.current_period_start,
                    "discounts": [],
                    "metadata": item.metadata,
                    "plan": price.map(|p| p.render_plan()),
                    "price": price.map(|p| p.render()),
                    "subscription": self.id,
                    "tax_rates": [],
                });
                if let Some(quantity) = item.quantity {
                    rendered["quantity"] = json!(quantity);
                }
                rendered
            })
            .collect();
        let item_count = items.len();
        let mut rendered = json!({
            "id": self.id,
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": self.billing_cycle_anchor,
            "billing_cycle_anchor_config": null,
            "billing_schedules": [],
            "billing_mode": {"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": self.created},
            "billing_thresholds": null,
            "cancel_at": self.cancel_at,
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": self.canceled_at,
            "cancellation_details": {
                "comment": self.cancellation_comment,
                "feedback": self.cancellation_feedback,
                "reason": self.cancellation_reason,
            },
            "collection_method": "charge_automatically",
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "customer_account": null,
            "days_until_due": null,
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": self.description,
            "discounts": [],
            "ended_at": self.ended_at,
        });
        let rest = json!({
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": items,
                "has_more": false,
                "total_count": item_count,
                "url": format!("/v1/subscription_items?subscription={}", self.id),
            },
            "latest_invoice": self.latest_invoice,
            "livemode": false,
            "managed_payments": null,
            "metadata": self.metadata,
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": null,
            "payment_settings": {
                "payment_method_options": null,
                "payment_method_types": null,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "presentment_details": null,
            "schedule": null,
            "start_date": self.created,
            "status": self.status,
            "status_details": null,
            "test_clock": self.test_clock,
            "transfer_data": null,
            "trial_end": null,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": null,
        });
        if let (Value::Object(all), Value::Object(rest)) = (&mut rendered, rest) {
            all.extend(rest);
        }
        rendered
    }

    /// The end of the current period (the earliest item's).
    pub fn current_period_end(&self) -> Option<i64> {
        self.items.iter().map(|i| i.current_period_end).min()
    }
}

/// `POST /v1/subscriptions`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/subscriptions",
    params: &[
        "customer",
        "items[][price]",
        "items[][quantity]",
        "items[][metadata][*]",
        "metadata[*]",
        "description",
        "cancel_at_period_end",
        "expand[]",
    ],
};

/// `GET /v1/subscriptions/{subscription_exposed_id}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/subscriptions/{subscription_exposed_id}",
    params: &["expand[]"],
};

/// `POST /v1/subscriptions/{subscription_exposed_id}`
pub const UPDATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/subscriptions/{subscription_exposed_id}",
    params: &[
        "cancel_at_period_end",
        "description",
        "metadata[*]",
        "expand[]",
    ],
};

/// `DELETE /v1/subscriptions/{subscription_exposed_id}`
pub const CANCEL: Endpoint = Endpoint {
    method: "DELETE",
    path: "/v1/subscriptions/{subscription_exposed_id}",
    params: &[
        "cancellation_details[comment]",
        "cancellation_details[feedback]",
        "invoice_now",
        "expand[]",
    ],
};

/// `GET /v1/subscriptions`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/subscriptions",
    params: &[
        "customer",
        "price",
        "status",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

const FEEDBACK: [&str; 8] = [
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
];

const LIST_STATUSES: [&str; 10] = [
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
];

fn refused(message: impl Into<String>, param: Option<String>) -> ApiError {
    ApiError::Refused {
        message: message.into(),
        param,
        code: None,
    }
}

fn missing(id: &str) -> ApiError {
    ApiError::NoSuchObject {
        kind: "subscription",
        id: id.to_string(),
    }
}

/// Creates an active subscription with its items' first periods starting now.
pub async fn create(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let customer_id = p.required_string("customer", 5000)?;
    let items = p.objects("items");
    if items.is_empty() {
        return Err(ApiError::MissingParameter("items".into()));
    }
    if items.len() > MAX_ITEMS {
        return Err(refused(
            format!("A subscription can have at most {MAX_ITEMS} items."),
            Some("items".into()),
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
        let mut metadata = Metadata::new();
        if let Some(update) = item.metadata()? {
            apply_metadata(&mut metadata, update);
        }
        requested.push((item.clone(), price, quantity, metadata));
    }
    let metadata = p.metadata()?;
    let description = p.nullable_string("description", 500)?.flatten();
    let cancel_at_period_end = p.bool("cancel_at_period_end")?.unwrap_or(false);

    let mut state = app.lock();
    let now = state.now_for(&customer_id);
    let customer = state
        .customers
        .get(&customer_id)
        .ok_or_else(|| ApiError::NoSuchReference {
            kind: "customer",
            id: customer_id.clone(),
            param: "customer".into(),
        })?;
    let test_clock = customer.test_clock.clone();
    let mut shared: Option<(String, Recurrence)> = None;
    let mut built = Vec::with_capacity(requested.len());
    for (item, price_id, quantity, item_metadata) in requested {
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
                "The price specified is inactive. This field only accepts active prices.",
                Some(item.name("price")),
            ));
        }
        let Some(recurring) = &price.recurring else {
            return Err(refused(
                "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
                Some(item.name("price")),
            ));
        };
        if price.is_metered() && quantity.is_some() {
            return Err(refused(
                "You cannot set the quantity for metered plans.",
                Some(item.name("quantity")),
            ));
        }
        if built.iter().any(|i: &Item| i.price == price_id) {
            return Err(refused(
                format!("Cannot add multiple subscription items with the same plan: {price_id}"),
                Some("items".into()),
            ));
        }
        match &shared {
            None => shared = Some((price.currency.clone(), recurring.recurrence)),
            Some((currency, recurrence)) => {
                let field = if *currency != price.currency {
                    Some("currency")
                } else if *recurrence != recurring.recurrence {
                    Some("interval")
                } else {
                    None
                };
                if let Some(field) = field {
                    return Err(refused(
                        format!(
                            "Currency and interval fields must match across all plans on this subscription. Found mismatch in {field} field."
                        ),
                        Some("items".into()),
                    ));
                }
            }
        }
        let quantity = (!price.is_metered()).then(|| quantity.map_or(1, i64::unsigned_abs));
        built.push(Item::new(
            price_id,
            quantity,
            item_metadata,
            recurring.recurrence,
            now,
        ));
    }
    let Some((currency, recurrence)) = shared else {
        return Err(ApiError::MissingParameter("items".into()));
    };
    let mut subscription =
        Subscription::new(customer_id, currency, recurrence, built, now, test_clock);
    subscription.description = description;
    if let Some(update) = metadata {
        apply_metadata(&mut subscription.metadata, update);
    }
    if cancel_at_period_end {
        schedule_cancel(&mut subscription, true, now);
    }
    let rendered = subscription.render(&state);
    state.subscriptions.insert(subscription);
    state.emit_at(
        now,
        &ctx.origin(),
        "customer.subscription.created",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}

/// Sets or clears `cancel_at_period_end` with its companion fields.
pub fn schedule_cancel(subscription: &mut Subscription, on: bool, now: i64) {
    subscription.cancel_at_period_end = on;
    if on {
        subscription.cancel_at = subscription.current_period_end();
        subscription.canceled_at = Some(now);
        subscription.cancellation_reason = Some("cancellation_requested");
    } else {
        subscription.cancel_at = None;
        subscription.canceled_at = None;
        subscription.cancellation_reason = None;
    }
}

/// Retrieves a subscription.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let subscription = state.subscriptions.get(&id).ok_or_else(|| missing(&id))?;
    respond(&state, subscription.render(&state), &p.expand())
}

/// Updates `cancel_at_period_end`, `description` and `metadata`.
pub async fn update(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE.decode(&form)?;
    let cancel_at_period_end = p.bool("cancel_at_period_end")?;
    let description = p.nullable_string("description", 500)?;
    let metadata = p.metadata()?;
    let mut state = app.lock();
    let subscription = state.subscriptions.get(&id).ok_or_else(|| missing(&id))?;
    if subscription.status == "canceled"
        && (cancel_at_period_end.is_some() || description.is_some())
    {
        return Err(refused(
            "A canceled subscription can only update its cancellation_details and metadata.",
            None,
        ));
    }
    let now = state.now_for(&subscription.customer);
    let after = change(&mut state, &id, now, &ctx.origin(), |subscription| {
        if let Some(on) = cancel_at_period_end {
            if on != subscription.cancel_at_period_end {
                schedule_cancel(subscription, on, now);
            }
        }
        if let Some(description) = description {
            subscription.description = description;
        }
        if let Some(update) = metadata {
            apply_metadata(&mut subscription.metadata, update);
        }
    });
    respond(&state, after, &p.expand())
}

/// Changes a subscription and, if its rendering changed, emits `customer.subscription.updated` at
/// `at` with the previous values. Returns the subscription as rendered after the change (null if
/// there is no such subscription).
pub fn change(
    state: &mut Account,
    id: &str,
    at: i64,
    origin: &Origin,
    f: impl FnOnce(&mut Subscription),
) -> Value {
    let Some(before) = state.subscriptions.get(id).map(|s| s.render(state)) else {
        return Value::Null;
    };
    if let Some(subscription) = state.subscriptions.get_mut(id) {
        f(subscription);
    }
    let after = state
        .subscriptions
        .get(id)
        .map(|s| s.render(state))
        .unwrap_or_default();
    if let Some(previous) = previous_attributes(&before, &after) {
        state.emit_at(
            at,
            origin,
            "customer.subscription.updated",
            after.clone(),
            Some(previous),
        );
    }
    after
}

/// Cancels a subscription immediately.
pub async fn cancel(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CANCEL.decode(&form)?;
    let details = p.object("cancellation_details").unwrap_or_default();
    let comment = details.nullable_string("comment", 5000)?.flatten();
    let feedback = details.one_of("feedback", &FEEDBACK)?;
    let invoice_now = p.bool("invoice_now")?.unwrap_or(false);
    let mut state = app.lock();
    let subscription = state
        .subscriptions
        .get_mut(&id)
        .ok_or_else(|| missing(&id))?;
    if subscription.status == "canceled" {
        return Err(refused(
            format!("The subscription {id} has already been canceled."),
            None,
        ));
    }
    subscription.cancellation_comment = comment;
    subscription.cancellation_feedback = feedback;
    let after = crate::billing_cycle::cancel_now(&mut state, &id, &ctx.origin(), invoice_now);
    respond(&state, after, &p.expand())
}

/// Lists subscriptions, newest first; without `status`, canceled ones are left out.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let customer = p.string("customer", 5000)?;
    let price = p.string("price", 5000)?;
    let status = p.one_of("status", &LIST_STATUSES)?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.subscriptions, "subscription", |s| {
        let status_matches = match status {
            None => s.status != "canceled" && s.status != "incomplete_expired",
            Some("all") => true,
            Some("ended") => s.status == "canceled" || s.status == "incomplete_expired",
            Some(wanted) => s.status == wanted,
        };
        status_matches
            && customer.as_ref().is_none_or(|c| &s.customer == c)
            && price
                .as_ref()
                .is_none_or(|id| s.items.iter().any(|i| &i.price == id))
    })?;
    let data = rows.into_iter().map(|s| s.render(&state)).collect();
    respond(
        &state,
        list::envelope("/v1/subscriptions", data, has_more),
        &p.expand(),
    )
}

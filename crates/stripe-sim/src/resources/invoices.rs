//! Invoices: `GET /v1/invoices/{invoice}` and `GET /v1/invoices` (by `customer`, `subscription`,
//! `status`). They are created, finalized and charged by [`crate::billing_cycle`] and by Checkout,
//! never by the API directly.
//!
//! At endive an invoice names its subscription under
//! `parent.subscription_details.subscription` (there is no top-level `subscription`), and each
//! line carries `pricing.price_details` and `parent.subscription_item_details`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::http::Form;
use crate::list::{self, Page};
use crate::params::Endpoint;
use crate::state::{App, Record, State as Account};

/// One invoice line: a subscription item's price for a period.
#[derive(Debug, Clone)]
pub struct InvoiceLine {
    /// `il_...`
    pub id: String,
    /// The subscription item it bills.
    pub subscription_item: String,
    /// The price.
    pub price: String,
    /// The price's product.
    pub product: String,
    /// Text shown on the invoice.
    pub description: String,
    /// Units (usage for metered lines).
    pub quantity: u64,
    /// Integer cents.
    pub amount: i64,
    /// The period it bills, `[start, end)`.
    pub period: (i64, i64),
    /// Whether the quantity comes from a meter (recomputed until finalization).
    pub metered: bool,
}

/// A stored invoice.
#[derive(Debug, Clone)]
pub struct Invoice {
    /// `in_...`
    pub id: String,
    /// Unix seconds (on the customer's clock).
    pub created: i64,
    /// The customer's id.
    pub customer: String,
    /// The subscription it bills.
    pub subscription: String,
    /// The subscription's metadata when the invoice was created.
    pub subscription_metadata: Metadata,
    /// `subscription_create`, `subscription_cycle`, `subscription_update`.
    pub billing_reason: &'static str,
    /// Lower-case currency.
    pub currency: String,
    /// The closed period (for cycle invoices) or the invoice's own instant.
    pub period_start: i64,
    /// End of that period.
    pub period_end: i64,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: &'static str,
    /// Assigned on finalization.
    pub number: Option<String>,
    /// Whether it finalizes and is charged by itself.
    pub auto_advance: bool,
    /// When a draft finalizes (end of the grace period).
    pub automatically_finalizes_at: Option<i64>,
    /// Payment attempts so far.
    pub attempt_count: u32,
    /// When the next (retry) attempt happens.
    pub next_payment_attempt: Option<i64>,
    /// Integer cents paid.
    pub amount_paid: i64,
    /// `status_transitions.finalized_at`.
    pub finalized_at: Option<i64>,
    /// `status_transitions.paid_at`.
    pub paid_at: Option<i64>,
    /// The customer's test clock, if any.
    pub test_clock: Option<String>,
}

impl Record for Invoice {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Invoice {
    /// Sum of the lines, in cents.
    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.amount).sum()
    }

    /// What is still owed.
    pub fn amount_remaining(&self) -> i64 {
        match self.status {
            "draft" | "open" => self.total() - self.amount_paid,
            _ => 0,
        }
    }

    fn render_line(&self, line: &InvoiceLine) -> Value {
        json!({
            "id": line.id,
            "object": "line_item",
            "amount": line.amount,
            "currency": self.currency,
            "description": line.description,
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": self.id,
            "livemode": false,
            "metadata": {},
            "parent": {
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": self.subscription,
                    "subscription_item": line.subscription_item,
                },
                "type": "subscription_item_details",
            },
            "period": {"end": line.period.1, "start": line.period.0},
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": line.price, "product": line.product},
                "type": "price_details",
                "unit_amount_decimal": null,
            },
            "quantity": line.quantity,
            "quantity_decimal": line.quantity.to_string(),
            "subscription": self.subscription,
            "subtotal": line.amount,
            "taxes": [],
        })
    }

    /// The invoice in Stripe's shape at endive.
    pub fn render(&self, state: &Account) -> Value {
        let customer = state.customers.get(&self.customer);
        let total = self.total();
        let lines: Vec<Value> = self.lines.iter().map(|l| self.render_line(l)).collect();
        let line_count = lines.len();
        let mut rendered = json!({
            "id": self.id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Lead Magnet AI (stripe-sim)",
            "account_tax_ids": null,
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": self.amount_paid,
            "amount_paid_off_stripe": 0,
            "amount_remaining": self.amount_remaining(),
            "amount_shipping": 0,
            "application": null,
            "attempt_count": self.attempt_count,
            "attempted": self.attempt_count > 0,
            "auto_advance": self.auto_advance,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
            "automatically_finalizes_at": self.automatically_finalizes_at,
            "billing_reason": self.billing_reason,
            "collection_method": "charge_automatically",
            "confirmation_secret": null,
            "created": self.created,
            "currency": self.currency,
            "custom_fields": null,
        });
        let customer_fields = json!({
            "customer": self.customer,
            "customer_account": null,
            "customer_address": null,
            "customer_email": customer.and_then(|c| c.email.clone()),
            "customer_name": customer.and_then(|c| c.name.clone()),
            "customer_phone": customer.and_then(|c| c.phone.clone()),
            "customer_shipping": null,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "due_date": null,
            "effective_at": self.finalized_at,
            "ending_balance": self.finalized_at.map(|_| 0),
            "footer": null,
            "from_invoice": null,
            "hosted_invoice_url": null,
            "invoice_pdf": null,
            "issuer": {"type": "self"},
            "last_finalization_error": null,
            "latest_revision": null,
        });
        let rest = json!({
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": false,
                "total_count": line_count,
                "url": format!("/v1/invoices/{}/lines", self.id),
            },
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": self.next_payment_attempt,
            "number": self.number,
            "on_behalf_of": null,
            "parent": {
                "quote_details": null,
                "subscription_details": {
                    "metadata": self.subscription_metadata,
                    "subscription": self.subscription,
                },
                "type": "subscription_details",
            },
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": self.period_end,
            "period_start": self.period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": null,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "starting_balance": 0,
            "statement_descriptor": null,
            "status": self.status,
            "status_details": null,
            "status_transitions": {
                "finalized_at": self.finalized_at,
                "marked_uncollectible_at": null,
                "paid_at": self.paid_at,
                "voided_at": null,
            },
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "test_clock": self.test_clock,
            "threshold_reason": null,
            "total": total,
            "total_discount_amounts": [],
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": self.created,
        });
        for part in [customer_fields, rest] {
            if let (Value::Object(all), Value::Object(part)) = (&mut rendered, part) {
                all.extend(part);
            }
        }
        rendered
    }
}

/// `GET /v1/invoices/{invoice}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/invoices/{invoice}",
    params: &["expand[]"],
};

/// `GET /v1/invoices`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/invoices",
    params: &[
        "customer",
        "subscription",
        "status",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// Retrieves an invoice.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let invoice = state
        .invoices
        .get(&id)
        .ok_or_else(|| ApiError::NoSuchObject {
            kind: "invoice",
            id: id.clone(),
        })?;
    respond(&state, invoice.render(&state), &p.expand())
}

/// Lists invoices, newest first.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let customer = p.string("customer", 5000)?;
    let subscription = p.string("subscription", 5000)?;
    let status = p.one_of(
        "status",
        &["draft", "open", "paid", "uncollectible", "void"],
    )?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.invoices, "invoice", |i| {
        customer.as_ref().is_none_or(|c| &i.customer == c)
            && subscription.as_ref().is_none_or(|s| &i.subscription == s)
            && status.is_none_or(|s| i.status == s)
    })?;
    let data = rows.into_iter().map(|i| i.render(&state)).collect();
    respond(
        &state,
        list::envelope("/v1/invoices", data, has_more),
        &p.expand(),
    )
}

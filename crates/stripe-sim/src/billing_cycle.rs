//! The billing cycle: period close → draft invoice → (grace period) → finalize → charge → retry.
//!
//! [`catch_up`] runs whenever the state is locked and after a test clock advances. For each
//! subscription it repeatedly takes the earliest thing that has fallen due on its customer's clock
//! ([`crate::state::State::now_for`]) and does it at that instant, so a long jump replays the
//! months in order:
//!
//! - **Period end.** The items move to the next period (`customer.subscription.updated`, old
//!   periods in `previous_attributes`) and a draft `subscription_cycle` invoice is created
//!   (`invoice.created`): each licensed price for the new period, each metered price for the usage
//!   in the closed period `[start, end)`. With `cancel_at_period_end` the subscription ends instead
//!   (`customer.subscription.deleted`) and a final invoice bills the closed period's usage.
//! - **Finalization**, after the grace period (Stripe's default hour): metered lines are recomputed
//!   (late meter events with timestamps in the closed period count), the invoice is `open`
//!   (`invoice.finalized`) and charged at once.
//! - **Charge.** `invoice.paid` (and `invoice.payment_succeeded`), or `invoice.payment_failed` with
//!   the subscription `past_due` and a retry scheduled [`BillingSettings::retry_days`] after
//!   finalization. After the last failure the subscription becomes `unpaid` or `canceled`
//!   ([`AfterLastFailure`]). A successful charge brings a `past_due`/`unpaid` subscription back to
//!   `active`.
//!
//! Checkout sessions past `expires_at` expire here too (`checkout.session.expired`).

use std::collections::HashMap;

use serde_json::Value;

use crate::events::Origin;
use crate::ids::{self, Kind};
use crate::money;
use crate::period;
use crate::resources::invoices::{Invoice, InvoiceLine};
use crate::resources::{meters, subscriptions};
use crate::state::State;

/// What happens to a subscription when its invoice's last payment retry fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterLastFailure {
    /// It becomes `unpaid` (later invoices stay drafts until it is paid).
    Unpaid,
    /// It is canceled (`customer.subscription.deleted`), Stripe's default.
    Canceled,
}

impl AfterLastFailure {
    /// Parses `unpaid` or `canceled`.
    pub fn parse(text: &str) -> Option<AfterLastFailure> {
        match text {
            "unpaid" => Some(AfterLastFailure::Unpaid),
            "canceled" | "cancelled" => Some(AfterLastFailure::Canceled),
            _ => None,
        }
    }
}

/// Invoice timing and payment retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingSettings {
    /// How long a cycle invoice stays a draft (Stripe's default: one hour).
    pub grace_secs: i64,
    /// Days after finalization at which a failed charge is retried (Smart-Retries-like).
    pub retry_days: Vec<i64>,
    /// The subscription's fate after the last retry fails.
    pub after_last_failure: AfterLastFailure,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings {
            grace_secs: 3_600,
            retry_days: vec![3, 5, 7],
            after_last_failure: AfterLastFailure::Canceled,
        }
    }
}

/// Things that fall due, in the order they are done when due at the same instant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Finalize(String),
    Retry(String),
    PeriodEnd,
}

/// Brings every subscription, invoice and checkout session up to its clock.
///
/// It runs on every request, so it reads each invoice and subscription once (linear in the
/// account's size, not their product): only subscriptions with something already due on their
/// customer's clock are then run.
pub fn catch_up(state: &mut State) {
    let account_now = state.now();
    let latest_now = state.latest_now(account_now);
    expire_checkout_sessions(state, account_now, latest_now);
    let mut earliest_invoice_due: HashMap<&str, i64> = HashMap::new();
    for (_, invoice) in state.invoices.newest_first() {
        if let Some((at, _)) = invoice_due(invoice) {
            earliest_invoice_due
                .entry(invoice.subscription.as_str())
                .and_modify(|e| *e = (*e).min(at))
                .or_insert(at);
        }
    }
    let mut ids: Vec<String> = state
        .subscriptions
        .newest_first()
        .map(|(_, s)| s)
        .filter(|s| {
            let period_end = if s.status == "canceled" {
                None
            } else {
                s.current_period_end()
            };
            let invoice = earliest_invoice_due.get(s.id.as_str()).copied();
            let due = match (period_end, invoice) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            due.is_some_and(|at| {
                at <= latest_now && at <= state.now_for_at(&s.customer, account_now)
            })
        })
        .map(|s| s.id.clone())
        .collect();
    ids.reverse();
    for id in ids {
        run_subscription(state, &id);
    }
}

/// What an invoice has falling due, and when: a draft's automatic finalization, an open
/// invoice's next payment attempt.
fn invoice_due(invoice: &Invoice) -> Option<(i64, Due)> {
    match (invoice.status, invoice.automatically_finalizes_at) {
        ("draft", Some(at)) if invoice.auto_advance => {
            Some((at, Due::Finalize(invoice.id.clone())))
        }
        ("open", _) => invoice
            .next_payment_attempt
            .map(|at| (at, Due::Retry(invoice.id.clone()))),
        _ => None,
    }
}

fn next_due(state: &State, subscription_id: &str) -> Option<(i64, Due)> {
    let subscription = state.subscriptions.get(subscription_id)?;
    let mut due: Vec<(i64, Due)> = Vec::new();
    if subscription.status != "canceled" {
        if let Some(end) = subscription.current_period_end() {
            due.push((end, Due::PeriodEnd));
        }
    }
    due.extend(
        state
            .invoices
            .newest_first()
            .filter(|(_, invoice)| invoice.subscription == subscription_id)
            .filter_map(|(_, invoice)| invoice_due(invoice)),
    );
    due.into_iter().min()
}

fn run_subscription(state: &mut State, id: &str) {
    // Bounded so that a bug can never spin forever under the lock (10,000 steps is ~800 years of
    // monthly periods).
    for _ in 0..10_000 {
        let Some(customer) = state.subscriptions.get(id).map(|s| s.customer.clone()) else {
            return;
        };
        let now = state.now_for(&customer);
        let Some((at, due)) = next_due(state, id) else {
            return;
        };
        if at > now {
            return;
        }
        match due {
            Due::PeriodEnd => close_period(state, id, at),
            Due::Finalize(invoice) => finalize(state, &invoice, at, &Origin::default()),
            Due::Retry(invoice) => {
                attempt_payment(state, &invoice, at, &Origin::default());
            }
        }
    }
}

fn render_subscription(state: &State, id: &str) -> Value {
    state
        .subscriptions
        .get(id)
        .map(|s| s.render(state))
        .unwrap_or_default()
}

fn close_period(state: &mut State, id: &str, at: i64) {
    let Some(subscription) = state.subscriptions.get_mut(id) else {
        return;
    };
    let closed = subscription
        .items
        .first()
        .map_or((at, at), |i| (i.current_period_start, i.current_period_end));
    if subscription.cancel_at_period_end {
        subscription.status = "canceled";
        subscription.ended_at = Some(at);
        end_with_final_invoice(
            state,
            id,
            at,
            &Origin::default(),
            "subscription_cycle",
            closed,
        );
        return;
    }
    let next = period::containing(
        subscription.billing_cycle_anchor,
        subscription.recurrence,
        at,
    );
    let invoice = draft_invoice(state, id, "subscription_cycle", at, closed, Some(next));
    subscriptions::change(state, id, at, &Origin::default(), |subscription| {
        for item in &mut subscription.items {
            item.current_period_start = next.0;
            item.current_period_end = next.1;
        }
        if invoice.is_some() {
            subscription.latest_invoice.clone_from(&invoice);
        }
    });
    if let Some(invoice) = invoice {
        emit_invoice(state, &invoice, at, &Origin::default(), "invoice.created");
    }
}

/// The usage a metered price bills for a customer over `[start, end)`, by its meter's formula.
/// Negative totals bill as zero, as Stripe does.
pub fn usage(state: &State, customer: &str, price_id: &str, (start, end): (i64, i64)) -> u64 {
    let Some(meter) = state
        .prices
        .get(price_id)
        .and_then(|p| p.recurring.as_ref())
        .and_then(|r| r.meter.as_deref())
        .and_then(|m| state.meters.get(m))
    else {
        return 0;
    };
    let events = meters::counted_events(meter, &state.meter_events, customer);
    let total = meter.formula.aggregate(
        events
            .into_iter()
            .filter(|e| start <= e.timestamp && e.timestamp < end),
    );
    u64::try_from(total).unwrap_or(0)
}

fn product_name(state: &State, product: &str) -> String {
    state
        .products
        .get(product)
        .map_or_else(|| product.to_string(), |p| p.name.clone())
}

fn line(
    state: &State,
    item_id: &str,
    price_id: &str,
    quantity: u64,
    period: (i64, i64),
    metered: bool,
) -> Option<InvoiceLine> {
    let price = state.prices.get(price_id)?;
    let amount = money::amount(price, quantity).unwrap_or_else(|err| {
        tracing::error!(price = %price_id, error = %err, "cannot price an invoice line");
        0
    });
    let name = product_name(state, &price.product);
    let description = match price.unit_amount_decimal.as_deref() {
        Some(unit) if price.tiers.is_empty() => format!(
            "{quantity} × {name} (at {} / {})",
            money::format_usd_decimal(unit),
            price
                .recurring
                .as_ref()
                .map_or("unit", |r| r.recurrence.interval.as_str())
        ),
        _ => format!("{quantity} × {name} (tiered)"),
    };
    Some(InvoiceLine {
        id: ids::new_id(Kind::InvoiceLine),
        subscription_item: item_id.to_string(),
        price: price_id.to_string(),
        product: price.product.clone(),
        description,
        quantity,
        amount,
        period,
        metered,
    })
}

/// Creates a draft invoice for a subscription at `at` (not yet announced): metered items for
/// the usage in `usage_period` (none when it is empty), licensed items for `base_period` when
/// given. Returns its id, or
/// `None` when there is nothing to bill (no lines).
pub fn draft_invoice(
    state: &mut State,
    subscription_id: &str,
    billing_reason: &'static str,
    at: i64,
    usage_period: (i64, i64),
    base_period: Option<(i64, i64)>,
) -> Option<String> {
    let subscription = state.subscriptions.get(subscription_id)?;
    let mut lines = Vec::new();
    for item in &subscription.items {
        let metered = state
            .prices
            .get(&item.price)
            .is_some_and(|p| p.is_metered());
        let made = if metered {
            if usage_period.0 >= usage_period.1 {
                // Nothing to bill in arrears yet (a subscription's first invoice).
                continue;
            }
            let quantity = usage(state, &subscription.customer, &item.price, usage_period);
            line(state, &item.id, &item.price, quantity, usage_period, true)
        } else if let Some(period) = base_period {
            let quantity = item.quantity.unwrap_or(1);
            line(state, &item.id, &item.price, quantity, period, false)
        } else {
            None
        };
        lines.extend(made);
    }
    if lines.is_empty() {
        return None;
    }
    let auto_advance = subscription.status != "unpaid";
    let invoice = Invoice {
        id: ids::new_id(Kind::Invoice),
        created: at,
        customer: subscription.customer.clone(),
        subscription: subscription.id.clone(),
        subscription_metadata: subscription.metadata.clone(),
        billing_reason,
        currency: subscription.currency.clone(),
        period_start: usage_period.0,
        period_end: usage_period.1,
        lines,
        status: "draft",
        number: None,
        auto_advance,
        automatically_finalizes_at: auto_advance.then_some(at + state.billing.grace_secs),
        attempt_count: 0,
        next_payment_attempt: None,
        amount_paid: 0,
        finalized_at: None,
        paid_at: None,
        test_clock: subscription.test_clock.clone(),
    };
    let id = invoice.id.clone();
    state.invoices.insert(invoice);
    Some(id)
}

/// Records an invoice event with the invoice as it is now.
pub fn emit_invoice(state: &mut State, invoice_id: &str, at: i64, origin: &Origin, kind: &str) {
    let Some(rendered) = state.invoices.get(invoice_id).map(|i| i.render(state)) else {
        return;
    };
    state.emit_at(at, origin, kind, rendered, None);
}

/// Recomputes metered lines, gives the invoice its number, opens it (`invoice.finalized`) and
/// charges it.
pub fn finalize(state: &mut State, invoice_id: &str, at: i64, origin: &Origin) {
    finalize_with(state, invoice_id, at, origin, false);
}

/// [`finalize`], where `card_confirmed` means the card was just confirmed by the customer on the
/// Checkout page, so the charge succeeds whatever the card does later (`4000 0000 0000 0341`).
pub fn finalize_with(
    state: &mut State,
    invoice_id: &str,
    at: i64,
    origin: &Origin,
    card_confirmed: bool,
) {
    let Some(invoice) = state.invoices.get(invoice_id) else {
        return;
    };
    let customer = invoice.customer.clone();
    let recomputed: Vec<(usize, Option<InvoiceLine>)> = invoice
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.metered)
        .map(|(i, l)| {
            let quantity = usage(state, &customer, &l.price, l.period);
            let fresh = line(
                state,
                &l.subscription_item,
                &l.price,
                quantity,
                l.period,
                true,
            )
            .map(|fresh| InvoiceLine {
                id: l.id.clone(),
                ..fresh
            });
            (i, fresh)
        })
        .collect();
    let number = state.customers.get_mut(&customer).map(|c| {
        let n = c.next_invoice_sequence;
        c.next_invoice_sequence += 1;
        format!("{}-{n:04}", c.invoice_prefix)
    });
    let Some(invoice) = state.invoices.get_mut(invoice_id) else {
        return;
    };
    for (i, fresh) in recomputed {
        if let Some(fresh) = fresh {
            invoice.lines[i] = fresh;
        }
    }
    invoice.status = "open";
    invoice.number = number;
    invoice.finalized_at = Some(at);
    invoice.automatically_finalizes_at = None;
    emit_invoice(state, invoice_id, at, origin, "invoice.finalized");
    charge(state, invoice_id, at, origin, card_confirmed);
}

fn set_subscription_status(
    state: &mut State,
    subscription_id: &str,
    status: &'static str,
    at: i64,
    origin: &Origin,
) {
    let current = state.subscriptions.get(subscription_id).map(|s| s.status);
    if current.is_none_or(|c| c == status || c == "canceled") {
        return;
    }
    if status != "canceled" {
        subscriptions::change(state, subscription_id, at, origin, |s| s.status = status);
        return;
    }
    if let Some(subscription) = state.subscriptions.get_mut(subscription_id) {
        subscription.status = status;
        subscription.canceled_at = Some(at);
        subscription.ended_at = Some(at);
        subscription.cancellation_reason = Some("payment_failed");
    }
    let after = render_subscription(state, subscription_id);
    state.emit_at(at, origin, "customer.subscription.deleted", after, None);
}

/// Charges an open invoice to its customer's default payment method. Returns whether it is paid.
pub fn attempt_payment(state: &mut State, invoice_id: &str, at: i64, origin: &Origin) -> bool {
    charge(state, invoice_id, at, origin, false)
}

fn charge(
    state: &mut State,
    invoice_id: &str,
    at: i64,
    origin: &Origin,
    card_confirmed: bool,
) -> bool {
    let Some(invoice) = state.invoices.get(invoice_id) else {
        return false;
    };
    if invoice.status != "open" {
        return invoice.status == "paid";
    }
    let total = invoice.total();
    let subscription_id = invoice.subscription.clone();
    let succeeds = total <= 0
        || card_confirmed
        || state
            .customers
            .get(&invoice.customer)
            .and_then(|c| c.default_payment_method.as_deref())
            .and_then(|pm| state.payment_methods.get(pm))
            .is_some_and(|pm| pm.charge_succeeds());
    let retry_days = state.billing.retry_days.clone();
    let after_last_failure = state.billing.after_last_failure;
    let Some(invoice) = state.invoices.get_mut(invoice_id) else {
        return false;
    };
    if total > 0 {
        invoice.attempt_count += 1;
    }
    if succeeds {
        invoice.status = "paid";
        invoice.amount_paid = total;
        invoice.paid_at = Some(at);
        invoice.next_payment_attempt = None;
        emit_invoice(state, invoice_id, at, origin, "invoice.paid");
        emit_invoice(state, invoice_id, at, origin, "invoice.payment_succeeded");
        let recovering = state
            .subscriptions
            .get(&subscription_id)
            .is_some_and(|s| s.status == "past_due" || s.status == "unpaid");
        if recovering {
            set_subscription_status(state, &subscription_id, "active", at, origin);
        }
        return true;
    }
    let finalized_at = invoice.finalized_at.unwrap_or(at);
    let index = usize::try_from(invoice.attempt_count.saturating_sub(1)).unwrap_or(usize::MAX);
    let next = retry_days
        .get(index..)
        .unwrap_or_default()
        .iter()
        .map(|days| finalized_at + days * 86_400)
        .find(|t| *t > at);
    invoice.next_payment_attempt = next;
    emit_invoice(state, invoice_id, at, origin, "invoice.payment_failed");
    match (next, after_last_failure) {
        (Some(_), _) => {
            let active = state
                .subscriptions
                .get(&subscription_id)
                .is_some_and(|s| s.status == "active");
            if active {
                set_subscription_status(state, &subscription_id, "past_due", at, origin);
            }
        }
        (None, AfterLastFailure::Unpaid) => {
            set_subscription_status(state, &subscription_id, "unpaid", at, origin);
        }
        (None, AfterLastFailure::Canceled) => {
            set_subscription_status(state, &subscription_id, "canceled", at, origin);
        }
    }
    false
}

/// Retries, now, every open invoice of the customer that has already failed (after a new card).
pub fn retry_failed_invoices(state: &mut State, customer: &str, origin: &Origin) {
    let at = state.now_for(customer);
    let open: Vec<String> = state
        .invoices
        .newest_first()
        .filter(|(_, i)| i.customer == customer && i.status == "open" && i.attempt_count > 0)
        .map(|(_, i)| i.id.clone())
        .collect();
    for id in open.into_iter().rev() {
        attempt_payment(state, &id, at, origin);
    }
}

/// Cancels a subscription now (`customer.subscription.deleted`); with `invoice_now`, a final
/// invoice bills the current period's usage so far. Returns the subscription as rendered.
pub fn cancel_now(state: &mut State, id: &str, origin: &Origin, invoice_now: bool) -> Value {
    let Some(customer) = state.subscriptions.get(id).map(|s| s.customer.clone()) else {
        return Value::Null;
    };
    let at = state.now_for(&customer);
    let Some(subscription) = state.subscriptions.get_mut(id) else {
        return Value::Null;
    };
    let started = subscription
        .items
        .first()
        .map_or(at, |i| i.current_period_start);
    subscription.status = "canceled";
    subscription.canceled_at = Some(at);
    subscription.ended_at = Some(at);
    subscription.cancellation_reason = Some("cancellation_requested");
    if invoice_now {
        end_with_final_invoice(state, id, at, origin, "subscription_update", (started, at))
    } else {
        let after = render_subscription(state, id);
        state.emit_at(
            at,
            origin,
            "customer.subscription.deleted",
            after.clone(),
            None,
        );
        after
    }
}

/// For a subscription just marked canceled: drafts a final invoice for the usage in
/// `usage_period`, then emits `customer.subscription.deleted` (naming it as `latest_invoice`) and
/// `invoice.created`. Returns the subscription as rendered.
fn end_with_final_invoice(
    state: &mut State,
    id: &str,
    at: i64,
    origin: &Origin,
    billing_reason: &'static str,
    usage_period: (i64, i64),
) -> Value {
    let invoice = draft_invoice(state, id, billing_reason, at, usage_period, None);
    if let (Some(invoice), Some(subscription)) = (&invoice, state.subscriptions.get_mut(id)) {
        subscription.latest_invoice = Some(invoice.clone());
    }
    let after = render_subscription(state, id);
    state.emit_at(
        at,
        origin,
        "customer.subscription.deleted",
        after.clone(),
        None,
    );
    if let Some(invoice) = invoice {
        emit_invoice(state, &invoice, at, origin, "invoice.created");
    }
    after
}

/// Expires the open sessions past `expires_at` on their customer's clock (`account_now`,
/// `latest_now`: as [`catch_up`] read them).
fn expire_checkout_sessions(state: &mut State, account_now: i64, latest_now: i64) {
    let due: Vec<(String, i64)> = state
        .checkout_sessions
        .newest_first()
        .filter(|(_, s)| s.status == "open")
        .filter(|(_, s)| {
            s.expires_at <= latest_now && s.expires_at <= state.now_for_at(&s.customer, account_now)
        })
        .map(|(_, s)| (s.id.clone(), s.expires_at))
        .collect();
    for (id, at) in due.into_iter().rev() {
        if let Some(session) = state.checkout_sessions.get_mut(&id) {
            session.status = "expired";
        }
        let Some(rendered) = state.checkout_sessions.get(&id).map(|s| s.render(state)) else {
            continue;
        };
        state.emit_at(
            at,
            &Origin::default(),
            "checkout.session.expired",
            rendered,
            None,
        );
    }
}

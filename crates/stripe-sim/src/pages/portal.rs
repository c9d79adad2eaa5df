//! The hosted customer portal (`/p/session/{session}`): the customer's subscriptions with a cancel
//! button (as the configuration's mode says), a card form to replace the default payment method,
//! the invoice history, and a link back to `return_url`, each only when the configuration enables
//! it. Every change has the effects and events of the equivalent API call.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::{PageError, card_fields, date, describe_price, escape, fields, layout, product_name};
use crate::billing_cycle;
use crate::events::Origin;
use crate::money;
use crate::resources::checkout::attach_card;
use crate::resources::payment_methods::read_card;
use crate::resources::portal::{CancelMode, PortalConfiguration, PortalSession};
use crate::resources::subscriptions::{self, schedule_cancel};
use crate::state::{App, State as Account};

/// A message shown above the page's sections.
enum Notice {
    Ok(String),
    Error(String),
}

fn session_and_config<'a>(
    state: &'a Account,
    id: &str,
) -> Result<(&'a PortalSession, &'a PortalConfiguration), PageError> {
    let session = state.portal_sessions.get(id).ok_or(PageError::NotFound)?;
    let config = state
        .portal_configurations
        .get(&session.configuration)
        .ok_or(PageError::NotFound)?;
    Ok((session, config))
}

fn subscriptions_section(
    state: &Account,
    session: &PortalSession,
    config: &PortalConfiguration,
) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"subs-heading\">\n<h2 id=\"subs-heading\">Subscriptions</h2>\n",
    );
    let mut any = false;
    for (_, sub) in state.subscriptions.newest_first() {
        if sub.customer != session.customer || sub.status == "canceled" {
            continue;
        }
        any = true;
        let mut items = String::new();
        let mut title = String::new();
        for item in &sub.items {
            let Some(price) = state.prices.get(&item.price) else {
                continue;
            };
            if title.is_empty() {
                title = product_name(state, price);
            }
            items.push_str(&format!("<li>{}</li>\n", escape(&describe_price(price))));
        }
        let (start, end) = sub
            .items
            .first()
            .map_or((0, 0), |i| (i.current_period_start, i.current_period_end));
        out.push_str(&format!(
            "<article>\n<h3>{}</h3>\n<p>Status: {}. Current period: {} to {}.</p>\n<ul>\n{items}</ul>\n",
            escape(&title),
            escape(sub.status),
            date(start),
            date(end)
        ));
        if sub.cancel_at_period_end {
            out.push_str(&format!(
                "<p>Cancels on {}.</p>\n",
                date(sub.cancel_at.unwrap_or(end))
            ));
        } else if config.cancel_enabled {
            let when = match config.cancel_mode {
                CancelMode::AtPeriodEnd => format!("at the end of the period ({})", date(end)),
                CancelMode::Immediately => "immediately".to_string(),
            };
            out.push_str(&format!(
                "<form method=\"post\" action=\"/p/session/{}/cancel\">\n\
<input type=\"hidden\" name=\"subscription\" value=\"{}\">\n\
<p>Your subscription will end {}.</p>\n\
<button type=\"submit\">Cancel subscription</button>\n</form>\n",
                escape(&session.id),
                escape(&sub.id),
                escape(&when)
            ));
        }
        out.push_str("</article>\n");
    }
    if !any {
        out.push_str("<p>No active subscriptions.</p>\n");
    }
    out.push_str("</section>\n");
    out
}

fn card_section(state: &Account, session: &PortalSession) -> String {
    let current = state
        .customers
        .get(&session.customer)
        .and_then(|c| c.default_payment_method.as_deref())
        .and_then(|pm| state.payment_methods.get(pm))
        .map_or_else(
            || "No card on file.".to_string(),
            |pm| format!("Visa ending in {}", pm.card.last4),
        );
    format!(
        "<section aria-labelledby=\"card-heading\">\n<h2 id=\"card-heading\">Payment method</h2>\n\
<p>{}</p>\n<form method=\"post\" action=\"/p/session/{}/payment_method\">\n{}\
<button type=\"submit\">Update card</button>\n</form>\n</section>\n",
        escape(&current),
        escape(&session.id),
        card_fields("")
    )
}

fn invoices_section(state: &Account, session: &PortalSession) -> String {
    let mut rows = String::new();
    for (_, invoice) in state.invoices.newest_first() {
        if invoice.customer != session.customer || invoice.status == "draft" {
            continue;
        }
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            date(invoice.created),
            escape(invoice.number.as_deref().unwrap_or("")),
            escape(&money::format_usd(invoice.total())),
            escape(invoice.status)
        ));
    }
    format!(
        "<section aria-labelledby=\"invoices-heading\">\n<h2 id=\"invoices-heading\">Invoice history</h2>\n\
<table>\n<thead><tr><th scope=\"col\">Date</th><th scope=\"col\">Number</th><th scope=\"col\">Amount</th><th scope=\"col\">Status</th></tr></thead>\n\
<tbody>\n{rows}</tbody>\n</table>\n</section>\n"
    )
}

fn render(state: &Account, id: &str, notice: Option<Notice>) -> Result<String, PageError> {
    let (session, config) = session_and_config(state, id)?;
    let heading = config
        .headline
        .clone()
        .unwrap_or_else(|| "Manage your billing".to_string());
    let mut body = format!("<h1>{}</h1>\n", escape(&heading));
    match notice {
        Some(Notice::Ok(text)) => {
            body.push_str(&format!(
                "<p class=\"ok\" role=\"status\">{}</p>\n",
                escape(&text)
            ));
        }
        Some(Notice::Error(text)) => {
            body.push_str(&format!(
                "<p class=\"error\" role=\"alert\">{}</p>\n",
                escape(&text)
            ));
        }
        None => {}
    }
    body.push_str(&subscriptions_section(state, session, config));
    if config.payment_method_update {
        body.push_str(&card_section(state, session));
    }
    if config.invoice_history {
        body.push_str(&invoices_section(state, session));
    }
    if let Some(url) = &session.return_url {
        body.push_str(&format!("<p><a href=\"{}\">Return</a></p>\n", escape(url)));
    }
    Ok(layout(&heading, &body))
}

/// `GET /p/session/{session}`
pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let state = app.lock();
    render(&state, &id, None).map(Html)
}

/// `POST /p/session/{session}/cancel` with `subscription`.
pub async fn cancel(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = fields(&body);
    let sub_id = form.get("subscription").cloned().unwrap_or_default();
    let mut state = app.lock();
    let (session, config) = session_and_config(&state, &id)?;
    let customer = session.customer.clone();
    let (enabled, mode) = (config.cancel_enabled, config.cancel_mode);
    let owned = state
        .subscriptions
        .get(&sub_id)
        .is_some_and(|s| s.customer == customer && s.status != "canceled");
    if !enabled || !owned {
        let page = render(
            &state,
            &id,
            Some(Notice::Error(
                "This subscription cannot be canceled here.".into(),
            )),
        )?;
        return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
    }
    let origin = Origin::default();
    let message = match mode {
        CancelMode::Immediately => {
            billing_cycle::cancel_now(&mut state, &sub_id, &origin, true);
            "Your subscription has been canceled.".to_string()
        }
        CancelMode::AtPeriodEnd => {
            let now = state.now_for(&customer);
            subscriptions::change(&mut state, &sub_id, now, &origin, |sub| {
                schedule_cancel(sub, true, now);
            });
            "Your subscription will end at the end of the current period.".to_string()
        }
    };
    render(&state, &id, Some(Notice::Ok(message))).map(|page| Html(page).into_response())
}

/// `POST /p/session/{session}/payment_method` with the card fields. A good card becomes the
/// default; open invoices that failed are retried at once.
pub async fn update_card(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = fields(&body);
    let number = form.get("card_number").cloned().unwrap_or_default();
    let expiry = form.get("card_expiry").cloned().unwrap_or_default();
    let mut state = app.lock();
    let (session, config) = session_and_config(&state, &id)?;
    let customer = session.customer.clone();
    if !config.payment_method_update {
        let page = render(
            &state,
            &id,
            Some(Notice::Error("Updating the card is not enabled.".into())),
        )?;
        return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
    }
    let card = match read_card(&number, &expiry) {
        Ok(card) => card,
        Err(err) => {
            let page = render(&state, &id, Some(Notice::Error(err.to_string())))?;
            return Ok((StatusCode::PAYMENT_REQUIRED, Html(page)).into_response());
        }
    };
    let origin = Origin::default();
    let now = state.now_for(&customer);
    attach_card(&mut state, &customer, card, now, &origin);
    billing_cycle::retry_failed_invoices(&mut state, &customer, &origin);
    render(
        &state,
        &id,
        Some(Notice::Ok("Your card has been updated.".into())),
    )
    .map(|page| Html(page).into_response())
}

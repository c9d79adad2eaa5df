//! The hosted Checkout page (`GET/POST /c/pay/{session}`): the line items with their prices, a
//! card form and a "Subscribe" button, and a link back to `cancel_url`. A good card completes the
//! session and redirects (303) to `success_url`; a declined card re-renders the page with the
//! error (402) and the session stays open.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{PageError, card_fields, describe_price, escape, fields, layout, product_name};
use crate::money;
use crate::resources::checkout::{self, CheckoutSession};
use crate::resources::payment_methods::read_card;
use crate::state::{App, State as Account};

fn open_session<'a>(state: &'a Account, id: &str) -> Result<&'a CheckoutSession, PageError> {
    let session = state.checkout_sessions.get(id).ok_or(PageError::NotFound)?;
    match session.status {
        "open" => Ok(session),
        "complete" => Err(PageError::Gone(
            "This Checkout Session is already complete.".into(),
        )),
        _ => Err(PageError::Gone("This Checkout Session has expired.".into())),
    }
}

fn render(state: &Account, session: &CheckoutSession, error: Option<&str>, number: &str) -> String {
    let mut rows = String::new();
    for item in &session.line_items {
        let Some(price) = state.prices.get(&item.price) else {
            continue;
        };
        let quantity = item
            .quantity
            .map_or_else(|| "Billed by usage".to_string(), |q| q.to_string());
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&product_name(state, price)),
            escape(&describe_price(price)),
            escape(&quantity)
        ));
    }
    let alert = error.map_or_else(String::new, |e| {
        format!(
            "<p id=\"card-error\" class=\"error\" role=\"alert\">{}</p>\n",
            escape(e)
        )
    });
    let cancel = session.cancel_url.as_ref().map_or_else(String::new, |url| {
        format!("<p><a href=\"{}\">Cancel and return</a></p>\n", escape(url))
    });
    let body = format!(
        "<h1>Subscribe</h1>\n\
<section aria-labelledby=\"summary-heading\">\n<h2 id=\"summary-heading\">Order summary</h2>\n\
<table>\n<thead><tr><th scope=\"col\">Item</th><th scope=\"col\">Price</th><th scope=\"col\">Quantity</th></tr></thead>\n\
<tbody>\n{rows}</tbody>\n</table>\n<p>Due today: <strong>{}</strong></p>\n</section>\n\
<section aria-labelledby=\"pay-heading\">\n<h2 id=\"pay-heading\">Pay with card</h2>\n{alert}\
<form method=\"post\" action=\"/c/pay/{}\"{}>\n{}<button type=\"submit\">Subscribe</button>\n</form>\n</section>\n{cancel}",
        escape(&money::format_usd(session.amount_total(state))),
        escape(&session.id),
        if error.is_some() {
            " aria-describedby=\"card-error\""
        } else {
            ""
        },
        card_fields(number),
    );
    layout("Subscribe", &body)
}

/// `GET /c/pay/{session}`
pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let state = app.lock();
    let session = open_session(&state, &id)?;
    Ok(Html(render(&state, session, None, "")))
}

/// `POST /c/pay/{session}` with `card_number`, `card_expiry`, `card_cvc`.
pub async fn submit(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = fields(&body);
    let number = form.get("card_number").cloned().unwrap_or_default();
    let expiry = form.get("card_expiry").cloned().unwrap_or_default();
    let mut state = app.lock();
    let session = open_session(&state, &id)?;
    let card = match read_card(&number, &expiry) {
        Ok(card) => card,
        Err(err) => {
            let page = render(&state, session, Some(&err.to_string()), &number);
            return Ok((StatusCode::PAYMENT_REQUIRED, Html(page)).into_response());
        }
    };
    let redirect = checkout::complete(&mut state, &id, card)
        .map_err(|err| PageError::Gone(err.to_string()))?;
    Ok(match redirect {
        Some(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        None => Html(layout(
            "Thank you",
            "<h1>Thank you</h1>\n<p role=\"status\">Your subscription is active.</p>",
        ))
        .into_response(),
    })
}

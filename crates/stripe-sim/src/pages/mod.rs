//! The hosted pages a browser (or a test's HTTP client) opens: Checkout (`/c/pay/{session}`) and
//! the customer portal (`/p/session/{session}`). Plain server-rendered HTML with real
//! `<form method="post">` elements and labelled fields, every interpolated value escaped. They
//! need no API key, as Stripe's pages need none: the unguessable session id is the credential.

pub mod checkout;
pub mod portal;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::money;
use crate::resources::prices::{Price, UsageType};
use crate::state::{App, State};

/// Why a page cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// No such session.
    #[error("This page does not exist.")]
    NotFound,
    /// The session is over (completed or expired).
    #[error("{0}")]
    Gone(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Gone(_) => StatusCode::GONE,
        };
        let body = layout(
            "Unavailable",
            &format!(
                "<h1>Unavailable</h1>\n<p role=\"alert\">{}</p>",
                escape(&self.to_string())
            ),
        );
        (status, Html(body)).into_response()
    }
}

/// Escapes text for HTML content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A complete page around `body` (already escaped HTML).
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{} · stripe-sim (test mode)</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<header><p class=\"banner\">Test mode: this page is served by stripe-sim, an offline stand-in for Stripe.</p></header>\n\
<main>\n{body}\n</main>\n</body>\n</html>\n",
        escape(title)
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
.banner{background:#fff3cd;padding:.5rem;border-radius:4px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd}\
label{display:block;margin-top:.8rem;font-weight:600}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}\
button{margin-top:1rem;font-size:1rem;padding:.6rem 1.2rem}.error{color:#a00;font-weight:600}.ok{color:#060}";

/// `1,600` for 1600.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A price as a customer reads it: `$29.00 / month`, `$0.01 per unit, metered`, or its tiers.
pub fn describe_price(price: &Price) -> String {
    let recurring = price.recurring.as_ref();
    let metered = recurring.is_some_and(|r| r.usage_type == UsageType::Metered);
    let every = recurring.map(|r| {
        if r.recurrence.count == 1 {
            r.recurrence.interval.as_str().to_string()
        } else {
            format!("{} {}s", r.recurrence.count, r.recurrence.interval.as_str())
        }
    });
    if price.tiers.is_empty() {
        let unit = money::format_usd_decimal(price.unit_amount_decimal.as_deref().unwrap_or("0"));
        return match (metered, every) {
            (true, _) => format!("{unit} per unit, metered"),
            (false, Some(every)) => format!("{unit} / {every}"),
            (false, None) => unit,
        };
    }
    let mut parts = Vec::new();
    let mut from: i64 = 1;
    for tier in &price.tiers {
        let unit = money::format_usd_decimal(tier.unit_amount_decimal.as_deref().unwrap_or("0"));
        let flat = tier
            .flat_amount_decimal
            .as_deref()
            .map(|f| format!(" + {} flat", money::format_usd_decimal(f)))
            .unwrap_or_default();
        let range = match tier.up_to {
            Some(to) if from == 1 => format!("First {} units", thousands(to)),
            Some(to) => format!("{} to {} units", thousands(from), thousands(to)),
            None => format!("{} units and above", thousands(from)),
        };
        parts.push(format!("{range}: {unit} per unit{flat}"));
        from = tier.up_to.map_or(from, |t| t + 1);
    }
    let suffix = if metered { ", metered" } else { "" };
    format!("{}{suffix}", parts.join("; "))
}

/// `2026-02-28` for a unix time.
pub fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|dt| {
            format!(
                "{:04}-{:02}-{:02}",
                dt.year(),
                u8::from(dt.month()),
                dt.day()
            )
        })
        .unwrap_or_default()
}

/// The product's name for a price, for page headings.
pub fn product_name(state: &State, price: &Price) -> String {
    state
        .products
        .get(&price.product)
        .map_or_else(|| price.product.clone(), |p| p.name.clone())
}

/// A form body's fields (`application/x-www-form-urlencoded`).
pub fn fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The labelled card fields both pages use.
pub fn card_fields(number: &str) -> String {
    format!(
        "<label for=\"card_number\">Card number</label>\n\
<input id=\"card_number\" name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" required value=\"{}\">\n\
<label for=\"card_expiry\">Expiry date (MM / YY)</label>\n\
<input id=\"card_expiry\" name=\"card_expiry\" autocomplete=\"cc-exp\" placeholder=\"MM / YY\">\n\
<label for=\"card_cvc\">Security code (CVC)</label>\n\
<input id=\"card_cvc\" name=\"card_cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" placeholder=\"123\">\n",
        escape(number)
    )
}

/// The pages' routes.
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
        .route(
            "/c/pay/{session}",
            get(checkout::show).post(checkout::submit),
        )
        .route("/p/session/{session}", get(portal::show))
        .route(
            "/p/session/{session}/cancel",
            axum::routing::post(portal::cancel),
        )
        .route(
            "/p/session/{session}/payment_method",
            axum::routing::post(portal::update_card),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">Tom's & co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; co&lt;/a&gt;"
        );
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}

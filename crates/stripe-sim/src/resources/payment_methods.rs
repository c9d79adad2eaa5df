//! `pm_` card payment methods, created only by the hosted pages from Stripe's test card numbers:
//!
//! | number | behaviour |
//! | --- | --- |
//! | `4242 4242 4242 4242` | succeeds, now and later |
//! | `4000 0000 0000 0341` | attaches to the customer, but every later charge fails |
//! | `4000 0000 0000 0002` | declined on the page (`card_declined`) |
//!
//! Spaces and dashes in the number are ignored. Any other number is refused as in test mode.

use serde_json::{Value, json};

use crate::state::Record;

/// What a test card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBehavior {
    /// Every charge succeeds.
    Succeeds,
    /// Attaches, then every later charge fails (`4000 0000 0000 0341`).
    FailsLaterCharges,
}

/// Why a card was refused on a hosted page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// `4000 0000 0000 0002`.
    #[error("Your card was declined.")]
    Declined,
    /// Not one of the test numbers.
    #[error(
        "Your card number is incorrect. In test mode, use a test card such as 4242 4242 4242 4242."
    )]
    IncorrectNumber,
    /// An expiry that is not `MM / YY`.
    #[error("Your card's expiration date is invalid.")]
    InvalidExpiry,
}

/// A card entered on a hosted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u32,
    /// Expiry year (four digits).
    pub exp_year: u32,
    /// What charges to it do.
    pub behavior: CardBehavior,
}

/// Reads a test card from the page's fields. An empty expiry defaults to 12/2034.
pub fn read_card(number: &str, expiry: &str) -> Result<Card, CardError> {
    let digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let behavior = match digits.as_str() {
        "4242424242424242" => CardBehavior::Succeeds,
        "4000000000000341" => CardBehavior::FailsLaterCharges,
        "4000000000000002" => return Err(CardError::Declined),
        _ => return Err(CardError::IncorrectNumber),
    };
    let (exp_month, exp_year) = parse_expiry(expiry)?;
    Ok(Card {
        last4: digits[digits.len() - 4..].to_string(),
        exp_month,
        exp_year,
        behavior,
    })
}

fn parse_expiry(expiry: &str) -> Result<(u32, u32), CardError> {
    let compact: String = expiry.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Ok((12, 2034));
    }
    let (month, year) = compact.split_once('/').ok_or(CardError::InvalidExpiry)?;
    let month: u32 = month.parse().map_err(|_| CardError::InvalidExpiry)?;
    let year: u32 = year.parse().map_err(|_| CardError::InvalidExpiry)?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) {
        return Err(CardError::InvalidExpiry);
    }
    Ok((month, year))
}

/// A stored card payment method.
#[derive(Debug, Clone)]
pub struct PaymentMethod {
    /// `pm_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The customer it is attached to.
    pub customer: String,
    /// The card.
    pub card: Card,
}

impl Record for PaymentMethod {
    fn id(&self) -> &str {
        &self.id
    }
}

impl PaymentMethod {
    /// Whether a charge to it succeeds.
    pub fn charge_succeeds(&self) -> bool {
        self.card.behavior == CardBehavior::Succeeds
    }

    /// The payment method in Stripe's shape.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "payment_method",
            "allow_redisplay": "always",
            "billing_details": {
                "address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null},
                "email": null, "name": null, "phone": null, "tax_id": null,
            },
            "card": {
                "brand": "visa",
                "checks": {"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"},
                "country": "US",
                "display_brand": "visa",
                "exp_month": self.card.exp_month,
                "exp_year": self.card.exp_year,
                "fingerprint": format!("sim{}", self.card.last4),
                "funding": "credit",
                "generated_from": null,
                "last4": self.card.last4,
                "networks": {"available": ["visa"], "preferred": null},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": true},
                "wallet": null,
            },
            "created": self.created,
            "customer": self.customer,
            "customer_account": null,
            "livemode": false,
            "metadata": {},
            "type": "card",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_card_numbers_decide_the_outcome_and_spaces_are_allowed() {
        // GIVEN Stripe's test numbers, typed with spaces
        // THEN 4242 succeeds, 0341 attaches but fails later, 0002 is declined
        let ok = read_card("4242 4242 4242 4242", "12 / 30").unwrap();
        assert_eq!(ok.behavior, CardBehavior::Succeeds);
        assert_eq!(
            (ok.last4.as_str(), ok.exp_month, ok.exp_year),
            ("4242", 12, 2030)
        );
        assert_eq!(
            read_card("4000-0000-0000-0341", "").unwrap().behavior,
            CardBehavior::FailsLaterCharges
        );
        assert_eq!(read_card("4000000000000002", ""), Err(CardError::Declined));
        assert_eq!(read_card("1234", ""), Err(CardError::IncorrectNumber));
        assert_eq!(
            read_card("4242424242424242", "13/30"),
            Err(CardError::InvalidExpiry)
        );
    }
}

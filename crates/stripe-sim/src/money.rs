//! Exact money arithmetic for invoice lines: a price's amount for a quantity, in integer cents.
//!
//! Unit amounts are decimal strings of cents (`unit_amount_decimal`, e.g. `"0.5"`), so they are
//! multiplied exactly with `rust_decimal` and only the line total is rounded, half up, to a whole
//! cent. Tiered prices follow Stripe: `graduated` prices each unit at the tier it falls in (plus
//! each entered tier's flat amount); `volume` prices every unit at the tier the total reaches.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::resources::prices::{Price, Tier};

/// Why an amount could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// A stored decimal string did not parse (a bug: prices are validated on creation).
    #[error("invalid decimal amount {0:?}")]
    InvalidDecimal(String),
    /// The total does not fit in an `i64` of cents.
    #[error("amount overflow")]
    Overflow,
}

fn decimal(text: Option<&str>) -> Result<Decimal, MoneyError> {
    match text {
        None => Ok(Decimal::ZERO),
        Some(t) => t
            .parse::<Decimal>()
            .map_err(|_| MoneyError::InvalidDecimal(t.to_string())),
    }
}

fn cents(total: Decimal) -> Result<i64, MoneyError> {
    let rounded = total.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded).map_err(|_| MoneyError::Overflow)
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, MoneyError> {
    a.checked_mul(b).ok_or(MoneyError::Overflow)
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, MoneyError> {
    a.checked_add(b).ok_or(MoneyError::Overflow)
}

/// The amount in cents that `price` charges for `quantity` units.
pub fn amount(price: &Price, quantity: u64) -> Result<i64, MoneyError> {
    let q = Decimal::from(quantity);
    if price.tiers.is_empty() {
        let unit = decimal(price.unit_amount_decimal.as_deref())?;
        return cents(mul(unit, q)?);
    }
    let total = if price.tiers_mode == Some("volume") {
        volume(&price.tiers, quantity)?
    } else {
        graduated(&price.tiers, quantity)?
    };
    cents(total)
}

fn graduated(tiers: &[Tier], quantity: u64) -> Result<Decimal, MoneyError> {
    let mut total = Decimal::ZERO;
    let mut below: u64 = 0;
    for tier in tiers {
        if quantity <= below {
            break;
        }
        let top = tier
            .up_to
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(u64::MAX);
        let units = quantity.min(top) - below;
        let unit = decimal(tier.unit_amount_decimal.as_deref())?;
        let flat = decimal(tier.flat_amount_decimal.as_deref())?;
        total = add(total, add(mul(unit, Decimal::from(units))?, flat)?)?;
        below = top;
    }
    Ok(total)
}

fn volume(tiers: &[Tier], quantity: u64) -> Result<Decimal, MoneyError> {
    if quantity == 0 {
        return Ok(Decimal::ZERO);
    }
    let tier = tiers.iter().find(|t| {
        t.up_to
            .and_then(|n| u64::try_from(n).ok())
            .is_none_or(|top| quantity <= top)
    });
    let Some(tier) = tier else {
        return Ok(Decimal::ZERO);
    };
    let unit = decimal(tier.unit_amount_decimal.as_deref())?;
    let flat = decimal(tier.flat_amount_decimal.as_deref())?;
    add(mul(unit, Decimal::from(quantity))?, flat)
}

/// `$29.00`, `$0.01`, `$0.005` for a decimal string of cents (at least two decimals of dollars).
pub fn format_usd_decimal(cents_text: &str) -> String {
    let Ok(c) = cents_text.parse::<Decimal>() else {
        return cents_text.to_string();
    };
    let mut dollars = (c / Decimal::ONE_HUNDRED).normalize();
    if dollars.scale() < 2 {
        dollars.rescale(2);
    }
    format!("${dollars}")
}

/// `$35.00` for integer cents.
pub fn format_usd(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::{Interval, Recurrence};
    use crate::resources::prices::{PriceRecurring, UsageType};

    fn price(unit: Option<&str>, tiers: Vec<Tier>, mode: Option<&'static str>) -> Price {
        Price {
            id: "price_1".into(),
            created: 0,
            active: true,
            currency: "usd".into(),
            product: "prod_1".into(),
            nickname: None,
            lookup_key: None,
            metadata: Default::default(),
            tiers,
            tiers_mode: mode,
            unit_amount_decimal: unit.map(str::to_string),
            recurring: Some(PriceRecurring {
                recurrence: Recurrence {
                    interval: Interval::Month,
                    count: 1,
                },
                usage_type: UsageType::Metered,
                meter: None,
            }),
            tax_behavior: "unspecified",
        }
    }

    fn tier(up_to: Option<i64>, unit: &str, flat: Option<&str>) -> Tier {
        Tier {
            up_to,
            unit_amount_decimal: Some(unit.into()),
            flat_amount_decimal: flat.map(str::to_string),
        }
    }

    #[test]
    fn a_flat_per_unit_price_multiplies_exactly() {
        // GIVEN 1 cent per unit
        let p = price(Some("1"), vec![], None);
        // WHEN 600 units are priced
        // THEN they cost $6.00
        assert_eq!(amount(&p, 600), Ok(600));
        assert_eq!(amount(&price(Some("2900"), vec![], None), 1), Ok(2900));
    }

    #[test]
    fn decimal_unit_amounts_round_the_line_total_half_up() {
        // GIVEN half a cent per unit
        let p = price(Some("0.5"), vec![], None);
        // THEN 3 units are 1.5 cents, rounded up to 2; 4 units are exactly 2
        assert_eq!(amount(&p, 3), Ok(2));
        assert_eq!(amount(&p, 4), Ok(2));
        assert_eq!(amount(&price(Some("0.333"), vec![], None), 1000), Ok(333));
    }

    #[test]
    fn graduated_tiers_with_a_free_allowance_charge_only_the_overage() {
        // GIVEN the first 1,000 units free, then 1 cent each
        let p = price(
            None,
            vec![tier(Some(1000), "0", None), tier(None, "1", None)],
            Some("graduated"),
        );
        // THEN 1,600 units cost $6.00, and anything up to 1,000 is free
        assert_eq!(amount(&p, 1600), Ok(600));
        assert_eq!(amount(&p, 1000), Ok(0));
        assert_eq!(amount(&p, 0), Ok(0));
    }

    #[test]
    fn volume_tiers_price_every_unit_at_the_reached_tier() {
        let p = price(
            None,
            vec![tier(Some(10), "5", None), tier(None, "2", Some("100"))],
            Some("volume"),
        );
        assert_eq!(amount(&p, 10), Ok(50));
        assert_eq!(amount(&p, 11), Ok(122));
    }

    #[test]
    fn amounts_format_as_dollars() {
        assert_eq!(format_usd(3500), "$35.00");
        assert_eq!(format_usd(1), "$0.01");
        assert_eq!(format_usd_decimal("2900"), "$29.00");
        assert_eq!(format_usd_decimal("1"), "$0.01");
        assert_eq!(format_usd_decimal("0.5"), "$0.005");
    }
}

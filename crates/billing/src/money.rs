//! Exact money: USD amounts, the product's pricing, and the one formula that turns billed dollars
//! into Stripe meter units.
//!
//! Invariants kept here (a reader checks the money by hand in this file):
//! - No floating point anywhere: amounts are `rust_decimal::Decimal` (28 significant digits), parsed
//!   from text and printed as text.
//! - `billed = markup × openai_cost`, exactly.
//! - Units are computed from the **cumulative** billed amount of a period, never per record, so a
//!   fraction of a cent is carried to the next record instead of being rounded away:
//!   - mode `stripe`: `units = floor(total_billed / unit)`;
//!   - mode `app`: `units = floor(max(0, total_billed − allowance) / unit)`.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why an amount or a pricing setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a decimal number (floats' exponents and `NaN` included).
    #[error("{0:?} is not a decimal amount")]
    NotANumber(String),
    /// The amount is below zero.
    #[error("amount {0} is negative")]
    Negative(String),
    /// The amount is beyond what this product can ever bill in one record.
    #[error("amount {amount} is above the limit of {limit}")]
    TooLarge {
        /// The amount offered.
        amount: String,
        /// The largest amount accepted.
        limit: String,
    },
    /// A pricing setting makes no sense (a zero unit, a zero markup, an allowance not in whole units...).
    #[error("invalid pricing: {0}")]
    InvalidPricing(String),
    /// Arithmetic left the range of exact decimals.
    #[error("amount overflow")]
    Overflow,
}

/// A non-negative amount of US dollars, exact to 28 significant digits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Usd(Decimal);

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd(Decimal::ZERO);

    /// Wraps a decimal, refusing negative amounts; the result is normalised (no trailing zeros).
    pub fn new(amount: Decimal) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative(amount.to_string()));
        }
        Ok(Usd(amount.normalize()))
    }

    /// Parses decimal text such as `"0.000123"` or `"29"`; refuses exponents, NaN and negatives.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let trimmed = text.trim();
        let plain = !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
        if !plain {
            return Err(MoneyError::NotANumber(text.to_string()));
        }
        let value =
            Decimal::from_str(trimmed).map_err(|_| MoneyError::NotANumber(text.to_string()))?;
        Usd::new(value)
    }

    /// Whole cents (`2900` for $29), for Stripe's `unit_amount`; refuses fractions of a cent.
    pub fn to_cents(self) -> Result<i64, MoneyError> {
        let cents = self.0 * Decimal::ONE_HUNDRED;
        if cents.fract() != Decimal::ZERO {
            return Err(MoneyError::InvalidPricing(format!(
                "{self} is not a whole number of cents"
            )));
        }
        i64::try_from(cents).map_err(|_| MoneyError::Overflow)
    }

    /// An amount of whole cents.
    pub fn from_cents(cents: u64) -> Usd {
        Usd(Decimal::from(cents) / Decimal::ONE_HUNDRED).normalized()
    }

    /// The exact decimal value.
    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// Exact sum.
    pub fn checked_add(self, other: Usd) -> Result<Usd, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(|d| Usd(d.normalize()))
            .ok_or(MoneyError::Overflow)
    }

    /// `self − other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Usd) -> Usd {
        if other.0 >= self.0 {
            Usd::ZERO
        } else {
            Usd((self.0 - other.0).normalize())
        }
    }

    /// The amount with at least two decimals, for people (`"16.00"`, `"0.000123"`).
    pub fn display_cents(self) -> String {
        let d = self.0.normalize();
        if d.scale() < 2 {
            let mut padded = d;
            padded.rescale(2);
            padded.to_string()
        } else {
            d.to_string()
        }
    }

    /// Rounded half-up to whole cents, for estimates shown to people (never for billing).
    pub fn round_to_cents(self) -> Usd {
        Usd(self
            .0
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    fn normalized(self) -> Usd {
        Usd(self.0.normalize())
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

impl TryFrom<String> for Usd {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, MoneyError> {
        Usd::parse(&value)
    }
}

impl From<Usd> for String {
    fn from(value: Usd) -> String {
        value.to_string()
    }
}

impl FromStr for Usd {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Usd::parse(s)
    }
}

/// Where the included allowance is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowanceMode {
    /// The app subtracts the allowance and reports only overage units to a flat per-unit price
    /// (the old system's behaviour; the default).
    App,
    /// Every billed unit is reported; the metered price is graduated with the allowance as a free
    /// first tier, which Stripe resets each period.
    Stripe,
}

impl FromStr for AllowanceMode {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "app" => Ok(AllowanceMode::App),
            "stripe" => Ok(AllowanceMode::Stripe),
            other => Err(MoneyError::InvalidPricing(format!(
                "allowance mode must be \"app\" or \"stripe\", not {other:?}"
            ))),
        }
    }
}

impl fmt::Display for AllowanceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AllowanceMode::App => "app",
            AllowanceMode::Stripe => "stripe",
        })
    }
}

/// The product's prices: base fee, included usage, markup on the AI cost, and the meter unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    base_monthly: Usd,
    allowance: Usd,
    markup: Decimal,
    unit: Usd,
    mode: AllowanceMode,
    max_record_cost: Usd,
}

impl Default for Pricing {
    /// $29/month, $10 included, 2x the OpenAI cost, $0.01 per unit, allowance applied by the app.
    fn default() -> Self {
        Pricing {
            base_monthly: Usd(Decimal::from(29)),
            allowance: Usd(Decimal::from(10)),
            markup: Decimal::from(2),
            unit: Usd(Decimal::new(1, 2)),
            mode: AllowanceMode::App,
            max_record_cost: Usd(Decimal::from(1000)),
        }
    }
}

impl Pricing {
    /// Builds a pricing, checking that it can be billed exactly.
    pub fn new(
        base_monthly: Usd,
        allowance: Usd,
        markup: Decimal,
        unit: Usd,
        mode: AllowanceMode,
    ) -> Result<Self, MoneyError> {
        if unit == Usd::ZERO {
            return Err(MoneyError::InvalidPricing(
                "the meter unit must be above zero".into(),
            ));
        }
        if markup <= Decimal::ZERO {
            return Err(MoneyError::InvalidPricing(
                "the markup must be above zero".into(),
            ));
        }
        if (allowance.0 % unit.0) != Decimal::ZERO {
            return Err(MoneyError::InvalidPricing(format!(
                "the allowance {allowance} is not a whole number of {unit} units"
            )));
        }
        base_monthly.to_cents()?;
        Ok(Pricing {
            base_monthly,
            allowance,
            markup: markup.normalize(),
            unit,
            mode,
            max_record_cost: Pricing::default().max_record_cost,
        })
    }

    /// Replaces the largest OpenAI cost accepted in one usage record (default $1,000).
    pub fn with_max_record_cost(mut self, max: Usd) -> Self {
        self.max_record_cost = max;
        self
    }

    /// The monthly base fee.
    pub fn base_monthly(&self) -> Usd {
        self.base_monthly
    }

    /// The usage included in each billing period, in billed dollars.
    pub fn allowance(&self) -> Usd {
        self.allowance
    }

    /// The multiplier on the OpenAI cost.
    pub fn markup(&self) -> Decimal {
        self.markup
    }

    /// The price of one meter unit.
    pub fn unit(&self) -> Usd {
        self.unit
    }

    /// Where the allowance is applied.
    pub fn mode(&self) -> AllowanceMode {
        self.mode
    }

    /// The allowance in meter units (1,000 by default): the free first tier in mode `stripe`.
    pub fn allowance_units(&self) -> u64 {
        whole_units(self.allowance.0 / self.unit.0)
    }

    /// Checks an OpenAI cost from a usage record: not negative, not absurd.
    pub fn check_cost(&self, openai_cost: Usd) -> Result<Usd, MoneyError> {
        if openai_cost > self.max_record_cost {
            return Err(MoneyError::TooLarge {
                amount: openai_cost.to_string(),
                limit: self.max_record_cost.to_string(),
            });
        }
        Ok(openai_cost)
    }

    /// What the customer is billed for an OpenAI cost: `markup × cost`, exact.
    pub fn billed_for(&self, openai_cost: Usd) -> Result<Usd, MoneyError> {
        self.check_cost(openai_cost)?;
        openai_cost
            .0
            .checked_mul(self.markup)
            .map(|d| Usd(d.normalize()))
            .ok_or(MoneyError::Overflow)
    }

    /// Units owed to Stripe for a period whose billed usage adds up to `cumulative_billed`.
    ///
    /// `stripe`: `floor(total / unit)`; `app`: `floor(max(0, total − allowance) / unit)`.
    pub fn units_owed(&self, cumulative_billed: Usd) -> u64 {
        let reportable = match self.mode {
            AllowanceMode::Stripe => cumulative_billed,
            AllowanceMode::App => cumulative_billed.saturating_sub(self.allowance),
        };
        whole_units(reportable.0 / self.unit.0)
    }

    /// Billed usage above the allowance.
    pub fn overage(&self, cumulative_billed: Usd) -> Usd {
        cumulative_billed.saturating_sub(self.allowance)
    }

    /// Allowance not yet used.
    pub fn remaining_allowance(&self, cumulative_billed: Usd) -> Usd {
        self.allowance.saturating_sub(cumulative_billed)
    }

    /// The usage part of the next invoice: what Stripe will charge for the units owed so far.
    pub fn usage_charge(&self, cumulative_billed: Usd) -> Usd {
        let charged_units = match self.mode {
            AllowanceMode::App => self.units_owed(cumulative_billed),
            AllowanceMode::Stripe => self
                .units_owed(cumulative_billed)
                .saturating_sub(self.allowance_units()),
        };
        Usd((Decimal::from(charged_units) * self.unit.0).normalize())
    }

    /// The next invoice as it stands: base fee plus the usage charge.
    pub fn estimated_invoice(&self, cumulative_billed: Usd) -> Usd {
        Usd((self.base_monthly.0 + self.usage_charge(cumulative_billed).0).normalize())
    }

    /// Percentage of the allowance used, rounded down to a whole percent (may exceed 100).
    pub fn percent_of_allowance(&self, cumulative_billed: Usd) -> u64 {
        if self.allowance == Usd::ZERO {
            return if cumulative_billed == Usd::ZERO {
                0
            } else {
                100
            };
        }
        whole_units(cumulative_billed.0 * Decimal::ONE_HUNDRED / self.allowance.0)
    }
}

/// `floor` of a non-negative decimal as a whole number, saturating at `u64::MAX`.
fn whole_units(value: Decimal) -> u64 {
    u64::try_from(value.floor()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::parse(s).unwrap()
    }

    #[test]
    fn default_pricing_is_the_products() {
        // GIVEN the defaults
        let p = Pricing::default();
        // THEN they are $29, $10, 2x, $0.01, app mode, 1,000 free units
        assert_eq!(p.base_monthly(), usd("29"));
        assert_eq!(p.allowance(), usd("10"));
        assert_eq!(p.markup(), Decimal::from(2));
        assert_eq!(p.unit(), usd("0.01"));
        assert_eq!(p.mode(), AllowanceMode::App);
        assert_eq!(p.allowance_units(), 1000);
    }

    #[test]
    fn demo_figures_come_out_at_thirty_five_dollars_in_both_modes() {
        // GIVEN $8.00 of OpenAI cost, billed at 2x = $16.00
        let app = Pricing::default();
        let billed = app.billed_for(usd("8")).unwrap();
        assert_eq!(billed, usd("16"));
        // THEN app mode reports 600 overage units and stripe mode 1,600 units, both $35.00
        assert_eq!(app.units_owed(billed), 600);
        assert_eq!(app.estimated_invoice(billed).display_cents(), "35.00");
        let stripe = Pricing::new(
            usd("29"),
            usd("10"),
            Decimal::from(2),
            usd("0.01"),
            AllowanceMode::Stripe,
        )
        .unwrap();
        assert_eq!(stripe.units_owed(billed), 1600);
        assert_eq!(stripe.estimated_invoice(billed).display_cents(), "35.00");
        assert_eq!(app.overage(billed), usd("6"));
        assert_eq!(app.percent_of_allowance(billed), 160);
    }

    #[test]
    fn fractions_of_a_cent_are_not_rounded_up() {
        let p = Pricing::default();
        assert_eq!(p.units_owed(usd("10.0199999")), 1);
        assert_eq!(p.units_owed(usd("9.9999999")), 0);
        assert_eq!(p.billed_for(usd("0.000123")).unwrap(), usd("0.000246"));
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        assert!(matches!(Usd::parse("-1"), Err(MoneyError::Negative(_))));
        assert!(matches!(Usd::parse("1e3"), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Usd::parse("NaN"), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Usd::parse(""), Err(MoneyError::NotANumber(_))));
        assert!(matches!(
            Pricing::default().billed_for(usd("1000.01")),
            Err(MoneyError::TooLarge { .. })
        ));
    }

    #[test]
    fn pricing_that_cannot_be_billed_exactly_is_refused() {
        let bad = Pricing::new(
            usd("29"),
            usd("10.005"),
            Decimal::from(2),
            usd("0.01"),
            AllowanceMode::Stripe,
        );
        assert!(matches!(bad, Err(MoneyError::InvalidPricing(_))));
        assert!(
            Pricing::new(
                usd("29"),
                usd("10"),
                Decimal::ZERO,
                usd("0.01"),
                AllowanceMode::App
            )
            .is_err()
        );
        assert!(
            Pricing::new(
                usd("29.001"),
                usd("10"),
                Decimal::ONE,
                usd("0.01"),
                AllowanceMode::App
            )
            .is_err()
        );
    }

    #[test]
    fn trailing_zeros_from_the_store_are_normalised() {
        assert_eq!(usd("1.500123000000000000000000000").to_string(), "1.500123");
        assert_eq!(usd("16").display_cents(), "16.00");
        assert_eq!(Usd::from_cents(3500).display_cents(), "35.00");
        assert_eq!(usd("29").to_cents().unwrap(), 2900);
    }
}

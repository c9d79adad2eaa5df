//! Attribute values to and from domain types.
//!
//! Money is exact both ways: a [`Usd`] is written as the `N` text of its normalised decimal, and an
//! `N` (or decimal `S`) is read straight from its text into a [`Decimal`], never through a float.
//! The text is normalised first: moto keeps trailing zeros (`1.500123000000000000000000000`) and
//! Python's decimals may print exponents (`1E-7`); real DynamoDB keeps up to 38 digits. Anything
//! that does not read back into its type is [`StoreError::Corrupt`], naming table and key.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use billing::money::Usd;
use billing::period::parse_timestamp;
use billing::ports::StoreError;
use rust_decimal::Decimal;

/// A DynamoDB item as the SDK returns it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A whole-number attribute.
pub(crate) fn n(value: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

/// An exact money attribute (`N`, normalised decimal text).
pub(crate) fn usd(value: Usd) -> AttributeValue {
    AttributeValue::N(value.as_decimal().normalize().to_string())
}

/// A boolean attribute.
pub(crate) fn boolean(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// Reads decimal text exactly: exponents accepted, trailing fractional zeros dropped, then
/// normalised. `None` if it is not a number or has more digits than a [`Decimal`] holds exactly.
pub(crate) fn decimal_from_text(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let value = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()?
    } else {
        let trimmed = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.')
        } else {
            text
        };
        Decimal::from_str_exact(trimmed).ok()?
    };
    Some(value.normalize())
}

/// One item being read back, with its table and key for error messages.
pub(crate) struct ItemView<'a> {
    table: &'a str,
    key: String,
    item: &'a Item,
}

impl<'a> ItemView<'a> {
    /// Views `item` of `table`, whose key attributes are `key_names`.
    pub(crate) fn new(table: &'a str, key_names: &[&str], item: &'a Item) -> Self {
        let key = key_names
            .iter()
            .map(|name| {
                let value = match item.get(*name) {
                    Some(AttributeValue::S(v) | AttributeValue::N(v)) => v.as_str(),
                    _ => "?",
                };
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join(",");
        ItemView { table, key, item }
    }

    /// A [`StoreError::Corrupt`] about this item.
    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table.to_string(),
            key: self.key.clone(),
            reason: reason.into(),
        }
    }

    /// Whether the attribute is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.item.contains_key(name)
    }

    /// A string attribute, if present.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(self.corrupt(format!("{name} is not a string"))),
        }
    }

    /// A required string attribute.
    pub(crate) fn str(&self, name: &str) -> Result<&'a str, StoreError> {
        self.opt_str(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    /// A required string attribute parsed by `parse` (an id newtype, a status).
    pub(crate) fn parsed<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        parse(self.str(name)?).map_err(|e| self.corrupt(format!("{name}: {e}")))
    }

    /// An optional string attribute parsed by `parse`.
    pub(crate) fn opt_parsed<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_str(name)?
            .map(|text| parse(text).map_err(|e| self.corrupt(format!("{name}: {e}"))))
            .transpose()
    }

    /// A decimal attribute (`N`, or `S` holding decimal text), if present.
    pub(crate) fn opt_decimal(&self, name: &str) -> Result<Option<Decimal>, StoreError> {
        let text = match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => return Ok(None),
            Some(AttributeValue::N(v) | AttributeValue::S(v)) => v,
            Some(_) => return Err(self.corrupt(format!("{name} is not a number"))),
        };
        decimal_from_text(text)
            .map(Some)
            .ok_or_else(|| self.corrupt(format!("{name} = {text:?} is not an exact decimal")))
    }

    /// A money attribute, if present; negative amounts are corrupt.
    pub(crate) fn opt_usd(&self, name: &str) -> Result<Option<Usd>, StoreError> {
        self.opt_decimal(name)?
            .map(|d| Usd::new(d).map_err(|e| self.corrupt(format!("{name}: {e}"))))
            .transpose()
    }

    /// A money attribute; absent reads as zero (an `ADD` starts from zero too).
    pub(crate) fn usd_or_zero(&self, name: &str) -> Result<Usd, StoreError> {
        Ok(self.opt_usd(name)?.unwrap_or(Usd::ZERO))
    }

    /// A required money attribute.
    pub(crate) fn usd(&self, name: &str) -> Result<Usd, StoreError> {
        self.opt_usd(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    /// A whole-number attribute, if present.
    pub(crate) fn opt_i64(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let Some(value) = self.opt_decimal(name)? else {
            return Ok(None);
        };
        if value.scale() != 0 {
            return Err(self.corrupt(format!("{name} = {value} is not a whole number")));
        }
        i64::from_str(&value.to_string())
            .map(Some)
            .map_err(|e| self.corrupt(format!("{name}: {e}")))
    }

    /// A required whole-number attribute.
    pub(crate) fn i64(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_i64(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    /// A non-negative whole-number attribute, if present.
    pub(crate) fn opt_u64(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.opt_i64(name)?
            .map(|v| u64::try_from(v).map_err(|e| self.corrupt(format!("{name}: {e}"))))
            .transpose()
    }

    /// A counter; absent reads as zero.
    pub(crate) fn u64_or_zero(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self.opt_u64(name)?.unwrap_or(0))
    }

    /// A required non-negative whole number.
    pub(crate) fn u64(&self, name: &str) -> Result<u64, StoreError> {
        self.opt_u64(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    /// A timestamp: `N` unix seconds or `S` (RFC 3339 or unix seconds), if present.
    pub(crate) fn opt_timestamp(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(None),
            Some(AttributeValue::N(_)) => self.opt_i64(name),
            Some(AttributeValue::S(text)) => parse_timestamp(text)
                .map(Some)
                .map_err(|e| self.corrupt(format!("{name}: {e}"))),
            Some(_) => Err(self.corrupt(format!("{name} is not a timestamp"))),
        }
    }

    /// A required timestamp.
    pub(crate) fn timestamp(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_timestamp(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    /// A boolean attribute; absent reads as `false`.
    pub(crate) fn bool_or_false(&self, name: &str) -> Result<bool, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(true)) => Ok(false),
            Some(AttributeValue::Bool(v)) => Ok(*v),
            Some(_) => Err(self.corrupt(format!("{name} is not a boolean"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_exactly_and_normalised() {
        let cases = [
            ("1.500123000000000000000000000", "1.500123"),
            ("0.000001", "0.000001"),
            ("1E-7", "0.0000001"),
            ("2.5E+3", "2500"),
            ("29", "29"),
            ("10.0", "10"),
            ("0", "0"),
            ("-0.5", "-0.5"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                decimal_from_text(text).unwrap().to_string(),
                expected,
                "{text}"
            );
        }
        assert_eq!(decimal_from_text("abc"), None);
        assert_eq!(decimal_from_text("NaN"), None);
        assert_eq!(decimal_from_text(""), None);
    }

    #[test]
    fn money_is_written_as_normalised_number_text() {
        let amount = Usd::new(Decimal::from_str("1.2300").unwrap()).unwrap();
        assert_eq!(usd(amount), AttributeValue::N("1.23".into()));
    }

    #[test]
    fn corrupt_items_name_table_and_key() {
        let item: Item = [
            ("customer_id".to_string(), s("c1")),
            ("period_start".to_string(), n(100)),
            ("billed_total".to_string(), s("lots")),
        ]
        .into();
        let view = ItemView::new("billing_ledger", &["customer_id", "period_start"], &item);
        match view.usd("billed_total") {
            Err(StoreError::Corrupt { table, key, reason }) => {
                assert_eq!(table, "billing_ledger");
                assert_eq!(key, "customer_id=c1,period_start=100");
                assert!(reason.contains("billed_total"), "{reason}");
            }
            other => panic!("expected corrupt, got {other:?}"),
        }
        assert!(matches!(
            view.usd("missing"),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(view.usd_or_zero("missing").unwrap(), Usd::ZERO);
    }

    #[test]
    fn timestamps_are_read_as_numbers_or_rfc3339() {
        let item: Item = [
            ("a".to_string(), n(1_700_000_000)),
            ("b".to_string(), s("2023-11-14T22:13:20Z")),
            ("c".to_string(), AttributeValue::N("1.5".into())),
        ]
        .into();
        let view = ItemView::new("usage_records", &["usage_id"], &item);
        assert_eq!(view.timestamp("a").unwrap(), 1_700_000_000);
        assert_eq!(view.timestamp("b").unwrap(), 1_700_000_000);
        assert!(view.timestamp("c").is_err());
        assert_eq!(view.opt_timestamp("d").unwrap(), None);
    }
}

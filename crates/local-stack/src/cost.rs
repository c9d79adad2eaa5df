//! Reading `openai_cost_usd` from a JSON body exactly: as decimal text (`"0.000123"`) or as a
//! JSON number (`0.000123`), never through a float. `serde_json` turns numbers into `f64` unless
//! a workspace-wide feature is switched on, so the number's own text is taken from the body by a
//! small scanner of the (already validated) top-level object.

use std::str::FromStr;

use billing::money::{MoneyError, Pricing, Usd};
use rust_decimal::Decimal;
use serde_json::Value;

/// Why a cost was refused (the 400's reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// The body is not a JSON object.
    #[error("the body must be a JSON object")]
    NotAnObject,
    /// No cost given.
    #[error("openai_cost_usd is required")]
    Missing,
    /// Neither decimal text nor a number.
    #[error("openai_cost_usd must be a decimal string such as \"0.000123\" or a JSON number")]
    WrongType,
    /// Not a usable amount (negative, not decimal, absurd).
    #[error("openai_cost_usd: {0}")]
    Amount(#[from] MoneyError),
    /// A JSON number that is no exact decimal (too many digits, out of range).
    #[error("openai_cost_usd: {0} is not an exact decimal amount")]
    NotExact(String),
}

/// The exact cost in `body`, checked against `pricing` (negative, non-numeric and absurd costs
/// are refused).
pub fn cost_from_body(body: &[u8], pricing: &Pricing) -> Result<Usd, CostError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| CostError::NotAnObject)?;
    let object = value.as_object().ok_or(CostError::NotAnObject)?;
    let cost = match object.get("openai_cost_usd") {
        None | Some(Value::Null) => return Err(CostError::Missing),
        Some(Value::String(text)) => Usd::parse(text)?,
        Some(Value::Number(_)) => {
            let text = std::str::from_utf8(body).map_err(|_| CostError::NotAnObject)?;
            let raw = raw_member(text, "openai_cost_usd").ok_or(CostError::WrongType)?;
            let decimal = if raw.contains(['e', 'E']) {
                Decimal::from_scientific(raw)
            } else {
                Decimal::from_str(raw)
            }
            .map_err(|_| CostError::NotExact(raw.to_string()))?;
            Usd::new(decimal)?
        }
        Some(_) => return Err(CostError::WrongType),
    };
    pricing.check_cost(cost)?;
    Ok(cost)
}

/// The raw text of the last member `key` of the top-level object in `json` (already valid JSON).
pub fn raw_member<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let bytes = json.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found = None;
    loop {
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            Some(b'"') => {}
            _ => return found,
        }
        let key_start = i;
        i = skip_string(bytes, i);
        let name: String = serde_json::from_str(json.get(key_start..i)?).ok()?;
        i = skip_ws(bytes, i);
        if bytes.get(i) != Some(&b':') {
            return found;
        }
        i = skip_ws(bytes, i + 1);
        let value_start = i;
        i = skip_value(bytes, i);
        if name == key {
            found = json.get(value_start..i);
        }
        i = skip_ws(bytes, i);
        if bytes.get(i) == Some(&b',') {
            i += 1;
        } else {
            return found;
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// From an opening quote to just past the closing one.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_value(bytes: &[u8], mut i: usize) -> usize {
    match bytes.get(i) {
        Some(b'"') => skip_string(bytes, i),
        Some(b'{' | b'[') => {
            let mut depth = 0_usize;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = skip_string(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            i
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cost(body: &str) -> Result<String, CostError> {
        cost_from_body(body.as_bytes(), &Pricing::default()).map(|c| c.to_string())
    }

    #[test]
    fn numbers_and_text_are_read_exactly() {
        assert_eq!(
            cost(r#"{"openai_cost_usd": "0.000123"}"#).unwrap(),
            "0.000123"
        );
        // 0.1 + 0.2 style values keep every digit a float would lose.
        assert_eq!(
            cost(r#"{"usage_id": "u", "openai_cost_usd": 0.30000000000000000001}"#).unwrap(),
            "0.30000000000000000001"
        );
        assert_eq!(
            cost(r#"{"a": {"openai_cost_usd": 5}, "openai_cost_usd": 1e-5}"#).unwrap(),
            "0.00001"
        );
        assert_eq!(
            cost(r#"{"x": ["]", "}"], "openai_cost_usd" : 12.50 }"#).unwrap(),
            "12.5"
        );
    }

    #[test]
    fn bad_costs_are_refused_with_a_reason() {
        assert_eq!(cost(r#"{}"#), Err(CostError::Missing));
        assert_eq!(cost(r#"[1]"#), Err(CostError::NotAnObject));
        assert_eq!(
            cost(r#"{"openai_cost_usd": true}"#),
            Err(CostError::WrongType)
        );
        assert!(matches!(
            cost(r#"{"openai_cost_usd": "abc"}"#),
            Err(CostError::Amount(_))
        ));
        assert!(matches!(
            cost(r#"{"openai_cost_usd": -1}"#),
            Err(CostError::Amount(_))
        ));
        assert!(matches!(
            cost(r#"{"openai_cost_usd": "-0.5"}"#),
            Err(CostError::Amount(_))
        ));
        assert!(matches!(
            cost(r#"{"openai_cost_usd": 5000}"#),
            Err(CostError::Amount(_))
        ));
        assert!(matches!(
            cost(r#"{"openai_cost_usd": 1e400}"#),
            Err(CostError::Amount(_)) | Err(CostError::NotAnObject)
        ));
    }
}

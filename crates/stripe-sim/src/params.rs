//! Each endpoint's table of accepted parameters, the checks Stripe makes against it (unknown,
//! missing, malformed), and typed getters that answer with Stripe's errors.
//!
//! Parameter patterns use Stripe's own bracket names: `email`, `metadata[*]` (a string map),
//! `expand[]` (a list of strings), `items[][price]` (a list of objects), `recurring[meter]`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::errors::{ApiError, ApiResult};
use crate::form::{self, FormNode};

/// One route of the stand-in and the parameters it accepts (checked against Stripe's OpenAPI spec
/// by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// `GET`, `POST` or `DELETE`.
    pub method: &'static str,
    /// The path template exactly as Stripe's spec writes it (`/v1/customers/{customer}`).
    pub path: &'static str,
    /// Accepted parameter patterns.
    pub params: &'static [&'static str],
}

/// A node of an endpoint's parameter shape: no children is a scalar, a `""` child a list,
/// a `"*"` child a string map, other children an object.
#[derive(Debug, Default)]
struct Shape {
    children: Vec<(String, Shape)>,
}

impl Shape {
    fn build(patterns: &[&str]) -> Shape {
        let mut root = Shape::default();
        for pattern in patterns {
            let mut node = &mut root;
            for part in form::split_key(pattern) {
                let index = match node.children.iter().position(|(k, _)| *k == part) {
                    Some(i) => i,
                    None => {
                        node.children.push((part, Shape::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[index].1;
            }
        }
        root
    }

    fn child(&self, key: &str) -> Option<&Shape> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }
}

impl Endpoint {
    /// Checks a parsed form against this endpoint's table and returns its parameters, as JSON
    /// strings, lists and objects. Unknown names fail with `parameter_unknown`.
    pub fn decode(&self, form: &FormNode) -> ApiResult<Params> {
        let shape = Shape::build(self.params);
        let mut map = Map::new();
        for (key, node) in form.children() {
            let child = shape
                .child(key)
                .filter(|_| !key.is_empty() && key != "*")
                .ok_or_else(|| ApiError::UnknownParameter(key.clone()))?;
            map.insert(key.clone(), decode_node(node, child, key)?);
        }
        Ok(Params {
            map,
            prefix: String::new(),
        })
    }
}

fn decode_node(node: &FormNode, shape: &Shape, name: &str) -> ApiResult<Value> {
    if shape.children.is_empty() {
        return match node {
            FormNode::Leaf(s) => Ok(Value::String(s.clone())),
            FormNode::Branch(_) => Err(invalid(name, format!("Invalid string: {name}"))),
        };
    }
    let children = match node {
        // An empty string unsets a map, list or object, as Stripe allows for `metadata=`.
        FormNode::Leaf(s) if s.is_empty() => return Ok(Value::String(String::new())),
        FormNode::Leaf(_) => {
            let what = if shape.child("").is_some() {
                "array"
            } else {
                "object"
            };
            return Err(invalid(name, format!("Invalid {what}")));
        }
        FormNode::Branch(children) => children,
    };
    if let Some(element) = shape.child("") {
        let mut indexed: Vec<(usize, usize, &FormNode)> = Vec::new();
        for (position, (key, child)) in children.iter().enumerate() {
            let index = if key.is_empty() {
                usize::MAX
            } else {
                key.parse::<usize>()
                    .map_err(|_| invalid(name, "Invalid array".to_string()))?
            };
            indexed.push((index, position, child));
        }
        indexed.sort_by_key(|(index, position, _)| (*index, *position));
        return indexed
            .into_iter()
            .enumerate()
            .map(|(i, (_, _, child))| decode_node(child, element, &format!("{name}[{i}]")))
            .collect::<ApiResult<Vec<_>>>()
            .map(Value::Array);
    }
    let mut map = Map::new();
    if shape.child("*").is_some() {
        for (key, child) in children {
            let child_name = format!("{name}[{key}]");
            match child {
                FormNode::Leaf(s) => {
                    map.insert(key.clone(), Value::String(s.clone()));
                }
                FormNode::Branch(_) => {
                    return Err(invalid(
                        &child_name,
                        format!("Invalid string: {child_name}"),
                    ));
                }
            }
        }
        return Ok(Value::Object(map));
    }
    for (key, child) in children {
        let child_name = format!("{name}[{key}]");
        let child_shape = shape
            .child(key)
            .filter(|_| !key.is_empty())
            .ok_or_else(|| ApiError::UnknownParameter(child_name.clone()))?;
        map.insert(key.clone(), decode_node(child, child_shape, &child_name)?);
    }
    Ok(Value::Object(map))
}

fn invalid(param: &str, message: String) -> ApiError {
    ApiError::InvalidParameter {
        param: param.to_string(),
        message,
        code: None,
    }
}

/// How a request changes a metadata map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataUpdate {
    /// `metadata=`: remove every key.
    Clear,
    /// Set these keys; `None` (sent as an empty string) removes the key.
    Merge(Vec<(String, Option<String>)>),
}

/// Decoded parameters of one request (or of one nested object), with getters that fail as Stripe
/// does and name the parameter in full (`items[0][price]`).
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: Map<String, Value>,
    prefix: String,
}

impl Params {
    /// The full bracketed name of `key` here.
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    /// Whether `key` was sent at all.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn raw_str(&self, key: &str) -> ApiResult<Option<&str>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(
                &self.name(key),
                format!("Invalid string: {}", self.name(key)),
            )),
        }
    }

    /// An optional string, refused when longer than `max` characters. An empty string is
    /// returned as `Some("")` for the caller to treat as "unset".
    pub fn string(&self, key: &str, max: usize) -> ApiResult<Option<String>> {
        let Some(value) = self.raw_str(key)? else {
            return Ok(None);
        };
        if value.chars().count() > max {
            return Err(invalid(
                &self.name(key),
                format!(
                    "Invalid string: {}...; must be at most {max} characters",
                    value.chars().take(12).collect::<String>()
                ),
            ));
        }
        Ok(Some(value.to_string()))
    }

    /// An optional, nullable string: `None` when absent, `Some(None)` when sent empty (unset).
    pub fn nullable_string(&self, key: &str, max: usize) -> ApiResult<Option<Option<String>>> {
        Ok(self
            .string(key, max)?
            .map(|s| if s.is_empty() { None } else { Some(s) }))
    }

    /// An optional, nullable `http(s)://` URL (at most 5000 characters), refused as Stripe refuses
    /// a malformed one (`url_invalid`).
    pub fn url(&self, key: &str) -> ApiResult<Option<Option<String>>> {
        let value = self.nullable_string(key, 5000)?;
        if let Some(Some(url)) = &value {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ApiError::InvalidParameter {
                    param: self.name(key),
                    message: "Not a valid URL".into(),
                    code: Some("url_invalid"),
                });
            }
        }
        Ok(value)
    }

    /// A required, non-empty string.
    pub fn required_string(&self, key: &str, max: usize) -> ApiResult<String> {
        match self.string(key, max)? {
            None => Err(ApiError::MissingParameter(self.name(key))),
            Some(s) if s.is_empty() => Err(self.empty_error(key)),
            Some(s) => Ok(s),
        }
    }

    /// Stripe's answer to an empty string for a parameter that cannot be unset.
    pub fn empty_error(&self, key: &str) -> ApiError {
        let name = self.name(key);
        ApiError::InvalidParameter {
            message: format!(
                "You passed an empty string for '{name}'. We assume empty values are an attempt to unset a parameter; however '{name}' cannot be unset. You should remove '{name}' from your request or supply a non-empty value."
            ),
            param: name,
            code: Some("parameter_invalid_empty"),
        }
    }

    /// An optional integer.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        let Some(value) = self.raw_str(key)? else {
            return Ok(None);
        };
        if value.is_empty() {
            return Err(self.empty_error(key));
        }
        value
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::InvalidInteger {
                param: self.name(key),
                value: value.to_string(),
            })
    }

    /// An optional boolean (`true`/`false`).
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.raw_str(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some("") => Err(self.empty_error(key)),
            Some(other) => Err(invalid(
                &self.name(key),
                format!("Invalid boolean: {other}"),
            )),
        }
    }

    /// An optional value from a fixed set.
    pub fn one_of(&self, key: &str, allowed: &[&'static str]) -> ApiResult<Option<&'static str>> {
        let Some(value) = self.raw_str(key)? else {
            return Ok(None);
        };
        if value.is_empty() {
            return Err(self.empty_error(key));
        }
        allowed
            .iter()
            .find(|a| **a == value)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    &self.name(key),
                    format!(
                        "Invalid {}: must be one of {}",
                        self.name(key),
                        or_list(allowed)
                    ),
                )
            })
    }

    /// A nested object, if sent (an empty string counts as absent).
    pub fn object(&self, key: &str) -> Option<Params> {
        match self.map.get(key) {
            Some(Value::Object(map)) => Some(Params {
                map: map.clone(),
                prefix: self.name(key),
            }),
            _ => None,
        }
    }

    /// A list of nested objects (empty when absent).
    pub fn objects(&self, key: &str) -> Vec<Params> {
        match self.map.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Params {
                    map: item.as_object().cloned().unwrap_or_default(),
                    prefix: format!("{}[{i}]", self.name(key)),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A list of strings (empty when absent).
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.map.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A string-to-string map such as a meter event's `payload` (empty when absent).
    pub fn string_map(&self, key: &str) -> BTreeMap<String, String> {
        match self.map.get(key) {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        }
    }

    /// The `metadata` change this request asks for, checked against Stripe's limits
    /// (50 keys, keys up to 40 characters, values up to 500).
    pub fn metadata(&self) -> ApiResult<Option<MetadataUpdate>> {
        let name = self.name("metadata");
        match self.map.get("metadata") {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(MetadataUpdate::Clear)),
            Some(Value::Object(map)) => {
                if map.len() > 50 {
                    return Err(invalid(
                        &name,
                        "Invalid metadata: metadata can have up to 50 keys".into(),
                    ));
                }
                let mut changes = Vec::new();
                for (key, value) in map {
                    let value = value.as_str().unwrap_or_default();
                    if key.chars().count() > 40 {
                        return Err(invalid(
                            &format!("{name}[{key}]"),
                            format!(
                                "Metadata keys can have up to 40 characters. Invalid key: {key}"
                            ),
                        ));
                    }
                    if value.chars().count() > 500 {
                        return Err(invalid(
                            &format!("{name}[{key}]"),
                            "Metadata values can have up to 500 characters".into(),
                        ));
                    }
                    let value = (!value.is_empty()).then(|| value.to_string());
                    changes.push((key.clone(), value));
                }
                Ok(Some(MetadataUpdate::Merge(changes)))
            }
            Some(_) => Err(invalid(&name, "Invalid object".into())),
        }
    }

    /// The `expand[]` paths asked for.
    pub fn expand(&self) -> Vec<String> {
        self.strings("expand")
    }
}

/// `a, b, or c`, as Stripe lists allowed values.
pub fn or_list(allowed: &[&str]) -> String {
    match allowed {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: Endpoint = Endpoint {
        method: "POST",
        path: "/v1/things",
        params: &[
            "email",
            "metadata[*]",
            "expand[]",
            "items[][price]",
            "items[][quantity]",
            "recurring[interval]",
            "recurring[meter]",
        ],
    };

    fn decode(input: &str) -> ApiResult<Params> {
        EP.decode(&form::parse(input))
    }

    #[test]
    fn known_parameters_decode_into_strings_lists_maps_and_objects() {
        // GIVEN a form using every kind of parameter
        let p = decode("email=a@b.c&metadata[k]=v&expand[]=x&items[1][price]=p2&items[0][price]=p1&items[0][quantity]=2&recurring[interval]=month")
            .unwrap();
        // THEN each is readable through the typed getters
        assert_eq!(p.string("email", 512).unwrap().as_deref(), Some("a@b.c"));
        assert_eq!(p.expand(), vec!["x"]);
        let items = p.objects("items");
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].string("price", 100).unwrap().as_deref(),
            Some("p1")
        );
        assert_eq!(items[0].int("quantity").unwrap(), Some(2));
        assert_eq!(items[1].name("price"), "items[1][price]");
        assert_eq!(
            p.object("recurring")
                .unwrap()
                .one_of("interval", &["month", "year"])
                .unwrap(),
            Some("month")
        );
        assert_eq!(
            p.metadata().unwrap(),
            Some(MetadataUpdate::Merge(vec![("k".into(), Some("v".into()))]))
        );
    }

    #[test]
    fn unknown_parameters_are_named_in_full() {
        assert_eq!(
            decode("nope=1").unwrap_err(),
            ApiError::UnknownParameter("nope".into())
        );
        assert_eq!(
            decode("recurring[foo]=1").unwrap_err(),
            ApiError::UnknownParameter("recurring[foo]".into())
        );
        assert_eq!(
            decode("items[0][bad]=1").unwrap_err(),
            ApiError::UnknownParameter("items[0][bad]".into())
        );
    }

    #[test]
    fn empty_metadata_clears_and_empty_values_remove_keys() {
        assert_eq!(
            decode("metadata=").unwrap().metadata().unwrap(),
            Some(MetadataUpdate::Clear)
        );
        assert_eq!(
            decode("metadata[k]=").unwrap().metadata().unwrap(),
            Some(MetadataUpdate::Merge(vec![("k".into(), None)]))
        );
    }

    #[test]
    fn malformed_values_get_stripes_errors() {
        let p = decode("items[0][quantity]=x").unwrap();
        assert_eq!(
            p.objects("items")[0].int("quantity").unwrap_err().code(),
            Some("parameter_invalid_integer")
        );
        let p = decode("recurring[interval]=fortnight").unwrap();
        let err = p
            .object("recurring")
            .unwrap()
            .one_of("interval", &["day", "week", "month"])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid recurring[interval]: must be one of day, week, or month"
        );
        assert!(decode("items=abc").is_err());
        assert!(decode("items[x][price]=1").is_err());
    }

    #[test]
    fn required_strings_are_missing_or_not_unsettable() {
        let p = decode("email=").unwrap();
        assert_eq!(
            p.required_string("email", 10).unwrap_err().code(),
            Some("parameter_invalid_empty")
        );
        let p = decode("").unwrap();
        assert_eq!(
            p.required_string("email", 10).unwrap_err(),
            ApiError::MissingParameter("email".into())
        );
    }

    #[test]
    fn strings_longer_than_the_limit_are_refused() {
        let p = decode("email=abcdef").unwrap();
        assert!(p.string("email", 5).is_err());
        assert!(p.string("email", 6).is_ok());
    }
}

//! The SAM template read into CloudFormation's JSON form: the short-form tags become their long
//! forms (`!Ref X` is `{"Ref": "X"}`, `!GetAtt A.B` is `{"Fn::GetAtt": "A.B"}`, `!Sub s` is
//! `{"Fn::Sub": s}`, and so on), so the checks read one shape.

use serde_json::{Map, Value};

/// Why the template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed.
    #[error("parsing the template: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// A value JSON cannot hold (a non-string key, a NaN...).
    #[error("unsupported YAML: {0}")]
    Unsupported(String),
}

/// A template in CloudFormation's JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(pub Value);

impl Template {
    /// Reads the template at `path`.
    pub fn load(path: &std::path::Path) -> Result<Template, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Template::parse(&text)
    }

    /// Parses template text.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let yaml: serde_norway::Value = serde_norway::from_str(text)?;
        Ok(Template(to_json(yaml)?))
    }

    /// The `Resources` map (empty when missing).
    pub fn resources(&self) -> Map<String, Value> {
        self.0
            .get("Resources")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// `Globals.Function`, the properties every function inherits.
    pub fn function_globals(&self) -> Value {
        self.0
            .pointer("/Globals/Function")
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn to_json(yaml: serde_norway::Value) -> Result<Value, TemplateError> {
    use serde_norway::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                // Templates hold no fractions worth checking; keep the text.
                Value::String(n.to_string())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => return Err(TemplateError::Unsupported(format!("key {other:?}"))),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let long = match name {
                "Ref" | "Condition" => name.to_string(),
                other => format!("Fn::{other}"),
            };
            let inner = to_json(tagged.value)?;
            // `!GetAtt A.B` is the string form of ["A", "B"]: keep "A.B" (both are read).
            let mut out = Map::new();
            out.insert(long, inner);
            Value::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_their_long_forms() {
        let t = Template::parse(
            "A: !Ref Param\nB: !GetAtt Table.Arn\nC: !Sub '${Table.Arn}/index/x'\nD: [!Ref X]\n",
        )
        .unwrap();
        assert_eq!(
            t.0,
            json!({"A": {"Ref": "Param"}, "B": {"Fn::GetAtt": "Table.Arn"},
                   "C": {"Fn::Sub": "${Table.Arn}/index/x"}, "D": [{"Ref": "X"}]})
        );
    }
}

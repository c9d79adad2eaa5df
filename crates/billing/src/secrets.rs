//! The Stripe API key and webhook signing secrets: parsed from a Secrets Manager secret string or
//! the environment, held in `secrecy::SecretString` so they never reach `Debug`, logs or errors.
//!
//! Accepted forms:
//! - API key: the bare key (`sk_...` / `rk_...`) or JSON `{"STRIPE_SECRET_KEY": "sk_..."}`.
//! - Webhook secrets: the bare secret (`whsec_...`, several comma-separated during rotation), or
//!   JSON `{"STRIPE_WEBHOOK_SECRET": "whsec_..."}` / `{"STRIPE_WEBHOOK_SECRET": ["whsec_a", ...]}`,
//!   or a JSON list.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Why a secret was refused. The messages never contain the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret string is empty.
    #[error("the {what} secret is empty")]
    Empty {
        /// Which secret.
        what: &'static str,
    },
    /// The JSON form could not be read (position only; the text is not repeated).
    #[error("the {what} secret is not valid JSON (line {line}, column {column})")]
    BadJson {
        /// Which secret.
        what: &'static str,
        /// Where the JSON broke.
        line: usize,
        /// Where the JSON broke.
        column: usize,
    },
    /// The JSON form lacks the expected key.
    #[error("the {what} secret's JSON has no {key:?} key")]
    MissingKey {
        /// Which secret.
        what: &'static str,
        /// The key looked for.
        key: &'static str,
    },
    /// The value does not look like this kind of secret.
    #[error("the {what} secret does not start with {expected}")]
    WrongKind {
        /// Which secret.
        what: &'static str,
        /// The accepted prefixes.
        expected: &'static str,
    },
}

const API_KEY: &str = "Stripe API key";
const WEBHOOK: &str = "Stripe webhook signing";

/// Whether a key is a test-mode key (`sk_test_` / `rk_test_`).
pub fn is_test_key(key: &SecretString) -> bool {
    let k = key.expose_secret();
    k.starts_with("sk_test_") || k.starts_with("rk_test_")
}

fn bad_json(what: &'static str, e: &serde_json::Error) -> SecretError {
    SecretError::BadJson {
        what,
        line: e.line(),
        column: e.column(),
    }
}

/// Reads the Stripe API key from a secret string.
pub fn parse_api_key(secret_string: &str) -> Result<SecretString, SecretError> {
    let text = secret_string.trim();
    if text.is_empty() {
        return Err(SecretError::Empty { what: API_KEY });
    }
    let key = if text.starts_with('{') {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(rename = "STRIPE_SECRET_KEY")]
            key: Option<String>,
        }
        let wrapped: Wrapped = serde_json::from_str(text).map_err(|e| bad_json(API_KEY, &e))?;
        wrapped.key.ok_or(SecretError::MissingKey {
            what: API_KEY,
            key: "STRIPE_SECRET_KEY",
        })?
    } else {
        text.to_string()
    };
    let key = key.trim();
    if !(key.starts_with("sk_") || key.starts_with("rk_")) {
        return Err(SecretError::WrongKind {
            what: API_KEY,
            expected: "sk_ or rk_",
        });
    }
    Ok(SecretString::from(key.to_string()))
}

/// Reads one or more webhook signing secrets from a secret string.
pub fn parse_webhook_secrets(secret_string: &str) -> Result<Vec<SecretString>, SecretError> {
    let text = secret_string.trim();
    if text.is_empty() {
        return Err(SecretError::Empty { what: WEBHOOK });
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let values: Vec<String> = if text.starts_with('{') {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(rename = "STRIPE_WEBHOOK_SECRET")]
            secret: Option<OneOrMany>,
        }
        let wrapped: Wrapped = serde_json::from_str(text).map_err(|e| bad_json(WEBHOOK, &e))?;
        match wrapped.secret.ok_or(SecretError::MissingKey {
            what: WEBHOOK,
            key: "STRIPE_WEBHOOK_SECRET",
        })? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    } else if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| bad_json(WEBHOOK, &e))?
    } else {
        text.split(',').map(str::to_string).collect()
    };
    let secrets: Vec<SecretString> = values
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with("whsec_") {
                Ok(SecretString::from(s.to_string()))
            } else {
                Err(SecretError::WrongKind {
                    what: WEBHOOK,
                    expected: "whsec_",
                })
            }
        })
        .collect::<Result<_, _>>()?;
    if secrets.is_empty() {
        return Err(SecretError::Empty { what: WEBHOOK });
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_reads_bare_and_json_forms() {
        assert_eq!(
            parse_api_key("sk_test_abc\n").unwrap().expose_secret(),
            "sk_test_abc"
        );
        assert_eq!(
            parse_api_key(r#"{"STRIPE_SECRET_KEY":"rk_live_x"}"#)
                .unwrap()
                .expose_secret(),
            "rk_live_x"
        );
        assert_eq!(
            parse_api_key(r#"{"OTHER":"x"}"#).unwrap_err(),
            SecretError::MissingKey {
                what: API_KEY,
                key: "STRIPE_SECRET_KEY"
            }
        );
        assert!(matches!(
            parse_api_key("pk_test_abc"),
            Err(SecretError::WrongKind { .. })
        ));
        assert!(matches!(
            parse_api_key("  "),
            Err(SecretError::Empty { .. })
        ));
    }

    #[test]
    fn webhook_secrets_read_every_form() {
        let expose = |v: Vec<SecretString>| -> Vec<String> {
            v.iter().map(|s| s.expose_secret().to_string()).collect()
        };
        assert_eq!(
            expose(parse_webhook_secrets("whsec_a").unwrap()),
            ["whsec_a"]
        );
        assert_eq!(
            expose(parse_webhook_secrets("whsec_a, whsec_b").unwrap()),
            ["whsec_a", "whsec_b"]
        );
        assert_eq!(
            expose(parse_webhook_secrets(r#"{"STRIPE_WEBHOOK_SECRET":"whsec_a"}"#).unwrap()),
            ["whsec_a"]
        );
        assert_eq!(
            expose(
                parse_webhook_secrets(r#"{"STRIPE_WEBHOOK_SECRET":["whsec_a","whsec_b"]}"#)
                    .unwrap()
            ),
            ["whsec_a", "whsec_b"]
        );
        assert_eq!(
            expose(parse_webhook_secrets(r#"["whsec_c"]"#).unwrap()),
            ["whsec_c"]
        );
        assert!(parse_webhook_secrets("sk_test_oops").is_err());
    }

    #[test]
    fn errors_and_debug_never_show_the_secret() {
        let leaked = "sk_live_VERYSECRET";
        let e = parse_api_key(&format!("{{\"STRIPE_SECRET_KEY\": {leaked}}}")).unwrap_err();
        assert!(!e.to_string().contains("VERYSECRET"), "{e}");
        assert!(!format!("{e:?}").contains("VERYSECRET"));
        let e = parse_webhook_secrets(r#"{"STRIPE_WEBHOOK_SECRET": 12345678}"#).unwrap_err();
        assert!(!e.to_string().contains("12345678"), "{e}");
        let key = parse_api_key(leaked).unwrap();
        assert!(!format!("{key:?}").contains("VERYSECRET"));
        assert!(!is_test_key(&key));
        assert!(is_test_key(&parse_api_key("sk_test_1").unwrap()));
    }
}

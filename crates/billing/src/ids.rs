//! Identifier newtypes, so a Stripe customer id can never be passed where our own customer id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty (or only white space).
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The string is longer than the identifier allows.
    #[error("{kind} is longer than {max} characters")]
    TooLong {
        /// Which identifier was being parsed.
        kind: &'static str,
        /// The longest accepted length.
        max: usize,
    },
    /// A Stripe id did not start with the prefix Stripe gives that object.
    #[error("{kind} must start with {prefix:?}")]
    WrongPrefix {
        /// Which identifier was being parsed.
        kind: &'static str,
        /// The prefix Stripe uses for it.
        prefix: &'static str,
    },
    /// The string holds a character that is not allowed (control characters, `#`, white space).
    #[error("{kind} contains a character that is not allowed")]
    BadCharacter {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
}

fn check(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.trim().is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.chars().count() > max {
        return Err(IdError::TooLong { kind, max });
    }
    // `#` is reserved as the separator of composite keys in the store.
    if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '#')
    {
        return Err(IdError::BadCharacter { kind });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the identifier (and Stripe's prefix, for Stripe ids).
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check($kind, &value, $max)?;
                if !value.starts_with($prefix) {
                    return Err(IdError::WrongPrefix { kind: $kind, prefix: $prefix });
                }
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Our own customer (tenant) id: the `customers` table key, shared by all users of one customer.
    CustomerId,
    "customer id",
    128,
    ""
);
id_type!(
    /// The id of one AI usage, the `usage_records` table key, chosen by the producer.
    UsageId,
    "usage id",
    128,
    ""
);
id_type!(
    /// A Stripe customer id (`cus_...`).
    StripeCustomerId,
    "Stripe customer id",
    255,
    "cus_"
);
id_type!(
    /// A Stripe subscription id (`sub_...`).
    StripeSubscriptionId,
    "Stripe subscription id",
    255,
    "sub_"
);
id_type!(
    /// A Stripe event id (`evt_...`), the key of the webhook-events table.
    StripeEventId,
    "Stripe event id",
    255,
    "evt_"
);
id_type!(
    /// A Stripe Checkout Session id (`cs_...`).
    CheckoutSessionId,
    "Checkout Session id",
    255,
    "cs_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_ids_must_carry_their_prefix() {
        assert!(StripeCustomerId::parse("cus_123").is_ok());
        assert_eq!(
            StripeCustomerId::parse("sub_123"),
            Err(IdError::WrongPrefix {
                kind: "Stripe customer id",
                prefix: "cus_"
            })
        );
    }

    #[test]
    fn empty_and_separator_ids_are_refused() {
        assert!(matches!(
            CustomerId::parse("  "),
            Err(IdError::Empty { .. })
        ));
        assert!(matches!(
            CustomerId::parse("a#b"),
            Err(IdError::BadCharacter { .. })
        ));
        assert!(matches!(
            UsageId::parse("x".repeat(129)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: StripeSubscriptionId = serde_json::from_str("\"sub_1\"").unwrap();
        assert_eq!(ok.as_str(), "sub_1");
        assert!(serde_json::from_str::<StripeSubscriptionId>("\"cus_1\"").is_err());
    }
}

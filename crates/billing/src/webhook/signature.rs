//! Stripe's webhook signature scheme, pure: verify a `Stripe-Signature` header, or make one.
//!
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]` where
//! `v1 = hex(HMAC-SHA256(key = the whole "whsec_..." secret as UTF-8, msg = "<t>.<raw body>"))`.
//! A header is accepted when any `v1` matches any configured secret (several during rotation), the
//! comparison is constant-time, and `t` is no older than the tolerance (default 300 s). Like Stripe's
//! SDKs, the signature is checked before the timestamp, a future timestamp is not refused, and other
//! schemes (`v0`) are ignored.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Stripe SDKs' default tolerance for the age of a signed timestamp, in seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The only signature scheme Stripe signs live events with.
const SCHEME: &str = "v1";

/// Why a webhook was refused. Stripe expects a 400 for each of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header came with the request.
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    /// The header has no `t=` or a `t=` that is not a number.
    #[error("unable to extract timestamp and signatures from header")]
    MalformedHeader,
    /// The header carries no `v1` signature at all.
    #[error("no signatures found with expected scheme v1")]
    NoV1Signature,
    /// No `v1` matched the payload under any configured secret.
    #[error("no signatures found matching the expected signature for payload")]
    BadSignature,
    /// The signature matched but the timestamp is older than the tolerance.
    #[error("timestamp {timestamp} outside the tolerance zone ({tolerance_secs} s)")]
    StaleTimestamp {
        /// The `t=` of the header.
        timestamp: i64,
        /// The tolerance in force.
        tolerance_secs: i64,
    },
    /// No webhook signing secret is configured, so nothing can be verified.
    #[error("no webhook signing secret is configured")]
    NoSecretConfigured,
}

/// Verifies Stripe webhook signatures against one or more signing secrets.
#[derive(Clone)]
pub struct SignatureVerifier {
    secrets: Vec<SecretString>,
    tolerance_secs: i64,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

impl SignatureVerifier {
    /// A verifier for these secrets with Stripe's default 300 s tolerance.
    pub fn new(secrets: Vec<SecretString>) -> Self {
        SignatureVerifier {
            secrets,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// Replaces the tolerance; zero or less disables the age check, as in Stripe's SDKs.
    pub fn with_tolerance(mut self, tolerance_secs: i64) -> Self {
        self.tolerance_secs = tolerance_secs;
        self
    }

    /// Checks `header` (the raw `Stripe-Signature` value, if any) for the exact `payload` bytes at
    /// unix time `now`, returning the signed timestamp.
    pub fn verify(
        &self,
        payload: &[u8],
        header: Option<&str>,
        now: i64,
    ) -> Result<i64, SignatureError> {
        if self.secrets.is_empty() {
            return Err(SignatureError::NoSecretConfigured);
        }
        let header = header.ok_or(SignatureError::MissingHeader)?;
        let parsed = parse_header(header)?;
        if parsed.v1.is_empty() {
            return Err(SignatureError::NoV1Signature);
        }
        let matched = self.secrets.iter().any(|secret| {
            let mac = signed_mac(secret.expose_secret(), parsed.timestamp, payload);
            parsed
                .v1
                .iter()
                .filter_map(|sig| hex::decode(sig).ok())
                .any(|sig| mac.clone().verify_slice(&sig).is_ok())
        });
        if !matched {
            return Err(SignatureError::BadSignature);
        }
        if self.tolerance_secs > 0 && parsed.timestamp < now.saturating_sub(self.tolerance_secs) {
            return Err(SignatureError::StaleTimestamp {
                timestamp: parsed.timestamp,
                tolerance_secs: self.tolerance_secs,
            });
        }
        Ok(parsed.timestamp)
    }
}

struct ParsedHeader<'a> {
    timestamp: i64,
    v1: Vec<&'a str>,
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, SignatureError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| SignatureError::MalformedHeader)?,
                );
            }
            SCHEME => v1.push(value.trim()),
            _ => {}
        }
    }
    Ok(ParsedHeader {
        timestamp: timestamp.ok_or(SignatureError::MalformedHeader)?,
        v1,
    })
}

fn signed_mac(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The hex `v1` signature of `payload` at `timestamp` under `secret`.
pub fn compute_signature(payload: &[u8], secret: &str, timestamp: i64) -> String {
    hex::encode(
        signed_mac(secret, timestamp, payload)
            .finalize()
            .into_bytes(),
    )
}

/// A `Stripe-Signature` header value for `payload`, as Stripe (and the SDKs' test helpers) make it.
/// For tests, the local stack and the Stripe stand-in.
pub fn sign_header(payload: &[u8], secret: &str, timestamp: i64) -> String {
    format!(
        "t={timestamp},{SCHEME}={}",
        compute_signature(payload, secret, timestamp)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] = br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;
    const SECRET: &str = "whsec_test_secret";
    const T: i64 = 1_700_000_000;
    const VECTOR: &str = "dfb4777aaaec4ea29ff455dd4df7fe6b2ef71096ad3a93a158db7e100109ea91";

    fn verifier(secrets: &[&str]) -> SignatureVerifier {
        SignatureVerifier::new(
            secrets
                .iter()
                .map(|s| SecretString::from(s.to_string()))
                .collect(),
        )
    }

    #[test]
    fn stripes_own_vector_signs_and_verifies() {
        // GIVEN Stripe's test vector
        // WHEN it is signed
        let header = sign_header(PAYLOAD, SECRET, T);
        // THEN the signature is the one Stripe's libraries compute, and it verifies
        assert_eq!(header, format!("t={T},v1={VECTOR}"));
        assert_eq!(verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T), Ok(T));
    }

    #[test]
    fn missing_header_is_refused() {
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, None, T),
            Err(SignatureError::MissingHeader)
        );
    }

    #[test]
    fn header_without_timestamp_is_malformed() {
        let v = verifier(&[SECRET]);
        for header in [
            format!("v1={VECTOR}"),
            "garbage".to_string(),
            String::new(),
            format!("t=abc,v1={VECTOR}"),
        ] {
            assert_eq!(
                v.verify(PAYLOAD, Some(&header), T),
                Err(SignatureError::MalformedHeader),
                "{header}"
            );
        }
    }

    #[test]
    fn header_with_only_other_schemes_has_no_v1() {
        let header = format!("t={T},v0={VECTOR}");
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T),
            Err(SignatureError::NoV1Signature)
        );
    }

    #[test]
    fn wrong_signature_wrong_secret_or_changed_body_is_refused() {
        let header = sign_header(PAYLOAD, SECRET, T);
        assert_eq!(
            verifier(&["whsec_other"]).verify(PAYLOAD, Some(&header), T),
            Err(SignatureError::BadSignature)
        );
        let changed = br#"{"id":"evt_1","object":"event","type":"invoice.paid" }"#;
        assert_eq!(
            verifier(&[SECRET]).verify(changed, Some(&header), T),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, Some(&format!("t={T},v1=zz-not-hex")), T),
            Err(SignatureError::BadSignature)
        );
        // a signature for another timestamp does not verify under this one
        let other_t = sign_header(PAYLOAD, SECRET, T + 1);
        let spliced = format!("t={T},{}", other_t.split_once(',').unwrap().1);
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, Some(&spliced), T),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn any_matching_v1_among_several_is_accepted() {
        let header = format!("t={T},v1={},v1={VECTOR},v0=deadbeef", "0".repeat(64));
        assert_eq!(verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T), Ok(T));
    }

    #[test]
    fn any_configured_secret_is_accepted_during_rotation() {
        let header = sign_header(PAYLOAD, "whsec_new", T);
        assert_eq!(
            verifier(&["whsec_old", "whsec_new"]).verify(PAYLOAD, Some(&header), T),
            Ok(T)
        );
    }

    #[test]
    fn stale_timestamp_is_refused_after_the_signature_matches() {
        let header = sign_header(PAYLOAD, SECRET, T);
        // exactly at the tolerance edge: accepted
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T + 300),
            Ok(T)
        );
        // one second later: stale
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T + 301),
            Err(SignatureError::StaleTimestamp {
                timestamp: T,
                tolerance_secs: 300
            })
        );
        // a bad signature that is also stale reports the signature, as the SDKs do
        assert_eq!(
            verifier(&["whsec_other"]).verify(PAYLOAD, Some(&header), T + 10_000),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn zero_tolerance_disables_the_age_check_and_future_timestamps_pass() {
        let header = sign_header(PAYLOAD, SECRET, T);
        assert_eq!(
            verifier(&[SECRET])
                .with_tolerance(0)
                .verify(PAYLOAD, Some(&header), T + 1_000_000),
            Ok(T)
        );
        assert_eq!(
            verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T - 3600),
            Ok(T)
        );
    }

    #[test]
    fn spaces_around_items_are_tolerated() {
        let header = format!("t={T}, v1={VECTOR}");
        assert_eq!(verifier(&[SECRET]).verify(PAYLOAD, Some(&header), T), Ok(T));
    }

    #[test]
    fn no_secret_configured_verifies_nothing() {
        let header = sign_header(PAYLOAD, SECRET, T);
        assert_eq!(
            verifier(&[]).verify(PAYLOAD, Some(&header), T),
            Err(SignatureError::NoSecretConfigured)
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let shown = format!("{:?}", verifier(&[SECRET]));
        assert!(!shown.contains("whsec"), "{shown}");
    }
}

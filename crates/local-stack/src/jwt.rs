//! The local stack's stand-in for the user pool's tokens and the HTTP API's JWT authorizer.
//!
//! Tokens are compact JWS with `HS256` (HMAC-SHA-256) under a key drawn from `/dev/urandom` at
//! start, so a token from another run (or any other key) never verifies. It is hand-rolled on the
//! workspace's `hmac`, `sha2` and `base64` rather than a JWT crate: HS256 with one fixed algorithm
//! is a few lines, no JWT crate is among the pre-installed packages, and a fixed algorithm cannot
//! be talked into `alg=none` or into treating a public key as an HMAC secret.
//!
//! Verification is what API Gateway's JWT authorizer does: the signature, `exp` (and `nbf`, `iat`
//! not in the future), `iss` and `aud` (or `client_id`). The claims then reach the function as
//! strings ([`authorizer_claims`]), as the authorizer passes them.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// How long a token minted by `/dev/signup` lives (Cognito's ID tokens default to one hour; the
/// local stack is for long development sessions).
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// Why a token was refused (each is a 401 to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts.
    #[error("the token is not a compact JWS")]
    Malformed,
    /// The header names another algorithm (`none` included).
    #[error("the token's algorithm {0:?} is not accepted (HS256 only)")]
    Algorithm(String),
    /// The signature does not match this stack's key.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` is missing or past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` lies in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not this stack's issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// Neither `aud` nor `client_id` is this stack's audience.
    #[error("the token's audience is not accepted")]
    Audience,
}

/// The signing key with the issuer and audience the authorizer accepts.
#[derive(Clone)]
pub struct JwtKey {
    secret: Vec<u8>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtKey {
    /// A key of 32 random bytes from the operating system.
    pub fn generate(issuer: &str, audience: &str) -> std::io::Result<Self> {
        use std::io::Read as _;
        let mut secret = vec![0_u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
        Ok(Self::from_secret(secret, issuer, audience))
    }

    /// A key with the given secret (tests: a known wrong key).
    pub fn from_secret(secret: Vec<u8>, issuer: &str, audience: &str) -> Self {
        JwtKey {
            secret,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// The issuer (`iss`) tokens must carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience (`aud`) tokens must carry.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// Signs `claims` as an HS256 compact JWS.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "local-stack"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The ID-token claims of a Cognito user of `customer_id`, issued at `now`.
    pub fn id_token_claims(
        &self,
        sub: &str,
        customer_id: &str,
        email: &str,
        name: &str,
        now: i64,
    ) -> Map<String, Value> {
        let claims = json!({
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECS,
            "cognito:username": sub,
            "email": email,
            "email_verified": true,
            "name": name,
            "custom:customer_id": customer_id,
        });
        match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Verifies `token` at `now` as the JWT authorizer does; answers its claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Map<String, Value>, JwtError> {
        let mut parts = token.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Value = decode_json(header)?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "HS256" {
            return Err(JwtError::Algorithm(alg.to_string()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtError::Malformed)?;
        let mut mac = self.mac();
        let token = token.trim();
        mac.update(&token.as_bytes()[..header_and_payload_len(token)]);
        mac.verify_slice(&signature)
            .map_err(|_| JwtError::Signature)?;
        let claims = match decode_json(payload)? {
            Value::Object(map) => map,
            _ => return Err(JwtError::Malformed),
        };
        let time = |name: &str| claims.get(name).and_then(Value::as_i64);
        match time("exp") {
            Some(exp) if exp > now => {}
            _ => return Err(JwtError::Expired),
        }
        if time("nbf").is_some_and(|nbf| nbf > now) || time("iat").is_some_and(|iat| iat > now + 60)
        {
            return Err(JwtError::NotYetValid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(JwtError::Issuer);
        }
        let audience_matches = |value: Option<&Value>| match value {
            Some(Value::String(aud)) => aud == &self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !audience_matches(claims.get("aud")) && !audience_matches(claims.get("client_id")) {
            return Err(JwtError::Audience);
        }
        Ok(claims)
    }
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json(part: &str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// The claims as the JWT authorizer hands them to a function: every value a string (numbers and
/// booleans as their JSON text, arrays as `[a b]`, objects as JSON), and the scopes of an access
/// token's `scope` claim (`None` for an ID token, which API Gateway sends as `null`).
pub fn authorizer_claims(
    claims: &Map<String, Value>,
) -> (HashMap<String, String>, Option<Vec<String>>) {
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    };
    let strings = claims.iter().map(|(k, v)| (k.clone(), text(v))).collect();
    let scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_string).collect());
    (strings, scopes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key() -> JwtKey {
        JwtKey::from_secret(
            b"0123456789abcdef0123456789abcdef".to_vec(),
            "iss-1",
            "aud-1",
        )
    }

    #[test]
    fn a_token_round_trips_and_its_claims_reach_the_function_as_strings() {
        let k = key();
        let claims = k.id_token_claims("s-1", "c-1", "ann@example.com", "Ann", 1_000);
        let token = k.sign(&claims);
        let back = k.verify(&token, 1_001).unwrap();
        assert_eq!(back, claims);
        let (strings, scopes) = authorizer_claims(&back);
        assert_eq!(strings["exp"], (1_000 + TOKEN_LIFETIME_SECS).to_string());
        assert_eq!(strings["email_verified"], "true");
        assert_eq!(strings["custom:customer_id"], "c-1");
        assert_eq!(scopes, None);
    }

    #[test]
    fn none_other_algorithms_other_keys_expired_and_foreign_tokens_are_refused() {
        let k = key();
        let claims = k.id_token_claims("s-1", "c-1", "a@b.c", "A", 1_000);
        let token = k.sign(&claims);
        let (_, payload) = token.split_once('.').unwrap();
        let payload = payload.split('.').next().unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            k.verify(&format!("{none_header}.{payload}."), 1_001),
            Err(JwtError::Algorithm("none".into()))
        );
        let other = JwtKey::from_secret(b"another key".to_vec(), "iss-1", "aud-1");
        assert_eq!(
            k.verify(&other.sign(&claims), 1_001),
            Err(JwtError::Signature)
        );
        assert_eq!(
            k.verify(&token, 1_000 + TOKEN_LIFETIME_SECS),
            Err(JwtError::Expired)
        );
        let mut wrong_iss = claims.clone();
        wrong_iss.insert("iss".into(), json!("iss-2"));
        assert_eq!(k.verify(&k.sign(&wrong_iss), 1_001), Err(JwtError::Issuer));
        let mut wrong_aud = claims;
        wrong_aud.insert("aud".into(), json!("aud-2"));
        assert_eq!(
            k.verify(&k.sign(&wrong_aud), 1_001),
            Err(JwtError::Audience)
        );
        assert_eq!(k.verify("abc", 1), Err(JwtError::Malformed));
    }

    #[test]
    fn array_claims_and_scopes_are_rendered_as_the_authorizer_does() {
        let claims = json!({"cognito:groups": ["admin", "users"], "scope": "a b"});
        let (strings, scopes) = authorizer_claims(claims.as_object().unwrap());
        assert_eq!(strings["cognito:groups"], "[admin users]");
        assert_eq!(scopes, Some(vec!["a".to_string(), "b".to_string()]));
    }
}

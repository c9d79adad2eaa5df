//! Errors from Stripe's API, keeping what Stripe said.

/// A failed Stripe call.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error object.
    #[error("Stripe answered {status} {error_type}{}: {message} (request {})",
        code.as_deref().map(|c| format!("/{c}")).unwrap_or_default(),
        request_id.as_deref().unwrap_or("-"))]
    Api {
        /// HTTP status.
        status: u16,
        /// Stripe's `error.type` (`invalid_request_error`, `api_error`, `idempotency_error`, ...).
        error_type: String,
        /// Stripe's `error.code` (`resource_missing`, `rate_limit`, ...).
        code: Option<String>,
        /// The parameter at fault.
        param: Option<String>,
        /// Stripe's message.
        message: String,
        /// The `Request-Id` header, for Stripe support.
        request_id: Option<String>,
        /// The `Stripe-Should-Retry` header, when sent.
        should_retry: Option<bool>,
    },
    /// The request never got an answer (connection refused or reset, timeout).
    #[error("Stripe could not be reached: {0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request could not be built (e.g. an empty idempotency key), so it was never sent and a
    /// retry cannot help.
    #[error("request to Stripe not sent: {0}")]
    InvalidRequest(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stripe answered something that could not be read.
    #[error("unreadable answer from Stripe (request {}): {source}", request_id.as_deref().unwrap_or("-"))]
    Decode {
        /// Why it could not be read.
        #[source]
        source: serde_json::Error,
        /// The `Request-Id` header.
        request_id: Option<String>,
    },
}

/// The message prefix of Stripe's answer to a meter event whose identifier it already has.
pub const DUPLICATE_METER_EVENT_PREFIX: &str = "An event already exists with identifier";

impl StripeError {
    /// Whether a retry of the same request may succeed: Stripe's `Stripe-Should-Retry` decides when
    /// sent; otherwise 409, 429, 5xx and transport failures are retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            StripeError::Api {
                status,
                should_retry,
                ..
            } => should_retry.unwrap_or(*status == 409 || *status == 429 || *status >= 500),
            StripeError::Transport(_) => true,
            StripeError::Decode { .. } | StripeError::InvalidRequest(_) => false,
        }
    }

    /// Whether Stripe refused a meter event because its identifier was already used: the event
    /// was delivered before, so this counts as delivered.
    pub fn is_duplicate_meter_event(&self) -> bool {
        matches!(self, StripeError::Api { status: 400, message, .. }
            if message.starts_with(DUPLICATE_METER_EVENT_PREFIX))
    }

    /// Whether the object asked for does not exist (`resource_missing`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StripeError::Api { status: 404, .. })
            || matches!(self, StripeError::Api { code: Some(code), .. } if code == "resource_missing")
    }

    /// Whether Stripe refused a reused idempotency key with other parameters.
    pub fn is_idempotency_mismatch(&self) -> bool {
        matches!(self, StripeError::Api { error_type, .. } if error_type == "idempotency_error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, message: &str, should_retry: Option<bool>) -> StripeError {
        StripeError::Api {
            status,
            error_type: "invalid_request_error".into(),
            code: None,
            param: None,
            message: message.into(),
            request_id: Some("req_1".into()),
            should_retry,
        }
    }

    #[test]
    fn duplicate_identifier_is_recognised_as_delivered() {
        let e = api(
            400,
            "An event already exists with identifier mev_1",
            Some(false),
        );
        assert!(e.is_duplicate_meter_event());
        assert!(!e.is_retryable());
        assert!(!api(400, "Invalid integer", None).is_duplicate_meter_event());
    }

    #[test]
    fn stripe_should_retry_overrides_the_status() {
        assert!(api(500, "boom", None).is_retryable());
        assert!(api(429, "slow down", None).is_retryable());
        assert!(!api(500, "boom", Some(false)).is_retryable());
        assert!(api(400, "lock", Some(true)).is_retryable());
        assert!(!api(400, "bad", None).is_retryable());
    }

    #[test]
    fn the_message_keeps_type_code_and_request_id() {
        let e = StripeError::Api {
            status: 404,
            error_type: "invalid_request_error".into(),
            code: Some("resource_missing".into()),
            param: Some("id".into()),
            message: "No such customer".into(),
            request_id: Some("req_9".into()),
            should_retry: None,
        };
        assert_eq!(
            e.to_string(),
            "Stripe answered 404 invalid_request_error/resource_missing: No such customer (request req_9)"
        );
        assert!(e.is_not_found());
    }
}

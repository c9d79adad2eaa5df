//! Errors in Stripe's wire shape: `{"error": {"type", "code", "message", "param"}}` with Stripe's status
//! codes, plus the rule of which failures an idempotency key may remember.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Every way a request to the stand-in can fail, each rendered as Stripe renders it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A parameter the endpoint does not take (400 `parameter_unknown`).
    #[error("Received unknown parameter: {0}")]
    UnknownParameter(String),
    /// A required parameter is absent (400 `parameter_missing`).
    #[error("Missing required param: {0}.")]
    MissingParameter(String),
    /// A value that should be an integer is not (400 `parameter_invalid_integer`).
    #[error("Invalid integer: {value}")]
    InvalidInteger {
        /// The parameter's full bracketed name.
        param: String,
        /// The value as received.
        value: String,
    },
    /// A value outside an enumeration, a bad boolean, a bad shape (400 `invalid_request_error`).
    #[error("{message}")]
    InvalidParameter {
        /// The parameter's full bracketed name.
        param: String,
        /// Stripe-like explanation.
        message: String,
        /// A Stripe error code where Stripe gives one (e.g. `parameter_invalid_empty`).
        code: Option<&'static str>,
    },
    /// The object named in the URL does not exist (404 `resource_missing`, `param: "id"`).
    #[error("No such {kind}: '{id}'")]
    NoSuchObject {
        /// Stripe's noun for the object (`customer`, `price`, ...).
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// An object named in a parameter does not exist (400 `resource_missing`).
    #[error("No such {kind}: '{id}'")]
    NoSuchReference {
        /// Stripe's noun for the object.
        kind: &'static str,
        /// The id that was given.
        id: String,
        /// The parameter that named it.
        param: String,
    },
    /// A well-formed request that Stripe refuses for a business reason (400 `invalid_request_error`).
    #[error("{message}")]
    Refused {
        /// Stripe-like explanation.
        message: String,
        /// The parameter at fault, if any.
        param: Option<String>,
        /// A Stripe error code, if Stripe gives one.
        code: Option<&'static str>,
    },
    /// No `Authorization` header, or a key that is not a test secret key (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// An `Idempotency-Key` reused with other parameters (400 `idempotency_error`).
    #[error(
        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{0}' if you meant to execute a different request."
    )]
    IdempotencyMismatch(String),
    /// An `Idempotency-Key` whose first request is still running (409 `idempotency_key_in_use`).
    #[error(
        "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {0}. Please try again later."
    )]
    IdempotencyKeyInUse(String),
    /// A meter event whose `identifier` was already used within 24 hours (400, do not retry).
    #[error("An event already exists with identifier {0}.")]
    DuplicateMeterEvent(String),
    /// A second concurrent meter event call for one customer and meter (429 `rate_limit`).
    #[error(
        "Too many concurrent requests for customer {customer} on meter {meter}: the meter event endpoint allows one concurrent call per customer per meter. Please retry after the previous call completes."
    )]
    ConcurrentMeterEvent {
        /// The customer whose call is in flight.
        customer: String,
        /// The meter whose call is in flight.
        meter: String,
    },
    /// A path or method the stand-in (and Stripe) does not route (404).
    #[error(
        "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
    )]
    UnrecognizedUrl {
        /// HTTP method of the request.
        method: String,
        /// Path of the request.
        path: String,
    },
    /// A bug in the stand-in itself (500 `api_error`).
    #[error("{0}")]
    Internal(String),
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// Response extension marking a response that an idempotency key must not remember
/// (Stripe saves nothing when validation fails before the endpoint starts executing).
#[derive(Debug, Clone, Copy)]
pub struct NotSaved;

impl ApiError {
    /// The HTTP status Stripe answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoSuchObject { .. } | ApiError::UnrecognizedUrl { .. } => {
                StatusCode::NOT_FOUND
            }
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::IdempotencyKeyInUse(_) => StatusCode::CONFLICT,
            ApiError::ConcurrentMeterEvent { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Stripe's `error.type`.
    pub fn error_type(&self) -> &'static str {
        match self {
            ApiError::IdempotencyMismatch(_) | ApiError::IdempotencyKeyInUse(_) => {
                "idempotency_error"
            }
            ApiError::Internal(_) => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// Stripe's `error.code`, when there is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ApiError::UnknownParameter(_) => Some("parameter_unknown"),
            ApiError::MissingParameter(_) => Some("parameter_missing"),
            ApiError::InvalidInteger { .. } => Some("parameter_invalid_integer"),
            ApiError::InvalidParameter { code, .. } | ApiError::Refused { code, .. } => *code,
            ApiError::NoSuchObject { .. } | ApiError::NoSuchReference { .. } => {
                Some("resource_missing")
            }
            ApiError::IdempotencyKeyInUse(_) => Some("idempotency_key_in_use"),
            ApiError::ConcurrentMeterEvent { .. } => Some("rate_limit"),
            _ => None,
        }
    }

    /// Stripe's `error.param`, when the error is about one parameter.
    pub fn param(&self) -> Option<&str> {
        match self {
            ApiError::UnknownParameter(p) | ApiError::MissingParameter(p) => Some(p),
            ApiError::InvalidInteger { param, .. }
            | ApiError::InvalidParameter { param, .. }
            | ApiError::NoSuchReference { param, .. } => Some(param),
            ApiError::Refused { param, .. } => param.as_deref(),
            ApiError::NoSuchObject { .. } => Some("id"),
            _ => None,
        }
    }

    /// Whether an idempotency key may remember this answer. Stripe saves results only once the
    /// endpoint has started executing, so parameter validation, authentication, conflicts and rate
    /// limits leave the key free for a corrected retry.
    pub fn saved_by_idempotency(&self) -> bool {
        !matches!(
            self,
            ApiError::UnknownParameter(_)
                | ApiError::MissingParameter(_)
                | ApiError::InvalidInteger { .. }
                | ApiError::InvalidParameter { .. }
                | ApiError::Unauthenticated(_)
                | ApiError::IdempotencyMismatch(_)
                | ApiError::IdempotencyKeyInUse(_)
                | ApiError::ConcurrentMeterEvent { .. }
        )
    }

    /// The JSON body Stripe would send.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        if let Some(code) = self.code() {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        error.insert("message".into(), json!(self.to_string()));
        if let Some(param) = self.param() {
            error.insert("param".into(), json!(param));
        }
        error.insert("type".into(), json!(self.error_type()));
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::DuplicateMeterEvent(_) => {
                headers.insert("Stripe-Should-Retry", HeaderValue::from_static("false"));
            }
            ApiError::IdempotencyKeyInUse(_) => {
                headers.insert("Stripe-Should-Retry", HeaderValue::from_static("true"));
            }
            ApiError::Unauthenticated(_) => {
                headers.insert(
                    "WWW-Authenticate",
                    HeaderValue::from_static("Bearer realm=\"Stripe\""),
                );
            }
            _ => {}
        }
        if !self.saved_by_idempotency() {
            response.extensions_mut().insert(NotSaved);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameter_renders_in_stripes_shape() {
        // GIVEN an unknown nested parameter
        let err = ApiError::UnknownParameter("recurring[foo]".into());
        // WHEN it is rendered
        let body = err.body();
        // THEN it carries Stripe's type, code, message and param
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "parameter_unknown");
        assert_eq!(body["error"]["param"], "recurring[foo]");
        assert_eq!(
            body["error"]["message"],
            "Received unknown parameter: recurring[foo]"
        );
    }

    #[test]
    fn missing_object_in_the_url_is_a_404_naming_the_id_param() {
        let err = ApiError::NoSuchObject {
            kind: "customer",
            id: "cus_x".into(),
        };
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert_eq!(err.body()["error"]["param"], "id");
        assert_eq!(err.body()["error"]["message"], "No such customer: 'cus_x'");
    }

    #[test]
    fn validation_failures_are_not_remembered_by_idempotency_keys() {
        assert!(!ApiError::MissingParameter("currency".into()).saved_by_idempotency());
        assert!(ApiError::DuplicateMeterEvent("x".into()).saved_by_idempotency());
    }
}

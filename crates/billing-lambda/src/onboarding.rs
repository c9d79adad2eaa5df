//! HTTP glue shared by the onboarding routes (checkout-session, portal-session): who the caller
//! is, from the JWT authorizer's verified claims only, and how the core's [`OnboardingError`]
//! becomes a response.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use billing::ids::CustomerId;
use billing::service::onboarding::OnboardingError;
use billing::stripe::NewCustomer;
use serde_json::json;

use crate::apigw;

/// The claim naming our customer id, when the user pool sets it (users cannot write it).
pub const CUSTOMER_ID_CLAIM: &str = "custom:customer_id";

/// The customer the verified claims identify: `custom:customer_id`, else `sub`. Never the body,
/// query string, path or headers.
pub fn caller(request: &ApiGatewayV2httpRequest) -> Option<CustomerId> {
    apigw::jwt_claim(request, CUSTOMER_ID_CLAIM)
        .or_else(|| apigw::jwt_claim(request, "sub"))
        .and_then(|id| CustomerId::parse(id).ok())
}

/// The Stripe customer-creation request the claims propose for `customer_id` (used only if
/// sign-up stored none: the stored one wins).
pub fn proposal_from_claims(
    request: &ApiGatewayV2httpRequest,
    customer_id: CustomerId,
) -> NewCustomer {
    let claim = |name| apigw::jwt_claim(request, name).map(str::to_string);
    NewCustomer {
        customer_id,
        email: claim("email"),
        name: claim("name"),
        cognito_sub: claim("sub"),
        test_clock: None,
    }
}

/// `401 {"error":"unauthorized"}`: no authorizer claims, or no usable identity claim.
pub fn unauthorized() -> ApiGatewayV2httpResponse {
    apigw::json_response(401, &json!({"error": "unauthorized"}))
}

/// The response for a failed use case: 409 for a subscription that stands or a checkout just
/// completed (the message points to the portal), 404 for no Stripe customer yet, 503 for the store
/// or a busy slot and 502 for Stripe (both retryable), never a 200. The caller logs the error;
/// the answer carries no internal detail for 5xx.
pub fn error_response(error: &OnboardingError) -> ApiGatewayV2httpResponse {
    let (status, message) = match error {
        OnboardingError::AlreadySubscribed { .. } | OnboardingError::CheckoutJustCompleted(_) => {
            (409, error.to_string())
        }
        OnboardingError::NoStripeCustomer(_) => (404, error.to_string()),
        OnboardingError::Busy(_) => (503, "checkout is busy; retry".to_string()),
        OnboardingError::Store(_) => (503, "billing is unavailable; retry later".to_string()),
        OnboardingError::Stripe(_) => {
            (502, "payment provider unavailable; retry later".to_string())
        }
    };
    apigw::json_response(status, &json!({"error": message}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing::ports::StoreError;
    use billing::stripe::StripeError;
    use billing::subscription::SubscriptionStatus;

    fn with_claims(claims: serde_json::Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json!({
            "version": "2.0", "rawPath": "/admin/billing/checkout-session",
            "body": "{\"customer_id\": \"someone-else\"}",
            "requestContext": {"requestId": "r", "http": {"method": "POST",
                "path": "/admin/billing/checkout-session", "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1", "userAgent": "x"},
                "authorizer": {"jwt": {"claims": claims, "scopes": null}}},
            "isBase64Encoded": false
        }))
        .unwrap_or_default()
    }

    #[test]
    fn the_caller_is_custom_customer_id_else_sub_and_never_the_body() {
        // GIVEN requests whose body names another customer
        let id = |claims| caller(&with_claims(claims)).map(|c| c.to_string());
        // THEN only the claims count
        assert_eq!(
            id(json!({"sub": "u1", "custom:customer_id": "c1"})),
            Some("c1".into())
        );
        assert_eq!(id(json!({"sub": "u1"})), Some("u1".into()));
        assert_eq!(id(json!({"client_id": "app"})), None);
        assert_eq!(id(json!({"sub": "a b"})), None);
    }

    #[test]
    fn the_proposal_takes_email_name_and_sub_from_the_claims() {
        // GIVEN an ID token's claims
        let r = with_claims(json!({"sub": "u1", "custom:customer_id": "c1",
            "email": "ann@example.com", "name": "Ann"}));
        // WHEN proposed THEN every field comes from them, never a test clock
        let id =
            caller(&r).unwrap_or_else(|| CustomerId::parse("x").unwrap_or_else(|_| unreachable!()));
        let p = proposal_from_claims(&r, id);
        assert_eq!(p.customer_id.as_str(), "c1");
        assert_eq!(p.email.as_deref(), Some("ann@example.com"));
        assert_eq!(p.name.as_deref(), Some("Ann"));
        assert_eq!(p.cognito_sub.as_deref(), Some("u1"));
        assert_eq!(p.test_clock, None);
    }

    #[test]
    fn each_error_maps_to_its_status_and_never_to_200() {
        // GIVEN every kind of failure
        let c = CustomerId::parse("c1").unwrap_or_else(|_| unreachable!());
        let cases = [
            (
                OnboardingError::AlreadySubscribed {
                    customer: c.clone(),
                    status: SubscriptionStatus::Active,
                },
                409,
            ),
            (OnboardingError::CheckoutJustCompleted(c.clone()), 409),
            (OnboardingError::NoStripeCustomer(c.clone()), 404),
            (OnboardingError::Busy(c.clone()), 503),
            (
                OnboardingError::Store(StoreError::Conflict("customers".into())),
                503,
            ),
            (
                OnboardingError::Stripe(StripeError::Transport("refused".into())),
                502,
            ),
        ];
        for (error, status) in cases {
            // WHEN answered THEN the status
            assert_eq!(error_response(&error).status_code, status, "{error}");
        }
    }
}

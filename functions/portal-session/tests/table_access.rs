//! The DynamoDB requests the handler really sends, recorded on moto, against the function's
//! `MANIFEST` (which `crates/infra-check` compares with the IAM policy in `infra/`): every
//! request must be declared, and the paths driven here exercise every declared action.

#![allow(clippy::unwrap_used)]

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use billing::config::PortalConfig;
use billing::ids::CustomerId;
use billing::ports::SystemClock;
use billing::service::onboarding::{OnboardingDeps, ensure_stripe_customer};
use billing::stripe::NewCustomer;
use billing_adapters::stripe_http::StripeHttpClient;
use billing_test_support::Requests;
use billing_test_support::access_log::moto_store_logged;
use lambda_runtime::{Context, LambdaEvent};
use portal_session::Deps;
use secrecy::SecretString;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/apigw-v2-portal-session-jwt.json");

fn request(customer: &str) -> LambdaEvent<ApiGatewayV2httpRequest> {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    let claims = value["requestContext"]["authorizer"]["jwt"]["claims"]
        .as_object_mut()
        .unwrap();
    claims.retain(|_, v| v != "replaced-by-the-test");
    claims.insert("custom:customer_id".into(), json!(customer));
    claims.insert("sub".into(), json!(format!("sub-{customer}")));
    LambdaEvent::new(serde_json::from_value(value).unwrap(), Context::default())
}

#[tokio::test]
async fn every_dynamodb_request_of_the_handler_is_in_the_manifest() {
    let Some((store, log)) =
        moto_store_logged("ra", "every_request_in_manifest", Requests::Direct).await
    else {
        return;
    };
    let sim = stripe_sim::serve(stripe_sim::Config {
        port: 0,
        ..stripe_sim::Config::default()
    })
    .await
    .unwrap();
    let stripe = StripeHttpClient::builder(SecretString::from("sk_test_stripe_sim"))
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let form: Vec<(String, String)> = [
        ("business_profile[headline]", "Lead Magnet AI billing"),
        ("features[subscription_cancel][enabled]", "true"),
        ("features[subscription_cancel][mode]", "at_period_end"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    stripe
        .post_form("/v1/billing_portal/configurations", &form, "portal-config")
        .await
        .unwrap();
    let deps = Deps {
        onboarding: OnboardingDeps {
            customers: &store,
            onboarding: &store,
            stripe: &stripe,
            clock: &SystemClock,
        },
        portal: &PortalConfig {
            return_url: "https://app.example.com/billing".into(),
            configuration_id: None,
        },
    };
    // GIVEN a signed-up customer (set-up requests are not the function's)
    let proposal = NewCustomer {
        customer_id: CustomerId::parse("tenant-access").unwrap(),
        email: Some("access@example.com".into()),
        name: None,
        cognito_sub: None,
        test_clock: None,
    };
    ensure_stripe_customer(&deps.onboarding, &proposal)
        .await
        .unwrap();
    log.clear();
    // WHEN the customer, then someone without a Stripe customer, open the portal
    let ok = portal_session::handler(&deps, request("tenant-access")).await;
    assert_eq!(ok.status_code, 200);
    let none = portal_session::handler(&deps, request("tenant-nobody")).await;
    assert_eq!(none.status_code, 404);
    // THEN every request is declared, and every declared action used
    let accesses = log.accesses();
    let report = portal_session::MANIFEST.compare_accesses(
        store.tables(),
        accesses
            .iter()
            .map(|a| (a.table.as_str(), a.index.as_deref(), a.action.as_str())),
    );
    println!("{} requests: {accesses:#?}", log.request_count());
    assert!(report.undeclared.is_empty(), "{report:#?}");
    assert!(report.unexercised.is_empty(), "{report:#?}");
}

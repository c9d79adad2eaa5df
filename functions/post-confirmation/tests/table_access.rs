//! The DynamoDB requests the handler really sends, recorded on moto, against the function's
//! `MANIFEST` (which `crates/infra-check` compares with the IAM policy in `infra/`): every
//! request must be declared, and the paths driven here exercise every declared action.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use billing::ports::SystemClock;
use billing::service::onboarding::OnboardingDeps;
use billing_adapters::stripe_http::StripeHttpClient;
use billing_test_support::Requests;
use billing_test_support::access_log::moto_store_logged;
use lambda_runtime::{Context, LambdaEvent};
use post_confirmation::Deps;
use secrecy::SecretString;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/cognito-post-confirmation-sign-up.json");

#[tokio::test]
async fn every_dynamodb_request_of_the_handler_is_in_the_manifest() {
    let Some((store, log)) =
        moto_store_logged("pa", "every_request_in_manifest", Requests::Direct).await
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
    let deps = Deps {
        onboarding: OnboardingDeps {
            customers: &store,
            onboarding: &store,
            stripe: &stripe,
            clock: &SystemClock,
        },
        test_clocks: Some(&stripe),
        stripe_timeout: Duration::from_secs(4),
    };
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    event["request"]["userAttributes"]["custom:customer_id"] = json!("tenant-access");
    // WHEN a sign-up is confirmed, and Cognito retries the trigger
    for _ in 0..2 {
        let back =
            post_confirmation::handler(&deps, LambdaEvent::new(event.clone(), Context::default()))
                .await;
        assert_eq!(back, event);
    }
    // THEN the customer is linked once
    let customers = stripe
        .get_json(
            "/v1/customers",
            &[("email".into(), "ann@example.com".into())],
        )
        .await
        .unwrap();
    assert_eq!(
        customers["data"].as_array().map(Vec::len),
        Some(1),
        "{customers}"
    );
    // AND every request is declared, and every declared action used
    let accesses = log.accesses();
    let report = post_confirmation::MANIFEST.compare_accesses(
        store.tables(),
        accesses
            .iter()
            .map(|a| (a.table.as_str(), a.index.as_deref(), a.action.as_str())),
    );
    println!("{} requests: {accesses:#?}", log.request_count());
    assert!(report.undeclared.is_empty(), "{report:#?}");
    assert!(report.unexercised.is_empty(), "{report:#?}");
}

//! The DynamoDB requests the handler really sends, recorded on moto, against the function's
//! `MANIFEST` (which `crates/infra-check` compares with the IAM policy in `infra/`): every
//! request must be declared, and the paths driven here exercise every declared action.

#![allow(clippy::unwrap_used)]

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use billing::ids::{CustomerId, StripeCustomerId};
use billing::ports::{CustomerStore, SystemClock};
use billing::service::subscription_view::ViewSettings;
use billing_test_support::Requests;
use billing_test_support::access_log::moto_store_logged;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use subscription::Deps;

const FIXTURE: &str = include_str!("fixtures/apigw-v2-subscription-jwt.json");

fn request(sub: &str) -> LambdaEvent<ApiGatewayV2httpRequest> {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    value["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(sub);
    LambdaEvent::new(serde_json::from_value(value).unwrap(), Context::default())
}

#[tokio::test]
async fn every_dynamodb_request_of_the_handler_is_in_the_manifest() {
    let Some((store, log)) =
        moto_store_logged("sa", "every_request_in_manifest", Requests::Direct).await
    else {
        return;
    };
    // GIVEN a customer linked to Stripe (written before the log starts counting)
    let customer = CustomerId::parse("tenant-access").unwrap();
    let stripe = StripeCustomerId::parse("cus_access").unwrap();
    store
        .link_stripe_customer(&customer, &stripe, 1_790_000_000)
        .await
        .unwrap();
    log.clear();
    let settings = ViewSettings::default();
    let deps = Deps {
        customers: &store,
        clock: &SystemClock,
        settings: &settings,
    };
    // WHEN the customer and an unknown one read their subscription
    assert_eq!(
        subscription::handler(&deps, request("tenant-access"))
            .await
            .status_code,
        200
    );
    assert_eq!(
        subscription::handler(&deps, request("tenant-unknown"))
            .await
            .status_code,
        200
    );
    // THEN two reads, each declared, and every declared action used
    let accesses = log.accesses();
    assert_eq!(log.request_count(), 2, "{accesses:#?}");
    let report = subscription::MANIFEST.compare_accesses(
        store.tables(),
        accesses
            .iter()
            .map(|a| (a.table.as_str(), a.index.as_deref(), a.action.as_str())),
    );
    assert!(report.undeclared.is_empty(), "{report:#?}");
    assert!(report.unexercised.is_empty(), "{report:#?}");
}

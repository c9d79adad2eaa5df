//! The Secrets Manager reader against moto's server (endpoint from `BILLING_TEST_DYNAMODB_ENDPOINT`,
//! which `./scripts/test` sets; moto serves every AWS API on one port).

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use billing::config::{Env, SecretSource, WebhookConfig};
use billing_adapters::secrets_manager::{SecretsError, SecretsReader};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

async fn reader() -> Option<(SecretsReader, aws_sdk_secretsmanager::Client)> {
    let Ok(endpoint) = std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("BILLING_REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "BILLING_REQUIRE_DYNAMODB=1 but BILLING_TEST_DYNAMODB_ENDPOINT is not set"
        );
        eprintln!("skipped: set BILLING_TEST_DYNAMODB_ENDPOINT (./scripts/test does)");
        return None;
    };
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    Some((SecretsReader::new(client.clone()), client))
}

async fn put(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!("test/stripe-{}", fastrand::u64(..));
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn api_key_is_read_in_bare_and_json_forms() {
    let Some((reader, client)) = reader().await else {
        return;
    };
    // GIVEN two secrets, one bare, one JSON
    let bare = put(&client, "sk_test_bare").await;
    let json = put(&client, r#"{"STRIPE_SECRET_KEY":"sk_test_json"}"#).await;
    // WHEN each is read THEN the key comes out
    let key = reader
        .stripe_api_key(&SecretSource::SecretsManager(bare))
        .await
        .unwrap();
    assert_eq!(key.expose_secret(), "sk_test_bare");
    let key = reader
        .stripe_api_key(&SecretSource::SecretsManager(json))
        .await
        .unwrap();
    assert_eq!(key.expose_secret(), "sk_test_json");
}

#[tokio::test]
async fn env_key_wins_without_asking_secrets_manager() {
    let Some((reader, _)) = reader().await else {
        return;
    };
    let key = reader
        .stripe_api_key(&SecretSource::Env(SecretString::from("sk_test_env")))
        .await
        .unwrap();
    assert_eq!(key.expose_secret(), "sk_test_env");
}

#[tokio::test]
async fn webhook_secrets_merge_env_and_manager_for_rotation() {
    let Some((reader, client)) = reader().await else {
        return;
    };
    let name = put(
        &client,
        r#"{"STRIPE_WEBHOOK_SECRET":["whsec_new","whsec_newer"]}"#,
    )
    .await;
    let env: HashMap<String, String> = [
        ("STRIPE_WEBHOOK_SECRET".to_string(), "whsec_old".to_string()),
        ("STRIPE_WEBHOOK_SECRET_NAME".to_string(), name),
    ]
    .into();
    assert!(env.var("STRIPE_WEBHOOK_SECRET").is_some());
    let config = WebhookConfig::from_env(&env).unwrap();
    let secrets: Vec<String> = reader
        .webhook_secrets(&config)
        .await
        .unwrap()
        .iter()
        .map(|s| s.expose_secret().to_string())
        .collect();
    assert_eq!(secrets, ["whsec_old", "whsec_new", "whsec_newer"]);
}

#[tokio::test]
async fn missing_or_malformed_secrets_fail_without_showing_the_value() {
    let Some((reader, client)) = reader().await else {
        return;
    };
    let err = reader
        .stripe_api_key(&SecretSource::SecretsManager("test/absent".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, SecretsError::Fetch { .. }), "{err:?}");
    let name = put(&client, "pk_live_PUBLISHABLE_NOT_SECRET").await;
    let err = reader
        .stripe_api_key(&SecretSource::SecretsManager(name))
        .await
        .unwrap_err();
    assert!(matches!(err, SecretsError::Unreadable { .. }));
    assert!(!format!("{err} {err:?}").contains("PUBLISHABLE"));
}

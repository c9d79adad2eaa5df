//! `setup` and `doctor` against the Stripe stand-in over HTTP: a fresh account, a second run, and a
//! deliberately broken account.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use billing::money::{AllowanceMode, Pricing, Usd};
use billing_adapters::stripe_http::StripeHttpClient;
use billing_admin::admin_api::{AdminApi, list_all};
use billing_admin::checks::Check;
use billing_admin::desired::DesiredAccount;
use billing_admin::doctor::{self, DoctorOptions};
use billing_admin::setup::{self, Change};
use secrecy::SecretString;
use serde_json::Value;
use std::process::Command;

const KEY: &str = "sk_test_stripe_sim";
const WEBHOOK_URL: &str = "http://127.0.0.1:9/v1/stripe/webhook";

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn desired(mode: AllowanceMode) -> DesiredAccount {
    DesiredAccount {
        meter_event_name: "leadmagnet_ai_usage".into(),
        webhook_url: Some(WEBHOOK_URL.into()),
        api_version: "2026-10-28.endive".into(),
        pricing: Pricing::new(
            Usd::parse("29").unwrap(),
            Usd::parse("10").unwrap(),
            rust_decimal::Decimal::from(2),
            Usd::parse("0.01").unwrap(),
            mode,
        )
        .unwrap(),
        portal_return_url: Some("http://127.0.0.1:9/billing".into()),
    }
}

async fn sim() -> (stripe_sim::Server, StripeHttpClient) {
    let server = stripe_sim::serve(stripe_sim::Config {
        port: 0,
        ..stripe_sim::Config::default()
    })
    .await
    .unwrap();
    let client = StripeHttpClient::builder(SecretString::from(KEY))
        .base_url(server.base_url())
        .build()
        .unwrap();
    (server, client)
}

fn failures(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| format!("{:?}", c))
        .collect()
}

fn options(env: &[(String, String)]) -> DoctorOptions {
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    DoctorOptions {
        base_price_id: get("STRIPE_PRICE_ID"),
        metered_price_id: get("STRIPE_METERED_PRICE_ID"),
        is_test_key: true,
        live_expected: false,
    }
}

#[tokio::test]
async fn a_fresh_account_is_set_up_and_then_passes_doctor_in_both_modes() {
    for mode in [AllowanceMode::App, AllowanceMode::Stripe] {
        // GIVEN an empty account
        let (_server, client) = sim().await;
        let wanted = desired(mode);
        // WHEN setup runs
        let report = setup::run(&client, &wanted).await.unwrap();
        // THEN it created the meter, both prices, the portal configuration and the endpoint
        let created: Vec<&str> = report
            .actions
            .iter()
            .filter(|a| a.change == Change::Created)
            .map(|a| a.object)
            .collect();
        assert_eq!(
            created,
            [
                "meter",
                "base price",
                "usage price",
                "portal configuration",
                "webhook endpoint"
            ]
        );
        assert!(report.new_webhook_secret.is_some());
        // AND doctor finds nothing wrong with the deployed ids
        let checks = doctor::run(&client, &wanted, &options(&report.env))
            .await
            .unwrap();
        assert!(failures(&checks).is_empty(), "{:#?}", failures(&checks));
    }
}

#[tokio::test]
async fn a_second_setup_changes_nothing() {
    // GIVEN an account set up once
    let (_server, client) = sim().await;
    let wanted = desired(AllowanceMode::App);
    let first = setup::run(&client, &wanted).await.unwrap();
    let counts = |client: StripeHttpClient| async move {
        let mut n = Vec::new();
        for path in [
            "/v1/billing/meters",
            "/v1/prices",
            "/v1/products",
            "/v1/webhook_endpoints",
            "/v1/billing_portal/configurations",
        ] {
            n.push(list_all(&client, path, &Vec::new()).await.unwrap().len());
        }
        n
    };
    let before = counts(client.clone()).await;
    // WHEN it runs again
    let second = setup::run(&client, &wanted).await.unwrap();
    // THEN every object is found again and left as it is, and no secret is shown again
    assert!(
        second.actions.iter().all(|a| a.change == Change::Unchanged),
        "{:?}",
        second.actions
    );
    assert!(second.new_webhook_secret.is_none());
    assert_eq!(first.env, second.env);
    assert_eq!(counts(client.clone()).await, before);
}

/// An account set up by hand, wrongly, in every way doctor checks.
async fn break_account(client: &StripeHttpClient) -> (String, String) {
    let post = |path: &'static str, pairs: Vec<(String, String)>, key: &'static str| async move {
        client.post(path, &pairs, key).await.unwrap()
    };
    let ours = post(
        "/v1/billing/meters",
        form(&[
            ("display_name", "usage"),
            ("event_name", "leadmagnet_ai_usage"),
            ("default_aggregation[formula]", "sum"),
        ]),
        "m1",
    )
    .await;
    let other = post(
        "/v1/billing/meters",
        form(&[
            ("display_name", "other"),
            ("event_name", "something_else"),
            ("default_aggregation[formula]", "sum"),
        ]),
        "m2",
    )
    .await;
    let _ = ours;
    // a wrong amount
    let base = post(
        "/v1/prices",
        form(&[
            ("currency", "usd"),
            ("unit_amount", "1900"),
            ("recurring[interval]", "month"),
            ("product_data[name]", "Pro"),
        ]),
        "p1",
    )
    .await;
    // a usage price on another meter (ours is unlinked)
    let usage = post(
        "/v1/prices",
        form(&[
            ("currency", "usd"),
            ("unit_amount", "1"),
            ("recurring[interval]", "month"),
            ("recurring[usage_type]", "metered"),
            ("recurring[meter]", other["id"].as_str().unwrap()),
            ("product_data[name]", "Usage"),
        ]),
        "p2",
    )
    .await;
    // an endpoint missing invoice.payment_failed
    post(
        "/v1/webhook_endpoints",
        form(&[
            ("url", WEBHOOK_URL),
            ("api_version", "2026-10-28.endive"),
            ("enabled_events[0]", "checkout.session.completed"),
            ("enabled_events[1]", "customer.subscription.updated"),
            ("enabled_events[2]", "customer.subscription.deleted"),
            ("enabled_events[3]", "invoice.paid"),
        ]),
        "w1",
    )
    .await;
    // a portal cancelling immediately
    post(
        "/v1/billing_portal/configurations",
        form(&[
            ("business_profile[headline]", "x"),
            ("features[subscription_cancel][enabled]", "true"),
            ("features[subscription_cancel][mode]", "immediately"),
        ]),
        "c1",
    )
    .await;
    // a subscription on a legacy metered price (no meter), created as a pre-basil integration would
    let customer = post(
        "/v1/customers",
        form(&[("email", "old@example.com")]),
        "cu1",
    )
    .await;
    let legacy = legacy_price(client).await;
    post(
        "/v1/subscriptions",
        form(&[
            ("customer", customer["id"].as_str().unwrap()),
            ("items[0][price]", &legacy),
        ]),
        "s1",
    )
    .await;
    (
        base["id"].as_str().unwrap().to_string(),
        usage["id"].as_str().unwrap().to_string(),
    )
}

/// Stripe still serves legacy metered prices to integrations pinned before 2025-03-31.basil.
async fn legacy_price(client: &StripeHttpClient) -> String {
    let legacy_client = StripeHttpClient::builder(SecretString::from(KEY))
        .base_url(client.base_url())
        .api_version("2024-04-10")
        .build()
        .unwrap();
    let price: Value = legacy_client
        .post_form(
            "/v1/prices",
            &form(&[
                ("currency", "usd"),
                ("unit_amount", "1"),
                ("recurring[interval]", "month"),
                ("recurring[usage_type]", "metered"),
                ("product_data[name]", "Legacy usage"),
            ]),
            "legacy-price",
        )
        .await
        .unwrap();
    price["id"].as_str().unwrap().to_string()
}

// The binary runs as a blocking child process while the in-process stand-in serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_each_fault_of_a_broken_account_and_exits_1() {
    // GIVEN an account broken in five ways
    let (server, client) = sim().await;
    let (base, usage) = break_account(&client).await;
    let wanted = desired(AllowanceMode::App);
    // WHEN doctor runs on the deployed ids
    let env = vec![
        ("STRIPE_PRICE_ID".to_string(), base.clone()),
        ("STRIPE_METERED_PRICE_ID".to_string(), usage.clone()),
    ];
    let checks = doctor::run(&client, &wanted, &options(&env)).await.unwrap();
    // THEN each fault is named
    let text = failures(&checks).join("\n");
    for fault in [
        "1900 cents, not 2900",
        "not to mtr_",
        "not enabled for invoice.payment_failed",
        "cancels immediately",
        "on a legacy metered price",
    ] {
        assert!(text.contains(fault), "{fault:?} missing from:\n{text}");
    }
    // AND the binary exits 1 with the same findings
    let output = Command::new(env!("CARGO_BIN_EXE_billing-admin"))
        .args(["doctor", "--webhook-url", WEBHOOK_URL])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STRIPE_SECRET_KEY", KEY)
        .env("STRIPE_API_BASE", server.base_url())
        .env("STRIPE_PRICE_ID", &base)
        .env("STRIPE_METERED_PRICE_ID", &usage)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("FAIL  base price") && stdout.contains("fix:"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    API key mode"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_sets_up_and_then_doctor_exits_0() {
    let (server, _client) = sim().await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_billing-admin"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STRIPE_SECRET_KEY", KEY)
            .env("STRIPE_API_BASE", server.base_url())
            .env("USAGE_ALLOWANCE_MODE", "stripe")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let setup = run(&["setup", "--webhook-url", WEBHOOK_URL]);
    let out = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    assert!(
        out.contains("whsec_")
            && out.contains("STRIPE_METERED_PRICE_ID=price_")
            && out.contains("USAGE_ALLOWANCE_MODE=stripe"),
        "{out}"
    );
    let doctor = run(&["doctor", "--webhook-url", WEBHOOK_URL]);
    assert_eq!(
        doctor.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );
}

//! `doctor`: checks a Stripe account against what the functions expect, and says how to fix each
//! fault. The caller exits 1 when any check failed.

use serde_json::Value;

use crate::admin_api::{AdminApi, list_all};
use crate::checks::{self, Check};
use crate::desired::{BASE_PRICE_LOOKUP_KEY, DesiredAccount};
use crate::setup::{find_meter, find_portal_configuration, find_price, find_webhook_endpoint};
use billing::stripe::StripeError;

/// What to check beyond the desired account.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// `STRIPE_PRICE_ID` as deployed; found by lookup key when absent.
    pub base_price_id: Option<String>,
    /// `STRIPE_METERED_PRICE_ID` as deployed; found by lookup key when absent.
    pub metered_price_id: Option<String>,
    /// Whether the key is a test key.
    pub is_test_key: bool,
    /// Whether a live key is expected (`--live`).
    pub live_expected: bool,
}

async fn price(
    api: &dyn AdminApi,
    id: Option<&str>,
    lookup_key: &str,
) -> Result<Option<Value>, StripeError> {
    match id {
        Some(id) => match api
            .get(
                &format!("/v1/prices/{id}"),
                &vec![("expand[]".into(), "tiers".into())],
            )
            .await
        {
            Ok(price) => Ok(Some(price)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        },
        None => find_price(api, lookup_key).await,
    }
}

/// Runs every check.
pub async fn run(
    api: &dyn AdminApi,
    desired: &DesiredAccount,
    options: &DoctorOptions,
) -> Result<Vec<Check>, StripeError> {
    let mut results = vec![checks::check_key_mode(
        options.is_test_key,
        options.live_expected,
    )];
    let meter = find_meter(api, &desired.meter_event_name).await?;
    let meter_id = meter
        .as_ref()
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    results.push(checks::check_meter(meter.as_ref(), desired));
    let base = price(api, options.base_price_id.as_deref(), BASE_PRICE_LOOKUP_KEY).await?;
    results.push(checks::check_base_price(base.as_ref(), desired));
    let usage = price(
        api,
        options.metered_price_id.as_deref(),
        &desired.usage_price_lookup_key(),
    )
    .await?;
    results.push(checks::check_usage_price(
        usage.as_ref(),
        meter_id.as_deref(),
        desired,
    ));
    let endpoint = find_webhook_endpoint(api, desired.webhook_url.as_deref()).await?;
    results.push(checks::check_webhook_endpoint(endpoint.as_ref(), desired));
    let portal = find_portal_configuration(api).await?;
    results.push(checks::check_portal_configuration(portal.as_ref()));
    let subscriptions = list_all(
        api,
        "/v1/subscriptions",
        &vec![
            ("status".into(), "all".into()),
            ("expand[]".into(), "data.items.data.price".into()),
        ],
    )
    .await?;
    let live: Vec<Value> = subscriptions
        .into_iter()
        .filter(|s| {
            !matches!(
                s.get("status").and_then(Value::as_str),
                Some("canceled" | "incomplete_expired")
            )
        })
        .collect();
    results.push(checks::check_legacy_subscriptions(&live));
    Ok(results)
}

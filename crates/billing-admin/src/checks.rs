//! `doctor`'s checks: each compares one Stripe object (as JSON) with what the functions expect and
//! says ok, or what is wrong and how to fix it. Pure functions, so every fault is unit-tested.

use serde_json::Value;

use crate::desired::{DesiredAccount, WEBHOOK_EVENTS};
use billing::money::AllowanceMode;

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// As expected.
    Ok,
    /// Works, but deserves attention (e.g. a live key without `--live`).
    Warn(String),
    /// Wrong; the functions will misbehave until fixed.
    Fail {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

/// One named check and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
}

impl Check {
    fn new(name: impl Into<String>, verdict: Verdict) -> Self {
        Check {
            name: name.into(),
            verdict,
        }
    }

    /// Whether the check failed.
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Fail { .. })
    }
}

fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Verdict {
    Verdict::Fail {
        problem: problem.into(),
        fix: fix.into(),
    }
}

fn text<'a>(object: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(object, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn int(object: &Value, path: &[&str]) -> Option<i64> {
    let v = path.iter().try_fold(object, |v, key| v.get(key))?;
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Collects every problem found, or Ok.
fn verdict_of(problems: Vec<String>, fix: &str) -> Verdict {
    if problems.is_empty() {
        Verdict::Ok
    } else {
        fail(problems.join("; "), fix)
    }
}

/// The API key's mode: a test key is expected, a live key only with `--live` (without it a live
/// key is a warning: the account bills real cards).
pub fn check_key_mode(is_test_key: bool, live_expected: bool) -> Check {
    let verdict = match (is_test_key, live_expected) {
        (true, false) | (false, true) => Verdict::Ok,
        (false, false) => Verdict::Warn(
            "a live key: this account bills real cards (pass --live when that is intended)".into(),
        ),
        (true, true) => fail(
            "--live was given but the key is a test key",
            "use the live account's key, or drop --live",
        ),
    };
    Check::new("API key mode", verdict)
}

/// The meter: sums raw events, customer from `stripe_customer_id`, value from `value`.
pub fn check_meter(meter: Option<&Value>, desired: &DesiredAccount) -> Check {
    let name = format!("meter for event {:?}", desired.meter_event_name);
    let Some(meter) = meter else {
        return Check::new(
            name,
            fail(
                "no active meter has this event name",
                "run `billing-admin setup`",
            ),
        );
    };
    let mut problems = Vec::new();
    if text(meter, &["status"]) != Some("active") {
        problems.push("the meter is not active".to_string());
    }
    if text(meter, &["default_aggregation", "formula"]) != Some("sum") {
        problems.push("its aggregation is not sum".into());
    }
    if meter.get("event_time_window").is_some_and(|w| !w.is_null()) {
        problems.push(
            "it pre-aggregates events (event_time_window set); raw ingestion is needed".into(),
        );
    }
    if text(meter, &["customer_mapping", "event_payload_key"]) != Some("stripe_customer_id") {
        problems.push("its customer key is not stripe_customer_id".into());
    }
    if text(meter, &["value_settings", "event_payload_key"]) != Some("value") {
        problems.push("its value key is not value".into());
    }
    Check::new(
        name,
        verdict_of(
            problems,
            "meters are immutable: create a new meter (deactivate this one), then run `billing-admin setup`",
        ),
    )
}

fn recurring_problems(price: &Value, usage_type: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if price.get("active").and_then(Value::as_bool) != Some(true) {
        problems.push("it is not active".to_string());
    }
    if text(price, &["currency"]) != Some("usd") {
        problems.push("its currency is not usd".into());
    }
    if text(price, &["recurring", "interval"]) != Some("month")
        || int(price, &["recurring", "interval_count"]).unwrap_or(1) != 1
    {
        problems.push("it is not monthly".into());
    }
    if text(price, &["recurring", "usage_type"]) != Some(usage_type) {
        problems.push(format!("its usage type is not {usage_type}"));
    }
    problems
}

/// The base price: active, USD, monthly, licensed, at the configured amount.
pub fn check_base_price(price: Option<&Value>, desired: &DesiredAccount) -> Check {
    let name = "base price".to_string();
    let Some(price) = price else {
        return Check::new(
            name,
            fail(
                "not found",
                "run `billing-admin setup` and deploy STRIPE_PRICE_ID",
            ),
        );
    };
    let mut problems = recurring_problems(price, "licensed");
    let want = desired
        .pricing
        .base_monthly()
        .to_cents()
        .unwrap_or_default();
    if int(price, &["unit_amount"]) != Some(want) {
        problems.push(format!(
            "its amount is {} cents, not {want}",
            int(price, &["unit_amount"]).map_or("unset".into(), |a| a.to_string())
        ));
    }
    Check::new(
        format!("{name} {}", text(price, &["id"]).unwrap_or("?")),
        verdict_of(
            problems,
            "prices are immutable: run `billing-admin setup` for a correct one and deploy its id as STRIPE_PRICE_ID",
        ),
    )
}

/// The usage price: metered, on our meter, priced for the allowance mode.
pub fn check_usage_price(
    price: Option<&Value>,
    meter_id: Option<&str>,
    desired: &DesiredAccount,
) -> Check {
    let name = "usage price".to_string();
    let Some(price) = price else {
        return Check::new(
            name,
            fail(
                "not found",
                "run `billing-admin setup` and deploy STRIPE_METERED_PRICE_ID",
            ),
        );
    };
    let mut problems = recurring_problems(price, "metered");
    match (text(price, &["recurring", "meter"]), meter_id) {
        (None, _) => problems.push(
            "it is not linked to a meter (a legacy metered price: meter events bill it nothing)"
                .into(),
        ),
        (Some(linked), Some(meter)) if linked != meter => {
            problems.push(format!("it is linked to meter {linked}, not to {meter}"))
        }
        _ => {}
    }
    let unit_cents = desired.pricing.unit().as_decimal() * rust_decimal::Decimal::ONE_HUNDRED;
    let amount_matches = |value: Option<&Value>| -> bool {
        let Some(value) = value else { return false };
        let decimal_text = value
            .get("unit_amount_decimal")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                value
                    .get("unit_amount")
                    .and_then(Value::as_i64)
                    .map(|a| a.to_string())
            });
        decimal_text
            .and_then(|t| t.parse::<rust_decimal::Decimal>().ok())
            .is_some_and(|d| d == unit_cents)
    };
    match desired.pricing.mode() {
        AllowanceMode::App => {
            if text(price, &["billing_scheme"]) != Some("per_unit") || !amount_matches(Some(price))
            {
                problems.push(format!(
                    "mode app needs a flat {unit_cents} cent per-unit price"
                ));
            }
        }
        AllowanceMode::Stripe => {
            let tiers = price.get("tiers").and_then(Value::as_array);
            let allowance = i64::try_from(desired.pricing.allowance_units()).unwrap_or(i64::MAX);
            let ok = text(price, &["tiers_mode"]) == Some("graduated")
                && tiers.is_some_and(|t| {
                    t.len() == 2
                        && int(&t[0], &["up_to"]) == Some(allowance)
                        && int(&t[0], &["unit_amount"]).unwrap_or(0) == 0
                        && t[0].get("flat_amount").is_none_or(Value::is_null)
                        && t[1].get("up_to").is_none_or(Value::is_null)
                        && amount_matches(Some(&t[1]))
                });
            if !ok {
                problems.push(format!(
                    "mode stripe needs graduated tiers: first {allowance} units free (up_to = allowance / unit), then {unit_cents} cent each"
                ));
            }
        }
    }
    Check::new(
        format!("{name} {}", text(price, &["id"]).unwrap_or("?")),
        verdict_of(
            problems,
            "run `billing-admin setup` for a correct price and deploy its id as STRIPE_METERED_PRICE_ID",
        ),
    )
}

/// The webhook endpoint: enabled, the five events, our API version.
pub fn check_webhook_endpoint(endpoint: Option<&Value>, desired: &DesiredAccount) -> Check {
    let name = format!(
        "webhook endpoint {}",
        desired.webhook_url.as_deref().unwrap_or("(any)")
    );
    let Some(endpoint) = endpoint else {
        return Check::new(
            name,
            fail("not found", "run `billing-admin setup --webhook-url <url>`"),
        );
    };
    let mut problems = Vec::new();
    if text(endpoint, &["status"]) != Some("enabled") {
        problems.push("it is disabled".to_string());
    }
    let enabled: Vec<&str> = endpoint
        .get("enabled_events")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !enabled.contains(&"*") {
        let missing: Vec<&str> = WEBHOOK_EVENTS
            .iter()
            .copied()
            .filter(|e| !enabled.contains(e))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("it is not enabled for {}", missing.join(", ")));
        }
    }
    if text(endpoint, &["api_version"]) != Some(desired.api_version.as_str()) {
        problems.push(format!(
            "its API version is {}, not {}",
            text(endpoint, &["api_version"]).unwrap_or("the account default"),
            desired.api_version
        ));
    }
    Check::new(
        name,
        verdict_of(
            problems,
            "run `billing-admin setup --webhook-url <url>` (a new API version needs a new endpoint and secret)",
        ),
    )
}

/// The portal configuration: active, cancels at period end.
pub fn check_portal_configuration(configuration: Option<&Value>) -> Check {
    let name = "customer portal configuration".to_string();
    let Some(configuration) = configuration else {
        return Check::new(name, fail("none is active", "run `billing-admin setup`"));
    };
    let mut problems = Vec::new();
    if configuration.get("active").and_then(Value::as_bool) != Some(true) {
        problems.push("it is not active".to_string());
    }
    let cancel = configuration.pointer("/features/subscription_cancel");
    if cancel
        .and_then(|c| c.get("enabled"))
        .and_then(Value::as_bool)
        == Some(true)
        && cancel.and_then(|c| c.get("mode")).and_then(Value::as_str) != Some("at_period_end")
    {
        problems.push(
            "it cancels immediately, so the cancelled period's usage is never invoiced".into(),
        );
    }
    Check::new(
        format!("{name} {}", text(configuration, &["id"]).unwrap_or("?")),
        verdict_of(
            problems,
            "run `billing-admin setup` (it sets features[subscription_cancel][mode]=at_period_end)",
        ),
    )
}

/// Subscriptions still on a legacy metered price (metered, no meter): meter events bill them nothing.
pub fn check_legacy_subscriptions(subscriptions: &[Value]) -> Check {
    let legacy: Vec<String> = subscriptions
        .iter()
        .filter_map(|sub| {
            let items = sub.pointer("/items/data")?.as_array()?;
            let legacy_item = items.iter().find(|item| {
                text(item, &["price", "recurring", "usage_type"]) == Some("metered")
                    && item
                        .pointer("/price/recurring/meter")
                        .is_none_or(Value::is_null)
            })?;
            Some(format!(
                "{} (item {}, price {})",
                text(sub, &["id"]).unwrap_or("?"),
                text(legacy_item, &["id"]).unwrap_or("?"),
                text(legacy_item, &["price", "id"]).unwrap_or("?")
            ))
        })
        .collect();
    let verdict = if legacy.is_empty() {
        Verdict::Ok
    } else {
        fail(
            format!(
                "{} on a legacy metered price: {}",
                legacy.len(),
                legacy.join(", ")
            ),
            "switch each item to the meter-backed price at its next period: POST /v1/subscriptions/{id} with items[0][id]=<item>&items[0][deleted]=true&items[1][price]=<STRIPE_METERED_PRICE_ID>&proration_behavior=none",
        )
    };
    Check::new("subscriptions on legacy metered prices", verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing::money::{Pricing, Usd};
    use serde_json::json;

    fn desired(mode: AllowanceMode) -> DesiredAccount {
        let pricing = Pricing::new(
            Usd::parse("29").unwrap(),
            Usd::parse("10").unwrap(),
            rust_decimal::Decimal::from(2),
            Usd::parse("0.01").unwrap(),
            mode,
        )
        .unwrap();
        DesiredAccount {
            meter_event_name: "leadmagnet_ai_usage".into(),
            webhook_url: Some("https://api.example.com/v1/stripe/webhook".into()),
            api_version: "2026-10-28.endive".into(),
            pricing,
            portal_return_url: None,
        }
    }

    fn problem(check: &Check) -> &str {
        match &check.verdict {
            Verdict::Fail { problem, .. } => problem,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn good_meter() -> Value {
        json!({"id": "mtr_1", "status": "active", "event_name": "leadmagnet_ai_usage",
               "default_aggregation": {"formula": "sum"}, "event_time_window": null,
               "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
               "value_settings": {"event_payload_key": "value"}})
    }

    fn flat_usage_price() -> Value {
        json!({"id": "price_u", "active": true, "currency": "usd", "billing_scheme": "per_unit",
               "unit_amount": 1, "unit_amount_decimal": "1",
               "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_1"}})
    }

    #[test]
    fn a_correct_account_passes_every_check() {
        let d = desired(AllowanceMode::App);
        let base = json!({"id": "price_b", "active": true, "currency": "usd", "unit_amount": 2900,
                          "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": null}});
        let endpoint = json!({"status": "enabled", "api_version": "2026-10-28.endive",
                              "enabled_events": WEBHOOK_EVENTS});
        let portal = json!({"id": "bpc_1", "active": true,
                            "features": {"subscription_cancel": {"enabled": true, "mode": "at_period_end"}}});
        for check in [
            check_key_mode(true, false),
            check_meter(Some(&good_meter()), &d),
            check_base_price(Some(&base), &d),
            check_usage_price(Some(&flat_usage_price()), Some("mtr_1"), &d),
            check_webhook_endpoint(Some(&endpoint), &d),
            check_portal_configuration(Some(&portal)),
            check_legacy_subscriptions(&[]),
        ] {
            assert_eq!(check.verdict, Verdict::Ok, "{}", check.name);
        }
    }

    #[test]
    fn a_wrong_base_amount_is_named() {
        let base = json!({"id": "price_b", "active": true, "currency": "usd", "unit_amount": 1900,
                          "recurring": {"interval": "month", "usage_type": "licensed"}});
        let check = check_base_price(Some(&base), &desired(AllowanceMode::App));
        assert!(
            problem(&check).contains("1900 cents, not 2900"),
            "{check:?}"
        );
    }

    #[test]
    fn an_unlinked_or_legacy_usage_price_is_named() {
        let d = desired(AllowanceMode::App);
        let mut legacy = flat_usage_price();
        legacy["recurring"]["meter"] = Value::Null;
        assert!(
            problem(&check_usage_price(Some(&legacy), Some("mtr_1"), &d))
                .contains("not linked to a meter")
        );
        let check = check_usage_price(Some(&flat_usage_price()), Some("mtr_other"), &d);
        assert!(problem(&check).contains("linked to meter mtr_1, not to mtr_other"));
    }

    #[test]
    fn stripe_mode_needs_the_allowance_as_a_free_first_tier() {
        let d = desired(AllowanceMode::Stripe);
        let mut price = flat_usage_price();
        price["billing_scheme"] = json!("tiered");
        price["tiers_mode"] = json!("graduated");
        price["tiers"] = json!([{"up_to": 1000, "unit_amount": 0, "flat_amount": null},
                                {"up_to": null, "unit_amount": 1, "unit_amount_decimal": "1", "flat_amount": null}]);
        assert_eq!(
            check_usage_price(Some(&price), Some("mtr_1"), &d).verdict,
            Verdict::Ok
        );
        price["tiers"][0]["up_to"] = json!(500);
        assert!(
            problem(&check_usage_price(Some(&price), Some("mtr_1"), &d))
                .contains("first 1000 units free")
        );
        // a flat price in stripe mode would bill the allowance
        assert!(check_usage_price(Some(&flat_usage_price()), Some("mtr_1"), &d).failed());
    }

    #[test]
    fn a_missing_event_or_version_on_the_endpoint_is_named() {
        let d = desired(AllowanceMode::App);
        let endpoint = json!({"status": "enabled", "api_version": "2025-03-31.basil",
                              "enabled_events": ["checkout.session.completed", "invoice.paid"]});
        let text = problem(&check_webhook_endpoint(Some(&endpoint), &d)).to_string();
        assert!(text.contains("customer.subscription.updated, customer.subscription.deleted, invoice.payment_failed"), "{text}");
        assert!(
            text.contains("2025-03-31.basil, not 2026-10-28.endive"),
            "{text}"
        );
        let all = json!({"status": "enabled", "api_version": "2026-10-28.endive", "enabled_events": ["*"]});
        assert_eq!(check_webhook_endpoint(Some(&all), &d).verdict, Verdict::Ok);
    }

    #[test]
    fn a_portal_that_cancels_immediately_is_named() {
        let portal = json!({"active": true, "features": {"subscription_cancel": {"enabled": true, "mode": "immediately"}}});
        assert!(
            problem(&check_portal_configuration(Some(&portal))).contains("cancels immediately")
        );
    }

    #[test]
    fn a_raw_sum_meter_is_required() {
        let d = desired(AllowanceMode::App);
        let mut meter = good_meter();
        meter["default_aggregation"]["formula"] = json!("count");
        meter["event_time_window"] = json!("hour");
        let text = problem(&check_meter(Some(&meter), &d)).to_string();
        assert!(
            text.contains("not sum") && text.contains("pre-aggregates"),
            "{text}"
        );
        assert!(check_meter(None, &d).failed());
    }

    #[test]
    fn legacy_metered_subscriptions_are_listed_with_the_migration_step() {
        let subs = [
            json!({"id": "sub_old", "items": {"data": [
            {"id": "si_1", "price": {"id": "price_legacy", "recurring": {"usage_type": "metered", "meter": null}}}]}}),
            json!({"id": "sub_new", "items": {"data": [
            {"id": "si_2", "price": {"id": "price_u", "recurring": {"usage_type": "metered", "meter": "mtr_1"}}}]}}),
        ];
        let check = check_legacy_subscriptions(&subs);
        let text = problem(&check).to_string();
        assert!(
            text.contains("sub_old (item si_1, price price_legacy)") && !text.contains("sub_new"),
            "{text}"
        );
    }

    #[test]
    fn a_live_key_warns_unless_live_is_expected_and_a_test_key_fails_with_live() {
        assert!(matches!(
            check_key_mode(false, false).verdict,
            Verdict::Warn(_)
        ));
        assert_eq!(check_key_mode(false, true).verdict, Verdict::Ok);
        assert_eq!(check_key_mode(true, false).verdict, Verdict::Ok);
        assert!(check_key_mode(true, true).failed());
    }
}

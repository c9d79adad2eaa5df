//! Every parameter the stand-in accepts exists in Stripe's OpenAPI spec (2024-04-10) for the same
//! method and path, except for the documented newer additions below; and every route refuses a
//! parameter it does not know.

use std::path::PathBuf;

use serde_json::Value;
use stripe_sim::{endpoints, event_types};

use crate::support::Sim;

/// Parameters newer than the 2024-04-10 spec, accepted on purpose: (method, path, parameter).
/// Each must really be absent from the spec, so stale entries are noticed.
///
/// None are needed today: `recurring[meter]`, the meter endpoints, test clocks, Checkout, the
/// portal and invoices are all in 2024-04-10. Value-level changes are not parameter names and live
/// elsewhere: `default_aggregation[formula]=last` (newer enum value, see `resources::meters`) and
/// metered prices requiring `recurring[meter]` since basil (see `resources::prices`). Checkout's
/// `payment_method_types` is in the spec but not accepted (the stand-in takes only what it
/// implements, and Stripe now picks card by default).
const NEWER_THAN_SPEC: &[(&str, &str, &str)] = &[];

fn spec() -> Value {
    let path = std::env::var_os("STRIPE_SPEC3_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/stripe/spec3.2024-04-10.json")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read Stripe's spec at {} ({err}); set STRIPE_SPEC3_PATH",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the spec is JSON")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The schemas a schema may stand for (itself, or each `anyOf`/`oneOf` branch).
fn variants<'a>(spec: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = resolve(spec, schema);
    let mut out = vec![schema];
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            for s in list {
                out.extend(variants(spec, s));
            }
        }
    }
    out
}

/// Whether the bracket path `parts` (after the top-level name) exists under `schema`.
fn has_path(spec: &Value, schema: &Value, parts: &[String]) -> bool {
    let Some((head, rest)) = parts.split_first() else {
        return true;
    };
    variants(spec, schema)
        .into_iter()
        .any(|s| match head.as_str() {
            "" => s
                .get("items")
                .is_some_and(|items| has_path(spec, items, rest)),
            "*" => s
                .get("additionalProperties")
                .is_some_and(|extra| extra.is_object() && rest.is_empty()),
            name => s
                .get("properties")
                .and_then(|p| p.get(name))
                .is_some_and(|child| has_path(spec, child, rest)),
        })
}

fn top_level<'a>(spec: &'a Value, operation: &'a Value, name: &str) -> Option<&'a Value> {
    let from_query = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name && p["in"] == "query")
        .map(|p| &p["schema"]);
    let body = &operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    from_query.or_else(|| resolve(spec, body)["properties"].get(name))
}

#[test]
fn every_accepted_parameter_is_in_stripes_spec_for_that_endpoint() {
    // GIVEN Stripe's 2024-04-10 OpenAPI spec and the stand-in's endpoint tables
    let spec = spec();
    let mut missing = Vec::new();
    // WHEN each accepted parameter is looked up under its method and path
    for endpoint in endpoints() {
        let method = endpoint.method.to_ascii_lowercase();
        let Some(operation) = spec["paths"][endpoint.path].get(&method) else {
            missing.push(format!(
                "{} {} (no such operation)",
                endpoint.method, endpoint.path
            ));
            continue;
        };
        for param in endpoint.params {
            let parts = stripe_sim::form::split_key(param);
            let found = top_level(&spec, operation, &parts[0])
                .is_some_and(|schema| has_path(&spec, schema, &parts[1..]));
            let excepted = NEWER_THAN_SPEC
                .iter()
                .any(|(m, p, n)| *m == endpoint.method && *p == endpoint.path && n == param);
            if found && excepted {
                missing.push(format!(
                    "stale exception: {} {} {param}",
                    endpoint.method, endpoint.path
                ));
            }
            if !found && !excepted {
                missing.push(format!("{} {} {param}", endpoint.method, endpoint.path));
            }
        }
    }
    // THEN nothing is unknown to Stripe
    assert!(
        missing.is_empty(),
        "not in the spec:\n{}",
        missing.join("\n")
    );
    assert!(endpoints().len() >= 30);
}

#[test]
fn subscribable_event_types_match_the_specs_enum() {
    let spec = spec();
    let schema = &spec["paths"]["/v1/webhook_endpoints"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["schema"]["properties"]["enabled_events"]["items"];
    let mut from_spec: Vec<&str> = schema["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|e| *e != "*")
        .collect();
    from_spec.sort_unstable();
    let mut ours = event_types::FROM_SPEC.to_vec();
    ours.sort_unstable();
    assert_eq!(ours, from_spec);
    for newer in event_types::NEWER_THAN_SPEC {
        assert!(!from_spec.contains(newer), "{newer} is in the spec already");
    }
}

#[tokio::test]
async fn every_route_refuses_an_unknown_parameter_by_name() {
    // GIVEN a running stand-in
    let sim = Sim::start().await;
    for endpoint in endpoints() {
        // WHEN each route gets a parameter it does not take
        let path = endpoint
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x_1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{}?not_a_param=1", sim.url(&path));
        let request = match endpoint.method {
            "POST" => sim.client.post(url),
            "DELETE" => sim.client.delete(url),
            _ => sim.client.get(url),
        };
        let r = sim.send(request.bearer_auth(crate::support::KEY)).await;
        // THEN it answers parameter_unknown naming it
        assert_eq!(r.status, 400, "{} {}: {:#}", endpoint.method, path, r.body);
        assert_eq!(
            r.body["error"]["code"], "parameter_unknown",
            "{} {path}",
            endpoint.method
        );
        assert_eq!(r.body["error"]["param"], "not_a_param");
    }
}

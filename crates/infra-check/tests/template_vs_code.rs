//! The real template against the real manifests, then each kind of drift made on purpose, on
//! either side, and reported.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use billing_lambda::manifest::{DynamoAction, EnvVar, FunctionManifest, TableAccess, Trigger};
use infra_check::{Problem, Template, check};
use serde_json::{Value, json};

fn template() -> Template {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    Template::load(&path).unwrap()
}

fn manifests() -> Vec<FunctionManifest> {
    vec![
        post_confirmation::MANIFEST,
        checkout_session::MANIFEST,
        portal_session::MANIFEST,
        subscription::MANIFEST,
        stripe_webhook::MANIFEST,
        usage_reporter::MANIFEST,
    ]
}

fn leak<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

/// The manifests with `package`'s changed by `edit`.
fn with_manifest(package: &str, edit: impl Fn(&mut FunctionManifest)) -> Vec<FunctionManifest> {
    let mut all = manifests();
    let m = all.iter_mut().find(|m| m.package == package).unwrap();
    edit(m);
    all
}

/// The template with the resource `id`'s JSON changed by `edit`.
fn with_resource(id: &str, edit: impl FnOnce(&mut Value)) -> Template {
    let mut t = template();
    edit(t.0.pointer_mut(&format!("/Resources/{id}")).unwrap());
    t
}

fn problems_of(template: &Template, manifests: &[FunctionManifest]) -> Vec<Problem> {
    let problems = check(template, manifests);
    for p in &problems {
        println!("reported: {p}");
    }
    problems
}

#[test]
fn the_template_matches_the_code() {
    let problems = problems_of(&template(), &manifests());
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------- functions

#[test]
fn a_function_removed_from_the_template_is_reported() {
    let mut t = template();
    t.0["Resources"]
        .as_object_mut()
        .unwrap()
        .remove("SubscriptionFunction");
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![Problem::MissingFunction("subscription".into())]
    );
}

#[test]
fn a_function_removed_from_the_code_is_reported() {
    let all: Vec<_> = manifests()
        .into_iter()
        .filter(|m| m.package != "portal-session")
        .collect();
    assert_eq!(
        problems_of(&template(), &all),
        vec![Problem::UnknownFunction("portal-session".into())]
    );
}

#[test]
fn a_wrong_build_or_runtime_is_reported() {
    let t = with_resource("SubscriptionFunction", |r| {
        r["Metadata"]["BuildMethod"] = json!("makefile");
        r["Properties"]["Architectures"] = json!(["x86_64"]);
        r["Properties"]["CodeUri"] = json!("../functions/subscription");
    });
    let problems = problems_of(&t, &manifests());
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|p| matches!(p, Problem::Build { function, .. } if function == "subscription"))
    );
}

// ---------------------------------------------------------------- routes

#[test]
fn a_route_removed_from_the_template_is_reported() {
    let t = with_resource("CheckoutSessionFunction", |r| {
        r["Properties"]["Events"]
            .as_object_mut()
            .unwrap()
            .remove("Checkout");
    });
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![Problem::MissingRoute {
            function: "checkout-session".into(),
            route: "POST /admin/billing/checkout-session".into()
        }]
    );
}

#[test]
fn a_route_removed_from_the_code_is_reported() {
    let all = with_manifest("subscription", |m| m.triggers = &[]);
    assert_eq!(
        problems_of(&template(), &all),
        vec![Problem::ExtraRoute {
            function: "subscription".into(),
            route: "GET /admin/billing/subscription".into()
        }]
    );
}

#[test]
fn a_route_without_its_authorizer_or_with_one_too_many_is_reported() {
    // GIVEN the subscription route without the JWT authorizer
    let t = with_resource("SubscriptionFunction", |r| {
        r["Properties"]["Events"]["Read"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("Auth");
    });
    let problems = problems_of(&t, &manifests());
    assert!(
        matches!(problems.as_slice(), [Problem::WrongAuth { function, .. }] if function == "subscription")
    );
    // GIVEN the webhook behind the JWT authorizer (Stripe could never call it)
    let t = with_resource("StripeWebhookFunction", |r| {
        r["Properties"]["Events"]["Webhook"]["Properties"]["Auth"] =
            json!({"Authorizer": "CognitoJwt"});
    });
    let problems = problems_of(&t, &manifests());
    assert!(
        matches!(problems.as_slice(), [Problem::WrongAuth { function, .. }] if function == "stripe-webhook")
    );
}

#[test]
fn a_miswired_trigger_is_reported() {
    // GIVEN the stream without its INSERT filter
    let t = with_resource("UsageReporterFunction", |r| {
        r["Properties"]["Events"]["Stream"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("FilterCriteria");
    });
    assert!(matches!(problems_of(&t, &manifests()).as_slice(),
        [Problem::Trigger { function, .. }] if function == "usage-reporter"));
    // GIVEN no PostConfirmation trigger on the pool
    let t = with_resource("UserPool", |r| {
        r["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("LambdaConfig");
    });
    assert!(matches!(problems_of(&t, &manifests()).as_slice(),
        [Problem::Trigger { function, .. }] if function == "post-confirmation"));
}

// ---------------------------------------------------------------- environment

#[test]
fn an_env_var_removed_from_the_template_is_reported() {
    let t = with_resource("CheckoutSessionFunction", |r| {
        r["Properties"]["Environment"]["Variables"]
            .as_object_mut()
            .unwrap()
            .remove("STRIPE_METERED_PRICE_ID");
    });
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![Problem::MissingEnv {
            function: "checkout-session".into(),
            var: "STRIPE_METERED_PRICE_ID".into()
        }]
    );
}

#[test]
fn an_env_var_removed_from_the_code_is_reported() {
    let all = with_manifest("usage-reporter", |m| {
        m.env = leak(vec![leak(
            m.env_vars()
                .copied()
                .filter(|v| v.name != "STRIPE_METER_ID")
                .collect(),
        )]);
    });
    assert_eq!(
        problems_of(&template(), &all),
        vec![Problem::UnknownEnv {
            function: "usage-reporter".into(),
            var: "STRIPE_METER_ID".into()
        }]
    );
}

#[test]
fn a_plain_secret_in_the_template_is_reported() {
    let t = with_resource("StripeWebhookFunction", |r| {
        r["Properties"]["Environment"]["Variables"]["STRIPE_WEBHOOK_SECRET"] = json!("whsec_x");
    });
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![Problem::LocalOnlyEnv {
            function: "stripe-webhook".into(),
            var: "STRIPE_WEBHOOK_SECRET".into()
        }]
    );
    // AND a variable only the code of another function reads is unknown here
    let t = with_resource("SubscriptionFunction", |r| {
        r["Properties"]["Environment"]["Variables"]["STRIPE_SECRET_NAME"] =
            json!({"Ref": "StripeSecretName"});
    });
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![Problem::UnknownEnv {
            function: "subscription".into(),
            var: "STRIPE_SECRET_NAME".into()
        }]
    );
}

#[test]
fn a_required_env_var_added_to_the_code_is_reported() {
    let all = with_manifest("portal-session", |m| {
        let mut env = m.env.to_vec();
        env.push(leak(vec![EnvVar::required("PORTAL_NEW_SETTING")]));
        m.env = leak(env);
    });
    assert_eq!(
        problems_of(&template(), &all),
        vec![Problem::MissingEnv {
            function: "portal-session".into(),
            var: "PORTAL_NEW_SETTING".into()
        }]
    );
}

// ---------------------------------------------------------------- table actions

/// The policy statements of resource `id`.
fn statements(r: &mut Value) -> &mut Vec<Value> {
    r["Properties"]["Policies"][0]["Statement"]
        .as_array_mut()
        .unwrap()
}

#[test]
fn a_table_action_removed_from_the_template_is_reported() {
    // GIVEN the webhook's policy without DeleteItem on the events table
    let t = with_resource("StripeWebhookFunction", |r| {
        let s = statements(r);
        let events = s
            .iter_mut()
            .find(|s| s["Resource"] == json!({"Fn::GetAtt": "WebhookEventsTable.Arn"}))
            .unwrap();
        events["Action"] = json!(["dynamodb:PutItem", "dynamodb:UpdateItem"]);
    });
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![Problem::NotGranted {
            function: "stripe-webhook".into(),
            access: "dynamodb:DeleteItem on WebhookEvents".into()
        }]
    );
}

#[test]
fn a_table_action_removed_from_the_code_is_reported() {
    // GIVEN the checkout manifest without UpdateItem on customers
    let all = with_manifest("checkout-session", |m| {
        m.tables = leak(vec![TableAccess {
            table: billing_lambda::manifest::Table::Customers,
            index: None,
            actions: &[DynamoAction::GetItem],
        }]);
    });
    assert_eq!(
        problems_of(&template(), &all),
        vec![Problem::OverGranted {
            function: "checkout-session".into(),
            access: "dynamodb:UpdateItem on Customers".into()
        }]
    );
}

#[test]
fn an_index_query_removed_from_either_side_is_reported() {
    // GIVEN the webhook's manifest without the index query
    let all = with_manifest("stripe-webhook", |m| {
        m.tables = leak(
            m.tables
                .iter()
                .copied()
                .filter(|t| t.index.is_none())
                .collect(),
        );
    });
    assert_eq!(
        problems_of(&template(), &all),
        vec![Problem::OverGranted {
            function: "stripe-webhook".into(),
            access: "dynamodb:Query on Customers/index/gsi_stripe_customer_id".into()
        }]
    );
    // GIVEN the grant on every index instead of the one
    let t = with_resource("StripeWebhookFunction", |r| {
        for s in statements(r) {
            if s["Action"] == json!("dynamodb:Query") {
                s["Resource"] = json!({"Fn::Sub": "${CustomersTable.Arn}/index/*"});
            }
        }
    });
    let problems = problems_of(&t, &manifests());
    assert!(problems.contains(&Problem::NotGranted {
        function: "stripe-webhook".into(),
        access: "dynamodb:Query on Customers/index/gsi_stripe_customer_id".into()
    }));
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::BroadGrant { .. }))
    );
}

#[test]
fn wildcards_and_other_services_are_reported_as_broader_grants() {
    for (action, resource) in [
        (
            json!("dynamodb:*"),
            json!({"Fn::GetAtt": "CustomersTable.Arn"}),
        ),
        (json!("dynamodb:GetItem"), json!("*")),
        (
            json!("dynamodb:BatchWriteItem"),
            json!({"Fn::GetAtt": "CustomersTable.Arn"}),
        ),
        (json!("s3:GetObject"), json!("*")),
        (json!("secretsmanager:GetSecretValue"), json!("*")),
        (
            json!("secretsmanager:GetSecretValue"),
            json!({"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${StripeWebhookSecretName}-??????"}),
        ),
        (json!("sqs:SendMessage"), json!("*")),
    ] {
        // GIVEN the subscription function granted one more thing
        let t = with_resource("SubscriptionFunction", |r| {
            statements(r).push(json!({"Effect": "Allow", "Action": action, "Resource": resource}));
        });
        // THEN it is reported, and nothing else
        let problems = problems_of(&t, &manifests());
        assert!(
            matches!(problems.as_slice(), [Problem::BroadGrant { function, .. }] if function == "subscription"),
            "{action} on {resource}: {problems:#?}"
        );
    }
    // AND a managed policy cannot be checked, so it is refused
    let t = with_resource("SubscriptionFunction", |r| {
        r["Properties"]["Policies"]
            .as_array_mut()
            .unwrap()
            .push(json!("AmazonDynamoDBFullAccess"));
    });
    assert!(matches!(
        problems_of(&t, &manifests()).as_slice(),
        [Problem::BroadGrant { .. }]
    ));
}

#[test]
fn a_secret_not_granted_is_reported() {
    let t = with_resource("StripeWebhookFunction", |r| {
        statements(r).retain(|s| s["Action"] != json!("secretsmanager:GetSecretValue"));
    });
    assert_eq!(
        problems_of(&t, &manifests()),
        vec![
            Problem::SecretNotGranted {
                function: "stripe-webhook".into(),
                secret: "STRIPE_SECRET_NAME".into()
            },
            Problem::SecretNotGranted {
                function: "stripe-webhook".into(),
                secret: "STRIPE_WEBHOOK_SECRET_NAME".into()
            },
        ]
    );
}

#[test]
fn a_trigger_the_code_does_not_have_is_reported() {
    let all = with_manifest("usage-reporter", |m| {
        m.triggers = leak(vec![Trigger::StreamInserts(
            billing_lambda::manifest::Table::UsageRecords,
        )]);
    });
    assert!(matches!(problems_of(&template(), &all).as_slice(),
        [Problem::Trigger { function, .. }] if function == "usage-reporter"));
}

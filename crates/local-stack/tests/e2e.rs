//! End to end over HTTP: a stack in-process on free ports (memory store), driven as a browser and
//! the app would drive it: sign-up, the checkout page, usage, the clock, the invoice, the portal.

#![allow(clippy::unwrap_used)]

mod support;

use billing::money::AllowanceMode;
use serde_json::{Value, json};
use support::{Local, unix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_up_subscribes_uses_ai_and_is_invoiced_over_http() {
    let local = Local::start(AllowanceMode::App).await;
    // GIVEN Bea signed up (the post-confirmation function made her Stripe customer, on a test clock)
    let (customer_id, token, stripe_customer) = local.sign_up("bea@example.com").await;
    let customer = local
        .stripe_get(&format!("/v1/customers/{stripe_customer}"))
        .await;
    assert_eq!(customer["email"], "bea@example.com");
    assert!(
        customer["test_clock"]
            .as_str()
            .unwrap()
            .starts_with("clock_")
    );
    // WHEN she pays the checkout page with 4242
    let location = local.subscribe(&token).await;
    // THEN the browser comes back to the local pages, and the webhooks make her active
    assert_eq!(location, format!("{}/?checkout=success", local.api));
    let sessions = local
        .stripe_get(&format!("/v1/checkout/sessions?customer={stripe_customer}"))
        .await;
    assert_eq!(
        sessions["data"][0]["cancel_url"],
        format!("{}/?checkout=cancel", local.api)
    );
    let view = local
        .subscription_when(&token, |v| v["status"] == "active")
        .await;
    assert_eq!(view["status"], "active", "{view}");
    let (start, end) = (
        unix(&view["current_period_start"]),
        unix(&view["current_period_end"]),
    );

    // WHEN the app records $6.500123 of OpenAI cost (text and exact JSON numbers) and retries one
    for (body, status) in [
        (r#"{"openai_cost_usd": "4.00", "usage_id": "bea-1"}"#, 201),
        (r#"{"openai_cost_usd": 2.5, "usage_id": "bea-2"}"#, 201),
        (r#"{"openai_cost_usd": 0.000123}"#, 201),
        (r#"{"openai_cost_usd": "4.00", "usage_id": "bea-1"}"#, 200),
    ] {
        let (got, answer) = local.post("/dev/usage", Some(&token), body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["customer_id"], customer_id.as_str());
    }
    // THEN $13.000246 is billed, $3.000246 over the allowance, and 300 units reach the meter
    let view = local
        .subscription_when(&token, |v| v["usage"]["billed_usd"] == "13.000246")
        .await;
    assert_eq!(view["usage"]["billed_usd"], "13.000246", "{view}");
    assert_eq!(view["usage"]["overage_usd"], "3.000246", "{view}");
    let stream = local.stream_drained().await;
    assert_eq!(stream["published"], 3, "{stream}");
    assert_eq!(local.meter_units(&stripe_customer, start, end).await, 300);

    // WHEN her clock passes the period end and the invoice's grace hour
    let (status, advanced) = local
        .post(
            "/dev/clock/advance",
            Some(&token),
            r#"{"days": 31, "seconds": 7200}"#,
        )
        .await;
    assert_eq!(status, 200, "{advanced}");
    assert!(unix(&advanced["frozen_time"]) >= end + 3_600, "{advanced}");
    // THEN the cycle invoice is paid: $29 + 300 × $0.01 = $32.00
    let invoice = loop {
        let list = local
            .stripe_get(&format!(
                "/v1/invoices?customer={stripe_customer}&status=paid"
            ))
            .await;
        if let Some(found) = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["billing_reason"] == "subscription_cycle")
        {
            break found.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(invoice["amount_paid"], 3_200, "{invoice}");
    assert_eq!(invoice["period_end"], end);
    // AND the webhook function answered its invoice.paid with 200
    let id = invoice["id"].as_str().unwrap();
    let mut seen = Value::Null;
    for _ in 0..200 {
        let (_, log) = local.get("/dev/webhooks", None).await;
        if let Some(hit) = log
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["event_type"] == "invoice.paid" && w["object_id"] == id)
        {
            seen = hit.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen["status"], 200, "{seen}");
    // AND the new period starts at $0.00
    let view = local
        .subscription_when(&token, |v| unix(&v["current_period_start"]) == end)
        .await;
    assert_eq!(view["usage"]["billed_usd"], "0.00", "{view}");

    // WHEN she uses AI in the new period THEN it occurs at her (advanced) time and is billed there
    let (status, record) = local
        .post("/dev/usage", Some(&token), r#"{"openai_cost_usd": "1"}"#)
        .await;
    assert_eq!(status, 201, "{record}");
    assert!(unix(&record["occurred_at"]) >= end, "{record}");
    let view = local
        .subscription_when(&token, |v| v["usage"]["billed_usd"] == "2.00")
        .await;
    assert_eq!(view["usage"]["billed_usd"], "2.00", "{view}");

    // AND the portal opens for her and returns to the local pages
    let (status, portal) = local
        .post("/admin/billing/portal-session", Some(&token), "{}")
        .await;
    assert_eq!(status, 200, "{portal}");
    let url = portal["url"].as_str().unwrap();
    assert!(url.contains("/p/session/"), "{url}");
    let page = local.http.get(url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(&format!("{}/", local.api))
    );
    local.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cost_is_a_400_with_the_reason_and_writes_nothing() {
    let local = Local::start(AllowanceMode::App).await;
    let (_, token, _) = local.sign_up("cal@example.com").await;
    for (body, reason) in [
        (r#"{"openai_cost_usd": "abc"}"#, "not a decimal"),
        (r#"{"openai_cost_usd": "-0.5"}"#, "negative"),
        (r#"{"openai_cost_usd": -1}"#, "negative"),
        (r#"{"openai_cost_usd": 5000}"#, "limit"),
        (r#"{"openai_cost_usd": true}"#, "decimal string"),
        (r#"{"usage_id": "x"}"#, "required"),
        (r#"[1, 2]"#, "JSON object"),
        (r#"{"openai_cost_usd": "1", "usage_id": 7}"#, "usage_id"),
    ] {
        // WHEN the cost is bad THEN 400 saying why
        let (status, answer) = local.post("/dev/usage", Some(&token), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{body}: {error}");
    }
    // AND nothing was written or streamed
    let (_, stream) = local.get("/dev/stream", None).await;
    assert_eq!(stream["published"], 0, "{stream}");
    local.stack.shutdown().await;
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_jwt_authorizer_would_refuse_get_its_401_on_every_protected_route() {
    let local = Local::start(AllowanceMode::App).await;
    let (customer_id, token, _) = local.sign_up("dan@example.com").await;
    let key = &local.stack.shared().jwt;
    let now = billing::ports::Clock::now(&billing::ports::SystemClock);
    let claims = key.id_token_claims("s-dan", &customer_id, "dan@example.com", "Dan", now);
    let payload = token.split('.').nth(1).unwrap().to_string();
    // alg=none with the real payload, a token from another key, an expired one, a wrong issuer
    let none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
    let other_key = local_stack::jwt::JwtKey::from_secret(
        b"not the stack's key".to_vec(),
        key.issuer(),
        key.audience(),
    )
    .sign(&claims);
    let expired = key.sign(&key.id_token_claims(
        "s-dan",
        &customer_id,
        "dan@example.com",
        "Dan",
        now - local_stack::jwt::TOKEN_LIFETIME_SECS - 10,
    ));
    let mut foreign = claims.clone();
    foreign.insert("iss".into(), json!("https://cognito-idp.example.com/other"));
    let foreign = key.sign(&foreign);
    let hs384 = format!(
        "{}.{payload}.{}",
        b64(r#"{"alg":"HS384","typ":"JWT"}"#),
        token.split('.').nth(2).unwrap()
    );
    let bad: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("alg none", Some(format!("Bearer {none}"))),
        ("other key", Some(format!("Bearer {other_key}"))),
        ("expired", Some(format!("Bearer {expired}"))),
        ("foreign issuer", Some(format!("Bearer {foreign}"))),
        ("HS384 header", Some(format!("Bearer {hs384}"))),
        ("basic scheme", Some(format!("Basic {token}"))),
        ("garbage", Some("Bearer abc.def".to_string())),
    ];
    let routes = [
        ("GET", "/admin/billing/subscription"),
        ("POST", "/admin/billing/checkout-session"),
        ("POST", "/admin/billing/portal-session"),
        ("POST", "/dev/usage"),
        ("POST", "/dev/clock/advance"),
    ];
    for (what, header) in &bad {
        for (method, path) in routes {
            let mut request = match method {
                "GET" => local.http.get(format!("{}{path}", local.api)),
                _ => local
                    .http
                    .post(format!("{}{path}", local.api))
                    .body(r#"{"openai_cost_usd": "1", "days": 1}"#),
            };
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await.unwrap();
            // THEN API Gateway's 401, and the function never ran
            assert_eq!(response.status().as_u16(), 401, "{what} on {path}");
            assert!(response.headers().contains_key("www-authenticate"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, json!({"message": "Unauthorized"}), "{what} on {path}");
        }
    }
    let (_, stream) = local.get("/dev/stream", None).await;
    assert_eq!(stream["published"], 0);
    // AND the same claims signed with the stack's key pass
    let good = key.sign(&claims);
    let (status, view) = local.get("/admin/billing/subscription", Some(&good)).await;
    assert_eq!(status, 200, "{view}");
    // AND the webhook route has no authorizer: an unsigned delivery reaches the function (400)
    let (status, answer) = local.post("/v1/stripe/webhook", None, "{}").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("signature"),
        "{answer}"
    );
    local.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_info_and_pages_answer_as_documented() {
    let dir = std::env::temp_dir().join(format!("local-stack-web-{}", fastrand::u64(..)));
    std::fs::create_dir_all(dir.join("css")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>Billing</h1>").unwrap();
    std::fs::write(dir.join("css/app.css"), "h1{}").unwrap();
    let mut options = local_stack::StackOptions::ephemeral(AllowanceMode::Stripe);
    options.web_dir = dir.clone();
    let local = Local::with(options).await;
    // /dev/info has exactly the five documented fields
    let (status, info) = local.get("/dev/info", None).await;
    assert_eq!(status, 200);
    let mut keys: Vec<&String> = info.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "allowance_mode",
            "api_base_url",
            "stripe_api_key",
            "stripe_base_url",
            "webhook_secret"
        ]
    );
    assert_eq!(info["allowance_mode"], "stripe");
    assert_eq!(info["api_base_url"], local.api.as_str());
    assert!(
        info["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    // The stand-in has the graduated price and the webhook endpoint for the local API
    let endpoints = local.stripe_get("/v1/webhook_endpoints").await;
    assert_eq!(
        endpoints["data"][0]["url"],
        format!("{}/v1/stripe/webhook", local.api)
    );
    let prices = local
        .stripe_get("/v1/prices?lookup_keys[]=leadmagnet_usage_graduated_1000")
        .await;
    assert_eq!(prices["data"][0]["tiers_mode"], "graduated", "{prices}");
    // Pages: index, a file with its type, traversal refused, a missing page is a 404 page
    let page = local
        .http
        .get(format!("{}/", local.api))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.text().await.unwrap(), "<h1>Billing</h1>");
    let css = local
        .http
        .get(format!("{}/css/app.css", local.api))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    for path in ["/%2e%2e/Cargo.toml", "/nothing.html"] {
        let missing = local
            .http
            .get(format!("{}{path}", local.api))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status().as_u16(), 404, "{path}");
    }
    // An API route with another method, or an unknown route: API Gateway's 404
    let (status, body) = local.get("/admin/billing/checkout-session", None).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
    let (status, body) = local.post("/admin/billing/nothing", None, "{}").await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
    local.stack.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meter_events_failing_at_stripe_are_redelivered_by_the_stream_until_billed() {
    let local = Local::start(AllowanceMode::Stripe).await;
    let (_, token, stripe_customer) = local.sign_up("eve@example.com").await;
    local.subscribe(&token).await;
    let view = local
        .subscription_when(&token, |v| v["status"] == "active")
        .await;
    let (start, end) = (
        unix(&view["current_period_start"]),
        unix(&view["current_period_end"]),
    );
    // GIVEN Stripe answers 500 to the next 10 meter events (more than the client's own retries)
    let rule =
        json!({"method": "POST", "path": "/v1/billing/meter_events", "fault": "500", "times": 10});
    let armed = local
        .http
        .post(format!(
            "{}/_sim/faults",
            local.stack.info().stripe_base_url
        ))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(armed.status().is_success());
    // WHEN usage is written
    let (status, _) = local
        .post("/dev/usage", Some(&token), r#"{"openai_cost_usd": "0.25"}"#)
        .await;
    assert_eq!(status, 201);
    // THEN the stream redelivers the failed record until it is billed, once: 50 units
    let stream = local.stream_drained().await;
    assert_eq!(stream["pending"], 0, "{stream}");
    assert!(stream["redelivered"].as_u64().unwrap() >= 1, "{stream}");
    assert_eq!(stream["dropped"], 0, "{stream}");
    assert_eq!(local.meter_units(&stripe_customer, start, end).await, 50);
    local.stack.shutdown().await;
}

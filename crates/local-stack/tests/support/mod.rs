//! What the local stack's tests share: a stack in-process on free ports, an HTTP client that does
//! not follow redirects, and the browser's part of Checkout.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use billing::money::AllowanceMode;
use local_stack::{Stack, StackOptions, Storage};
use serde_json::{Value, json};

/// A running stack and a client for it.
pub struct Local {
    pub stack: Stack,
    pub http: reqwest::Client,
    pub api: String,
}

/// An HTTP client like a browser's, without automatic redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl Local {
    /// A fresh stack in `mode` on the memory store.
    pub async fn start(mode: AllowanceMode) -> Local {
        Self::with(StackOptions::ephemeral(mode)).await
    }

    /// A fresh stack with `options`.
    pub async fn with(options: StackOptions) -> Local {
        let stack = Stack::start(options).await.unwrap();
        let api = stack.api_base_url();
        Local {
            stack,
            http: client(),
            api,
        }
    }

    /// A stack on DynamoDB at `endpoint`, tables prefixed by `prefix`.
    pub async fn on_dynamodb(endpoint: &str, prefix: &str, mode: AllowanceMode) -> Local {
        let mut options = StackOptions::ephemeral(mode);
        options.storage = Storage::DynamoDb {
            endpoint: endpoint.to_string(),
        };
        for (var, table) in [
            ("CUSTOMERS_TABLE", "customers"),
            ("USAGE_RECORDS_TABLE", "usage_records"),
            ("WEBHOOK_EVENTS_TABLE", "webhook_events"),
            ("BILLING_LEDGER_TABLE", "billing_ledger"),
        ] {
            options
                .env
                .insert(var.to_string(), format!("{prefix}_{table}"));
        }
        Self::with(options).await
    }

    /// `POST path` with a JSON body (raw text) and an optional token: status and JSON answer.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.api))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET path` with an optional token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Signs up `email`: (customer id, token, Stripe customer id).
    pub async fn sign_up(&self, email: &str) -> (String, String, String) {
        let (status, body) = self
            .post(
                "/dev/signup",
                None,
                &json!({"email": email, "name": "Test User"}).to_string(),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["customer_id"].as_str().unwrap().to_string(),
            body["token"].as_str().unwrap().to_string(),
            body["stripe_customer_id"].as_str().unwrap().to_string(),
        )
    }

    /// A GET of the stand-in's REST API.
    pub async fn stripe_get(&self, path_and_query: &str) -> Value {
        let info = self.stack.info();
        self.http
            .get(format!("{}{path_and_query}", info.stripe_base_url))
            .header("authorization", format!("Bearer {}", info.stripe_api_key))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The subscription view once `ready` holds (at most 20 s), else the last one seen.
    pub async fn subscription_when(&self, token: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, view) = self.get("/admin/billing/subscription", Some(token)).await;
            assert_eq!(status, 200, "{view}");
            if ready(&view) || Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the stream has delivered everything (at most 30 s).
    pub async fn stream_drained(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, stream) = self.get("/dev/stream", None).await;
            if stream["pending"] == 0 || Instant::now() > deadline {
                return stream;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Checkout through the API and the hosted page paid with 4242: answers the redirect.
    pub async fn subscribe(&self, token: &str) -> String {
        let (status, session) = self
            .post("/admin/billing/checkout-session", Some(token), "{}")
            .await;
        assert_eq!(status, 200, "{session}");
        pay(&self.http, session["url"].as_str().unwrap()).await
    }

    /// The units the meter's summaries count for `customer` in `[start, end)` (whole minutes).
    pub async fn meter_units(&self, customer: &str, start: i64, end: i64) -> i64 {
        let meters = self.stripe_get("/v1/billing/meters").await;
        let meter = meters["data"][0]["id"].as_str().unwrap().to_string();
        let start = start - start.rem_euclid(60);
        let end = end + (60 - end.rem_euclid(60)) % 60;
        let summaries = self
            .stripe_get(&format!(
                "/v1/billing/meters/{meter}/event_summaries?customer={customer}&start_time={start}&end_time={end}"
            ))
            .await;
        summaries["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let text = s["aggregated_value"].to_string();
                text.strip_suffix(".0")
                    .unwrap_or(&text)
                    .parse::<i64>()
                    .unwrap()
            })
            .sum()
    }
}

/// Pays a hosted Checkout page as a browser does: GET it, POST its form with 4242, answer where
/// the 303 points.
pub async fn pay(http: &reqwest::Client, url: &str) -> String {
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    let action = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let origin = url.split("/c/pay/").next().unwrap();
    let paid = http
        .post(format!("{origin}{action}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card_number=4242+4242+4242+4242&card_expiry=12+%2F+34&card_cvc=123")
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 303);
    paid.headers()["location"].to_str().unwrap().to_string()
}

/// Unix seconds of an RFC 3339 text.
pub fn unix(text: &Value) -> i64 {
    billing::period::parse_timestamp(text.as_str().unwrap()).unwrap()
}

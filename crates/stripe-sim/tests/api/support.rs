//! Test harness: start the stand-in, call it like a Stripe client, receive its webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use stripe_sim::{Config, Server};

pub const KEY: &str = "sk_test_stripe_sim";

/// A running stand-in and a client for it.
pub struct Sim {
    pub server: Server,
    pub client: reqwest::Client,
}

/// A response, body parsed as JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts an error response's status, type and code, and returns its `error` object.
    pub fn expect_error(&self, status: u16, kind: &str, code: Option<&str>) -> &Value {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["error"]["type"], kind, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"].as_str(), code, "{:#}", self.body);
        &self.body["error"]
    }

    pub fn expect_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{:#}", self.body);
        &self.body
    }
}

pub fn encode(form: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Sim {
    pub async fn start() -> Sim {
        Sim::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Sim {
        let server = stripe_sim::serve(Config { port: 0, ..config })
            .await
            .expect("the stand-in starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Sim { server, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.expect("request reaches the stand-in");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn post_request(&self, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(KEY)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Stripe-Version", "2026-10-28.endive")
            .body(encode(form))
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.post_request(path, form)).await
    }

    pub async fn post_idem(&self, path: &str, key: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.post_request(path, form).header("Idempotency-Key", key))
            .await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        let url = if query.is_empty() {
            self.url(path)
        } else {
            format!("{}?{}", self.url(path), encode(query))
        };
        self.send(self.client.get(url).bearer_auth(KEY)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.client.delete(self.url(path)).bearer_auth(KEY))
            .await
    }

    // ---- object factories ----

    pub async fn customer(&self, email: &str) -> String {
        self.post("/v1/customers", &[("email", email)])
            .await
            .expect_ok();
        let r = self
            .get("/v1/customers", &[("email", email), ("limit", "1")])
            .await;
        r.body["data"][0]["id"].as_str().unwrap().to_string()
    }

    pub async fn product(&self) -> String {
        self.post("/v1/products", &[("name", "Lead Magnet AI")])
            .await
            .id()
    }

    pub async fn meter(&self, event_name: &str, formula: &str) -> String {
        let r = self
            .post(
                "/v1/billing/meters",
                &[
                    ("display_name", "OpenAI usage"),
                    ("event_name", event_name),
                    ("default_aggregation[formula]", formula),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }

    pub async fn base_price(&self, product: &str) -> String {
        let r = self
            .post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("product", product),
                    ("unit_amount", "2900"),
                    ("recurring[interval]", "month"),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }

    pub async fn metered_price(&self, product: &str, meter: &str) -> String {
        let r = self
            .post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("product", product),
                    ("billing_scheme", "tiered"),
                    ("tiers_mode", "graduated"),
                    ("tiers[0][up_to]", "1000"),
                    ("tiers[0][unit_amount]", "0"),
                    ("tiers[1][up_to]", "inf"),
                    ("tiers[1][unit_amount]", "1"),
                    ("recurring[interval]", "month"),
                    ("recurring[usage_type]", "metered"),
                    ("recurring[meter]", meter),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }
}

/// A webhook receiver: records every request and answers 500 to the first `fail_first` ones.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let log = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/webhook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let log = Arc::clone(&log);
                async move {
                    let mut log = log.lock().unwrap();
                    log.push((headers, body));
                    if log.len() <= fail_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/webhook"),
            received,
        }
    }

    /// Waits until at least `n` requests arrived (or a few seconds passed) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..200 {
            {
                let log = self.received.lock().unwrap();
                if log.len() >= n {
                    return log.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.received.lock().unwrap().clone()
    }
}

/// 2026-01-31 00:00 UTC: test clocks start here, so the first monthly period ends on Feb 28.
pub const JAN_31: i64 = 1_769_817_600;
/// 2026-02-28 00:00 UTC.
pub const FEB_28: i64 = 1_772_236_800;
/// 2026-03-31 00:00 UTC.
pub const MAR_31: i64 = 1_774_915_200;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// A customer on a fresh test clock, with a base price, a metered price and its meter.
pub struct Plan {
    pub clock: String,
    pub customer: String,
    pub base: String,
    pub metered: String,
    pub event_name: String,
}

impl Sim {
    /// A client for the hosted pages: no API key, redirects not followed.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// GET a page: (status, headers, HTML).
    pub async fn page(&self, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self.browser().get(url).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    }

    /// POST a page's form: (status, headers, HTML).
    pub async fn submit(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self
            .browser()
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(encode(form))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    }

    /// POST a JSON body to a `/_sim/` control endpoint.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn test_clock(&self, frozen_time: i64) -> String {
        let r = self
            .post(
                "/v1/test_helpers/test_clocks",
                &[("frozen_time", &frozen_time.to_string())],
            )
            .await;
        r.expect_ok();
        r.id()
    }

    pub async fn advance(&self, clock: &str, to: i64) -> Resp {
        let r = self
            .post(
                &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
                &[("frozen_time", &to.to_string())],
            )
            .await;
        r.expect_ok();
        r
    }

    /// A metered price at a flat 1 cent per unit.
    pub async fn flat_metered_price(&self, product: &str, meter: &str) -> String {
        let r = self
            .post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("product", product),
                    ("unit_amount", "1"),
                    ("recurring[interval]", "month"),
                    ("recurring[usage_type]", "metered"),
                    ("recurring[meter]", meter),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }

    /// A customer on a clock at Jan 31, a $29 base price and a metered price (`graduated`: the
    /// first 1,000 units free then 1 cent; else a flat cent per unit).
    pub async fn plan(&self, graduated: bool) -> Plan {
        let clock = self.test_clock(JAN_31).await;
        let r = self
            .post(
                "/v1/customers",
                &[("email", "ann@example.com"), ("test_clock", &clock)],
            )
            .await;
        r.expect_ok();
        let product = self.product().await;
        let event_name = format!("usage_{}", fastrand::u32(..));
        let meter = self.meter(&event_name, "sum").await;
        let metered = if graduated {
            self.metered_price(&product, &meter).await
        } else {
            self.flat_metered_price(&product, &meter).await
        };
        Plan {
            clock,
            customer: r.id(),
            base: self.base_price(&product).await,
            metered,
            event_name,
        }
    }

    pub async fn checkout_session(&self, plan: &Plan) -> Resp {
        let r = self
            .post(
                "/v1/checkout/sessions",
                &[
                    ("mode", "subscription"),
                    ("customer", &plan.customer),
                    ("line_items[0][price]", &plan.base),
                    ("line_items[0][quantity]", "1"),
                    ("line_items[1][price]", &plan.metered),
                    (
                        "success_url",
                        "https://app.example.com/billing/done?session_id={CHECKOUT_SESSION_ID}",
                    ),
                    ("cancel_url", "https://app.example.com/billing"),
                    ("client_reference_id", "tenant-1"),
                    ("metadata[tenant]", "t1"),
                    ("subscription_data[metadata][tenant]", "t1"),
                ],
            )
            .await;
        r.expect_ok();
        r
    }

    /// Pays a new Checkout Session on its page with `card`; returns the subscription id.
    pub async fn subscribe_with(&self, plan: &Plan, card: &str) -> String {
        let session = self.checkout_session(plan).await;
        let url = session.body["url"].as_str().unwrap();
        let (status, _, html) = self
            .submit(
                url,
                &[
                    ("card_number", card),
                    ("card_expiry", "12 / 34"),
                    ("card_cvc", "123"),
                ],
            )
            .await;
        assert_eq!(status, 303, "{html}");
        let read = self
            .get(&format!("/v1/checkout/sessions/{}", session.id()), &[])
            .await;
        read.body["subscription"].as_str().unwrap().to_string()
    }

    /// Records `value` units for the plan's customer at `timestamp`.
    pub async fn usage(&self, plan: &Plan, value: i64, timestamp: i64) -> Resp {
        self.post(
            "/v1/billing/meter_events",
            &[
                ("event_name", &plan.event_name),
                ("payload[stripe_customer_id]", &plan.customer),
                ("payload[value]", &value.to_string()),
                ("timestamp", &timestamp.to_string()),
            ],
        )
        .await
    }

    /// The customer's invoices, newest first.
    pub async fn invoices(&self, customer: &str) -> Vec<Value> {
        let r = self
            .get("/v1/invoices", &[("customer", customer), ("limit", "100")])
            .await;
        r.body["data"].as_array().unwrap().clone()
    }

    /// Event types recorded so far, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        let r = self.get("/v1/events", &[("limit", "100")]).await;
        let mut types: Vec<String> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        types.reverse();
        types
    }

    /// Events of one type, newest first.
    pub async fn events_of(&self, kind: &str) -> Vec<Value> {
        let r = self
            .get("/v1/events", &[("type", kind), ("limit", "100")])
            .await;
        r.body["data"].as_array().unwrap().clone()
    }

    /// A portal configuration with these features, then a session for the customer.
    pub async fn portal_session(&self, customer: &str, cancel_mode: &str) -> String {
        let r = self
            .post(
                "/v1/billing_portal/configurations",
                &[
                    ("business_profile[headline]", "Lead Magnet AI billing"),
                    ("features[subscription_cancel][enabled]", "true"),
                    ("features[subscription_cancel][mode]", cancel_mode),
                    ("features[payment_method_update][enabled]", "true"),
                    ("features[invoice_history][enabled]", "true"),
                ],
            )
            .await;
        r.expect_ok();
        let s = self
            .post(
                "/v1/billing_portal/sessions",
                &[
                    ("customer", customer),
                    ("configuration", &r.id()),
                    ("return_url", "https://app.example.com/account"),
                ],
            )
            .await;
        s.expect_ok();
        s.body["url"].as_str().unwrap().to_string()
    }
}
